import { IV_BYTES, TAG_BYTES } from './aes-gcm.ts';
import type { EncryptionContext } from './encryption-context.ts';

/*
 * Envelope format, version 1. All integers big-endian.
 *
 *   offset  size  field
 *   0       4     magic "SGEV" (0x53 0x47 0x45 0x56)
 *   4       1     format version = 1
 *   5       1     algorithm id: 1 = AES-256-GCM, 96-bit IV, 128-bit tag, data key wrapped by the key service
 *   6       2     N = length of the wrapped data key (u16)
 *   8       N     wrapped data key (opaque KMS ciphertext blob: names the master key id and key version)
 *   8+N     12    IV (random, fresh for every envelope)
 *   20+N    16    GCM authentication tag
 *   36+N    ...   ciphertext (same length as the plaintext; its length is the rest of the envelope)
 *
 * AAD of the payload = bytes [0, 20+N) (magic through IV) || canonicalContext(encryption context).
 * Every byte is therefore authenticated: the header, N, the wrapped key and the IV as AAD, the tag and
 * the ciphertext by GCM itself; opening under a different encryption context fails the same way.
 *
 * The data key inside is wrapped by the key service under the fixed context DATA_KEY_CONTEXT, not under
 * the per-message context: one cached data key seals many messages that each have their own context
 * (stream ARN + fragment number), and a cached unwrapped key opens all of them. The per-message context
 * is bound only through the payload AAD above, which is what makes a ciphertext immovable.
 */

/** The first four bytes of every envelope (ASCII). */
export const ENVELOPE_MAGIC = 'SGEV';
const MAGIC_BYTES = Buffer.from(ENVELOPE_MAGIC, 'latin1');
/** The format version this build writes and reads. */
export const ENVELOPE_VERSION = 1;
/** Algorithm ids: 1 = AES-256-GCM with a 96-bit IV, a 128-bit tag and a key-service-wrapped data key. */
export const ENVELOPE_ALGORITHMS = { aes256Gcm: 1 } as const;
/** The fixed encryption context under which the key service wraps every envelope data key. */
export const DATA_KEY_CONTEXT: EncryptionContext = Object.freeze({ 'streamgate:envelope': 'v1' });

const FIXED_BYTES = 8; // magic, version, algorithm, N
const MAX_WRAPPED_KEY_BYTES = 0xffff;

/** Why an envelope could not be opened. */
export type EnvelopeErrorReason =
  | 'truncated'
  | 'bad-magic'
  | 'unsupported-version'
  | 'unsupported-algorithm'
  | 'authentication-failed';

/** A malformed, unsupported or unauthentic envelope (key-service rejections are not wrapped in this). */
export class EnvelopeError extends Error {
  override name = 'EnvelopeError';
  readonly reason: EnvelopeErrorReason;

  constructor(reason: EnvelopeErrorReason, message: string, options?: ErrorOptions) {
    super(message, options);
    this.reason = reason;
  }
}

/** Views (no copies) into a decoded envelope. */
export interface EnvelopeParts {
  wrappedKey: Buffer;
  iv: Buffer;
  tag: Buffer;
  ciphertext: Buffer;
  /** Bytes [0, 20+N): the header part of the payload AAD. */
  aadHeader: Buffer;
}

/** Size of the header (everything before the ciphertext) for a wrapped key of `wrappedKeyBytes`. */
export function headerBytes(wrappedKeyBytes: number): number {
  return FIXED_BYTES + wrappedKeyBytes + IV_BYTES + TAG_BYTES;
}

/**
 * Writes magic, version, algorithm, N and the wrapped key at the start of `out` and returns the offset
 * of the IV (8+N). The caller fills the IV, the tag (at 20+N) and the ciphertext (at 36+N).
 */
export function writeHeaderPrefix(out: Buffer, wrappedKey: Buffer): number {
  if (wrappedKey.length === 0 || wrappedKey.length > MAX_WRAPPED_KEY_BYTES) {
    throw new RangeError(`wrapped data key is ${wrappedKey.length} bytes; the envelope holds 1..65535`);
  }
  MAGIC_BYTES.copy(out, 0);
  out[4] = ENVELOPE_VERSION;
  out[5] = ENVELOPE_ALGORITHMS.aes256Gcm;
  out.writeUInt16BE(wrappedKey.length, 6);
  return FIXED_BYTES + wrappedKey.copy(out, FIXED_BYTES);
}

/** Parses an envelope's header; throws EnvelopeError. The payload is authenticated later, by open. */
export function decodeEnvelope(envelope: Buffer): EnvelopeParts {
  const magicBytes = Math.min(envelope.length, MAGIC_BYTES.length);
  if (!envelope.subarray(0, magicBytes).equals(MAGIC_BYTES.subarray(0, magicBytes))) {
    throw new EnvelopeError('bad-magic', 'not a Streamgate envelope: the first bytes are not "SGEV"');
  }
  const version = envelope[4];
  if (version !== undefined && version !== ENVELOPE_VERSION) {
    throw new EnvelopeError(
      'unsupported-version',
      `envelope format version ${version} is not supported (this build reads version ${ENVELOPE_VERSION})`,
    );
  }
  const algorithm = envelope[5];
  if (algorithm !== undefined && algorithm !== ENVELOPE_ALGORITHMS.aes256Gcm) {
    throw new EnvelopeError('unsupported-algorithm', `envelope algorithm id ${algorithm} is not supported`);
  }
  if (envelope.length < FIXED_BYTES) {
    throw new EnvelopeError(
      'truncated',
      `envelope truncated: ${envelope.length} bytes, the header needs at least ${headerBytes(0)}+N`,
    );
  }
  const wrappedKeyBytes = envelope.readUInt16BE(6);
  const header = headerBytes(wrappedKeyBytes);
  if (envelope.length < header) {
    throw new EnvelopeError(
      'truncated',
      `envelope truncated: ${envelope.length} bytes, the header needs at least ` +
        `${headerBytes(0)}+N = ${header} (N = ${wrappedKeyBytes})`,
    );
  }
  const ivOffset = FIXED_BYTES + wrappedKeyBytes;
  const tagOffset = ivOffset + IV_BYTES;
  return {
    wrappedKey: envelope.subarray(FIXED_BYTES, ivOffset),
    iv: envelope.subarray(ivOffset, tagOffset),
    tag: envelope.subarray(tagOffset, header),
    ciphertext: envelope.subarray(header),
    aadHeader: envelope.subarray(0, tagOffset),
  };
}

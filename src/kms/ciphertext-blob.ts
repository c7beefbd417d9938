import { canonicalContext, type EncryptionContext, IV_BYTES, TAG_BYTES } from '../crypto/index.ts';

/**
 * KMS ciphertext blob, format v1 (what Encrypt and GenerateDataKey return as CiphertextBlob):
 *
 *   offset size field
 *   0      4    magic "SGKM"
 *   4      1    version = 1
 *   5      16   key id (UUID, 16 raw bytes)
 *   21     4    key version (u32 BE): which rotation of the key's material encrypted it
 *   25     12   IV
 *   37     16   GCM tag
 *   53     ...  ciphertext (AES-256-GCM under that key version's material)
 *
 * AAD = bytes [0, 37) || canonicalContext(EncryptionContext), so the key id, the version and the
 * context are all authenticated: Decrypt infers the key from the blob and fails on any change.
 */
const MAGIC = Buffer.from('SGKM', 'latin1');
const VERSION = 1;
/** Bytes before the ciphertext. */
export const BLOB_HEADER_BYTES = 53;
const AAD_END = 37;

/** A parsed blob (views into the original buffer). */
export interface CiphertextBlob {
  keyId: string;
  keyVersion: number;
  iv: Buffer;
  tag: Buffer;
  ciphertext: Buffer;
  header: Buffer;
}

/** Why a blob could not be parsed; the API turns this into InvalidCiphertextException. */
export class CiphertextBlobError extends Error {
  override name = 'CiphertextBlobError';
}

/** Builds the header (magic..IV) for `keyId`/`keyVersion`; the tag is filled in after encryption. */
export function blobHeader(keyId: string, keyVersion: number, iv: Buffer): Buffer {
  const header = Buffer.alloc(BLOB_HEADER_BYTES);
  MAGIC.copy(header, 0);
  header.writeUInt8(VERSION, 4);
  Buffer.from(keyId.replace(/-/g, ''), 'hex').copy(header, 5);
  header.writeUInt32BE(keyVersion, 21);
  iv.copy(header, 25);
  return header;
}

/** The AAD that authenticates a blob's header and its encryption context. */
export function blobAad(header: Buffer, context: EncryptionContext | undefined): Buffer {
  return Buffer.concat([header.subarray(0, AAD_END), canonicalContext(context)]);
}

/** Serializes a blob from its header (with IV), tag and ciphertext. */
export function encodeBlob(header: Buffer, tag: Buffer, ciphertext: Buffer): Buffer {
  const out = Buffer.concat([header, ciphertext]);
  tag.copy(out, AAD_END);
  return out;
}

/** Parses a blob without decrypting it. */
export function decodeBlob(blob: Buffer): CiphertextBlob {
  if (blob.length < BLOB_HEADER_BYTES) {
    throw new CiphertextBlobError(
      `ciphertext blob is ${blob.length} bytes; a valid one has at least ${BLOB_HEADER_BYTES}`,
    );
  }
  if (!blob.subarray(0, 4).equals(MAGIC))
    throw new CiphertextBlobError('not a Streamgate KMS ciphertext blob');
  if (blob.readUInt8(4) !== VERSION)
    throw new CiphertextBlobError(`unsupported ciphertext blob version ${blob.readUInt8(4)}`);
  const hex = blob.subarray(5, 21).toString('hex');
  return {
    keyId: `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`,
    keyVersion: blob.readUInt32BE(21),
    iv: blob.subarray(25, 25 + IV_BYTES),
    tag: blob.subarray(AAD_END, AAD_END + TAG_BYTES),
    ciphertext: blob.subarray(BLOB_HEADER_BYTES),
    header: blob.subarray(0, BLOB_HEADER_BYTES),
  };
}

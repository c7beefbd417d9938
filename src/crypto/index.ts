// Crypto: AES-GCM primitives, the canonical encryption-context encoding (AAD) and the envelope
// library (seal/open with a bounded data-key cache) over the KeyProvider port that kms/ implements.
// Leaf-level module: imports nothing of ours; no I/O.
export { AuthenticationError, gcmDecrypt, gcmEncrypt, IV_BYTES, newIv, TAG_BYTES } from './aes-gcm.ts';
export { DATA_KEY_CACHE_DEFAULTS, type DataKeyCacheOptions } from './data-key-cache.ts';
export { canonicalContext, type EncryptionContext } from './encryption-context.ts';
export { Envelope, type EnvelopeOptions, type EnvelopeStats } from './envelope.ts';
export {
  DATA_KEY_CONTEXT,
  decodeEnvelope,
  ENVELOPE_ALGORITHMS,
  ENVELOPE_MAGIC,
  ENVELOPE_VERSION,
  EnvelopeError,
  type EnvelopeErrorReason,
  type EnvelopeParts,
  headerBytes,
} from './envelope-format.ts';
export type { DataKey, KeyProvider } from './key-provider.ts';

import type { EncryptionContext } from './encryption-context.ts';

/** A fresh data key: the plaintext (never stored) and the same key wrapped under a master key. */
export interface DataKey {
  plaintext: Buffer;
  /** Opaque wrapped form (a KMS ciphertext blob); names its master key and key version. */
  wrapped: Buffer;
  /** Id (UUID) of the master key that wrapped it. */
  keyId: string;
}

/**
 * The port the envelope library needs from a key service (implemented in-process by kms/).
 * Rejections carry the key service's own errors (disabled, pending deletion, deleted, bad ciphertext).
 */
export interface KeyProvider {
  /** A new 256-bit data key under `keyRef` (key id, key ARN, alias name or alias ARN). */
  generateDataKey(keyRef: string, context: EncryptionContext): Promise<DataKey>;
  /** Unwraps a data key made by generateDataKey with the same context. */
  decryptDataKey(wrapped: Buffer, context: EncryptionContext): Promise<{ plaintext: Buffer; keyId: string }>;
}

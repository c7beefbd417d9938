import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

/** AES-GCM parameters every Streamgate format uses (NIST SP 800-38D). */
export const IV_BYTES = 12;
export const TAG_BYTES = 16;

/** Raised when AES-GCM authentication fails: wrong key, wrong AAD, or modified bytes. */
export class AuthenticationError extends Error {
  override name = 'AuthenticationError';
}

/**
 * Encrypts `plaintext` under a 128- or 256-bit key. `iv` defaults to a fresh random 96-bit IV; pass one
 * only when the AAD must contain it (it must still be fresh and random, see newIv()).
 */
export function gcmEncrypt(
  key: Buffer,
  aad: Buffer,
  plaintext: Buffer,
  iv: Buffer = newIv(),
): { iv: Buffer; ciphertext: Buffer; tag: Buffer } {
  const cipher = createCipheriv(key.length === 16 ? 'aes-128-gcm' : 'aes-256-gcm', key, iv, {
    authTagLength: TAG_BYTES,
  });
  cipher.setAAD(aad);
  const ciphertext = cipher.update(plaintext);
  cipher.final();
  return { iv, ciphertext, tag: cipher.getAuthTag() };
}

/** A fresh random 96-bit IV. */
export function newIv(): Buffer {
  return randomBytes(IV_BYTES);
}

/** Decrypts and authenticates; throws AuthenticationError on any mismatch. */
export function gcmDecrypt(key: Buffer, aad: Buffer, iv: Buffer, ciphertext: Buffer, tag: Buffer): Buffer {
  const decipher = createDecipheriv(key.length === 16 ? 'aes-128-gcm' : 'aes-256-gcm', key, iv, {
    authTagLength: TAG_BYTES,
  });
  decipher.setAAD(aad);
  decipher.setAuthTag(tag);
  const plaintext = decipher.update(ciphertext);
  try {
    decipher.final();
  } catch (error) {
    throw new AuthenticationError('ciphertext authentication failed', { cause: error });
  }
  return plaintext;
}

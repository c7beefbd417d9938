import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { AuthenticationError, gcmDecrypt, gcmEncrypt } from '../crypto/index.ts';

/** File (under the data dir) holding the generated root key when STREAMGATE_KMS_ROOT_KEY is unset. */
export const ROOT_KEY_FILE = 'kms-root.key';
const CHECK_AAD = Buffer.from('streamgate:kms:root-check:v1');

/** The root key cannot be used with the keys already in Redis; the gateway must not start. */
export class RootKeyError extends Error {
  override name = 'RootKeyError';
}

/** Where the root key came from, for the start-up log. */
export type RootKeySource = 'environment' | 'file' | 'generated';

/**
 * Finds the 32-byte root key: STREAMGATE_KMS_ROOT_KEY, else `<dataDir>/kms-root.key` (base64), else a new
 * key written there with mode 0600 — but only when Redis holds no keys yet (`hasExistingKeys` false),
 * so a lost key file is an error instead of a silent new root that can unwrap nothing.
 */
export async function resolveRootKey(options: {
  configured: string | undefined;
  dataDir: string;
  hasExistingKeys: boolean;
}): Promise<{ key: Buffer; source: RootKeySource; file: string }> {
  const file = join(options.dataDir, ROOT_KEY_FILE);
  if (options.configured !== undefined)
    return { key: Buffer.from(options.configured, 'base64'), source: 'environment', file };
  try {
    const text = (await readFile(file, 'utf8')).trim();
    const key = Buffer.from(text, 'base64');
    if (key.length !== 32 || !/^[A-Za-z0-9+/]{43}=$/.test(text)) {
      throw new RootKeyError(`${file} does not hold base64 of 32 bytes; restore it from your backup`);
    }
    return { key, source: 'file', file };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  if (options.hasExistingKeys) {
    throw new RootKeyError(
      `KMS keys exist in Redis but no root key was found: set STREAMGATE_KMS_ROOT_KEY or restore ${file} ` +
        'from your backup. Without the root key those keys (and everything encrypted under them) cannot be used.',
    );
  }
  const key = randomBytes(32);
  await mkdir(dirname(file), { recursive: true });
  await writeFile(file, `${key.toString('base64')}\n`, { mode: 0o600, flag: 'wx' });
  return { key, source: 'generated', file };
}

/** A value that only the right root key opens; stored once in Redis next to the keys it protects. */
export function sealRootCheck(rootKey: Buffer): string {
  const { iv, ciphertext, tag } = gcmEncrypt(rootKey, CHECK_AAD, randomBytes(32));
  return Buffer.concat([iv, tag, ciphertext]).toString('base64');
}

/** Throws RootKeyError when `rootKey` is not the key that sealed `check`. */
export function verifyRootCheck(rootKey: Buffer, check: string, source: RootKeySource, file: string): void {
  const bytes = Buffer.from(check, 'base64');
  try {
    gcmDecrypt(rootKey, CHECK_AAD, bytes.subarray(0, 12), bytes.subarray(28), bytes.subarray(12, 28));
  } catch (error) {
    if (!(error instanceof AuthenticationError)) throw error;
    const where = source === 'environment' ? 'STREAMGATE_KMS_ROOT_KEY' : file;
    throw new RootKeyError(
      `The KMS root key from ${where} is not the root key that wrapped the KMS keys in Redis. ` +
        'Start with the original root key (see docs/encryption.md, "Root key backup").',
      { cause: error },
    );
  }
}

/** Wraps key material under the root key, bound to its key id and version. */
export function wrapMaterial(rootKey: Buffer, keyId: string, version: number, material: Buffer): string {
  const { iv, ciphertext, tag } = gcmEncrypt(rootKey, materialAad(keyId, version), material);
  return Buffer.concat([iv, tag, ciphertext]).toString('base64');
}

/** Unwraps key material; throws AuthenticationError if it was moved or altered. */
export function unwrapMaterial(rootKey: Buffer, keyId: string, version: number, wrapped: string): Buffer {
  const bytes = Buffer.from(wrapped, 'base64');
  return gcmDecrypt(
    rootKey,
    materialAad(keyId, version),
    bytes.subarray(0, 12),
    bytes.subarray(28),
    bytes.subarray(12, 28),
  );
}

function materialAad(keyId: string, version: number): Buffer {
  return Buffer.from(`streamgate:kms:material:v1:${keyId}:${version}`);
}

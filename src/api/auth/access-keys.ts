import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';

/** An access key pair accepted for SigV4. */
export interface AccessKeyPair {
  accessKeyId: string;
  secretAccessKey: string;
}

/** File (under the data dir) holding the generated pair when STREAMGATE_ACCESS_KEYS is unset. */
export const GENERATED_KEYS_FILE = 'access-keys.json';

/**
 * The configured pairs, or the pair generated on first start into `<dataDir>/access-keys.json`
 * (mode 0600). `generated` is true only on the start that created the file, so it is shown once.
 */
export async function resolveAccessKeys(
  configured: readonly AccessKeyPair[] | undefined,
  dataDir: string,
): Promise<{ keys: AccessKeyPair[]; generated: AccessKeyPair | undefined; file: string | undefined }> {
  if (configured && configured.length > 0)
    return { keys: [...configured], generated: undefined, file: undefined };
  const file = join(dataDir, GENERATED_KEYS_FILE);
  try {
    const stored = JSON.parse(await readFile(file, 'utf8')) as Partial<AccessKeyPair>;
    if (typeof stored.accessKeyId !== 'string' || typeof stored.secretAccessKey !== 'string') {
      throw new Error(`${file} does not hold {"accessKeyId","secretAccessKey"}; fix or delete it`);
    }
    return {
      keys: [{ accessKeyId: stored.accessKeyId, secretAccessKey: stored.secretAccessKey }],
      generated: undefined,
      file,
    };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const pair: AccessKeyPair = {
    accessKeyId: `SGAK${randomBytes(8).toString('hex').toUpperCase()}`,
    secretAccessKey: randomBytes(30).toString('base64url'),
  };
  await mkdir(dirname(file), { recursive: true });
  await writeFile(file, `${JSON.stringify(pair, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
  return { keys: [pair], generated: pair, file };
}

/** A constant-shape lookup from access key id to secret. */
export function secretLookup(keys: readonly AccessKeyPair[]): (accessKeyId: string) => string | undefined {
  const map = new Map(keys.map((k) => [k.accessKeyId, k.secretAccessKey]));
  return (accessKeyId) => map.get(accessKeyId);
}

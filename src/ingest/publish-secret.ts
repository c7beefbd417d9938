import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';

/** File (under the data dir) holding the generated publish-token secret. */
export const PUBLISH_SECRET_FILE = 'publish-secret';

/**
 * The secret RTMP publish tokens are made with: STREAMGATE_PUBLISH_SECRET, else `<dataDir>/publish-secret`
 * (generated with mode 0600 on first use). `streamgate publish-url` reads it the same way.
 */
export async function resolvePublishSecret(configured: string | undefined, dataDir: string): Promise<string> {
  if (configured !== undefined) return configured;
  const file = join(dataDir, PUBLISH_SECRET_FILE);
  try {
    return (await readFile(file, 'utf8')).trim();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const secret = randomBytes(32).toString('base64url');
  await mkdir(dirname(file), { recursive: true });
  try {
    await writeFile(file, `${secret}\n`, { mode: 0o600, flag: 'wx' });
    return secret;
  } catch (error) {
    // Another process created it first: use theirs.
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return (await readFile(file, 'utf8')).trim();
    throw error;
  }
}

/** The URL an RTMP publisher (OBS, ffmpeg) uses for `streamName`. */
export function rtmpPublishUrl(host: string, port: number, streamName: string, token: string): string {
  return `rtmp://${host}:${port}/live/${encodeURIComponent(streamName)}?key=${token}`;
}

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EmbeddedRedis } from '../../src/redis/index.ts';

/** Starts a throwaway redis-server on a random port (no persistence) for one test run. */
export async function startPrivateRedis(): Promise<{
  url: string;
  pid: number | undefined;
  stop(): Promise<void>;
}> {
  const dir = await mkdtemp(join(tmpdir(), 'streamgate-redis-'));
  const redis = new EmbeddedRedis({ dir, appendOnly: false });
  await redis.start();
  return {
    url: redis.url,
    pid: redis.pid,
    async stop() {
      await redis.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

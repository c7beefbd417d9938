import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { createLogger } from '../../../src/logging/index.ts';
import { connectRedis, type RedisConnection, RedisUnavailableError } from '../../../src/redis/index.ts';

const logger = createLogger({ level: 'silent' });
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'streamgate-redis-test-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** A loopback address where nothing listens (bound, then released). */
async function deadUrl(): Promise<string> {
  const server = createServer().listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return `redis://127.0.0.1:${port}`;
}

function track(connection: RedisConnection): RedisConnection {
  cleanups.push(() => connection.close());
  return connection;
}

describe('connectRedis', () => {
  it('uses STREAMGATE_REDIS_URL when it answers', async () => {
    const connection = track(
      await connectRedis({ configuredUrl: inject('redisUrl'), dataDir: await tempDir(), logger }),
    );
    expect(connection.embedded).toBeUndefined();
    expect(await connection.client.ping()).toBe('PONG');
  });

  it('fails fast, naming the variable, when the configured Redis does not answer', async () => {
    const url = await deadUrl();
    const attempt = connectRedis({ configuredUrl: url, dataDir: await tempDir(), logger });
    await expect(attempt).rejects.toBeInstanceOf(RedisUnavailableError);
    await expect(attempt).rejects.toThrow(/STREAMGATE_REDIS_URL/);
  });

  it('starts an embedded redis-server with AOF under the data dir when nothing answers at the default', async () => {
    const dataDir = await tempDir();
    const defaultUrl = await deadUrl();
    const first = await connectRedis({ configuredUrl: undefined, defaultUrl, dataDir, logger });
    expect(first.embedded).toBeDefined();
    await first.client.set('streamgate:{test}:durable', 'yes');
    await first.close();
    expect(await readdir(join(dataDir, 'redis'))).toContain('appendonlydir');

    // The next start finds the same data: acknowledged writes survive a restart.
    const second = track(await connectRedis({ configuredUrl: undefined, defaultUrl, dataDir, logger }));
    expect(await second.client.get('streamgate:{test}:durable')).toBe('yes');
  });

  it('says exactly what to install when there is no Redis and no redis-server', async () => {
    const attempt = connectRedis({
      configuredUrl: undefined,
      defaultUrl: await deadUrl(),
      dataDir: await tempDir(),
      logger,
      redisServerBinary: '/nonexistent/redis-server',
    });
    await expect(attempt).rejects.toThrow(/apt-get install redis-server.*STREAMGATE_REDIS_URL/s);
  });
});

import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import type { Logger } from '../logging/index.ts';
import { EmbeddedRedis } from './embedded-redis.ts';
import { createRedisClient, pingRedis, type RedisClient } from './redis-client.ts';

/** Where Redis is looked for when STREAMGATE_REDIS_URL is unset. */
const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';
const PING_TIMEOUT_MS = 2_000;

/** Start-up failure that says exactly what to install or set. */
export class RedisUnavailableError extends Error {
  override name = 'RedisUnavailableError';
}

/** A ready Redis connection and, when the fallback was used, the embedded server behind it. */
export interface RedisConnection {
  client: RedisClient;
  url: string;
  embedded: EmbeddedRedis | undefined;
  /** Closes the client, then stops the embedded server if any; idempotent. */
  close(): Promise<void>;
}

/**
 * Connects to `configuredUrl`; when it is undefined, tries the default address and, if nothing answers
 * and `redis-server` is on PATH, starts a private one under `<dataDir>/redis` with AOF on.
 */
export async function connectRedis(options: {
  configuredUrl: string | undefined;
  dataDir: string;
  logger: Logger;
  /** Overridable for tests; the address probed when no URL is configured. */
  defaultUrl?: string;
  redisServerBinary?: string;
}): Promise<RedisConnection> {
  const { configuredUrl, logger } = options;
  const url = configuredUrl ?? options.defaultUrl ?? DEFAULT_REDIS_URL;
  const client = createRedisClient(url);
  // Start-up probes must not retry forever or print unhandled connection errors.
  client.on('error', (error: Error) =>
    logger.debug({ err: error, url: redactUrl(url) }, 'redis connection error'),
  );
  try {
    await pingRedis(client, PING_TIMEOUT_MS);
    logger.info({ url: redactUrl(url) }, 'connected to Redis');
    return connection(client, url, undefined, logger);
  } catch (error) {
    client.disconnect();
    if (configuredUrl !== undefined) {
      throw new RedisUnavailableError(
        `Redis at STREAMGATE_REDIS_URL=${redactUrl(configuredUrl)} does not answer (${(error as Error).message}). ` +
          'Start that Redis, or unset STREAMGATE_REDIS_URL to use an embedded redis-server.',
        { cause: error },
      );
    }
  }

  const binary = options.redisServerBinary ?? 'redis-server';
  if (!isExecutable(binary)) {
    throw new RedisUnavailableError(
      `No Redis answers at ${url} and "${binary}" is not on PATH. ` +
        'Install it (Debian/Ubuntu: apt-get install redis-server) so Streamgate can start a private one, ' +
        'or set STREAMGATE_REDIS_URL=redis://host:port to an existing Redis.',
    );
  }
  const embedded = new EmbeddedRedis({ dir: join(options.dataDir, 'redis'), appendOnly: true, binary });
  await embedded.start();
  const embeddedClient = createRedisClient(embedded.url);
  embeddedClient.on('error', (error: Error) =>
    logger.warn({ err: error }, 'embedded redis connection error'),
  );
  try {
    await pingRedis(embeddedClient, PING_TIMEOUT_MS);
  } catch (error) {
    embeddedClient.disconnect();
    await embedded.stop();
    throw new RedisUnavailableError(`embedded redis-server did not answer: ${(error as Error).message}`, {
      cause: error,
    });
  }
  logger.info(
    { url: embedded.url, pid: embedded.pid, dir: join(options.dataDir, 'redis') },
    'no Redis at the default address: started an embedded redis-server (AOF on)',
  );
  return connection(embeddedClient, embedded.url, embedded, logger);
}

function connection(
  client: RedisClient,
  url: string,
  embedded: EmbeddedRedis | undefined,
  logger: Logger,
): RedisConnection {
  let closing: Promise<void> | undefined;
  return {
    client,
    url,
    embedded,
    close() {
      closing ??= (async () => {
        try {
          // QUIT waits in the offline queue while Redis is unreachable (20 s and more until ioredis
          // gives up): only a ready connection is worth a clean QUIT.
          if (client.status === 'ready') await client.quit();
          else client.disconnect();
        } catch (error) {
          logger.warn({ err: error }, 'redis quit failed; disconnecting');
          client.disconnect();
        }
        await embedded?.stop();
      })();
      return closing;
    },
  };
}

function isExecutable(binary: string): boolean {
  try {
    execFileSync(binary, ['--version'], { stdio: 'ignore', timeout: 5_000 });
    return true;
  } catch {
    return false;
  }
}

/** The URL without its password, for logs and errors. */
function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(unparseable URL)';
  }
}

import { Cluster, Redis } from 'ioredis';

/** A connection to Redis or Redis Cluster; every module talks through this type. */
export type RedisClient = Redis | Cluster;

/**
 * Builds a client from a URL. `redis://host:port[/db]` (or `rediss://`) is a single node;
 * `?cluster=true` treats the URL as a Cluster seed. The client connects lazily.
 */
export function createRedisClient(url: string, options: { connectionName?: string } = {}): RedisClient {
  const parsed = new URL(url);
  const cluster = parsed.searchParams.get('cluster') === 'true';
  parsed.searchParams.delete('cluster');
  const common = {
    lazyConnect: true,
    connectionName: options.connectionName ?? 'streamgate',
    maxRetriesPerRequest: 3,
  };
  if (cluster) {
    const tls = parsed.protocol === 'rediss:' ? {} : undefined;
    return new Cluster([{ host: parsed.hostname, port: Number(parsed.port || 6379) }], {
      lazyConnect: true,
      redisOptions: {
        connectionName: common.connectionName,
        maxRetriesPerRequest: 3,
        ...(parsed.username ? { username: decodeURIComponent(parsed.username) } : {}),
        ...(parsed.password ? { password: decodeURIComponent(parsed.password) } : {}),
        ...(tls ? { tls } : {}),
      },
    });
  }
  return new Redis(parsed.toString(), common);
}

/**
 * A new connection with the same settings as `client` (single node or Cluster), for commands that hold
 * a connection while they wait (XREAD BLOCK), named `connectionName` in CLIENT LIST. The caller owns it:
 * listen for 'error', then disconnect().
 */
export function duplicateRedisClient(client: RedisClient, connectionName: string): RedisClient {
  if (client instanceof Cluster) {
    return client.duplicate(undefined, { redisOptions: { connectionName } }); // merged into the node options
  }
  return client.duplicate({ connectionName });
}

/** Resolves when `client` answers PING within `timeoutMs`; rejects otherwise. */
export async function pingRedis(client: RedisClient, timeoutMs: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`Redis did not answer PING within ${timeoutMs} ms`)),
      timeoutMs,
    );
  });
  try {
    await Promise.race([client.ping(), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

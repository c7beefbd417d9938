// Redis: the one connection factory (single node or Cluster) and the embedded redis-server fallback.
// Imports only config/ and logging/ of ours. Key names are built in each module's own keys.ts.

export { connectRedis, type RedisConnection, RedisUnavailableError } from './connect-redis.ts';
export { EmbeddedRedis, type EmbeddedRedisOptions } from './embedded-redis.ts';
export { createRedisClient, duplicateRedisClient, pingRedis, type RedisClient } from './redis-client.ts';

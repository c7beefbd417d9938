// Redis key names of Data Streams metadata. A stream's metadata, shard map and tags share the hash tag
// {s:<name>} (one Cluster slot, so they change atomically); each shard's log lives in its own slot
// (stream-log/ keys, partition `<stream id>/<shard id>`). Nothing else builds these names.

/** Key names of the stream registry. */
export const kdsKeys = {
  /** Sorted set (scores 0, ordered by name): every stream, for ListStreams. */
  streams: () => 'kds:{kds}:streams',
  /** String: the HMAC secret that signs shard iterators and ListShards tokens, shared by replicas. */
  iteratorSecret: () => 'kds:{kds}:iterator-secret',
  /** Hash: stream metadata (id, ARN, status, mode, retention, encryption, next shard index). */
  meta: (streamName: string) => `kds:{s:${streamName}}:meta`,
  /** Hash: shard id -> JSON shard (hash range, lineage, sequence range). */
  shards: (streamName: string) => `kds:{s:${streamName}}:shards`,
  /** Hash: tag key -> value. */
  tags: (streamName: string) => `kds:{s:${streamName}}:tags`,
} as const;

/** Namespace of Data Streams shard logs (see stream-log/keys.ts). */
export const SHARD_LOG_NAMESPACE = 'kds';

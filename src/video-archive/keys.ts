// Redis key names of Kinesis Video Streams metadata. A stream's metadata and tags share the hash tag
// {kvs:<name>} (one Cluster slot, so they change atomically); the list of every stream lives under {kvs}.
// Later parts of video-archive/ (fragment index, ...) add their per-stream keys here, in the same slot.

/** Key names of the video stream registry. */
export const kvsKeys = {
  /** Sorted set (scores 0, ordered by name): every stream, for ListStreams. */
  streams: () => 'kvs:{kvs}:streams',
  /** Hash: stream metadata (ARN, version, status, creation time, retention, KMS key, media type, device). */
  meta: (streamName: string) => `kvs:{kvs:${streamName}}:meta`,
  /** Hash: tag key -> value. */
  tags: (streamName: string) => `kvs:{kvs:${streamName}}:tags`,
} as const;

// Redis key names of Kinesis Video Streams metadata. A stream's metadata, tags and fragment index share
// the hash tag {kvs:<name>} (one Cluster slot, so they change atomically); the list of every stream and
// the retention-sweep lock live under {kvs}. Fragment keys also carry the stream id, so a re-created
// stream of the same name never sees the old stream's index.

/** Key names of the video stream registry. */
export const kvsKeys = {
  /** Sorted set (scores 0, ordered by name): every stream, for ListStreams. */
  streams: () => 'kvs:{kvs}:streams',
  /** Hash: stream metadata (ARN, version, status, creation time, retention, KMS key, media type, device). */
  meta: (streamName: string) => `kvs:{kvs:${streamName}}:meta`,
  /** Hash: tag key -> value. */
  tags: (streamName: string) => `kvs:{kvs:${streamName}}:tags`,
} as const;

/** Key names of RTSP camera sources (one per stream at most). */
export const cameraKeys = {
  /** Set: names of the streams that have a camera source. */
  all: () => 'kvs:{kvs}:cameras',
  /** Hash: the source (sealed URL, redacted URL, transport, source id, creation time). */
  source: (streamName: string) => `kvs:{kvs:${streamName}}:camera`,
  /** Hash: the pulling gateway's last reported status. */
  status: (streamName: string) => `kvs:{kvs:${streamName}}:camera-status`,
  /** String: the id of the gateway that pulls this camera (SET NX PX, renewed while it pulls). */
  lease: (streamName: string) => `kvs:{kvs:${streamName}}:camera-lease`,
} as const;

/** Key names of the fragment index of one stream (`streamId` from `streamIdOf`). */
export const fragmentKeys = {
  /** String counter: the last fragment sequence handed out (INCR). */
  counter: (streamName: string, streamId: string) => `kvs:{kvs:${streamName}}:f:${streamId}:counter`,
  /** Sorted set: fragment number scored by server timestamp (epoch ms). */
  byServerTime: (streamName: string, streamId: string) => `kvs:{kvs:${streamName}}:f:${streamId}:server`,
  /** Sorted set: fragment number scored by producer timestamp (epoch ms). */
  byProducerTime: (streamName: string, streamId: string) => `kvs:{kvs:${streamName}}:f:${streamId}:producer`,
  /** Hash: one fragment's metadata (see FragmentMetadata). */
  fragment: (streamName: string, streamId: string, fragmentNumber: string) =>
    `kvs:{kvs:${streamName}}:f:${streamId}:n:${fragmentNumber}`,
  /** Hash: init segment version -> object key. */
  inits: (streamName: string, streamId: string) => `kvs:{kvs:${streamName}}:f:${streamId}:inits`,
  /**
   * Sorted set: init segment version scored by the fragment counter when it was written (ZADD NX), so
   * its fragments all score higher; the rank of a fragment's init counts the init changes before it.
   */
  initOrder: (streamName: string, streamId: string) => `kvs:{kvs:${streamName}}:f:${streamId}:init-order`,
  /** Pub/sub channel: the number of each fragment once indexed (HLS live edge, every replica). */
  indexedChannel: (streamName: string) => `kvs:{kvs:${streamName}}:indexed`,
  /** String: the retention sweeper's lock (SET NX PX; one replica sweeps at a time). */
  sweepLock: () => 'kvs:{kvs}:sweep-lock',
} as const;

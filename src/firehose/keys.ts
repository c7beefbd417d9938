// Redis key names of Firehose. Everything of one delivery stream (metadata, tags, record buffer, source
// checkpoints, source lease) shares the hash tag {fh:<name>}, so multi-key scripts run in one Cluster
// slot. The list of names has its own slot. Nothing else builds these names.

/** Key names of one delivery stream and of the registry. */
export const firehoseKeys = {
  /** Sorted set (scores 0, ordered by name): every delivery stream, for ListDeliveryStreams. */
  names: () => 'firehose:{fh}:names',
  /** String: JSON DeliveryStreamRecord. */
  meta: (name: string) => `firehose:{fh:${name}}:meta`,
  /** Hash: tag key -> value. */
  tags: (name: string) => `firehose:{fh:${name}}:tags`,
  /** Redis stream with the consumer group `delivery`: records accepted and not yet delivered. */
  buffer: (name: string) => `firehose:{fh:${name}}:buffer`,
  /** String (integer): bytes of the records in the buffer, for its size limit. */
  bufferBytes: (name: string) => `firehose:{fh:${name}}:buffer-bytes`,
  /** Hash: source shard id -> last sequence number buffered, or `END` once the shard is drained. */
  checkpoints: (name: string) => `firehose:{fh:${name}}:checkpoints`,
  /** String with a TTL: the replica that reads the Kinesis source right now. */
  sourceLease: (name: string) => `firehose:{fh:${name}}:source-lease`,
} as const;

/** The consumer group every replica's delivery worker reads the buffer through. */
export const DELIVERY_GROUP = 'delivery';

// Redis key names of enhanced fan-out consumers. They share the hash tag {s:<stream name>} with the
// stream's metadata (keys.ts), so registration checks the stream and the consumer limit atomically.

/** Key names of the consumer registry; nothing else builds them. */
export const consumerKeys = {
  /** Hash: consumer name -> JSON consumer (ARN, owning stream id, creation time). */
  consumers: (streamName: string) => `kds:{s:${streamName}}:consumers`,
} as const;

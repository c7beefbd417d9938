// Redis key names of HLS playback. Session sets share their stream's {kvs:<name>} hash tag.

/** Key names of HLS sessions. */
export const hlsKeys = {
  /** Sorted set: active session ids of a stream, scored by expiry (epoch ms). */
  sessions: (streamName: string) => `kvs:{kvs:${streamName}}:hls-sessions`,
  /** Pattern matching every stream's "fragment indexed" channel (see video-archive fragmentKeys). */
  indexedPattern: () => 'kvs:{kvs:*}:indexed',
} as const;

/** The stream name in an indexed-fragment channel name, else undefined. */
export function streamOfChannel(channel: string): string | undefined {
  const match = /^kvs:\{kvs:(.+)\}:indexed$/.exec(channel);
  return match?.[1];
}

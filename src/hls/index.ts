// HLS playback (KVS model): signed streaming sessions over the fragment archive, playlists rendered
// from the fragment index, media decrypted on the fly, the live edge pushed by Redis pub/sub.
// Imports errors/, logging/, media/fmp4, redis/, storage/ and video-archive/; its HTTP routes live in
// api/hls/.

export { HLS_LIMITS, HlsService, type NewHlsSession } from './hls-service.ts';
export { LiveEdge } from './live-edge.ts';
export { MediaCache } from './media-cache.ts';
export {
  type DiscontinuityMode,
  type HlsSession,
  type PlaybackMode,
  SessionTokens,
  type TimestampType,
} from './session-token.ts';

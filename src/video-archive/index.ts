// Video archive: Kinesis Video Streams semantics. So far the stream registry (control plane metadata,
// versions, retention, tags, deletion hooks) in Redis; fragments, the archive writer and retention follow.
// Imports errors/ and redis/ of ours; KMS is reached only through the KeyChecker port. API: api/kinesis-video/.
export type { Clock, KeyChecker } from './ports.ts';
export {
  type NewVideoStream,
  type StreamDeletedListener,
  VIDEO_STREAM_LIMITS,
  type VideoStreamRef,
  VideoStreamRegistry,
} from './stream-registry.ts';
export type { VideoStreamRecord, VideoStreamStatus } from './video-stream-record.ts';

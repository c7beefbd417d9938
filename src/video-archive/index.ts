// Video archive: Kinesis Video Streams semantics. The stream registry (control plane metadata, versions,
// retention, tags, deletion hooks) in Redis; the archive writer (sealed fragments in the object store,
// indexed in Redis, with its backlog spooled to disk when the store fails), the fragment index, the retention sweeper and playback (GetMediaForFragmentList,
// GetClip, GetImages).
// Imports errors/, redis/, storage/, logging/ and media/fmp4 types of ours; KMS and crypto only via ports.ts.
export {
  type FragmentMetadata,
  fragmentContext,
  initContext,
  isFragmentNumber,
  streamIdOf,
  streamObjectPrefix,
} from './archive-layout.ts';
export { ArchiveSpool, type SpoolEntry, type SpoolRecord } from './archive-spool.ts';
export {
  type AcceptedWrite,
  ARCHIVE_WRITER_DEFAULTS,
  ArchiveWriter,
  type ArchiveWriterStats,
  FragmentDroppedError,
  type WriteResult,
} from './archive-writer.ts';
export { type CameraSource, CameraSources, type CameraStatus } from './camera-sources.ts';
export {
  FragmentIndex,
  type FragmentPage,
  type FragmentTimestampType,
  MAX_LIST_FRAGMENTS,
} from './fragment-index.ts';
export { CLIP_LIMITS, clipMedia } from './playback/clip-media.ts';
export { fragmentListMedia, MAX_MEDIA_FRAGMENTS } from './playback/fragment-list-media.ts';
export { IMAGE_LIMITS, streamImages } from './playback/stream-images.ts';
export type { ArchiveSealer, Clock, KeyChecker } from './ports.ts';
export { VideoRetentionSweeper } from './retention-sweeper.ts';
export {
  type NewVideoStream,
  type StreamDeletedListener,
  VIDEO_STREAM_LIMITS,
  type VideoStreamRef,
  VideoStreamRegistry,
} from './stream-registry.ts';
export type { VideoStreamRecord, VideoStreamStatus } from './video-stream-record.ts';

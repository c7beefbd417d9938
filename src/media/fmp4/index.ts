// fMP4 fragmenter: a pure, synchronous core that cuts an ffmpeg fragmented-MP4 byte stream into
// versioned init segments and per-GOP fragments (ISO/IEC 14496-12 boxes; RFC 6381 codec strings).
// Leaf-level module: imports nothing of ours (node:crypto only); no I/O.
export { BoxReader, TOP_LEVEL_BOX_TYPES, type TopLevelBox } from './box-reader.ts';
export { Fmp4Fragmenter } from './fragmenter.ts';
export {
  FRAGMENTER_DEFAULTS,
  type FragmentEvent,
  type FragmenterEvent,
  type FragmenterOptions,
  type FragmentTrack,
  type InitEvent,
  type TruncatedEvent,
} from './fragmenter-events.ts';
export { describeInitSegment, type InitTrack } from './init-segment.ts';
export { Mp4ParseError, type Mp4ParseErrorReason } from './mp4-parse-error.ts';

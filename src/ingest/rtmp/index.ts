// RTMP ingest: node-media-server 4.4.3 in process (wrapped in node-media-server.ts only), an in-process
// FLV subscriber per admitted publish, remuxed by media/ffmpeg into media/fmp4's fragmenter.
// May import logging, media/ffmpeg, media/fmp4 and ../ingest-ports.ts; nothing else of ours.
export {
  type FragmentSink,
  type IngestEvent,
  type PublishGate,
  RTMP_INGEST_DEFAULTS,
  RtmpIngest,
  type RtmpIngestOptions,
} from './rtmp-ingest.ts';

// RTMP ingest: node-media-server 4.4.3 in process (wrapped in node-media-server.ts only), an in-process
// FLV subscriber per admitted publish, remuxed by media/flv (H.264/AAC) or media/ffmpeg + media/fmp4.
// May import logging, media/ and ../ingest-*.ts; nothing else of ours.
export {
  type FragmentSink,
  type IngestEvent,
  type PublishGate,
  RTMP_INGEST_DEFAULTS,
  RtmpIngest,
  type RtmpIngestOptions,
} from './rtmp-ingest.ts';

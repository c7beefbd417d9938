// Ingest: protocol servers that admit publishers and turn their media into init segments and per-GOP
// fragments for a FragmentSink. Imports logging and media/ only; the app supplies the ports.
export type { FragmentSink, IngestEvent, IngestTiming, PublishGate } from './ingest-ports.ts';
export { PUBLISH_SECRET_FILE, resolvePublishSecret, rtmpPublishUrl } from './publish-secret.ts';
export { publishToken, verifyPublishToken } from './publish-token.ts';
export { RTMP_INGEST_DEFAULTS, RtmpIngest, type RtmpIngestOptions } from './rtmp/index.ts';
export {
  parseRtspUrl,
  RTSP_INGEST_DEFAULTS,
  RtspIngest,
  type RtspIngestOptions,
  type RtspPullStatus,
  type RtspSourceDirectory,
  RtspUrlError,
} from './rtsp/index.ts';

// RTSP pull ingest: IP cameras pulled by `ffmpeg -rtsp_transport tcp` (media/ffmpeg) into media/fmp4's
// fragmenter, one puller per camera with a restart watchdog, one replica per camera by lease.
// May import logging, media/ffmpeg, media/fmp4 and ../ingest-*.ts; the camera directory is a port.
export { RESTART_BACKOFF_DEFAULTS, RestartBackoff, type RestartBackoffOptions } from './restart-backoff.ts';
export {
  RTSP_INGEST_DEFAULTS,
  RtspIngest,
  type RtspIngestOptions,
  type RtspSourceDirectory,
  type RtspSourceRef,
} from './rtsp-ingest.ts';
export { RTSP_PULLER_DEFAULTS, RtspPuller, type RtspPullState, type RtspPullStatus } from './rtsp-puller.ts';
export { MAX_RTSP_URL_LENGTH, parseRtspUrl, type RtspUrl, RtspUrlError, redactSecrets } from './rtsp-url.ts';

import { join, resolve } from 'node:path';
import { Counter, Gauge, type Registry } from 'prom-client';
import {
  type AwsProtocol,
  archivedMediaApi,
  hlsRoutes,
  hlsSessionApi,
  kinesisVideoApi,
  type Route,
  rtspSourceApi,
} from '../api/index.ts';
import type { Config } from '../config/index.ts';
import type { Envelope } from '../crypto/index.ts';
import { isServiceError } from '../errors/index.ts';
import { HlsService, LiveEdge, MediaCache, SessionTokens } from '../hls/index.ts';
import {
  type FragmentSink,
  RtmpIngest,
  RtspIngest,
  type RtspIngestOptions,
  resolvePublishSecret,
  verifyPublishToken,
} from '../ingest/index.ts';
import type { Clock, KeyService } from '../kms/index.ts';
import type { Logger } from '../logging/index.ts';
import { FfmpegNotFoundError, resolveFfmpeg } from '../media/ffmpeg/index.ts';
import { duplicateRedisClient, type RedisClient } from '../redis/index.ts';
import type { ObjectStore } from '../storage/index.ts';
import {
  type ArchiveSealer,
  ArchiveSpool,
  ArchiveWriter,
  type CameraSource,
  CameraSources,
  FragmentDroppedError,
  FragmentIndex,
  VideoRetentionSweeper,
  VideoStreamRegistry,
} from '../video-archive/index.ts';

// Composition of Kinesis Video Streams (called by app.ts): the stream registry and its APIs, the
// archive writer with its spool, retention, RTMP and RTSP ingest, HLS, and the archived-media APIs.

/** Timings tests shorten (part of the app's overrides). */
export interface VideoOverrides {
  /** Period of the video retention sweep; default one minute. */
  retentionSweepIntervalMs?: number;
  /** RTSP pull timings. */
  rtsp?: Pick<
    RtspIngestOptions<CameraSource>,
    'reconcileIntervalMs' | 'leaseTtlMs' | 'connectTimeoutMs' | 'stallTimeoutMs' | 'backoff'
  >;
  /** RTMP: close an admitted publisher silent this long; default RTMP_INGEST_DEFAULTS.idleTimeoutMs. */
  rtmpIdleTimeoutMs?: number;
  /** RTMP: close a connection not admitted this long after connecting; default 10 s. */
  rtmpAdmissionTimeoutMs?: number;
  /** RTMP: close an admitted publish whose media gives no init segment this long; default 15 s. */
  rtmpMediaStartTimeoutMs?: number;
}

/** The started video services. */
export interface VideoServices {
  writer: ArchiveWriter;
  /** `/hls/v1/...` routes for the router. */
  routes: Route[];
  /** Ingest first (last GOPs into the backlog), then the writer (drain/spool), sweeper, live edge. */
  stop(): Promise<void>;
}

/** What the video services need from the app. */
export interface VideoDependencies {
  config: Config;
  dataDir: string;
  logger: Logger;
  registry: Registry;
  redis: RedisClient;
  store: ObjectStore;
  envelopes: Envelope;
  keyService: KeyService;
  clock: Clock;
  aws: AwsProtocol;
  overrides: VideoOverrides;
}

/** Builds and starts the video services and registers their APIs; on failure stops what started. */
export async function startVideoServices(deps: VideoDependencies): Promise<VideoServices> {
  const { config, logger, redis, clock, aws, overrides } = deps;
  const stops: Array<() => Promise<void>> = [];
  const stopAll = async () => {
    for (const stop of stops.splice(0).reverse()) await stop();
  };
  try {
    const videoStreams = new VideoStreamRegistry({
      redis,
      keys: { checkKey: async (keyRef) => void (await deps.keyService.usableKey(keyRef)) },
      clock,
      region: config.region,
      accountId: config.accountId,
    });
    aws.registerRestJsonService(
      kinesisVideoApi({ registry: videoStreams, publicUrl: config.publicUrl, tls: config.tls !== undefined }),
    );
    const videoLogger = logger.child({ module: 'video-archive' });
    const archiveDropped = new Counter({
      name: 'streamgate_video_archive_dropped_fragments_total',
      help: 'Archive writes (fragments, init segments) dropped from a full per-stream backlog (memory and spool).',
      registers: [deps.registry],
    });
    const publishSecret = await resolvePublishSecret(config.publishSecret, deps.dataDir);
    const fragmentIndex = new FragmentIndex({ redis });
    const hls = await startHls({ ...deps, index: fragmentIndex, videoStreams, publishSecret });
    stops.push(() => hls.liveEdge.stop());
    const writer = new ArchiveWriter({
      redis,
      store: deps.store,
      sealer: deps.envelopes,
      registry: videoStreams,
      clock,
      logger: videoLogger,
      onDropped: () => archiveDropped.inc(),
      onAccepted: (stream, key, plaintext) => hls.service.remember(stream, key, plaintext),
      spool:
        config.videoSpoolMaxBytes > 0
          ? new ArchiveSpool({ rootDir: join(deps.dataDir, 'spool') })
          : undefined,
      maxMemoryBytesPerStream: config.videoBacklogMemoryBytes,
      maxSpoolBytesPerStream: config.videoSpoolMaxBytes,
    });
    backlogGauges(deps.registry, writer);
    await writer.start(); // queues writes a previous process left in the spool
    stops.push(() => writer.stop());
    const sweeper = new VideoRetentionSweeper({
      redis,
      store: deps.store,
      registry: videoStreams,
      clock,
      logger: videoLogger,
      intervalMs: overrides.retentionSweepIntervalMs ?? 60_000,
    });
    const cameras = new CameraSources({ redis, sealer: deps.envelopes, registry: videoStreams, clock });
    videoStreams.onDeleted(async (stream) => {
      await cameras.forget(stream.name);
      writer.forget(stream);
      await sweeper.purge(stream);
    });
    sweeper.start();
    stops.push(() => sweeper.stop());
    aws.registerRestJsonService(rtspSourceApi({ cameras }));
    const ffmpegPath = findFfmpeg(config, logger);
    const sink = archiveSink(writer, logger.child({ module: 'ingest' }));
    if (config.rtmpPort !== undefined && ffmpegPath !== undefined) {
      const rtmp = await startRtmpIngest(
        config,
        publishSecret,
        ffmpegPath,
        logger,
        videoStreams,
        sink,
        overrides,
      );
      stops.push(() => rtmp.stop());
    }
    if (config.rtspPull && ffmpegPath !== undefined) {
      const rtsp = startRtspIngest(ffmpegPath, logger, deps.registry, cameras, sink, overrides.rtsp);
      stops.push(() => rtsp.stop());
    }
    aws.registerRestJsonService(
      archivedMediaApi({
        registry: videoStreams,
        index: fragmentIndex,
        store: deps.store,
        sealer: deps.envelopes,
        ffmpegPath,
      }),
    );
    aws.registerRestJsonService(
      hlsSessionApi({ hls: hls.service, publicUrl: config.publicUrl, tls: config.tls !== undefined }),
    );
    let stopping: Promise<void> | undefined;
    return {
      writer,
      routes: hls.routes,
      stop: () => {
        stopping ??= stopAll();
        return stopping;
      },
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}

/** Gauges of the archive backlog (memory and spool). */
function backlogGauges(registry: Registry, writer: ArchiveWriter): void {
  new Gauge({
    name: 'streamgate_video_archive_spool_bytes',
    help: 'Bytes of sealed archive writes waiting in the disk spool (storage slow or down).',
    registers: [registry],
    collect() {
      this.set(writer.stats().spoolBytes);
    },
  });
  new Gauge({
    name: 'streamgate_video_archive_backlog_writes',
    help: 'Archive writes waiting for storage, in memory and in the spool.',
    registers: [registry],
    collect() {
      this.set(writer.stats().pendingWrites);
    },
  });
}

/** The ffmpeg binary (FFMPEG_PATH or PATH); undefined, with a warning, when there is none. */
function findFfmpeg(config: Config, logger: Logger): string | undefined {
  try {
    return resolveFfmpeg(config.ffmpegPath, logger.child({ module: 'media' }));
  } catch (error) {
    if (!(error instanceof FfmpegNotFoundError)) throw error;
    logger.warn(
      { err: error },
      'no ffmpeg: RTMP ingest, GetClip and GetImages are off (install ffmpeg or set FFMPEG_PATH)',
    );
    return undefined;
  }
}

/**
 * RTMP ingest (OBS, ffmpeg): admits publishers of existing ACTIVE video streams with a valid publish
 * token and archives their fragments.
 */
async function startRtmpIngest(
  config: Config,
  secret: string,
  ffmpegPath: string,
  logger: Logger,
  streams: VideoStreamRegistry,
  sink: FragmentSink,
  overrides: VideoOverrides,
): Promise<RtmpIngest> {
  const ingestLogger = logger.child({ module: 'ingest' });
  const ingest = new RtmpIngest({
    host: config.host,
    port: config.rtmpPort ?? 1935,
    storeDir: join(resolve(config.dataDir), 'rtmp'),
    ffmpegPath,
    logger: ingestLogger,
    ...(overrides.rtmpIdleTimeoutMs !== undefined ? { idleTimeoutMs: overrides.rtmpIdleTimeoutMs } : {}),
    ...(overrides.rtmpAdmissionTimeoutMs !== undefined
      ? { admissionTimeoutMs: overrides.rtmpAdmissionTimeoutMs }
      : {}),
    ...(overrides.rtmpMediaStartTimeoutMs !== undefined
      ? { mediaStartTimeoutMs: overrides.rtmpMediaStartTimeoutMs }
      : {}),
    gate: {
      authorize: async (streamName, token) => {
        if (!verifyPublishToken(secret, streamName, token)) return false;
        try {
          return (await streams.describe({ name: streamName })).status === 'ACTIVE';
        } catch (error) {
          if (isServiceError(error) && error.code === 'ResourceNotFoundException') return false;
          throw error;
        }
      },
    },
    sink,
  });
  await ingest.start();
  return ingest;
}

/**
 * The sink of every ingest: the archive writer. It waits until a write is held (memory or spool), not
 * until it is stored, so a slow or failing object store does not stall publishers and cameras (the
 * backlog is bounded, then drops the oldest, counted). A dropped write does not end the session.
 */
function archiveSink(writer: ArchiveWriter, logger: Logger): FragmentSink {
  return {
    accept: async (streamName, event, timing) => {
      let persisted: Promise<unknown>;
      try {
        ({ persisted } = await writer.enqueue(streamName, event, timing));
      } catch (error) {
        if (error instanceof FragmentDroppedError) return; // writer stopping: counted there
        throw error;
      }
      persisted.catch((error: unknown) => {
        if (!(error instanceof FragmentDroppedError)) {
          logger.error({ err: error, streamName }, 'archive write failed');
        }
      });
    },
  };
}

/** RTSP pull: the cameras configured with PutRtspSource, one replica each, restarted by a watchdog. */
function startRtspIngest(
  ffmpegPath: string,
  logger: Logger,
  registry: Registry,
  cameras: CameraSources,
  sink: FragmentSink,
  timings: VideoOverrides['rtsp'],
): RtspIngest<CameraSource> {
  const restarts = new Counter({
    name: 'streamgate_rtsp_source_restarts_total',
    help: 'RTSP camera sessions restarted by the watchdog (source ended, failed or stalled).',
    labelNames: ['stream'],
    registers: [registry],
  });
  const up = new Gauge({
    name: 'streamgate_rtsp_source_up',
    help: '1 while an RTSP camera this gateway pulls is streaming, 0 while connecting or backing off.',
    labelNames: ['stream'],
    registers: [registry],
  });
  const ingest = new RtspIngest<CameraSource>({
    directory: cameras,
    ffmpegPath,
    sink,
    logger: logger.child({ module: 'ingest' }),
    ...timings,
    onRestart: (stream) => restarts.inc({ stream }),
    onState: (stream, status) => {
      // Gone from this gateway (source removed, lease lost, shutdown): no series left behind for a
      // deleted stream; Prometheus' rate() treats the counter's disappearance as a reset.
      if (status === undefined) {
        up.remove({ stream });
        restarts.remove({ stream });
      } else up.set({ stream }, status.state === 'STREAMING' ? 1 : 0);
    },
  });
  ingest.start();
  return ingest;
}

/** HLS playback: sessions signed with a key derived from the publish secret, the live edge, routes. */
async function startHls(
  deps: Pick<VideoDependencies, 'config' | 'logger' | 'redis' | 'store' | 'clock'> & {
    envelopes: ArchiveSealer;
    videoStreams: VideoStreamRegistry;
    index: FragmentIndex;
    publishSecret: string;
  },
): Promise<{ service: HlsService; routes: Route[]; liveEdge: LiveEdge }> {
  const logger = deps.logger.child({ module: 'hls' });
  const subscriber = duplicateRedisClient(deps.redis, 'streamgate-live-edge');
  subscriber.on('error', (error: Error) => logger.warn({ err: error }, 'live-edge subscriber error'));
  const liveEdge = new LiveEdge({ subscriber, logger });
  await liveEdge.start();
  const service = new HlsService({
    registry: deps.videoStreams,
    index: deps.index,
    store: deps.store,
    sealer: deps.envelopes,
    redis: deps.redis,
    tokens: new SessionTokens(deps.publishSecret),
    clock: deps.clock,
    liveEdge,
    cache: new MediaCache(deps.config.hlsCacheBytes),
  });
  return { service, routes: hlsRoutes({ hls: service, logger }), liveEdge };
}

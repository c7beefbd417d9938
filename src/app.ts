import { createHash, randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import express from 'express';
import { Counter, Gauge, type Registry } from 'prom-client';
import {
  type AccessKeyPair,
  ApiRouter,
  AwsProtocol,
  archivedMediaApi,
  efoOperations,
  firehoseApi,
  hlsSessionApi,
  kinesisApi,
  kinesisVideoApi,
  kmsApi,
  opsRoutes,
  resolveAccessKeys,
  rtspSourceApi,
  SigV4Verifier,
  secretLookup,
} from './api/index.ts';
import type { Config } from './config/index.ts';
import { consoleRoutes } from './console/index.ts';
import { Envelope } from './crypto/index.ts';
import {
  RecordIO,
  Resharding,
  RetentionSweeper,
  ShardIteratorCodec,
  ShardSubscriptions,
  ShardThrottle,
  StreamAdmin,
  StreamConsumers,
  StreamRegistry,
} from './data-streams/index.ts';
import { isServiceError } from './errors/index.ts';
import { Firehose, FirehoseMetrics, type SourceStreams } from './firehose/index.ts';
import { type HlsRoute, HlsService, hlsRoutes, LiveEdge, MediaCache, SessionTokens } from './hls/index.ts';
import { Dispatcher, HttpListener } from './http/index.ts';
import {
  type FragmentSink,
  RtmpIngest,
  RtspIngest,
  type RtspIngestOptions,
  resolvePublishSecret,
  verifyPublishToken,
} from './ingest/index.ts';
import { type Clock, KeyMaintenance, KeyService } from './kms/index.ts';
import type { Logger } from './logging/index.ts';
import { FfmpegNotFoundError, resolveFfmpeg } from './media/ffmpeg/index.ts';
import { createMetrics, type Metrics } from './metrics/index.ts';
import {
  connectRedis,
  duplicateRedisClient,
  pingRedis,
  type RedisClient,
  type RedisConnection,
} from './redis/index.ts';
import { FilesystemObjectStore, type ObjectStore, S3ObjectStore } from './storage/index.ts';
import { ShardLogs } from './stream-log/index.ts';
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
} from './video-archive/index.ts';

/** A composed, startable gateway. The only place that knows every module. */
export interface App {
  /** Starts every part in dependency order; resolves once the HTTP port listens. */
  start(): Promise<{ httpPort: number }>;
  /** Drains requests, then stops every part in reverse order; idempotent. */
  stop(): Promise<void>;
  readonly config: Config;
  readonly metrics: Metrics;
  /** Available after start(). */
  readonly accessKeys: readonly AccessKeyPair[];
  readonly redis: RedisConnection;
  readonly objectStore: ObjectStore;
  readonly aws: AwsProtocol;
  /** The key service (available after start()). */
  readonly kms: KeyService;
  /** Envelope encryption for the storing modules, over the key service (available after start()). */
  readonly envelope: Envelope;
  readonly kmsMaintenance: KeyMaintenance;
  /** Data Streams retention sweeper (available after start()). */
  readonly retentionSweeper: RetentionSweeper;
  /** Kinesis Video Streams archive writer (available after start()). */
  readonly videoArchive: ArchiveWriter;
  /** Firehose delivery streams and their delivery (available after start()). */
  readonly firehose: Firehose;
}

/** Test seams: where to probe for a default Redis; the clock of expiry and retention (not of SigV4). */
export interface AppOverrides {
  redisDefaultUrl?: string;
  clock?: Clock;
  /** Period of the KMS maintenance loop (deletions, automatic rotation); default one minute. */
  kmsMaintenanceIntervalMs?: number;
  /** Period of the Data Streams retention sweep; default one minute. */
  retentionSweepIntervalMs?: number;
  /** Firehose: backoff base of transform and HTTP endpoint retries (default 1 s). */
  firehoseRetryBaseMs?: number;
  /** Firehose: pause of idle delivery workers and source readers (default 200 ms). */
  firehosePollMs?: number;
  /** RTSP pull timings (tests shorten them). */
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

/** Builds the gateway from a validated config. Nothing touches the network until start(). */
export function createApp(config: Config, logger: Logger, overrides: AppOverrides = {}): App {
  const metrics = createMetrics();
  const dataDir = resolve(config.dataDir);
  let redis: RedisConnection | undefined;
  let listener: HttpListener | undefined;
  let accessKeys: AccessKeyPair[] = [];
  let stopping: Promise<void> | undefined;

  const objectStore: ObjectStore = config.s3
    ? new S3ObjectStore({
        endpoint: config.s3.endpoint,
        accessKey: config.s3.accessKey,
        secretKey: config.s3.secretKey,
        bucket: config.s3.bucket,
        region: config.s3.region,
      })
    : new FilesystemObjectStore({ rootDir: join(dataDir, 'objects') });

  const clock: Clock = overrides.clock ?? { now: () => Date.now() };
  let kms: KeyService | undefined;
  let kmsMaintenance: KeyMaintenance | undefined;
  let envelope: Envelope | undefined;
  let retentionSweeper: RetentionSweeper | undefined;
  let videoArchive: ArchiveWriter | undefined;
  let firehose: Firehose | undefined;
  let rtmpIngest: RtmpIngest | undefined;
  let rtspIngest: RtspIngest<CameraSource> | undefined;
  let videoSweeper: VideoRetentionSweeper | undefined;
  let liveEdge: LiveEdge | undefined;
  let subscriptions: ShardSubscriptions | undefined;
  let lookup: (accessKeyId: string) => string | undefined = () => undefined;
  const verifier = new SigV4Verifier({ lookup: (id) => lookup(id) });
  const aws = new AwsProtocol({
    verifier,
    limits: { maxBytes: config.maxBodyBytes, idleTimeoutMs: config.bodyTimeoutMs },
    logger,
  });

  const app: App = {
    config,
    metrics,
    aws,
    objectStore,
    get accessKeys() {
      return accessKeys;
    },
    get redis() {
      if (!redis) throw new Error('app not started');
      return redis;
    },
    get kms() {
      if (!kms) throw new Error('app not started');
      return kms;
    },
    get envelope() {
      if (!envelope) throw new Error('app not started');
      return envelope;
    },
    get retentionSweeper() {
      if (!retentionSweeper) throw new Error('app not started');
      return retentionSweeper;
    },
    get videoArchive() {
      if (!videoArchive) throw new Error('app not started');
      return videoArchive;
    },
    get firehose() {
      if (!firehose) throw new Error('app not started');
      return firehose;
    },
    get kmsMaintenance() {
      if (!kmsMaintenance) throw new Error('app not started');
      return kmsMaintenance;
    },

    async start() {
      const keys = await resolveAccessKeys(config.accessKeys, dataDir);
      accessKeys = keys.keys;
      lookup = secretLookup(accessKeys);
      if (keys.generated) {
        // Shown once, on the start that generated it; never written to the log.
        console.error(
          `\nGenerated SigV4 credentials (stored 0600 in ${keys.file}):\n` +
            `  AWS_ACCESS_KEY_ID=${keys.generated.accessKeyId}\n` +
            `  AWS_SECRET_ACCESS_KEY=${keys.generated.secretAccessKey}\n`,
        );
      }

      redis = await connectRedis({
        configuredUrl: config.redisUrl,
        dataDir,
        logger,
        ...(overrides.redisDefaultUrl ? { defaultUrl: overrides.redisDefaultUrl } : {}),
      });
      try {
        await objectStore.start();
        kms = new KeyService({
          redis: redis.client,
          region: config.region,
          accountId: config.accountId,
          dataDir,
          rootKey: config.kmsRootKey,
          clock,
          logger: logger.child({ module: 'kms' }),
        });
        await kms.start();
        const keyService = kms;
        const envelopes = new Envelope({ keyProvider: keyService, now: () => clock.now() });
        envelope = envelopes;
        keyService.onKeyUnusable((keyId) => envelopes.forgetKey(keyId));
        aws.registerJsonService(kmsApi(kms, config.accountId));
        kmsMaintenance = new KeyMaintenance({
          service: kms,
          intervalMs: overrides.kmsMaintenanceIntervalMs ?? 60_000,
          logger: logger.child({ module: 'kms' }),
        });
        kmsMaintenance.start();

        const registry = new StreamRegistry(redis.client);
        const logs = new ShardLogs(redis.client);
        const iterators = new ShardIteratorCodec(await registry.iteratorSecret(randomBytes(32)));
        const streamAdmin = new StreamAdmin({
          registry,
          logs,
          keys: { checkKey: async (keyRef) => void (await keyService.usableKey(keyRef)) },
          clock,
          region: config.region,
          accountId: config.accountId,
          maxRecordBytes: config.kdsMaxRecordBytes,
        });
        const recordIO = new RecordIO({
          registry,
          logs,
          iterators,
          sealer: envelopes,
          clock,
          accountId: config.accountId,
          throttle: config.kdsShardLimits === 'aws' ? new ShardThrottle(clock) : undefined,
        });
        const consumers = new StreamConsumers({
          redis: redis.client,
          registry,
          clock,
          region: config.region,
          accountId: config.accountId,
        });
        subscriptions = new ShardSubscriptions({
          redis: redis.client,
          registry,
          logs,
          consumers,
          sealer: envelopes,
          clock,
          accountId: config.accountId,
          logger: logger.child({ module: 'data-streams' }),
        });
        aws.registerJsonService(
          kinesisApi({
            admin: streamAdmin,
            records: recordIO,
            resharding: new Resharding({ registry, logs, clock, accountId: config.accountId }),
            consumers,
            accountId: config.accountId,
            limits: { maxRecordBytes: config.kdsMaxRecordBytes, maxPutRecordsBytes: 5 * 1024 * 1024 },
            extraOperations: efoOperations({ admin: streamAdmin, consumers, subscriptions }),
          }),
        );
        firehose = new Firehose({
          redis: redis.client,
          store: objectStore,
          sealer: envelopes,
          keys: { checkKey: async (keyRef) => void (await keyService.usableKey(keyRef)) },
          source: sourceStreams(registry, recordIO),
          clock,
          metrics: new FirehoseMetrics(metrics.registry),
          region: config.region,
          accountId: config.accountId,
          timing: {
            syncMs: 1_000,
            pollMs: overrides.firehosePollMs ?? 200,
            claimIdleMs: config.firehoseClaimIdleMs,
            sourceLeaseMs: Math.max(1_000, config.firehoseClaimIdleMs),
          },
          maxBufferBytes: config.firehoseMaxBufferBytes,
          // Stable per host and data dir: a restarted replica takes back what it held at once.
          consumer: `${hostname()}:${createHash('sha256').update(dataDir).digest('hex').slice(0, 12)}`,
          ...(overrides.firehoseRetryBaseMs !== undefined
            ? { retryBaseMs: overrides.firehoseRetryBaseMs }
            : {}),
          logger: logger.child({ module: 'firehose' }),
        });
        aws.registerJsonService(firehoseApi({ firehose }));
        firehose.start();
        const videoStreams = new VideoStreamRegistry({
          redis: redis.client,
          keys: { checkKey: async (keyRef) => void (await keyService.usableKey(keyRef)) },
          clock,
          region: config.region,
          accountId: config.accountId,
        });
        aws.registerRestJsonService(
          kinesisVideoApi({
            registry: videoStreams,
            publicUrl: config.publicUrl,
            tls: config.tls !== undefined,
          }),
        );
        const videoLogger = logger.child({ module: 'video-archive' });
        const archiveDropped = new Counter({
          name: 'streamgate_video_archive_dropped_fragments_total',
          help: 'Archive writes (fragments, init segments) dropped from a full per-stream backlog (memory and spool).',
          registers: [metrics.registry],
        });
        const publishSecret = await resolvePublishSecret(config.publishSecret, dataDir);
        const fragmentIndex = new FragmentIndex({ redis: redis.client });
        const hls = await startHls({
          config,
          logger,
          redis: redis.client,
          registry: videoStreams,
          index: fragmentIndex,
          store: objectStore,
          sealer: envelopes,
          clock,
          publishSecret,
        });
        liveEdge = hls.liveEdge;
        const writer = new ArchiveWriter({
          redis: redis.client,
          store: objectStore,
          sealer: envelopes,
          registry: videoStreams,
          clock,
          logger: videoLogger,
          onDropped: () => archiveDropped.inc(),
          onAccepted: (stream, key, plaintext) => hls.service.remember(stream, key, plaintext),
          spool:
            config.videoSpoolMaxBytes > 0 ? new ArchiveSpool({ rootDir: join(dataDir, 'spool') }) : undefined,
          maxMemoryBytesPerStream: config.videoBacklogMemoryBytes,
          maxSpoolBytesPerStream: config.videoSpoolMaxBytes,
        });
        videoArchive = writer;
        new Gauge({
          name: 'streamgate_video_archive_spool_bytes',
          help: 'Bytes of sealed archive writes waiting in the disk spool (storage slow or down).',
          registers: [metrics.registry],
          collect() {
            this.set(writer.stats().spoolBytes);
          },
        });
        new Gauge({
          name: 'streamgate_video_archive_backlog_writes',
          help: 'Archive writes waiting for storage, in memory and in the spool.',
          registers: [metrics.registry],
          collect() {
            this.set(writer.stats().pendingWrites);
          },
        });
        await writer.start(); // queues writes a previous process left in the spool
        const sweeper = new VideoRetentionSweeper({
          redis: redis.client,
          store: objectStore,
          registry: videoStreams,
          clock,
          logger: videoLogger,
          intervalMs: overrides.retentionSweepIntervalMs ?? 60_000,
        });
        videoSweeper = sweeper;
        const cameras = new CameraSources({
          redis: redis.client,
          sealer: envelopes,
          registry: videoStreams,
          clock,
        });
        videoStreams.onDeleted(async (stream) => {
          await cameras.forget(stream.name);
          writer.forget(stream);
          await sweeper.purge(stream);
        });
        sweeper.start();
        aws.registerRestJsonService(rtspSourceApi({ cameras }));
        const ffmpegPath = findFfmpeg(config, logger);
        const sink = archiveSink(writer, logger.child({ module: 'ingest' }));
        if (config.rtmpPort !== undefined && ffmpegPath !== undefined) {
          rtmpIngest = await startRtmpIngest(
            config,
            publishSecret,
            ffmpegPath,
            logger,
            videoStreams,
            sink,
            overrides,
          );
        }
        if (config.rtspPull && ffmpegPath !== undefined) {
          rtspIngest = startRtspIngest(ffmpegPath, logger, metrics.registry, cameras, sink, overrides.rtsp);
        }
        aws.registerRestJsonService(
          archivedMediaApi({
            registry: videoStreams,
            index: fragmentIndex,
            store: objectStore,
            sealer: envelopes,
            ffmpegPath,
          }),
        );
        aws.registerRestJsonService(
          hlsSessionApi({ hls: hls.service, publicUrl: config.publicUrl, tls: config.tls !== undefined }),
        );
        retentionSweeper = new RetentionSweeper({
          registry,
          logs,
          clock,
          logger: logger.child({ module: 'data-streams' }),
          intervalMs: overrides.retentionSweepIntervalMs ?? 60_000,
        });
        retentionSweeper.start();
        const connectedRedis = redis;
        const router = new ApiRouter(
          aws,
          opsRoutes({
            registry: metrics.registry,
            checks: [
              { name: 'redis', check: () => pingRedis(connectedRedis.client, 1_000) },
              { name: 'objectStore', check: () => objectStore.ping() },
            ],
          }),
        );
        for (const route of [...hls.routes, ...(await consoleRoutes())]) router.add(route);
        const dispatcher = new Dispatcher({ handler: router.handle, logger, metrics });
        const http1 = express();
        http1.disable('x-powered-by');
        http1.set('etag', false);
        http1.use((req, res) => dispatcher.dispatch(req, res, 'h1'));

        listener = new HttpListener({
          host: config.host,
          port: config.httpPort,
          tls: config.tls
            ? { cert: await readFile(config.tls.certFile), key: await readFile(config.tls.keyFile) }
            : undefined,
          http1,
          dispatcher,
          timeouts: { headersTimeoutMs: config.headersTimeoutMs, idleTimeoutMs: config.idleTimeoutMs },
          logger,
          metrics,
        });
        const address = await listener.start();
        logger.info(
          {
            host: config.host,
            httpPort: address.port,
            tls: config.tls !== undefined,
            objectStore: config.s3 ? `s3 ${config.s3.endpoint}/${config.s3.bucket}` : `filesystem ${dataDir}`,
            redis: redis.embedded ? 'embedded' : 'external',
          },
          'streamgate listening',
        );
        return { httpPort: address.port };
      } catch (error) {
        await app.stop();
        throw error;
      }
    },

    stop() {
      stopping ??= (async () => {
        subscriptions?.stop(); // open SubscribeToShard streams would hold up the drain below
        await listener?.stop(config.shutdownTimeoutMs);
        await retentionSweeper?.stop();
        await firehose?.stop();
        await rtmpIngest?.stop();
        await rtspIngest?.stop();
        await videoArchive?.stop();
        await videoSweeper?.stop();
        await liveEdge?.stop();
        await kmsMaintenance?.stop();
        envelope?.clear();
        await kms?.stop();
        await objectStore.stop();
        await redis?.close();
        logger.info('streamgate stopped');
      })();
      return stopping;
    },
  };
  return app;
}

/** Firehose's view of Data Streams for KinesisStreamAsSource: shard lineage and reads from a position. */
function sourceStreams(registry: StreamRegistry, records: RecordIO): SourceStreams {
  return {
    async shards(streamName) {
      const view = await registry.get(streamName);
      return view?.shards.map((s) => ({
        shardId: s.shardId,
        parentShardIds: [s.parentShardId, s.adjacentParentShardId].filter(
          (p): p is string => p !== undefined,
        ),
      }));
    },
    async read(streamName, shardId, afterSequenceNumber, limit) {
      const iterator = await records.shardIterator(
        streamName,
        shardId,
        afterSequenceNumber === undefined
          ? { type: 'TRIM_HORIZON' }
          : { type: 'AFTER_SEQUENCE_NUMBER', sequenceNumber: afterSequenceNumber },
      );
      const page = await records.getRecords(iterator, limit);
      return {
        records: page.records.map((r) => ({
          sequenceNumber: r.sequenceNumber,
          partitionKey: r.partitionKey,
          arrivalMs: r.arrivalMs,
          data: r.data,
        })),
        ended: page.nextShardIterator === undefined,
      };
    },
  };
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
  overrides: AppOverrides,
): Promise<RtmpIngest | undefined> {
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
  timings: AppOverrides['rtsp'],
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
      if (status === undefined) up.remove({ stream });
      else up.set({ stream }, status.state === 'STREAMING' ? 1 : 0);
    },
  });
  ingest.start();
  return ingest;
}

/** HLS playback: sessions signed with a key derived from the publish secret, the live edge, routes. */
async function startHls(deps: {
  config: Config;
  logger: Logger;
  redis: RedisClient;
  registry: VideoStreamRegistry;
  index: FragmentIndex;
  store: ObjectStore;
  sealer: ArchiveSealer;
  clock: Clock;
  publishSecret: string;
}): Promise<{ service: HlsService; routes: HlsRoute[]; liveEdge: LiveEdge }> {
  const logger = deps.logger.child({ module: 'hls' });
  const subscriber = duplicateRedisClient(deps.redis, 'streamgate-live-edge');
  subscriber.on('error', (error: Error) => logger.warn({ err: error }, 'live-edge subscriber error'));
  const liveEdge = new LiveEdge({ subscriber, logger });
  await liveEdge.start();
  const service = new HlsService({
    registry: deps.registry,
    index: deps.index,
    store: deps.store,
    sealer: deps.sealer,
    redis: deps.redis,
    tokens: new SessionTokens(deps.publishSecret),
    clock: deps.clock,
    liveEdge,
    cache: new MediaCache(deps.config.hlsCacheBytes),
  });
  return { service, routes: hlsRoutes({ hls: service, logger }), liveEdge };
}

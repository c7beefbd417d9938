import { createHash, randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import express from 'express';
import {
  type AccessKeyPair,
  ApiRouter,
  AwsProtocol,
  consoleRoutes,
  efoOperations,
  firehoseApi,
  kinesisApi,
  kmsApi,
  opsRoutes,
  resolveAccessKeys,
  SigV4Verifier,
  secretLookup,
} from './api/index.ts';
import { startVideoServices, type VideoOverrides, type VideoServices } from './compose/index.ts';
import type { Config } from './config/index.ts';
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
import { Firehose, FirehoseMetrics, type SourceStreams } from './firehose/index.ts';
import { Dispatcher, HttpListener } from './http/index.ts';
import { type Clock, KeyMaintenance, KeyService } from './kms/index.ts';
import type { Logger } from './logging/index.ts';
import { createMetrics, type Metrics } from './metrics/index.ts';
import { connectRedis, pingRedis, type RedisConnection } from './redis/index.ts';
import { FilesystemObjectStore, type ObjectStore, S3ObjectStore } from './storage/index.ts';
import { ShardLogs } from './stream-log/index.ts';
import type { ArchiveWriter } from './video-archive/index.ts';

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
export interface AppOverrides extends VideoOverrides {
  redisDefaultUrl?: string;
  clock?: Clock;
  /** Period of the KMS maintenance loop (deletions, automatic rotation); default one minute. */
  kmsMaintenanceIntervalMs?: number;
  /** Period of the Data Streams (and video) retention sweeps; default one minute. */
  retentionSweepIntervalMs?: number;
  /** Firehose: backoff base of transform and HTTP endpoint retries (default 1 s). */
  firehoseRetryBaseMs?: number;
  /** Firehose: pause of idle delivery workers and source readers (default 200 ms). */
  firehosePollMs?: number;
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
  let video: VideoServices | undefined;
  let firehose: Firehose | undefined;
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
      if (!video) throw new Error('app not started');
      return video.writer;
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
        video = await startVideoServices({
          config,
          dataDir,
          logger,
          registry: metrics.registry,
          redis: redis.client,
          store: objectStore,
          envelopes,
          keyService,
          clock,
          aws,
          overrides,
        });
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
        for (const route of [...video.routes, ...(await consoleRoutes())]) router.add(route);
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
        await video?.stop();
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

import type { Logger } from '../logging/index.ts';
import type { RedisClient } from '../redis/index.ts';
import type { ObjectStore } from '../storage/index.ts';
import { BatchDelivery } from './batch-delivery.ts';
import { DeliveryFleet, type FleetTiming } from './delivery-fleet.ts';
import { DeliveryStreamAdmin } from './delivery-stream-admin.ts';
import { DeliveryStreamRegistry } from './delivery-stream-registry.ts';
import type { FirehoseMetrics } from './firehose-metrics.ts';
import type { Clock, KeyChecker, RecordSealer, SourceStreams } from './ports.ts';
import { RecordBuffer } from './record-buffer.ts';
import { RecordIngest } from './record-ingest.ts';
import { httpTransformInvoker, type TransformInvoker } from './record-processing.ts';

/** Everything Firehose needs from the rest of the gateway. */
export interface FirehoseOptions {
  redis: RedisClient;
  store: ObjectStore;
  sealer: RecordSealer;
  keys: KeyChecker;
  source: SourceStreams;
  clock: Clock;
  metrics: FirehoseMetrics;
  region: string;
  accountId: string;
  timing: FleetTiming;
  /** Most bytes a delivery stream buffers before PutRecord(Batch) gets ServiceUnavailableException. */
  maxBufferBytes: number;
  /** This replica's stable consumer name (see FleetOptions.consumer). */
  consumer: string;
  /** Backoff base of transform and HTTP endpoint retries (default 1 s). */
  retryBaseMs?: number;
  invoke?: TransformInvoker;
  logger: Logger;
}

/** Firehose on one replica: the registry and record API the api/ layer calls, and the delivery fleet. */
export class Firehose {
  readonly registry: DeliveryStreamRegistry;
  readonly admin: DeliveryStreamAdmin;
  readonly ingest: RecordIngest;
  readonly buffer: RecordBuffer;
  readonly fleet: DeliveryFleet;

  constructor(o: FirehoseOptions) {
    this.registry = new DeliveryStreamRegistry(o.redis, o.accountId);
    this.buffer = new RecordBuffer(o.redis, { maxBufferBytes: o.maxBufferBytes });
    const delivery = new BatchDelivery({
      store: o.store,
      sealer: o.sealer,
      clock: o.clock,
      metrics: o.metrics,
      region: o.region,
      invoke: o.invoke ?? httpTransformInvoker,
      retryBaseMs: o.retryBaseMs ?? 1_000,
    });
    this.fleet = new DeliveryFleet({
      redis: o.redis,
      registry: this.registry,
      buffer: this.buffer,
      delivery,
      source: o.source,
      sealer: o.sealer,
      clock: o.clock,
      metrics: o.metrics,
      timing: o.timing,
      consumer: o.consumer,
      logger: o.logger,
    });
    this.admin = new DeliveryStreamAdmin({
      registry: this.registry,
      keys: o.keys,
      source: o.source,
      clock: o.clock,
      region: o.region,
      accountId: o.accountId,
      onCreated: (name) => this.fleet.ensure(name),
    });
    this.ingest = new RecordIngest({
      registry: this.registry,
      buffer: this.buffer,
      sealer: o.sealer,
      clock: o.clock,
      metrics: o.metrics,
    });
  }

  start(): void {
    this.fleet.start();
  }

  /** Stops delivery; records not yet delivered stay buffered in Redis. Idempotent. */
  stop(): Promise<void> {
    return this.fleet.stop();
  }
}

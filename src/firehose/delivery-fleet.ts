import type { Logger } from '../logging/index.ts';
import type { RedisClient } from '../redis/index.ts';
import type { BatchDelivery } from './batch-delivery.ts';
import type { DeliveryStreamRegistry } from './delivery-stream-registry.ts';
import { DeliveryWorker } from './delivery-worker.ts';
import type { FirehoseMetrics } from './firehose-metrics.ts';
import { KinesisSourceReader } from './kinesis-source.ts';
import type { Clock, RecordSealer, SourceStreams } from './ports.ts';
import type { RecordBuffer } from './record-buffer.ts';
import { sleep } from './record-processing.ts';

/** Timing of the fleet; tests shorten it. */
export interface FleetTiming {
  /** How often the list of delivery streams is re-read. */
  syncMs: number;
  pollMs: number;
  claimIdleMs: number;
  sourceLeaseMs: number;
}

/** What the fleet needs. */
export interface FleetOptions {
  redis: RedisClient;
  registry: DeliveryStreamRegistry;
  buffer: RecordBuffer;
  delivery: BatchDelivery;
  source: SourceStreams;
  sealer: RecordSealer;
  clock: Clock;
  metrics: FirehoseMetrics;
  timing: FleetTiming;
  /**
   * This replica's name in the buffers' consumer groups and in source leases. Keep it stable across
   * restarts of one replica (it then takes its pending records back at once) and unique among the
   * replicas running together.
   */
  consumer: string;
  logger: Logger;
}

/**
 * This replica's share of Firehose work: a delivery worker for every delivery stream and a source
 * reader for every KinesisStreamAsSource one, started as streams appear and stopped as they go.
 */
export class DeliveryFleet {
  readonly #o: FleetOptions;
  /** This replica's consumer name in every buffer's group (stable across its restarts). */
  readonly consumer: string;
  readonly #workers = new Map<string, { worker: DeliveryWorker; reader: KinesisSourceReader | undefined }>();
  readonly #abort = new AbortController();
  #loop: Promise<void> | undefined;

  constructor(options: FleetOptions) {
    this.#o = options;
    this.consumer = options.consumer;
  }

  start(): void {
    this.#loop ??= this.#run();
  }

  /** Stops every worker and reader; buffered records stay in Redis for the next start. */
  async stop(): Promise<void> {
    this.#abort.abort();
    await this.#loop;
    await Promise.all(
      [...this.#workers.values()].map((w) => Promise.all([w.worker.stop(), w.reader?.stop()])),
    );
    this.#workers.clear();
  }

  /** Starts the workers of a delivery stream now rather than at the next sync. */
  ensure(name: string): void {
    if (this.#abort.signal.aborted) return;
    void this.#ensure(name).catch((error: unknown) =>
      this.#o.logger.warn(
        { err: error, deliveryStream: name },
        'firehose workers did not start; next sync retries',
      ),
    );
  }

  async #run(): Promise<void> {
    while (!this.#abort.signal.aborted) {
      try {
        await this.#sync();
      } catch (error) {
        this.#o.logger.warn({ err: error }, 'firehose fleet sync failed; retrying');
      }
      await sleep(this.#o.timing.syncMs, this.#abort.signal);
    }
  }

  async #sync(): Promise<void> {
    const names = new Set<string>();
    let after: string | undefined;
    for (;;) {
      const page = await this.#o.registry.listNames(after, 1_000);
      for (const name of page) names.add(name);
      if (page.length < 1_000) break;
      after = page.at(-1);
    }
    for (const name of names) await this.#ensure(name);
    for (const [name, parts] of this.#workers) {
      if (names.has(name)) continue;
      this.#workers.delete(name);
      await Promise.all([parts.worker.stop(), parts.reader?.stop()]);
    }
  }

  async #ensure(name: string): Promise<void> {
    if (this.#workers.has(name) || this.#abort.signal.aborted) return;
    const stream = await this.#o.registry.get(name);
    if (!stream || this.#workers.has(name)) return;
    const o = this.#o;
    const logger = o.logger;
    const worker = new DeliveryWorker({
      name,
      consumer: this.consumer,
      buffer: o.buffer,
      registry: o.registry,
      delivery: o.delivery,
      clock: o.clock,
      timing: { claimIdleMs: o.timing.claimIdleMs, pollMs: o.timing.pollMs },
      logger,
    });
    const reader = stream.source
      ? new KinesisSourceReader({
          name,
          holder: this.consumer,
          redis: o.redis,
          buffer: o.buffer,
          registry: o.registry,
          source: o.source,
          sealer: o.sealer,
          metrics: o.metrics,
          pollMs: o.timing.pollMs,
          leaseMs: o.timing.sourceLeaseMs,
          logger,
        })
      : undefined;
    this.#workers.set(name, { worker, reader });
    worker.start();
    reader?.start();
  }
}

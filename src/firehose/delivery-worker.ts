import type { Logger } from '../logging/index.ts';
import type { BatchDelivery } from './batch-delivery.ts';
import { bufferingOf, type DeliveryStreamRecord } from './delivery-stream-record.ts';
import type { DeliveryStreamRegistry } from './delivery-stream-registry.ts';
import type { Clock } from './ports.ts';
import type { BufferedRecord, RecordBuffer } from './record-buffer.ts';
import { sleep } from './record-processing.ts';

/** Timing of a delivery worker. */
export interface DeliveryWorkerTiming {
  /** Records pending this long with a silent worker are taken over. */
  claimIdleMs: number;
  /** Pause when the buffer has nothing new. */
  pollMs: number;
}

const READ_COUNT = 500;
const MAX_BACKOFF_MS = 30_000;

/**
 * Delivers one delivery stream's buffer from one replica: reads through the consumer group (and takes
 * over records a dead worker left pending), holds them until BufferingHints' size or interval is
 * reached, delivers, and only then acknowledges and deletes them. Failed deliveries are retried with
 * backoff; the records stay pending meanwhile (renewed also during the backoff, so no other replica
 * takes them).
 */
export class DeliveryWorker {
  readonly #name: string;
  readonly #consumer: string;
  readonly #buffer: RecordBuffer;
  readonly #registry: DeliveryStreamRegistry;
  readonly #delivery: BatchDelivery;
  readonly #clock: Clock;
  readonly #timing: DeliveryWorkerTiming;
  readonly #logger: Logger;
  readonly #abort = new AbortController();
  #loop: Promise<void> | undefined;
  #batch: BufferedRecord[] = [];
  #held = new Set<string>();
  #bytes = 0;
  #batchStartMs = 0;
  #lastRenewMs = 0;
  #lastReclaimMs = Number.NEGATIVE_INFINITY;
  #streamId: string | undefined;
  #ownPendingFrom: string | undefined = '0';
  #failures = 0;

  constructor(options: {
    name: string;
    consumer: string;
    buffer: RecordBuffer;
    registry: DeliveryStreamRegistry;
    delivery: BatchDelivery;
    clock: Clock;
    timing: DeliveryWorkerTiming;
    logger: Logger;
  }) {
    this.#name = options.name;
    this.#consumer = options.consumer;
    this.#buffer = options.buffer;
    this.#registry = options.registry;
    this.#delivery = options.delivery;
    this.#clock = options.clock;
    this.#timing = options.timing;
    this.#logger = options.logger;
  }

  start(): void {
    this.#loop ??= this.#run();
  }

  /** Stops after the step in progress; held records stay pending for the next worker. */
  async stop(): Promise<void> {
    this.#abort.abort();
    await this.#loop;
  }

  async #run(): Promise<void> {
    const signal = this.#abort.signal;
    while (!signal.aborted) {
      try {
        const stream = await this.#registry.get(this.#name);
        // A deleted stream's worker idles until the fleet's next sync stops it.
        if (stream?.status !== 'ACTIVE') {
          await sleep(this.#timing.pollMs, signal);
          continue;
        }
        const idle = await this.#step(stream, signal);
        if (idle) await sleep(this.#timing.pollMs, signal);
      } catch (error) {
        this.#failures++;
        const backoffMs = Math.min(MAX_BACKOFF_MS, 250 * 2 ** Math.min(this.#failures, 10));
        this.#logger.warn(
          { err: error, deliveryStream: this.#name, backoffMs },
          'firehose delivery failed; retrying',
        );
        // The backoff (up to 30 s) may be longer than claimIdleMs: keep the held records renewed, or
        // another replica takes them over and delivers them a second time.
        if (this.#batch.length > 0) await this.#whileRenewing(() => sleep(backoffMs, signal));
        else await sleep(backoffMs, signal);
      }
    }
  }

  /** One round: take records, deliver when due; true when nothing happened. */
  async #step(stream: DeliveryStreamRecord, signal: AbortSignal): Promise<boolean> {
    if (stream.id !== this.#streamId) {
      // Deleted and re-created under the same name: what was held belonged to the old buffer.
      this.#streamId = stream.id;
      this.#clearBatch();
    }
    const hints = bufferingOf(stream.destination);
    const now = this.#clock.now();
    if (this.#batch.length > 0 && now - this.#lastRenewMs >= this.#timing.claimIdleMs / 3) {
      await this.#buffer.renew(this.#name, this.#consumer, [...this.#held]);
      this.#lastRenewMs = now;
    }
    let taken = 0;
    if (this.#ownPendingFrom !== undefined) {
      // After a restart under the same consumer name: take back what this replica held, at once.
      const own = await this.#buffer.readOwnPending(
        this.#name,
        this.#consumer,
        this.#ownPendingFrom,
        READ_COUNT,
      );
      taken += this.#hold(own.records);
      this.#ownPendingFrom = own.next;
    }
    if (this.#bytes < hints.sizeBytes && now - this.#lastReclaimMs >= this.#timing.claimIdleMs / 2) {
      this.#lastReclaimMs = now;
      // Follows XAUTOCLAIM's cursor through the whole pending list, up to the size hint.
      const reclaimed = await this.#buffer.reclaim(
        this.#name,
        this.#consumer,
        this.#timing.claimIdleMs,
        READ_COUNT,
        hints.sizeBytes - this.#bytes,
      );
      taken += this.#hold(reclaimed);
    }
    // Read what is there up to the size hint, so a backlog goes out in full-size objects.
    while (this.#bytes < hints.sizeBytes) {
      const fresh = await this.#buffer.readNew(this.#name, this.#consumer, READ_COUNT);
      taken += this.#hold(fresh);
      if (fresh.length < READ_COUNT) break;
    }
    if (this.#batch.length === 0) return true;
    const due = this.#bytes >= hints.sizeBytes || this.#clock.now() - this.#batchStartMs >= hints.intervalMs;
    if (!due) return taken === 0;
    this.#batch.sort((a, b) => compareEntryIds(a.entryId, b.entryId));
    await this.#whileRenewing(() => this.#delivery.deliver(stream, this.#batch, signal));
    await this.#buffer.acknowledge(this.#name, this.#batch);
    this.#clearBatch();
    this.#failures = 0;
    return false;
  }

  /**
   * Runs a delivery while renewing the held records every claimIdleMs/3, so a long one (an HTTP
   * endpoint retried for minutes, a slow transform) is not mistaken for a dead worker's.
   */
  async #whileRenewing(delivery: () => Promise<void>): Promise<void> {
    const ids = [...this.#held];
    const timer = setInterval(() => {
      this.#buffer.renew(this.#name, this.#consumer, ids).catch((error: unknown) => {
        this.#logger.warn(
          { err: error, deliveryStream: this.#name },
          'firehose could not renew held records',
        );
      });
    }, this.#timing.claimIdleMs / 3);
    try {
      await delivery();
    } finally {
      clearInterval(timer);
    }
  }

  #clearBatch(): void {
    this.#batch = [];
    this.#held.clear();
    this.#bytes = 0;
  }

  #hold(records: readonly BufferedRecord[]): number {
    let added = 0;
    for (const r of records) {
      if (this.#held.has(r.entryId)) continue;
      if (this.#batch.length === 0) {
        this.#batchStartMs = r.arrivalMs;
        this.#lastRenewMs = this.#clock.now();
      }
      // The interval runs from the oldest record's arrival, also for records taken over.
      if (r.arrivalMs < this.#batchStartMs) this.#batchStartMs = r.arrivalMs;
      this.#held.add(r.entryId);
      this.#batch.push(r);
      this.#bytes += r.data.length;
      added++;
    }
    return added;
  }
}

/** Orders Redis stream entry ids (`<ms>-<seq>`). */
function compareEntryIds(a: string, b: string): number {
  const [am = 0, as = 0] = a.split('-').map(Number);
  const [bm = 0, bs = 0] = b.split('-').map(Number);
  return am - bm || as - bs;
}

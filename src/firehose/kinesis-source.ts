import type { Logger } from '../logging/index.ts';
import type { RedisClient } from '../redis/index.ts';
import { type DeliveryStreamRecord, recordContext, sealingKeyOf } from './delivery-stream-record.ts';
import type { DeliveryStreamRegistry } from './delivery-stream-registry.ts';
import type { FirehoseMetrics } from './firehose-metrics.ts';
import { firehoseKeys } from './keys.ts';
import { RENEW_LEASE } from './lua-scripts.ts';
import type { RecordSealer, SourceStreams } from './ports.ts';
import type { RecordBuffer } from './record-buffer.ts';
import { sleep } from './record-processing.ts';

interface LeaseClient {
  sgFhRenewLease(lease: string, holder: string, ttlMs: number): Promise<number>;
}

const READ_LIMIT = 1_000;
/** The checkpoint of a source shard that was read to its end. */
export const SOURCE_END = 'END';

/** What a source reader needs. */
export interface KinesisSourceOptions {
  name: string;
  /** This replica's identity in the lease. */
  holder: string;
  redis: RedisClient;
  buffer: RecordBuffer;
  registry: DeliveryStreamRegistry;
  source: SourceStreams;
  sealer: RecordSealer;
  metrics: FirehoseMetrics;
  pollMs: number;
  leaseMs: number;
  logger: Logger;
}

/**
 * KinesisStreamAsSource: copies a Streamgate data stream into the delivery stream's buffer, from the
 * oldest record, every shard, children only after all their parents are drained. Each append moves
 * the shard's checkpoint in the same Redis step, so every record is buffered once. One replica at a
 * time reads (a lease in Redis); another takes over when it stops renewing.
 */
export class KinesisSourceReader {
  readonly #o: KinesisSourceOptions;
  readonly #abort = new AbortController();
  #loop: Promise<void> | undefined;

  constructor(options: KinesisSourceOptions) {
    this.#o = options;
    options.redis.defineCommand('sgFhRenewLease', { numberOfKeys: 1, lua: RENEW_LEASE });
  }

  start(): void {
    this.#loop ??= this.#run();
  }

  /** Stops after the read in progress and gives the lease up to its expiry. */
  async stop(): Promise<void> {
    this.#abort.abort();
    await this.#loop;
  }

  async #run(): Promise<void> {
    const signal = this.#abort.signal;
    const leases = this.#o.redis as unknown as LeaseClient;
    while (!signal.aborted) {
      let moved = 0;
      try {
        const stream = await this.#o.registry.get(this.#o.name);
        if (!stream?.source) {
          await sleep(this.#o.pollMs, signal);
          continue;
        }
        const held = await leases.sgFhRenewLease(
          firehoseKeys.sourceLease(this.#o.name),
          this.#o.holder,
          this.#o.leaseMs,
        );
        // A full buffer leaves the records in the source stream until delivery catches up.
        const room = (await this.#o.buffer.bufferedBytes(this.#o.name)) < this.#o.buffer.maxBufferBytes;
        if (stream.status === 'ACTIVE' && held === 1 && room) {
          moved = await this.#readRound(stream, stream.source.streamName);
        }
      } catch (error) {
        this.#o.logger.warn(
          { err: error, deliveryStream: this.#o.name },
          'firehose source read failed; retrying',
        );
      }
      if (moved === 0) await sleep(this.#o.pollMs, signal);
    }
  }

  /** Reads one page from every shard that may be read now; returns the records buffered. */
  async #readRound(stream: DeliveryStreamRecord, sourceName: string): Promise<number> {
    const shards = await this.#o.source.shards(sourceName);
    if (!shards) return 0;
    const checkpoints = await this.#o.buffer.checkpoints(stream.name);
    const present = new Set(shards.map((s) => s.shardId));
    let moved = 0;
    for (const shard of shards) {
      const checkpoint = checkpoints[shard.shardId];
      if (checkpoint === SOURCE_END) continue;
      // A parent already trimmed away by retention no longer holds anything to read first.
      const waiting = shard.parentShardIds.some((p) => present.has(p) && checkpoints[p] !== SOURCE_END);
      if (waiting) continue;
      const page = await this.#o.source.read(sourceName, shard.shardId, checkpoint, READ_LIMIT);
      if (page.records.length === 0 && !page.ended) continue;
      const last = page.records.at(-1)?.sequenceNumber ?? checkpoint ?? '';
      const keyRef = sealingKeyOf(stream);
      const incoming = await Promise.all(
        page.records.map(async (r) => ({
          data: keyRef ? await this.#o.sealer.seal(r.data, keyRef, recordContext(stream)) : r.data,
          arrivalMs: r.arrivalMs,
          sealed: keyRef !== undefined,
          partitionKey: r.partitionKey,
          sequenceNumber: r.sequenceNumber,
        })),
      );
      await this.#o.buffer.appendFromSource(
        stream.name,
        shard.shardId,
        page.ended ? SOURCE_END : last,
        incoming,
        { holder: this.#o.holder, readFrom: checkpoint },
      );
      const label = { delivery_stream: stream.name };
      this.#o.metrics.incomingRecords.inc(label, page.records.length);
      this.#o.metrics.incomingBytes.inc(
        label,
        page.records.reduce((n, r) => n + r.data.length, 0),
      );
      moved += page.records.length + (page.ended ? 1 : 0);
    }
    return moved;
  }
}

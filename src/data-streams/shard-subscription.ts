import { isServiceError, ServiceError } from '../errors/index.ts';
import type { Logger } from '../logging/index.ts';
import { duplicateRedisClient, type RedisClient } from '../redis/index.ts';
import {
  compareEntryIds,
  type LogEntry,
  LogTail,
  parseEntryId,
  type ShardLogs,
} from '../stream-log/index.ts';
import type { Clock, RecordSealer } from './ports.ts';
import { type IteratorStart, logRef } from './record-io.ts';
import { toEntryId, toSequenceNumber } from './sequence-number.ts';
import { type ChildShard, childrenOf, openStoredRecord, type StoredRecord } from './stored-record.ts';
import type { ConsumerRecord, StreamConsumers } from './stream-consumers.ts';
import type { ShardRecord, StreamRecord } from './stream-record.ts';
import type { StreamRegistry, StreamView } from './stream-registry.ts';

/** One SubscribeToShardEvent. */
export interface SubscriptionEvent {
  records: StoredRecord[];
  /** Where to resume with AFTER_SEQUENCE_NUMBER; it moves on past trimmed records too. */
  continuationSequenceNumber: string;
  millisBehindLatest: number;
  /** Only on the last event of a closed shard, once every record of it has been sent. */
  childShards?: ChildShard[];
}

/** Timing and size bounds of a subscription; the defaults are AWS's. */
export interface SubscriptionLimits {
  /** A subscription ends after this long (AWS: 5 minutes); the client subscribes again. */
  lifetimeMs: number;
  /** An event goes out at least this often, empty if need be (AWS: 5 s). */
  heartbeatMs: number;
  /** A second subscription of the same consumer and shard is refused for this long, then takes over. */
  takeoverMs: number;
  maxRecordsPerEvent: number;
  /** Approximate: an event holds at least one record, and then stops before exceeding this. */
  maxBytesPerEvent: number;
}

/** AWS's subscription bounds. */
export const SUBSCRIPTION_LIMITS: Readonly<SubscriptionLimits> = {
  lifetimeMs: 300_000,
  heartbeatMs: 5_000,
  takeoverMs: 5_000,
  maxRecordsPerEvent: 10_000,
  maxBytesPerEvent: 2 * 1024 * 1024,
};

/** CLIENT LIST name of the subscriptions' own Redis connections. */
export const SUBSCRIPTION_CONNECTION_NAME = 'streamgate-subscription';

/** Entries asked for by the first read of a subscription, before their size is known. */
const FIRST_READ_COUNT = 32;
const HOUR_MS = 3_600_000;
/** Largest `seq` part the sequence-number encoding holds (sequence-number.ts). */
const MAX_SEQ = 2 ** 22 - 1;

/** The subscription of one consumer to one shard. */
interface Slot {
  startedAt: number;
  /** Aborted when the client goes away, a newer subscription takes over, or the gateway stops. */
  controller: AbortController;
}

/** What a running subscription follows. */
interface Follow {
  consumer: ConsumerRecord;
  view: StreamView;
  shard: ShardRecord;
  /** Entry id of the last record passed (the next event starts after it). */
  afterId: string;
  signal: AbortSignal;
  release: () => void;
}

/**
 * SubscribeToShard's push loop: sends what the shard holds from the starting position, then follows it
 * with a blocking XREAD on a Redis connection of the subscription's own, so records go out within
 * milliseconds of being written; an event at least every heartbeat; ends after the lifetime, when the
 * client goes away, or after the last record of a closed shard (that event carries ChildShards).
 *
 * One subscription per consumer and shard: a second one within `takeoverMs` of the first is refused
 * with ResourceInUseException, a later one ends the first (which then fails with that exception).
 * The slots live in this process only: with several replicas behind a load balancer, two subscriptions
 * of the same consumer and shard on different replicas both run.
 */
export class ShardSubscriptions {
  readonly #redis: RedisClient;
  readonly #registry: StreamRegistry;
  readonly #logs: ShardLogs;
  readonly #consumers: StreamConsumers;
  readonly #sealer: RecordSealer;
  readonly #clock: Clock;
  readonly #accountId: string;
  readonly #logger: Logger;
  readonly #limits: SubscriptionLimits;
  readonly #slots = new Map<string, Slot>();
  #stopped = false;

  constructor(options: {
    /** The shared client; each subscription duplicates it for its blocking reads. */
    redis: RedisClient;
    registry: StreamRegistry;
    logs: ShardLogs;
    consumers: StreamConsumers;
    sealer: RecordSealer;
    clock: Clock;
    accountId: string;
    logger: Logger;
    limits?: Partial<SubscriptionLimits>;
  }) {
    this.#redis = options.redis;
    this.#registry = options.registry;
    this.#logs = options.logs;
    this.#consumers = options.consumers;
    this.#sealer = options.sealer;
    this.#clock = options.clock;
    this.#accountId = options.accountId;
    this.#logger = options.logger;
    this.#limits = { ...SUBSCRIPTION_LIMITS, ...options.limits };
  }

  /** Subscriptions running now. */
  get active(): number {
    return this.#slots.size;
  }

  /**
   * SubscribeToShard: checks the consumer, shard and starting position (throwing ServiceErrors before
   * anything is streamed), takes the consumer's slot on the shard, and returns the events.
   */
  async open(input: {
    consumerArn: string;
    shardId: string;
    start: IteratorStart;
    /** The client's request; aborting it ends the subscription. */
    signal: AbortSignal;
  }): Promise<AsyncIterable<SubscriptionEvent>> {
    this.#refuseWhenStopped();
    const consumer = await this.#consumers.describe({ consumerArn: input.consumerArn });
    const { view, shard } = await this.#shardOf(consumer, input.shardId);
    const afterId = await this.#startAfter(view.stream, shard, input.start);

    this.#refuseWhenStopped();
    const key = `${consumer.arn}\n${shard.shardId}`;
    const now = this.#clock.now();
    const previous = this.#slots.get(key);
    if (previous && now - previous.startedAt < this.#limits.takeoverMs) {
      throw new ServiceError(
        'ResourceInUseException',
        `Another active subscription exists for consumer ${consumer.arn} on shard ${shard.shardId}; a new one can take over ${this.#limits.takeoverMs / 1000} s after it started.`,
      );
    }
    const slot: Slot = { startedAt: now, controller: new AbortController() };
    this.#slots.set(key, slot);
    previous?.controller.abort(
      new ServiceError(
        'ResourceInUseException',
        `A newer subscription of consumer ${consumer.arn} took over shard ${shard.shardId}.`,
      ),
    );
    const onClientAbort = () => slot.controller.abort(input.signal.reason);
    const release = () => {
      input.signal.removeEventListener('abort', onClientAbort);
      if (this.#slots.get(key) === slot) this.#slots.delete(key);
    };
    // Released on abort even if the events are never iterated (a generator that never started has
    // no finally to run).
    slot.controller.signal.addEventListener('abort', release, { once: true });
    if (input.signal.aborted) onClientAbort();
    else input.signal.addEventListener('abort', onClientAbort, { once: true });
    return this.#follow({ consumer, view, shard, afterId, signal: slot.controller.signal, release });
  }

  /** Ends every subscription (quietly: clients subscribe again) and refuses new ones; idempotent. */
  stop(): void {
    this.#stopped = true;
    for (const slot of [...this.#slots.values()]) slot.controller.abort();
  }

  #refuseWhenStopped(): void {
    if (this.#stopped) {
      throw new ServiceError('ServiceUnavailableException', 'The gateway is shutting down; subscribe again.');
    }
  }

  async *#follow(follow: Follow): AsyncGenerator<SubscriptionEvent> {
    const { consumer, signal } = follow;
    const limits = this.#limits;
    let { view, shard } = follow;
    const connection = duplicateRedisClient(this.#redis, SUBSCRIPTION_CONNECTION_NAME);
    connection.on('error', (error: Error) =>
      this.#logger.debug({ err: error, consumer: consumer.arn }, 'subscription redis connection error'),
    );
    const tail = new LogTail(connection);
    const onAbort = () => tail.close();
    signal.addEventListener('abort', onAbort, { once: true });
    const ref = logRef(view.stream, shard.shardId);
    const deadline = this.#clock.now() + limits.lifetimeMs;
    let position = follow.afterId;
    let lastEventAt = Number.NEGATIVE_INFINITY; // the first event goes out at once
    let lastCheckAt = this.#clock.now();
    let count = Math.min(FIRST_READ_COUNT, limits.maxRecordsPerEvent);
    try {
      while (!signal.aborted) {
        const now = this.#clock.now();
        if (now >= deadline) return;
        position = maxId(position, before(`${this.#horizonMs(view.stream, now)}-0`));
        // Known closed before reading: then an incomplete read means the shard is fully delivered.
        const closed = shard.endingSequenceNumber !== undefined;
        const heartbeatDue = lastEventAt + limits.heartbeatMs;
        const blockMs = closed || now >= heartbeatDue ? 0 : Math.min(heartbeatDue, deadline) - now;
        const entries = await tail.read(ref, position, count, blockMs);

        if (entries.length === 0 || this.#clock.now() - lastCheckAt >= limits.heartbeatMs) {
          await this.#consumers.describe({ consumerArn: consumer.arn }); // deregistered → ends
          ({ view, shard } = await this.#shardOf(consumer, shard.shardId));
          lastCheckAt = this.#clock.now();
          // Closed while we waited: drain it without waiting.
          if (entries.length === 0 && !closed && shard.endingSequenceNumber !== undefined) continue;
        }
        if (entries.length === 0 && !closed && this.#clock.now() < heartbeatDue) continue;

        const horizonMs = this.#horizonMs(view.stream, this.#clock.now());
        const records: StoredRecord[] = [];
        let bytes = 0;
        let taken = 0;
        for (const entry of entries) {
          const data = entry.fields.get('d') ?? Buffer.alloc(0);
          if (records.length > 0 && bytes + data.length > limits.maxBytesPerEvent) break;
          taken += 1;
          position = entry.id;
          if (parseEntryId(entry.id).ms < horizonMs) continue; // past retention, not yet swept
          bytes += data.length;
          records.push(await openStoredRecord(view.stream, entry, this.#sealer));
        }
        // Fewer entries than asked for, all of them sent: nothing more was there at the time of the read.
        const caughtUp = taken === entries.length && entries.length < count;
        if (entries.length > 0) count = nextCount(entries, limits);
        const drained = closed && caughtUp;
        let millisBehindLatest = 0;
        if (!caughtUp) {
          const lastId = await this.#logs.lastEntryId(ref);
          if (lastId !== undefined)
            millisBehindLatest = Math.max(0, parseEntryId(lastId).ms - parseEntryId(position).ms);
        }
        lastEventAt = this.#clock.now();
        yield {
          records,
          continuationSequenceNumber: toSequenceNumber(position),
          millisBehindLatest,
          ...(drained ? { childShards: childrenOf(view.shards, shard.shardId) } : {}),
        };
        if (drained) return;
      }
    } catch (error) {
      if (!signal.aborted) throw error;
      // The read was cut short by the abort below; fall through to report why.
    } finally {
      signal.removeEventListener('abort', onAbort);
      tail.close();
      follow.release();
    }
    // Aborted: a takeover fails the old subscription; a client that left or a shutdown ends quietly.
    if (isServiceError(signal.reason)) throw signal.reason;
  }

  /** The stream of a consumer and one of its shards, or ResourceNotFoundException. */
  async #shardOf(
    consumer: ConsumerRecord,
    shardId: string,
  ): Promise<{ view: StreamView; shard: ShardRecord }> {
    const view = await this.#registry.get(consumer.streamName);
    if (!view || view.stream.id !== consumer.streamId) {
      throw new ServiceError(
        'ResourceNotFoundException',
        `Stream ${consumer.streamName} under account ${this.#accountId} not found.`,
      );
    }
    const shard = view.shards.find((s) => s.shardId === shardId);
    if (!shard) {
      throw new ServiceError(
        'ResourceNotFoundException',
        `Shard ${shardId} in stream ${consumer.streamName} under account ${this.#accountId} does not exist`,
      );
    }
    return { view, shard };
  }

  /** The entry id a subscription starts after. */
  async #startAfter(stream: StreamRecord, shard: ShardRecord, start: IteratorStart): Promise<string> {
    const horizonMs = this.#horizonMs(stream, this.#clock.now());
    switch (start.type) {
      case 'TRIM_HORIZON':
        return before(`${horizonMs}-0`);
      case 'LATEST':
        return (await this.#logs.lastEntryId(logRef(stream, shard.shardId))) ?? '0-0';
      case 'AT_TIMESTAMP':
        return before(`${Math.max(horizonMs, Math.floor(start.timestampMs))}-0`);
      default: {
        const id = toEntryId(start.sequenceNumber);
        if (id === undefined) {
          throw new ServiceError(
            'InvalidArgumentException',
            `StartingSequenceNumber ${start.sequenceNumber} used in SubscribeToShard on shard ${shard.shardId} in stream ${stream.name} under account ${this.#accountId} is invalid.`,
          );
        }
        return start.type === 'AFTER_SEQUENCE_NUMBER' ? id : before(id);
      }
    }
  }

  #horizonMs(stream: StreamRecord, nowMs: number): number {
    return Math.max(0, nowMs - stream.retentionHours * HOUR_MS);
  }
}

/** How many entries to read next: about one event's worth at the record size of the last (non-empty) read. */
function nextCount(entries: readonly LogEntry[], limits: SubscriptionLimits): number {
  let bytes = 0;
  for (const entry of entries) bytes += entry.fields.get('d')?.length ?? 0;
  const perEntry = Math.max(1, bytes / entries.length);
  return Math.max(1, Math.min(limits.maxRecordsPerEvent, Math.floor(limits.maxBytesPerEvent / perEntry)));
}

/** The entry id just before `id` (as sequence numbers: minus one), so reading after it includes `id`. */
function before(id: string): string {
  const { ms, seq } = parseEntryId(id);
  if (seq > 0) return `${ms}-${seq - 1}`;
  return ms > 0 ? `${ms - 1}-${MAX_SEQ}` : '0-0';
}

function maxId(a: string, b: string): string {
  return compareEntryIds(a, b) >= 0 ? a : b;
}

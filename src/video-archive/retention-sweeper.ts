import { randomBytes } from 'node:crypto';
import type { Logger } from '../logging/index.ts';
import type { RedisClient } from '../redis/index.ts';
import type { ObjectStore } from '../storage/index.ts';
import { streamIdOf, streamObjectPrefix } from './archive-layout.ts';
import { fragmentKeys } from './keys.ts';
import type { Clock } from './ports.ts';
import type { VideoStreamRegistry } from './stream-registry.ts';
import type { VideoStreamRecord } from './video-stream-record.ts';

/** Fragments removed per batch (one object-store deleteMany, one Redis transaction). */
const SWEEP_BATCH = 500;
/** Deletes the lock only if it still holds our token. */
const RELEASE_LOCK = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;

/**
 * Deletes archived fragments older than their stream's DataRetentionInHours (by server timestamp),
 * objects first, then index entries, so the index never names a missing object. One replica sweeps at
 * a time (a Redis lock, SET NX PX). `purge` removes all of a deleted stream's objects and index.
 * Init segments are kept until the stream is deleted.
 */
export class VideoRetentionSweeper {
  readonly #redis: RedisClient;
  readonly #store: ObjectStore;
  readonly #registry: VideoStreamRegistry;
  readonly #clock: Clock;
  readonly #logger: Logger | undefined;
  readonly #intervalMs: number;
  readonly #lockTtlMs: number;
  #abort: AbortController | undefined;
  #loop: Promise<void> | undefined;

  constructor(options: {
    redis: RedisClient;
    store: ObjectStore;
    registry: VideoStreamRegistry;
    clock: Clock;
    logger?: Logger | undefined;
    intervalMs?: number | undefined;
    lockTtlMs?: number | undefined;
  }) {
    this.#redis = options.redis;
    this.#store = options.store;
    this.#registry = options.registry;
    this.#clock = options.clock;
    this.#logger = options.logger;
    this.#intervalMs = options.intervalMs ?? 60_000;
    this.#lockTtlMs = options.lockTtlMs ?? 5 * 60_000;
  }

  /** Sweeps every `intervalMs` until stop(). */
  start(): void {
    if (this.#abort) return;
    const abort = new AbortController();
    this.#abort = abort;
    this.#loop = (async () => {
      while (!abort.signal.aborted) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, this.#intervalMs);
          const wake = () => {
            clearTimeout(timer);
            resolve();
          };
          abort.signal.addEventListener('abort', wake, { once: true });
        });
        if (abort.signal.aborted) break;
        try {
          await this.sweep();
        } catch (error) {
          this.#logger?.error({ err: error }, 'video retention sweep failed');
        }
      }
    })();
  }

  /** Stops the loop and waits for a running sweep; idempotent. */
  async stop(): Promise<void> {
    this.#abort?.abort();
    await this.#loop;
  }

  /**
   * One sweep of every stream, if this replica gets the lock: the number of fragments deleted, or
   * undefined when another replica holds the lock.
   */
  async sweep(): Promise<number | undefined> {
    const token = randomBytes(16).toString('hex');
    const lock = fragmentKeys.sweepLock();
    if ((await this.#redis.set(lock, token, 'PX', this.#lockTtlMs, 'NX')) !== 'OK') return undefined;
    try {
      let deleted = 0;
      let afterName: string | undefined;
      for (;;) {
        const { streams, more } = await this.#registry.list({ limit: 100, afterName });
        for (const stream of streams) {
          if (stream.status === 'ACTIVE') deleted += await this.sweepStream(stream);
        }
        afterName = streams.at(-1)?.name;
        if (!more || afterName === undefined) break;
      }
      return deleted;
    } finally {
      await this.#redis.eval(RELEASE_LOCK, 1, lock, token);
    }
  }

  /** Deletes the stream's fragments older than its retention (all, for retention 0); how many. */
  async sweepStream(stream: VideoStreamRecord): Promise<number> {
    const cutoffMs = this.#clock.now() - stream.retentionHours * 3_600_000;
    return this.#deleteFragments(stream, `(${cutoffMs}`);
  }

  /** Removes every object and index entry of a (deleted) stream. */
  async purge(stream: VideoStreamRecord): Promise<void> {
    const id = streamIdOf(stream);
    let token: string | undefined;
    do {
      const page = await this.#store.list(streamObjectPrefix(id), token ? { continuationToken: token } : {});
      await this.#store.deleteMany(page.objects.map((o) => o.key));
      token = page.nextContinuationToken;
    } while (token);
    await this.#deleteFragments(stream, '+inf');
    await this.#redis.del(
      fragmentKeys.inits(stream.name, id),
      fragmentKeys.initOrder(stream.name, id),
      fragmentKeys.counter(stream.name, id),
      fragmentKeys.byServerTime(stream.name, id),
      fragmentKeys.byProducerTime(stream.name, id),
    );
  }

  /** Deletes fragments with server timestamp below `maxScore` (a ZRANGEBYSCORE bound), objects first. */
  async #deleteFragments(stream: VideoStreamRecord, maxScore: string): Promise<number> {
    const id = streamIdOf(stream);
    const byServer = fragmentKeys.byServerTime(stream.name, id);
    let deleted = 0;
    for (;;) {
      const numbers = await this.#redis.zrangebyscore(byServer, '-inf', maxScore, 'LIMIT', 0, SWEEP_BATCH);
      if (numbers.length === 0) return deleted;
      const hashKeys = numbers.map((n) => fragmentKeys.fragment(stream.name, id, n));
      const pipeline = this.#redis.pipeline();
      for (const key of hashKeys) pipeline.hget(key, 'objectKey');
      const objectKeys = ((await pipeline.exec()) ?? []).flatMap(([error, key]) => {
        if (error) throw new Error('reading the fragment index failed', { cause: error });
        return typeof key === 'string' ? [key] : [];
      });
      await this.#store.deleteMany(objectKeys);
      const replies = await this.#redis
        .multi()
        .zrem(byServer, ...numbers)
        .zrem(fragmentKeys.byProducerTime(stream.name, id), ...numbers)
        .del(...hashKeys)
        .exec();
      const failed = replies?.find(([error]) => error !== null)?.[0];
      if (failed) throw new Error('removing fragments from the index failed', { cause: failed });
      deleted += numbers.length;
      this.#logger?.debug(
        { stream: stream.name, fragments: numbers.length },
        'expired video fragments deleted',
      );
    }
  }
}

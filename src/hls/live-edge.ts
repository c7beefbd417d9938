import type { Logger } from '../logging/index.ts';
import type { RedisClient } from '../redis/index.ts';
import { isFragmentNumber } from '../video-archive/index.ts';
import { mediaSequenceOf } from './hls-playlists.ts';
import { hlsKeys, streamOfChannel } from './keys.ts';

interface Waiter {
  minSequence: number;
  resolve(arrived: boolean): void;
}

/**
 * The live edge of every stream, pushed by Redis pub/sub: each replica's archive writer publishes a
 * fragment's number once it is indexed, and every replica's LiveEdge wakes the blocking playlist
 * reloads (`_HLS_msn`) waiting for it — no polling of the index or of storage.
 */
export class LiveEdge {
  readonly #subscriber: RedisClient;
  readonly #logger: Logger;
  readonly #waiters = new Map<string, Set<Waiter>>();
  readonly #newest = new Map<string, number>();

  /** `subscriber`: a connection of its own (a subscribed connection can do nothing else). */
  constructor(options: { subscriber: RedisClient; logger: Logger }) {
    this.#subscriber = options.subscriber;
    this.#logger = options.logger;
  }

  async start(): Promise<void> {
    this.#subscriber.on('pmessage', (_pattern: string, channel: string, message: string) => {
      const streamName = streamOfChannel(channel);
      if (streamName === undefined || !isFragmentNumber(message)) return;
      this.#onIndexed(streamName, mediaSequenceOf(message));
    });
    await this.#subscriber.psubscribe(hlsKeys.indexedPattern());
  }

  async stop(): Promise<void> {
    for (const waiters of this.#waiters.values()) for (const waiter of waiters) waiter.resolve(false);
    this.#waiters.clear();
    this.#subscriber.disconnect();
  }

  /** Media sequence of the newest fragment seen indexed since start, if any. */
  newest(streamName: string): number | undefined {
    return this.#newest.get(streamName);
  }

  /**
   * Resolves true once a fragment with media sequence ≥ minSequence is indexed, false after timeoutMs
   * or on abort. Register first, then check the index, so a fragment indexed in between is not missed.
   */
  waitFor(
    streamName: string,
    minSequence: number,
    timeoutMs: number,
    signal?: AbortSignal,
  ): Promise<boolean> {
    if ((this.#newest.get(streamName) ?? -1) >= minSequence) return Promise.resolve(true);
    return new Promise((resolve) => {
      let waiters = this.#waiters.get(streamName);
      if (waiters === undefined) {
        waiters = new Set();
        this.#waiters.set(streamName, waiters);
      }
      const set = waiters;
      const waiter: Waiter = {
        minSequence,
        resolve: (arrived) => {
          clearTimeout(timer);
          signal?.removeEventListener('abort', onAbort);
          set.delete(waiter);
          if (set.size === 0 && this.#waiters.get(streamName) === set) this.#waiters.delete(streamName);
          resolve(arrived);
        },
      };
      const onAbort = () => waiter.resolve(false);
      const timer = setTimeout(() => waiter.resolve(false), timeoutMs);
      signal?.addEventListener('abort', onAbort, { once: true });
      set.add(waiter);
    });
  }

  #onIndexed(streamName: string, sequence: number): void {
    if (sequence > (this.#newest.get(streamName) ?? -1)) this.#newest.set(streamName, sequence);
    const waiters = this.#waiters.get(streamName);
    if (waiters === undefined) return;
    for (const waiter of [...waiters]) if (sequence >= waiter.minSequence) waiter.resolve(true);
    this.#logger.trace({ streamName, sequence }, 'live edge advanced');
  }
}

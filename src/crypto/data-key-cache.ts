import type { DataKey } from './key-provider.ts';

/** Limits of a data-key cache, as in the AWS Encryption SDK caching CMM. */
export interface DataKeyCacheOptions {
  /** How long a data key is used after it was fetched. Default 300_000 (5 min). */
  maxAgeMs?: number;
  /** Seals per data key. Default 2**24, far below the 2**32 bound for random 96-bit IVs (SP 800-38D 8.3). */
  maxMessagesPerKey?: number;
  /** Plaintext bytes sealed per data key. Default 2**36 (64 GiB). */
  maxBytesPerKey?: number;
  /** Data keys held at once; the least recently used is evicted. Default 1000. */
  maxEntries?: number;
}

/** Defaults of every DataKeyCacheOptions field. */
export const DATA_KEY_CACHE_DEFAULTS: Readonly<Required<DataKeyCacheOptions>> = Object.freeze({
  maxAgeMs: 300_000,
  maxMessagesPerKey: 2 ** 24,
  maxBytesPerKey: 2 ** 36,
  maxEntries: 1000,
});

/** Hit and miss counts of one cache (a miss is a use that had to wait for a fetch, shared or not). */
export interface DataKeyCacheStats {
  hits: number;
  misses: number;
}

const SWEEP_INTERVAL_MS = 1000;
const MISS: unique symbol = Symbol('miss');

interface Entry {
  readonly key: DataKey;
  readonly expiresAt: number;
  messages: number;
  bytes: number;
}

interface Flight {
  readonly done: Promise<void>;
  /** Master key ids forgotten while this fetch was in flight: its result is discarded if it is one. */
  readonly forgotten: Set<string>;
}

/**
 * A bounded LRU of data keys under string cache keys (a key reference for sealing, the wrapped-key bytes
 * for opening), with single-flight fetches: concurrent misses on one cache key share one fetch.
 * An entry serves at most maxMessagesPerKey uses and maxBytesPerKey plaintext bytes for maxAgeMs; a
 * single use larger than maxBytesPerKey gets a fresh, uncached key.
 *
 * Zeroing: the cache owns the plaintext of every DataKey its fetches return and zeroes it (`fill(0)`)
 * when the entry expires, is exhausted, evicted, forgotten or cleared. That never hits a key in use
 * because a key is only ever lent to a synchronous callback, run in the same tick in which its use was
 * reserved, and entries are retired only inside this class's methods, never by a timer. The callback
 * must not keep the key (createCipheriv copies it) nor call back into the cache.
 */
export class DataKeyCache {
  readonly #limits: Readonly<Required<DataKeyCacheOptions>>;
  readonly #now: () => number;
  readonly #entries = new Map<string, Entry>();
  readonly #flights = new Map<string, Flight>();
  #nextSweepAt = Number.NEGATIVE_INFINITY;
  /** Bumped by clear(): fetches started before it are discarded when they land. */
  #generation = 0;
  #hits = 0;
  #misses = 0;

  constructor(options: DataKeyCacheOptions, now: () => number) {
    const limits = { ...DATA_KEY_CACHE_DEFAULTS, ...options };
    if (!(limits.maxAgeMs > 0)) throw new RangeError('maxAgeMs must be > 0');
    if (!(limits.maxMessagesPerKey >= 1)) throw new RangeError('maxMessagesPerKey must be >= 1');
    if (!(limits.maxBytesPerKey >= 0)) throw new RangeError('maxBytesPerKey must be >= 0');
    if (!(limits.maxEntries >= 1)) throw new RangeError('maxEntries must be >= 1');
    this.#limits = limits;
    this.#now = now;
  }

  /**
   * Reserves one use of `plaintextBytes` on the data key cached under `cacheKey` (fetching one if there
   * is none usable) and returns `withKey(key)`, called synchronously. Fetch errors reach every waiter as is.
   */
  use<T>(
    cacheKey: string,
    plaintextBytes: number,
    fetch: () => Promise<DataKey>,
    withKey: (key: DataKey) => T,
  ): Promise<T> {
    if (plaintextBytes <= this.#limits.maxBytesPerKey) {
      // Hit path without an await: a cached key is used in the tick that reserved it.
      try {
        const result = this.#tryUse(cacheKey, plaintextBytes, withKey, false);
        if (result !== MISS) return Promise.resolve(result);
      } catch (error) {
        return Promise.reject(error);
      }
    }
    return this.#useAfterFetch(cacheKey, plaintextBytes, fetch, withKey);
  }

  /** Drops (and zeroes) every data key under master key `keyId`, including ones being fetched now. */
  forgetKey(keyId: string): void {
    for (const [cacheKey, entry] of this.#entries) {
      if (entry.key.keyId === keyId) this.#retire(cacheKey, entry);
    }
    for (const flight of this.#flights.values()) flight.forgotten.add(keyId);
  }

  /** Drops (and zeroes) every cached data key, including ones being fetched now. */
  clear(): void {
    this.#generation++;
    for (const [cacheKey, entry] of this.#entries) this.#retire(cacheKey, entry);
  }

  stats(): DataKeyCacheStats {
    return { hits: this.#hits, misses: this.#misses };
  }

  async #useAfterFetch<T>(
    cacheKey: string,
    plaintextBytes: number,
    fetch: () => Promise<DataKey>,
    withKey: (key: DataKey) => T,
  ): Promise<T> {
    if (plaintextBytes > this.#limits.maxBytesPerKey) {
      this.#misses++;
      const key = await fetch();
      try {
        return withKey(key);
      } finally {
        key.plaintext.fill(0);
      }
    }
    for (;;) {
      await this.#fill(cacheKey, fetch);
      // Several waiters may share a fetch; those beyond the key's limits loop and fetch the next one.
      const result = this.#tryUse(cacheKey, plaintextBytes, withKey, true);
      if (result !== MISS) return result;
    }
  }

  /** Reserves a use of the cached key and runs `withKey` on it, or retires an unusable entry and misses. */
  #tryUse<T>(
    cacheKey: string,
    plaintextBytes: number,
    withKey: (key: DataKey) => T,
    waited: boolean,
  ): T | typeof MISS {
    const now = this.#now();
    this.#sweep(now);
    const entry = this.#entries.get(cacheKey);
    if (entry === undefined) return MISS;
    if (!this.#reserve(entry, plaintextBytes, now)) {
      this.#retire(cacheKey, entry);
      return MISS;
    }
    if (waited) this.#misses++;
    else this.#hits++;
    try {
      return withKey(entry.key);
    } finally {
      if (entry.messages >= this.#limits.maxMessagesPerKey) this.#retire(cacheKey, entry);
      else this.#touch(cacheKey, entry);
    }
  }

  #reserve(entry: Entry, plaintextBytes: number, now: number): boolean {
    if (now >= entry.expiresAt || entry.messages >= this.#limits.maxMessagesPerKey) return false;
    if (entry.bytes + plaintextBytes > this.#limits.maxBytesPerKey) return false;
    entry.messages++;
    entry.bytes += plaintextBytes;
    return true;
  }

  #fill(cacheKey: string, fetch: () => Promise<DataKey>): Promise<void> {
    const pending = this.#flights.get(cacheKey);
    if (pending !== undefined) return pending.done;
    const forgotten = new Set<string>();
    const generation = this.#generation;
    const done = (async () => {
      try {
        const key = await fetch();
        if (forgotten.has(key.keyId) || generation !== this.#generation) key.plaintext.fill(0);
        else this.#insert(cacheKey, key);
      } finally {
        if (this.#flights.get(cacheKey)?.forgotten === forgotten) this.#flights.delete(cacheKey);
      }
    })();
    this.#flights.set(cacheKey, { done, forgotten });
    return done;
  }

  #insert(cacheKey: string, key: DataKey): void {
    const previous = this.#entries.get(cacheKey);
    if (previous !== undefined) this.#retire(cacheKey, previous);
    this.#entries.set(cacheKey, {
      key,
      expiresAt: this.#now() + this.#limits.maxAgeMs,
      messages: 0,
      bytes: 0,
    });
    for (const [oldestKey, oldest] of this.#entries) {
      if (this.#entries.size <= this.#limits.maxEntries) break;
      this.#retire(oldestKey, oldest);
    }
  }

  /** Moves an entry to the most-recently-used end. */
  #touch(cacheKey: string, entry: Entry): void {
    this.#entries.delete(cacheKey);
    this.#entries.set(cacheKey, entry);
  }

  #retire(cacheKey: string, entry: Entry): void {
    if (this.#entries.get(cacheKey) === entry) this.#entries.delete(cacheKey);
    entry.key.plaintext.fill(0);
  }

  /** Retires expired entries at most once a second of cache use (there is no timer: see clear()). */
  #sweep(now: number): void {
    if (now < this.#nextSweepAt) return;
    this.#nextSweepAt = now + SWEEP_INTERVAL_MS;
    for (const [cacheKey, entry] of this.#entries) {
      if (now >= entry.expiresAt) this.#retire(cacheKey, entry);
    }
  }
}

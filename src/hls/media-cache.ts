/**
 * A bounded LRU of decrypted media (init segments and fragments) by key, limited by total bytes: live
 * viewers ask for the newest fragments many times over, and should not each cost a storage round trip
 * and a decryption. Entries larger than a quarter of the bound are not kept.
 */
export class MediaCache {
  readonly #maxBytes: number;
  readonly #entries = new Map<string, Buffer>();
  #bytes = 0;
  #hits = 0;
  #misses = 0;

  constructor(maxBytes: number) {
    this.#maxBytes = maxBytes;
  }

  get(key: string): Buffer | undefined {
    const value = this.#entries.get(key);
    if (value === undefined) {
      this.#misses += 1;
      return undefined;
    }
    this.#hits += 1;
    this.#entries.delete(key);
    this.#entries.set(key, value);
    return value;
  }

  set(key: string, value: Buffer): void {
    if (value.length > this.#maxBytes / 4) return;
    const old = this.#entries.get(key);
    if (old !== undefined) {
      this.#bytes -= old.length;
      this.#entries.delete(key);
    }
    this.#entries.set(key, value);
    this.#bytes += value.length;
    for (const [oldest, buffer] of this.#entries) {
      if (this.#bytes <= this.#maxBytes) break;
      this.#entries.delete(oldest);
      this.#bytes -= buffer.length;
    }
  }

  /** Fetches through the cache; concurrent misses of one key share one load. */
  async through(key: string, load: () => Promise<Buffer>): Promise<Buffer> {
    const cached = this.get(key);
    if (cached !== undefined) return cached;
    let pending = this.#loading.get(key);
    if (pending === undefined) {
      pending = load().finally(() => this.#loading.delete(key));
      this.#loading.set(key, pending);
    }
    const value = await pending;
    this.set(key, value);
    return value;
  }

  readonly #loading = new Map<string, Promise<Buffer>>();

  stats(): { entries: number; bytes: number; hits: number; misses: number } {
    return { entries: this.#entries.size, bytes: this.#bytes, hits: this.#hits, misses: this.#misses };
  }
}

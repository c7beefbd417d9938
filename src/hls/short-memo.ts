/**
 * Shares one in-flight or recent lookup between many concurrent requests for a short time: live
 * viewers wake together and would each read the same index entries and stream metadata. An entry is
 * reused while it is younger than `maxAgeMs` and its `tag` (e.g. the live edge) is unchanged; a
 * failed lookup is forgotten. Bounded: past `maxEntries` the oldest entry goes.
 */
export class ShortMemo<V> {
  readonly #maxEntries: number;
  readonly #entries = new Map<string, { atMs: number; tag: unknown; value: Promise<V> }>();

  constructor(maxEntries: number) {
    this.#maxEntries = maxEntries;
  }

  get(
    key: string,
    options: { nowMs: number; maxAgeMs: number; tag?: unknown },
    load: () => Promise<V>,
  ): Promise<V> {
    const hit = this.#entries.get(key);
    if (hit && hit.tag === options.tag && options.nowMs - hit.atMs < options.maxAgeMs) return hit.value;
    const value = load();
    const entry = { atMs: options.nowMs, tag: options.tag, value };
    this.#entries.delete(key);
    this.#entries.set(key, entry);
    if (this.#entries.size > this.#maxEntries)
      this.#entries.delete(this.#entries.keys().next().value as string);
    value.catch(() => {
      if (this.#entries.get(key) === entry) this.#entries.delete(key);
    });
    return value;
  }
}

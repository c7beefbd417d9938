// The pure core of one stream's archive backlog: the ordered writes waiting for the object store,
// where each new one is held (memory or spool) and which ones a full backlog drops. No I/O; the
// ArchiveWriter does the storing, spooling and file deletion around it.

/** What the backlog needs to know of a waiting write. */
export interface BacklogItem {
  /** Where the write's sealed bytes are held; fixed once it is in the backlog. */
  readonly location: 'memory' | 'spool';
  /** Sealed bytes (memory) or file bytes (spool). */
  readonly sizeBytes: number;
  /** Init segments are dropped only when no fragment can be: fragments after one need it to decode. */
  readonly kind: 'init' | 'fragment';
}

/** Bounds of one stream's backlog. */
export interface BacklogBounds {
  /** Writes held in memory before new ones go to the spool (or, without a spool, the oldest drop). */
  maxMemoryWrites: number;
  maxMemoryBytes: number;
  /** Spool bytes beyond the memory bound; undefined = no spool. */
  maxSpoolBytes: number | undefined;
}

/**
 * One stream's waiting writes in write order (the order they are stored in, wherever they are held),
 * with their memory and spool totals. New writes go to the spool only while older ones wait and
 * memory is full, so a healthy store never touches the disk. Past the memory bounds (memory-held
 * writes: with a spool, those whose spooling failed) the oldest memory-held fragments are dropped,
 * and past memory plus spool the oldest of all (init segments only when nothing else can go): never
 * the newest write, and never the one whose store attempt is running (it may still succeed).
 */
export class ArchiveBacklog<W extends BacklogItem> {
  readonly #bounds: BacklogBounds;
  readonly #items: W[] = [];
  #memoryWrites = 0;
  #memoryBytes = 0;
  #spoolBytes = 0;
  /** The write whose store attempt is running now (never dropped). */
  attempting: W | undefined;

  constructor(bounds: BacklogBounds) {
    this.#bounds = bounds;
  }

  get length(): number {
    return this.#items.length;
  }

  get memoryBytes(): number {
    return this.#memoryBytes;
  }

  get spoolBytes(): number {
    return this.#spoolBytes;
  }

  /** The oldest waiting write (the next to store). */
  head(): W | undefined {
    return this.#items[0];
  }

  /** Where a new write of `sizeBytes` should be held. */
  placeFor(sizeBytes: number): 'memory' | 'spool' {
    if (this.#bounds.maxSpoolBytes === undefined || this.#items.length === 0) return 'memory';
    const full =
      this.#memoryWrites >= this.#bounds.maxMemoryWrites ||
      this.#memoryBytes + sizeBytes > this.#bounds.maxMemoryBytes;
    return full ? 'spool' : 'memory';
  }

  /**
   * Appends a write; returns the writes dropped to get back within the bounds (oldest first). The
   * memory bounds hold for a write added to memory also with a spool (a write whose spooling failed
   * stays in memory): past them the oldest memory-held write goes; past memory plus spool, the oldest
   * of all. A spooled write never drops memory-held ones (the first write stays in memory whatever
   * its size).
   */
  push(item: W): W[] {
    this.#items.push(item);
    this.#count(item, 1);
    const dropped: W[] = [];
    for (;;) {
      let victim = item.location === 'memory' && this.#memoryOver() ? this.#victim('memory') : -1;
      if (victim < 0 && this.#totalOver()) victim = this.#victim(undefined);
      if (victim < 0) break;
      const [write] = this.#items.splice(victim, 1);
      if (write === undefined) break;
      this.#count(write, -1);
      dropped.push(write);
    }
    return dropped;
  }

  /**
   * Index of the write to drop (among those held at `location`, or all): the oldest fragment, else
   * the oldest init; never the newest or attempting; -1 when there is none.
   */
  #victim(location: BacklogItem['location'] | undefined): number {
    let oldestInit = -1;
    for (let i = 0; i < this.#items.length - 1; i += 1) {
      const item = this.#items[i];
      if (item === undefined || item === this.attempting) continue;
      if (location !== undefined && item.location !== location) continue;
      if (item.kind === 'fragment') return i;
      if (oldestInit < 0) oldestInit = i;
    }
    return oldestInit;
  }

  /** Takes a write out (stored, dropped or abandoned); false when it was not in the backlog. */
  remove(item: W): boolean {
    const at = this.#items.indexOf(item);
    if (at < 0) return false;
    this.#items.splice(at, 1);
    this.#count(item, -1);
    if (this.attempting === item) this.attempting = undefined;
    return true;
  }

  /** Takes every write out, in order. */
  removeAll(): W[] {
    const all = this.#items.splice(0);
    for (const item of all) this.#count(item, -1);
    this.attempting = undefined;
    return all;
  }

  #count(item: W, sign: 1 | -1): void {
    if (item.location === 'spool') {
      this.#spoolBytes += sign * item.sizeBytes;
    } else {
      this.#memoryWrites += sign;
      this.#memoryBytes += sign * item.sizeBytes;
    }
  }

  /** Memory-held writes past the memory bounds (with or without a spool). */
  #memoryOver(): boolean {
    const { maxMemoryWrites, maxMemoryBytes } = this.#bounds;
    return this.#memoryWrites > maxMemoryWrites || this.#memoryBytes > maxMemoryBytes;
  }

  /** Memory plus spool bytes past memory plus spool bounds (only with a spool). */
  #totalOver(): boolean {
    const { maxMemoryBytes, maxSpoolBytes } = this.#bounds;
    if (maxSpoolBytes === undefined) return false;
    return this.#memoryBytes + this.#spoolBytes > maxMemoryBytes + maxSpoolBytes;
  }
}

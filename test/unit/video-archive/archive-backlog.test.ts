import { describe, expect, it } from 'vitest';
import { ArchiveBacklog, type BacklogItem } from '../../../src/video-archive/archive-backlog.ts';

interface Item extends BacklogItem {
  id: number;
}

const memory = (id: number, sizeBytes = 10): Item => ({
  id,
  kind: 'fragment',
  location: 'memory',
  sizeBytes,
});
const spool = (id: number, sizeBytes = 10): Item => ({ id, kind: 'fragment', location: 'spool', sizeBytes });
const init = (id: number, sizeBytes = 10): Item => ({ id, kind: 'init', location: 'spool', sizeBytes });
const ids = (items: Item[]) => items.map((item) => item.id);

describe('ArchiveBacklog with a spool', () => {
  const bounds = { maxMemoryWrites: 3, maxMemoryBytes: 25, maxSpoolBytes: 40 };

  it('keeps a write that arrives with nothing waiting in memory, whatever its size', () => {
    const backlog = new ArchiveBacklog<Item>(bounds);
    expect(backlog.placeFor(1_000)).toBe('memory');
    expect(backlog.push(memory(1, 1_000))).toEqual([]);
    expect(backlog.memoryBytes).toBe(1_000);
  });

  it('spools once memory is full by bytes or by writes', () => {
    const backlog = new ArchiveBacklog<Item>(bounds);
    backlog.push(memory(1));
    expect(backlog.placeFor(10)).toBe('memory');
    backlog.push(memory(2));
    expect(backlog.placeFor(10)).toBe('spool'); // 30 > 25 bytes
    expect(backlog.placeFor(5)).toBe('memory');
    backlog.push(memory(3, 5));
    expect(backlog.placeFor(0)).toBe('spool'); // 3 writes
  });

  it('drops the oldest past memory plus spool, never the newest nor the one being stored', () => {
    const backlog = new ArchiveBacklog<Item>(bounds);
    backlog.push(memory(1));
    backlog.attempting = backlog.head();
    backlog.push(memory(2));
    for (const id of [3, 4, 5, 6]) expect(backlog.push(spool(id))).toEqual([]);
    expect(backlog.memoryBytes + backlog.spoolBytes).toBe(60);
    // 70 > 65: the oldest not being stored (2) goes.
    expect(ids(backlog.push(spool(7)))).toEqual([2]);
    expect(ids(backlog.push(spool(8)))).toEqual([3]);
    expect(backlog.head()?.id).toBe(1);
    expect(backlog.length).toBe(6);
    // A single write larger than everything stays (the newest is never dropped), the rest goes.
    expect(ids(backlog.push(spool(9, 500)))).toEqual([4, 5, 6, 7, 8]);
    expect(ids(backlog.removeAll())).toEqual([1, 9]);
    expect(backlog.memoryBytes + backlog.spoolBytes).toBe(0);
  });

  it('drops fragments before init segments, which later fragments need to decode', () => {
    const backlog = new ArchiveBacklog<Item>({ maxMemoryWrites: 1, maxMemoryBytes: 10, maxSpoolBytes: 30 });
    backlog.push(memory(1));
    backlog.attempting = backlog.head();
    backlog.push(init(2)); // a reconnect: new init segment
    backlog.push(spool(3));
    backlog.push(spool(4));
    expect(ids(backlog.push(spool(5)))).toEqual([3]);
    expect(ids(backlog.push(spool(6)))).toEqual([4]);
    expect(ids(backlog.push(init(7)))).toEqual([5]);
    expect(ids(backlog.push(init(8)))).toEqual([6]);
    // Only inits left to drop (besides the write being stored and the newest): the oldest init goes.
    expect(ids(backlog.push(init(9)))).toEqual([2]);
    expect(ids(backlog.removeAll())).toEqual([1, 7, 8, 9]);
  });

  it('counts a removed write once', () => {
    const backlog = new ArchiveBacklog<Item>(bounds);
    const first = memory(1);
    backlog.push(first);
    backlog.push(spool(2));
    expect(backlog.remove(first)).toBe(true);
    expect(backlog.remove(first)).toBe(false);
    expect(backlog.memoryBytes).toBe(0);
    expect(backlog.spoolBytes).toBe(10);
    expect(backlog.head()?.id).toBe(2);
  });
});

describe('ArchiveBacklog without a spool', () => {
  it('never spools and drops the oldest past the memory bounds', () => {
    const backlog = new ArchiveBacklog<Item>({
      maxMemoryWrites: 2,
      maxMemoryBytes: 1_000,
      maxSpoolBytes: undefined,
    });
    backlog.push(memory(1));
    backlog.push(memory(2));
    expect(backlog.placeFor(10)).toBe('memory');
    expect(ids(backlog.push(memory(3)))).toEqual([1]);
    backlog.attempting = backlog.head();
    expect(ids(backlog.push(memory(4)))).toEqual([3]);
    expect(ids(backlog.removeAll())).toEqual([2, 4]);
  });
});

describe('ArchiveBacklog with a spool that fails', () => {
  // Spooling failed (ENOSPC, read-only disk): the writes stay in memory, and the memory bounds hold.
  const bounds = { maxMemoryWrites: 3, maxMemoryBytes: 1_000, maxSpoolBytes: 1_000_000 };

  it('drops the oldest memory-held fragment past the memory write bound, never the one being stored', () => {
    const backlog = new ArchiveBacklog<Item>(bounds);
    backlog.push(memory(1));
    backlog.attempting = backlog.head();
    backlog.push(memory(2));
    backlog.push(memory(3));
    expect(ids(backlog.push(memory(4)))).toEqual([2]);
    expect(ids(backlog.push(memory(5)))).toEqual([3]);
    expect(backlog.memoryBytes).toBe(30);
    expect(ids(backlog.removeAll())).toEqual([1, 4, 5]);
  });

  it('drops memory-held writes past the memory byte bound, keeps spooled ones and the newest', () => {
    const backlog = new ArchiveBacklog<Item>({ ...bounds, maxMemoryWrites: 64 });
    backlog.push(memory(1, 400));
    backlog.push(spool(2, 400));
    backlog.push(memory(3, 400));
    expect(ids(backlog.push(memory(4, 400)))).toEqual([1]); // 1_200 > 1_000 memory bytes
    expect(ids(backlog.push(memory(5, 900)))).toEqual([3, 4]);
    expect(backlog.memoryBytes).toBe(900);
    expect(backlog.spoolBytes).toBe(400);
    expect(ids(backlog.removeAll())).toEqual([2, 5]);
  });

  it('keeps an oversize first write in memory while later writes are spooled', () => {
    const backlog = new ArchiveBacklog<Item>(bounds);
    backlog.push(memory(1, 5_000));
    expect(backlog.placeFor(10)).toBe('spool');
    expect(backlog.push(spool(2))).toEqual([]);
    expect(ids(backlog.removeAll())).toEqual([1, 2]);
  });

  it('drops memory-held init segments only when no memory-held fragment can go', () => {
    const backlog = new ArchiveBacklog<Item>({ ...bounds, maxMemoryWrites: 2 });
    const memoryInit = (id: number): Item => ({ id, kind: 'init', location: 'memory', sizeBytes: 10 });
    backlog.push(memoryInit(1));
    backlog.push(spool(2));
    backlog.push(memory(3));
    expect(ids(backlog.push(memory(4)))).toEqual([3]);
    expect(ids(backlog.push(memoryInit(5)))).toEqual([4]);
    expect(ids(backlog.push(memory(6)))).toEqual([1]);
    expect(ids(backlog.removeAll())).toEqual([2, 5, 6]);
  });
});

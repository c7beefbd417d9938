import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { Envelope } from '../../../src/crypto/index.ts';
import { KeyService } from '../../../src/kms/index.ts';
import { createLogger } from '../../../src/logging/index.ts';
import type { FragmentEvent, InitEvent } from '../../../src/media/fmp4/index.ts';
import { createRedisClient, type RedisClient } from '../../../src/redis/index.ts';
import { FilesystemObjectStore } from '../../../src/storage/index.ts';
import {
  ArchiveSpool,
  ArchiveWriter,
  FragmentDroppedError,
  FragmentIndex,
  fragmentListMedia,
  type SpoolRecord,
  streamIdOf,
  VideoStreamRegistry,
} from '../../../src/video-archive/index.ts';
import { TEST_ROOT_KEY } from '../../support/start-app.ts';
import { FlakyStore } from './flaky-store.ts';
import { fragment, makeFmp4, probe } from './fmp4-source.ts';

// The disk spool of the archive writer on a real filesystem (a temporary directory), with the run's
// Redis, the real key service and envelopes, and real ffmpeg output.

let dir: string;
let redis: RedisClient;
let kms: KeyService;
let envelope: Envelope;
let store: FlakyStore;
let registry: VideoStreamRegistry;
let index: FragmentIndex;
let events: (InitEvent | FragmentEvent)[];
const clock = { now: () => Date.now() };

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'streamgate-spool-'));
  redis = createRedisClient(inject('redisUrl'));
  kms = new KeyService({
    redis,
    region: 'us-east-1',
    accountId: '000000000000',
    dataDir: dir,
    rootKey: TEST_ROOT_KEY,
    clock,
    logger: createLogger({ level: 'silent' }),
  });
  await kms.start();
  envelope = new Envelope({ keyProvider: kms });
  const inner = new FilesystemObjectStore({ rootDir: join(dir, 'objects') });
  await inner.start();
  store = new FlakyStore(inner);
  registry = new VideoStreamRegistry({
    redis,
    keys: { checkKey: async (keyRef) => void (await kms.usableKey(keyRef)) },
    clock,
    region: 'us-east-1',
    accountId: '000000000000',
  });
  index = new FragmentIndex({ redis });
  events = fragment(await makeFmp4(8));
});
afterAll(async () => {
  await kms?.stop();
  redis?.disconnect();
  await rm(dir, { recursive: true, force: true });
});

const newStream = () =>
  registry.create({ name: `spool-${randomBytes(4).toString('hex')}`, retentionHours: 24, tags: {} });
const newSpoolDir = () => join(dir, `spool-${randomBytes(4).toString('hex')}`);
const newWriter = (spoolDir: string, options: Partial<ConstructorParameters<typeof ArchiveWriter>[0]> = {}) =>
  new ArchiveWriter({
    redis,
    store,
    sealer: envelope,
    registry,
    clock,
    spool: new ArchiveSpool({ rootDir: spoolDir }),
    retryBaseMs: 5,
    retryMaxMs: 20,
    stopGraceMs: 0,
    ...options,
  });
const fragmentCount = () => events.filter((e) => e.type === 'fragment').length;

async function spoolFiles(spoolDir: string): Promise<string[]> {
  const files: string[] = [];
  for (const stream of await readdir(spoolDir).catch(() => [] as string[])) {
    for (const name of await readdir(join(spoolDir, stream))) files.push(join(spoolDir, stream, name));
  }
  return files.sort();
}

async function playableSeconds(stream: Awaited<ReturnType<typeof newStream>>, numbers: string[]) {
  const media = await fragmentListMedia({ index, store, sealer: envelope }, stream, numbers);
  const chunks: Buffer[] = [];
  for await (const chunk of media) chunks.push(chunk as Buffer);
  return (await probe(dir, Buffer.concat(chunks))).durationSeconds;
}

describe('ArchiveSpool', () => {
  const record = (n: number): SpoolRecord => ({
    kind: 'init',
    streamName: 's',
    streamId: 's-1',
    version: `v${n}`,
    objectKey: `video/s-1/init/v${n}.mp4`,
  });

  it('round-trips records and parts, and recovers them in write order after a restart', async () => {
    const root = newSpoolDir();
    const spool = new ArchiveSpool({ rootDir: root });
    expect(await spool.start()).toEqual({ entries: [], discarded: [] });
    const written = [];
    for (let n = 0; n < 12; n += 1) {
      written.push(await spool.append(record(n), [Buffer.from(`header-${n}`), randomBytes(1000 + n)]));
    }
    expect(await spool.read(written[3] ?? expect.fail())).toEqual([
      Buffer.from('header-3'),
      (await readFile(written[3]?.file ?? '')).subarray(-1003),
    ]);
    await spool.remove(written[0] ?? expect.fail());
    await spool.remove(written[0] ?? expect.fail()); // idempotent

    const again = new ArchiveSpool({ rootDir: root });
    const recovered = await again.start();
    expect(recovered.discarded).toEqual([]);
    expect(recovered.entries.map((e) => e.record)).toEqual(written.slice(1).map((e) => e.record));
    expect(recovered.entries.map((e) => e.sizeBytes)).toEqual(written.slice(1).map((e) => e.sizeBytes));
    // The sequence continues after the highest file, so new writes sort after recovered ones.
    const next = await again.append(record(99), [Buffer.from('h'), Buffer.from('c')]);
    expect(next.file > (written.at(-1)?.file ?? '')).toBe(true);
    expect(await again.streamBytes('s-1')).toBe(
      [...written.slice(1), next].reduce((sum, entry) => sum + entry.sizeBytes, 0),
    );
  });

  it('removes torn temporary files and unparseable files on start', async () => {
    const root = newSpoolDir();
    const spool = new ArchiveSpool({ rootDir: root });
    await spool.start();
    const good = await spool.append(record(1), [Buffer.from('h'), Buffer.from('c')]);
    await writeFile(join(root, 's-1', '0000000000000002.spool.tmp'), 'half a wri');
    await writeFile(join(root, 's-1', '0000000000000003.spool'), 'not a spool file');
    await mkdir(join(root, 'other-2'));
    await writeFile(
      join(root, 'other-2', '0000000000000004.spool'),
      (await readFile(good.file)).subarray(0, 20),
    );
    const recovered = await new ArchiveSpool({ rootDir: root }).start();
    expect(recovered.entries.map((e) => e.file)).toEqual([good.file]);
    expect(recovered.discarded.map((d) => d.file.split('/').slice(-2).join('/')).sort()).toEqual([
      'other-2/0000000000000004.spool',
      's-1/0000000000000002.spool.tmp',
      's-1/0000000000000003.spool',
    ]);
    expect(await spoolFiles(root)).toEqual([good.file]);
  });

  it('removes the temporary file of an append that fails', async () => {
    const root = newSpoolDir();
    const spool = new ArchiveSpool({ rootDir: root });
    await spool.start();
    // A directory where the first file goes: the temporary file is written, the rename fails (EISDIR).
    await mkdir(join(root, 's-1', '0000000000000001.spool'), { recursive: true });
    await expect(spool.append(record(1), [Buffer.from('h'), Buffer.from('c')])).rejects.toMatchObject({
      code: 'EISDIR',
    });
    expect(await readdir(join(root, 's-1'))).toEqual(['0000000000000001.spool']);
  });
});

describe('ArchiveWriter with a spool', () => {
  it('spools sealed writes past the memory bound while the store fails, then drains them in order', async () => {
    const stream = await newStream();
    const spoolDir = newSpoolDir();
    const writer = newWriter(spoolDir, { maxMemoryBytesPerStream: 64 * 1024 });
    await writer.start();
    store.failing = true;
    const failedBefore = store.failedPuts;
    const accepted = [];
    for (const e of events) accepted.push(await writer.enqueue(stream.name, e));
    await expect.poll(() => store.failedPuts - failedBefore).toBeGreaterThanOrEqual(2);
    const stats = writer.stats();
    expect(stats.spooled).toBeGreaterThanOrEqual(2);
    expect(stats.spoolBytes).toBeGreaterThan(0);
    expect(stats.memoryBytes).toBeLessThanOrEqual(64 * 1024);
    expect(stats.pendingWrites).toBe(events.length);
    const files = await spoolFiles(spoolDir);
    expect(files).toHaveLength(stats.spooled);
    for (const file of files) {
      const raw = await readFile(file);
      for (const marker of ['moof', 'mdat', 'avc1', 'ftyp', 'moov']) expect(raw.includes(marker)).toBe(false);
    }

    store.failing = false;
    const results = await Promise.all(accepted.map((a) => a.persisted));
    const numbers = results.flatMap((r) => (r.kind === 'fragment' ? [r.fragment.fragmentNumber] : []));
    expect(numbers).toHaveLength(fragmentCount());
    expect([...numbers].sort()).toEqual(numbers);
    const listed = await index.list(stream, { type: 'SERVER_TIMESTAMP' });
    expect(listed.fragments.map((f) => f.fragmentNumber)).toEqual(numbers);
    expect(await spoolFiles(spoolDir)).toEqual([]);
    expect(writer.stats()).toMatchObject({ pendingWrites: 0, memoryBytes: 0, spoolBytes: 0, dropped: 0 });
    expect(await playableSeconds(stream, numbers)).toBeGreaterThan(7.5);
    await writer.stop();
  });

  it('keeps spooled writes across a restart: a new writer drains what the old one left', async () => {
    const stream = await newStream();
    const spoolDir = newSpoolDir();
    // Memory bound 0: every write is durable in the spool once accepted, as after a crash.
    const first = newWriter(spoolDir, { maxMemoryBytesPerStream: 0 });
    await first.start();
    store.failing = true;
    const accepted = [];
    for (const e of events) accepted.push(await first.enqueue(stream.name, e));
    await first.stop();
    for (const a of accepted) await expect(a.persisted).rejects.toBeInstanceOf(FragmentDroppedError);
    expect(await spoolFiles(spoolDir)).toHaveLength(events.length);
    store.failing = false;

    const second = newWriter(spoolDir);
    await second.start();
    expect(second.stats().recovered).toBe(events.length);
    await expect
      .poll(async () => (await index.list(stream, { type: 'SERVER_TIMESTAMP' })).fragments.length)
      .toBe(fragmentCount());
    await expect.poll(() => second.stats().pendingWrites).toBe(0);
    const listed = (await index.list(stream, { type: 'SERVER_TIMESTAMP' })).fragments;
    const numbers = listed.map((f) => f.fragmentNumber);
    expect([...numbers].sort()).toEqual(numbers);
    expect(await spoolFiles(spoolDir)).toEqual([]);
    expect(await playableSeconds(stream, numbers)).toBeGreaterThan(7.5);
    // New writes after recovery get later numbers.
    const next = await second.write(stream.name, events.find((e) => e.type === 'fragment') ?? expect.fail());
    expect(next.kind === 'fragment' && next.fragment.fragmentNumber > (numbers.at(-1) ?? '')).toBe(true);
    await second.stop();
  });

  it('spools the in-memory backlog on stop, so a graceful restart loses nothing either', async () => {
    const stream = await newStream();
    const spoolDir = newSpoolDir();
    const first = newWriter(spoolDir);
    await first.start();
    store.failing = true;
    for (const e of events) await first.enqueue(stream.name, e);
    expect(first.stats().spooled).toBe(0);
    await first.stop();
    expect(await spoolFiles(spoolDir)).toHaveLength(events.length);
    store.failing = false;
    const second = newWriter(spoolDir);
    await second.start();
    await expect.poll(() => second.stats().pendingWrites).toBe(0);
    expect((await index.list(stream, { type: 'SERVER_TIMESTAMP' })).fragments).toHaveLength(fragmentCount());
    await second.stop();
  });

  it('keeps write order across a graceful restart when older writes were in memory and newer ones spooled', async () => {
    const stream = await newStream();
    const id = streamIdOf(stream);
    const spoolDir = newSpoolDir();
    const first = newWriter(spoolDir, { maxPendingPerStream: 3 });
    await first.start();
    store.failing = true;
    for (const e of events) await first.enqueue(stream.name, e);
    // The init segment and the first two fragments are in memory, the newer fragments in the spool.
    expect(first.stats().spooled).toBe(events.length - 3);
    await first.stop(); // moves the memory part to the spool
    expect(await spoolFiles(spoolDir)).toHaveLength(events.length);
    store.failing = false;
    const putsBefore = store.putKeys.length;
    const second = newWriter(spoolDir);
    await second.start();
    await expect.poll(() => second.stats().pendingWrites).toBe(0);
    // The order the second writer stored them in: the init segment, then fragments by number.
    const drained = store.putKeys
      .slice(putsBefore)
      .filter((key) => key.startsWith(`video/${id}/`))
      .map((key) => (key.includes('/init/') ? 'init' : (key.split('/').at(-1) ?? '').replace('.m4s', '')));
    expect(drained).toHaveLength(events.length);
    expect(drained[0]).toBe('init');
    const numbers = drained.slice(1);
    expect(numbers).toEqual([...numbers].sort());
    await second.stop();
  });

  it('drops the oldest writes past memory plus spool bounds, counts them, and drains the newest in order', async () => {
    const stream = await newStream();
    const spoolDir = newSpoolDir();
    const dropped: string[] = [];
    const fragments = events.filter((e): e is FragmentEvent => e.type === 'fragment');
    const biggest = Math.max(...fragments.map((f) => f.byteLength));
    const writer = newWriter(spoolDir, {
      maxMemoryBytesPerStream: 0,
      maxSpoolBytesPerStream: 2 * biggest + 4096, // about two fragments
      onDropped: (name) => dropped.push(name),
    });
    await writer.start();
    await writer.write(stream.name, events[0] as InitEvent);
    store.hold();
    const accepted = [];
    for (const f of [...fragments, ...fragments]) accepted.push(await writer.enqueue(stream.name, f));
    // The first write is being stored (held), so it is in memory, not in the spool.
    expect(writer.stats().spoolBytes).toBeLessThanOrEqual(2 * biggest + 4096);
    const spooledFiles = await spoolFiles(spoolDir);
    expect(spooledFiles.length).toBe(writer.stats().pendingWrites - 1);
    store.release();
    const outcomes = await Promise.allSettled(accepted.map((a) => a.persisted));
    const kept = outcomes.flatMap((o) =>
      o.status === 'fulfilled' && o.value.kind === 'fragment' ? [o.value.fragment.fragmentNumber] : [],
    );
    const lost = outcomes.filter((o) => o.status === 'rejected');
    expect(lost.length).toBeGreaterThan(0);
    expect(kept.length + lost.length).toBe(accepted.length);
    // The survivors are the write being stored when the backlog overflowed and the newest ones, in order.
    expect(outcomes[0]?.status).toBe('fulfilled');
    expect(outcomes.slice(1 - kept.length).every((o) => o.status === 'fulfilled')).toBe(true);
    expect([...kept].sort()).toEqual(kept);
    expect(writer.stats().dropped).toBe(lost.length);
    expect(dropped).toHaveLength(lost.length);
    expect(
      (await index.list(stream, { type: 'SERVER_TIMESTAMP' })).fragments.map((f) => f.fragmentNumber),
    ).toEqual(kept);
    expect(await spoolFiles(spoolDir)).toEqual([]);
    await writer.stop();
  });

  it('keeps the memory bounds when spooling fails: the oldest memory-held fragments are dropped', async () => {
    const stream = await newStream();
    const spoolDir = newSpoolDir();
    const writer = newWriter(spoolDir, { maxPendingPerStream: 3, maxMemoryBytesPerStream: 0 });
    await writer.start();
    // A file where the stream's spool directory goes: every append fails (as on a full or read-only disk).
    await writeFile(join(spoolDir, streamIdOf(stream)), 'not a directory');
    store.hold(); // the first write's store attempt hangs: it is being stored, so it is never dropped
    const accepted = [];
    for (const e of events) accepted.push(await writer.enqueue(stream.name, e));
    const stats = writer.stats();
    expect(stats.spooled).toBe(0);
    // The write being stored (the head) and the newest are kept whatever the byte bound; nothing else.
    expect(stats.pendingWrites).toBe(2);
    expect(stats.dropped).toBe(events.length - 2);
    store.release();
    const outcomes = await Promise.allSettled(accepted.map((a) => a.persisted));
    expect(outcomes.map((o) => o.status)).toEqual([
      'fulfilled',
      ...events.slice(2).map(() => 'rejected'),
      'fulfilled',
    ]);
    await writer.stop();
  });

  it('retries a spool file that cannot be read (EISDIR here, like EIO or EMFILE) and keeps the write queued', async () => {
    const stream = await newStream();
    const spoolDir = newSpoolDir();
    const writer = newWriter(spoolDir, { maxMemoryBytesPerStream: 0 });
    await writer.start();
    store.failing = true;
    const accepted = [];
    for (const e of events) accepted.push(await writer.enqueue(stream.name, e));
    // The first write is in memory, the others in the spool; the first spooled file becomes unreadable.
    const [file] = await spoolFiles(spoolDir);
    if (file === undefined) expect.fail('no spool file');
    const bytes = await readFile(file);
    await rm(file);
    await mkdir(file);
    store.failing = false;
    await expect.poll(() => writer.stats().initsWritten).toBe(1);
    const retries = writer.stats().retries;
    await expect.poll(() => writer.stats().retries - retries).toBeGreaterThanOrEqual(2);
    expect(writer.stats()).toMatchObject({ pendingWrites: events.length - 1, dropped: 0 });
    await rm(file, { recursive: true });
    await writeFile(file, bytes);
    const results = await Promise.all(accepted.map((a) => a.persisted));
    const numbers = results.flatMap((r) => (r.kind === 'fragment' ? [r.fragment.fragmentNumber] : []));
    expect(numbers).toHaveLength(fragmentCount());
    expect(writer.stats()).toMatchObject({ pendingWrites: 0, dropped: 0 });
    await writer.stop();
  });

  it('removes the spool of a stream deleted while it waited', async () => {
    const stream = await newStream();
    const spoolDir = newSpoolDir();
    const writer = newWriter(spoolDir, { maxMemoryBytesPerStream: 0 });
    await writer.start();
    store.failing = true;
    for (const e of events.slice(0, 3)) await writer.enqueue(stream.name, e);
    await writer.stop();
    store.failing = false;
    await registry.delete(stream.arn, undefined);
    const next = newWriter(spoolDir);
    await next.start();
    expect(next.stats().recovered).toBe(0);
    expect(await readdir(spoolDir)).not.toContain(streamIdOf(stream));
    await next.stop();
  });
});

import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
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
  ArchiveWriter,
  FragmentDroppedError,
  FragmentIndex,
  fragmentListMedia,
  streamIdOf,
  streamObjectPrefix,
  VideoRetentionSweeper,
  type VideoStreamRecord,
  VideoStreamRegistry,
} from '../../../src/video-archive/index.ts';
import { TEST_ROOT_KEY } from '../../support/start-app.ts';
import { FlakyStore } from './flaky-store.ts';
import { fragment, makeFmp4, probe } from './fmp4-source.ts';

// The archive writer, fragment index, retention sweeper and playback on the run's real Redis, a
// filesystem object store, the real key service and envelopes, fed by real ffmpeg output.

let dir: string;
let redis: RedisClient;
let kms: KeyService;
let envelope: Envelope;
let store: FlakyStore;
let registry: VideoStreamRegistry;
let index: FragmentIndex;
let events: (InitEvent | FragmentEvent)[];
const clock = { nowMs: Date.UTC(2026, 0, 1, 10), now: () => clock.nowMs };

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'streamgate-archive-'));
  redis = createRedisClient(inject('redisUrl'));
  kms = new KeyService({
    redis,
    region: 'us-east-1',
    accountId: '000000000000',
    dataDir: dir,
    rootKey: TEST_ROOT_KEY,
    clock: { now: () => Date.now() },
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
  events = fragment(await makeFmp4(6));
});
afterAll(async () => {
  await kms?.stop();
  redis?.disconnect();
  await rm(dir, { recursive: true, force: true });
});

const newStream = (retentionHours = 24) =>
  registry.create({ name: `archive-${randomBytes(4).toString('hex')}`, retentionHours, tags: {} });
const newWriter = (
  options: { maxPendingPerStream?: number; onDropped?: (streamName: string) => void } = {},
) =>
  new ArchiveWriter({
    redis,
    store,
    sealer: envelope,
    registry,
    clock,
    retryBaseMs: 5,
    retryMaxMs: 20,
    ...options,
  });
const fragmentsOf = (all: (InitEvent | FragmentEvent)[]) =>
  all.filter((e): e is FragmentEvent => e.type === 'fragment');

async function objectKeys(stream: VideoStreamRecord): Promise<string[]> {
  return (await store.list(streamObjectPrefix(streamIdOf(stream)))).objects.map((o) => o.key);
}

describe('ArchiveWriter', () => {
  it('seals, stores and indexes fragments in order; playback decrypts to a valid MP4', async () => {
    const stream = await newStream();
    const writer = newWriter();
    const results = await Promise.all(events.map((e) => writer.write(stream.name, e)));
    expect(fragmentsOf(events).length).toBeGreaterThanOrEqual(3);
    const numbers = results.flatMap((r) => (r.kind === 'fragment' ? [r.fragment.fragmentNumber] : []));
    expect(numbers).toHaveLength(fragmentsOf(events).length);
    expect([...numbers].sort()).toEqual(numbers);
    expect(new Set(numbers).size).toBe(numbers.length);

    const page = await index.list(stream, { type: 'SERVER_TIMESTAMP' });
    expect(page.fragments.map((f) => f.fragmentNumber)).toEqual(numbers);
    expect(page.fragments.every((f) => f.objectKey.endsWith(`${f.fragmentNumber}.m4s`))).toBe(true);
    const producer = await index.list(stream, { type: 'PRODUCER_TIMESTAMP', maxResults: 2 });
    expect(producer.fragments).toHaveLength(2);
    expect(producer.nextToken).toBeDefined();
    const rest = await index.list(stream, { type: 'PRODUCER_TIMESTAMP', nextToken: producer.nextToken });
    expect([...producer.fragments, ...rest.fragments].map((f) => f.fragmentNumber)).toEqual(numbers);

    // Raw objects hold no plaintext boxes or codec names.
    const keys = await objectKeys(stream);
    expect(keys.filter((k) => k.endsWith('.m4s'))).toHaveLength(numbers.length);
    expect(keys.some((k) => /\/init\/[0-9a-f]{16}\.mp4$/.test(k))).toBe(true);
    for (const key of keys) {
      const raw = await store.getBuffer(key);
      for (const marker of ['moof', 'mdat', 'avc1', 'ftyp', 'moov']) expect(raw.includes(marker)).toBe(false);
    }

    const media = await fragmentListMedia({ index, store, sealer: envelope }, stream, numbers);
    const chunks: Buffer[] = [];
    for await (const chunk of media) chunks.push(chunk as Buffer);
    const probed = await probe(dir, Buffer.concat(chunks));
    expect(probed.codecs.sort()).toEqual(['aac', 'h264']);
    expect(probed.durationSeconds).toBeGreaterThan(5.5);
    expect(probed.durationSeconds).toBeLessThan(6.5);
    expect(writer.stats()).toMatchObject({ fragmentsWritten: numbers.length, dropped: 0 });
  });

  it('persists nothing for a stream with DataRetentionInHours 0', async () => {
    const stream = await newStream(0);
    const writer = newWriter();
    for (const e of events) expect(await writer.write(stream.name, e)).toEqual({ kind: 'not-persisted' });
    expect(await objectKeys(stream)).toEqual([]);
    expect((await index.list(stream, { type: 'SERVER_TIMESTAMP' })).fragments).toEqual([]);
  });

  it('retries a failing store in order and loses nothing', async () => {
    const stream = await newStream();
    const writer = newWriter();
    store.failing = true;
    const failedBefore = store.failedPuts;
    const pending = events.map((e) => writer.write(stream.name, e));
    await expect.poll(() => store.failedPuts - failedBefore).toBeGreaterThanOrEqual(3);
    store.failing = false;
    const results = await Promise.all(pending);
    const numbers = results.flatMap((r) => (r.kind === 'fragment' ? [r.fragment.fragmentNumber] : []));
    expect(numbers).toHaveLength(fragmentsOf(events).length);
    expect([...numbers].sort()).toEqual(numbers);
    const puts = store.putKeys.filter((k) => k.startsWith(streamObjectPrefix(streamIdOf(stream))));
    expect(puts.filter((k) => k.endsWith('.m4s')).map((k) => k.split('/').at(-1))).toEqual(
      numbers.map((n) => `${n}.m4s`),
    );
    const listed = await index.list(stream, { type: 'SERVER_TIMESTAMP' });
    expect(listed.fragments.map((f) => f.fragmentNumber)).toEqual(numbers);
    expect(writer.stats().retries).toBeGreaterThanOrEqual(3);
  });

  it('drops the oldest writes beyond the queue bound and counts them, never the one being stored', async () => {
    const stream = await newStream();
    const droppedOf: string[] = [];
    const writer = newWriter({ maxPendingPerStream: 2, onDropped: (name) => droppedOf.push(name) });
    const fragments = fragmentsOf(events);
    const init = events[0] as InitEvent;
    await writer.write(stream.name, init);
    store.hold(); // the first fragment's put hangs, as against a store that stopped answering
    const first = await writer.enqueue(stream.name, fragments[0] as FragmentEvent);
    await expect.poll(() => store.heldPuts).toBe(1);
    const more = [];
    for (const f of fragments.slice(1).concat(fragments)) more.push(await writer.enqueue(stream.name, f));
    const all = [first, ...more].map((a) => a.persisted);
    const settled = Promise.allSettled(all);
    store.release();
    const outcomes = await settled;
    const dropped = outcomes.filter((o) => o.status === 'rejected');
    expect(dropped).toHaveLength(all.length - 2);
    for (const o of dropped) expect((o as PromiseRejectedResult).reason).toBeInstanceOf(FragmentDroppedError);
    // The survivors: the write whose put was running (its outcome was not ours to decide) and the newest.
    expect(outcomes[0]?.status).toBe('fulfilled');
    expect(outcomes.at(-1)?.status).toBe('fulfilled');
    expect(writer.stats().dropped).toBe(all.length - 2);
    expect(droppedOf).toEqual(dropped.map(() => stream.name));
    expect((await index.list(stream, { type: 'SERVER_TIMESTAMP' })).fragments).toHaveLength(2);
  });
});

describe('VideoRetentionSweeper', () => {
  it('deletes exactly the expired fragments from storage and index, then purges a deleted stream', async () => {
    const stream = await newStream(2);
    const writer = newWriter();
    const start = clock.nowMs;
    const written: string[] = [];
    for (const [i, e] of events.entries()) {
      clock.nowMs = start + i * 3_600_000; // one event per hour
      const result = await writer.write(stream.name, e);
      if (result.kind === 'fragment') written.push(result.fragment.fragmentNumber);
    }
    const lastWriteMs = clock.nowMs;
    clock.nowMs = lastWriteMs + 30 * 60_000; // retention 2 h: everything written before last-1.5 h expires
    const sweeper = new VideoRetentionSweeper({ redis, store, registry, clock });
    const deletedCount = await sweeper.sweepStream(stream);
    const kept = (await index.list(stream, { type: 'SERVER_TIMESTAMP' })).fragments;
    expect(kept.map((f) => f.serverTimestampMs)).toEqual([lastWriteMs - 3_600_000, lastWriteMs]);
    expect(deletedCount).toBe(written.length - 2);
    const keys = await objectKeys(stream);
    expect(keys.filter((k) => k.endsWith('.m4s')).map((k) => k.split('/').at(-1))).toEqual(
      kept.map((f) => `${f.fragmentNumber}.m4s`),
    );
    expect(await index.get(stream, written.slice(0, -2))).toEqual(written.slice(0, -2).map(() => undefined));

    // Only one replica at a time holds the sweep lock.
    await redis.set('kvs:{kvs}:sweep-lock', 'other-replica', 'PX', 10_000);
    expect(await sweeper.sweep()).toBeUndefined();
    await redis.del('kvs:{kvs}:sweep-lock');

    registry.onDeleted(async (deleted) => {
      if (deleted.arn !== stream.arn) return;
      writer.forget(deleted);
      await sweeper.purge(deleted);
    });
    await registry.delete(stream.arn, undefined);
    expect(await objectKeys(stream)).toEqual([]);
    expect(await redis.keys(`kvs:{kvs:${stream.name}}:*`)).toEqual([]);
    clock.nowMs = start;
  });
});

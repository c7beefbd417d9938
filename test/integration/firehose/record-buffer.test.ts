import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type DeliveryStreamRecord, DeliveryStreamRegistry } from '../../../src/firehose/index.ts';
import { DELIVERY_GROUP, firehoseKeys } from '../../../src/firehose/keys.ts';
import { BufferFullError, RecordBuffer, SourceFencedError } from '../../../src/firehose/record-buffer.ts';
import { directPutRecord, s3Destination } from '../../support/firehose-records.ts';

let redis: Redis;
let registry: DeliveryStreamRegistry;
let buffer: RecordBuffer;
let roomy: RecordBuffer;
const names: string[] = [];

beforeAll(() => {
  redis = new Redis(inject('redisUrl'));
  registry = new DeliveryStreamRegistry(redis, '000000000000');
  buffer = new RecordBuffer(redis, { maxBufferBytes: 64 });
  roomy = new RecordBuffer(redis, { maxBufferBytes: 1024 * 1024 });
});
afterAll(async () => {
  for (const name of names) await registry.remove(name);
  redis.disconnect();
});

const destination = s3Destination({ bucket: 'b', buffering: { sizeBytes: 1024, intervalMs: 1000 } });

async function newStream(): Promise<DeliveryStreamRecord> {
  const name = `buffer-${randomBytes(4).toString('hex')}`;
  names.push(name);
  const stream = directPutRecord(name, destination);
  await registry.create(stream, { team: 'a' });
  return stream;
}

const incoming = (n: number) =>
  Array.from({ length: n }, (_, i) => ({ data: Buffer.from(`r${i}`), arrivalMs: 1_000 + i, sealed: false }));

describe('RecordBuffer on Redis', () => {
  it('hands each record to one worker and forgets it only when acknowledged', async () => {
    const { name } = await newStream();
    const ids = await buffer.append(name, incoming(5));
    expect(ids).toHaveLength(5);
    const a = await buffer.readNew(name, 'worker-a', 3);
    const b = await buffer.readNew(name, 'worker-b', 10);
    expect(a.map((r) => r.data.toString())).toEqual(['r0', 'r1', 'r2']);
    expect(b.map((r) => r.data.toString())).toEqual(['r3', 'r4']);
    expect(b[0]).toMatchObject({ arrivalMs: 1_003, sealed: false });
    await buffer.acknowledge(name, b);
    expect(await buffer.length(name)).toBe(3);
    expect(await buffer.bufferedBytes(name)).toBe(6);
  });

  it('refuses appends once the buffer holds more than its limit of bytes', async () => {
    const { name } = await newStream();
    const big = (n: number) => [{ data: Buffer.alloc(n), arrivalMs: 1, sealed: false }];
    await buffer.append(name, big(60));
    await expect(buffer.append(name, big(10))).rejects.toThrow(BufferFullError);
    const [held] = await buffer.readNew(name, 'worker', 1);
    await buffer.acknowledge(name, held ? [held] : []);
    expect(await buffer.bufferedBytes(name)).toBe(0);
    await buffer.append(name, big(10));
    expect(await buffer.length(name)).toBe(1);
  });

  it("lets another worker reclaim a silent worker's records, but not records that were renewed", async () => {
    const { name } = await newStream();
    await buffer.append(name, incoming(4));
    const held = await buffer.readNew(name, 'dead', 2);
    const alive = await buffer.readNew(name, 'alive', 2);
    // The living worker renews right before each attempt; only the silent one's records get idle enough.
    let taken: Awaited<ReturnType<RecordBuffer['reclaim']>> = [];
    await expect
      .poll(
        async () => {
          await buffer.renew(
            name,
            'alive',
            alive.map((r) => r.entryId),
          );
          taken = [...taken, ...(await buffer.reclaim(name, 'rescuer', 300, 100))];
          return taken.map((r) => r.entryId);
        },
        { timeout: 10_000, interval: 50 },
      )
      .toEqual(held.map((r) => r.entryId));
    expect(taken.map((r) => r.data.toString())).toEqual(['r0', 'r1']);
  });

  it('gives a restarted worker (same consumer name) back what it held', async () => {
    const { name } = await newStream();
    await buffer.append(name, incoming(3));
    const before = await buffer.readNew(name, 'replica-1', 3);
    const again = await buffer.readOwnPending(name, 'replica-1', '0', 10);
    expect(again.records.map((r) => r.entryId)).toEqual(before.map((r) => r.entryId));
    expect(again.next).toBeUndefined();
    expect(await buffer.readOwnPending(name, 'replica-2', '0', 10)).toEqual({ records: [], next: undefined });
  });

  it('gives a restarted worker back what it held also past entries deleted while pending', async () => {
    const { name } = await newStream();
    await buffer.append(name, incoming(6));
    const before = await buffer.readNew(name, 'replica-1', 6);
    // A whole page of deleted entries before the live ones.
    await redis.xdel(firehoseKeys.buffer(name), ...before.slice(0, 3).map((r) => r.entryId));
    const first = await buffer.readOwnPending(name, 'replica-1', '0', 2);
    expect(first.records.map((r) => r.data.toString())).toEqual(['r3', 'r4']);
    const rest = await buffer.readOwnPending(name, 'replica-1', first.next as string, 2);
    expect(rest).toEqual({
      records: [expect.objectContaining({ entryId: before[5]?.entryId })],
      next: undefined,
    });
    // The deleted entries left the pending list.
    const pending = (await redis.xpending(firehoseKeys.buffer(name), DELIVERY_GROUP)) as [number];
    expect(pending[0]).toBe(3);
  });

  it('follows the XAUTOCLAIM cursor past records other workers renewed', async () => {
    const { name } = await newStream();
    await roomy.append(
      name,
      Array.from({ length: 60 }, () => ({ data: Buffer.from('x'), arrivalMs: 1, sealed: false })),
    );
    await roomy.append(name, incoming(30));
    // The living worker holds the head of the pending list; the silent one holds more than a page after it.
    const alive = await roomy.readNew(name, 'alive', 60);
    const held = await roomy.readNew(name, 'dead', 30);
    let taken: Awaited<ReturnType<RecordBuffer['reclaim']>> = [];
    await expect
      .poll(
        async () => {
          await roomy.renew(
            name,
            'alive',
            alive.map((r) => r.entryId),
          );
          taken = [...taken, ...(await roomy.reclaim(name, 'rescuer', 300, 5))];
          return taken.map((r) => r.entryId);
        },
        { timeout: 10_000, interval: 50 },
      )
      .toEqual(held.map((r) => r.entryId));
  });

  it('stops reclaiming once the byte limit is reached', async () => {
    const { name } = await newStream();
    await buffer.append(name, incoming(20));
    await buffer.readNew(name, 'dead', 20);
    let taken: Awaited<ReturnType<RecordBuffer['reclaim']>> = [];
    await expect
      .poll(
        async () => {
          taken = await buffer.reclaim(name, 'rescuer', 300, 4, 10);
          return taken.length;
        },
        { timeout: 10_000, interval: 50 },
      )
      .toBeGreaterThan(0);
    // r0..r9 are 2 bytes each: pages of 4 until at least 10 bytes.
    expect(taken.map((r) => r.data.toString())).toEqual(['r0', 'r1', 'r2', 'r3', 'r4', 'r5', 'r6', 'r7']);
  });

  it('moves a source checkpoint in the same step as the records it covers, keeping their origin', async () => {
    const { name } = await newStream();
    const fromShard = incoming(2).map((r, i) => ({
      ...r,
      partitionKey: `pk-${i}`,
      sequenceNumber: `4959${i}`,
    }));
    await redis.set(firehoseKeys.sourceLease(name), 'reader-1');
    const fence = { holder: 'reader-1', readFrom: undefined };
    await buffer.appendFromSource(name, 'shardId-000000000000', '49591', fromShard, fence);
    expect(await buffer.checkpoints(name)).toEqual({ 'shardId-000000000000': '49591' });
    await buffer.appendFromSource(name, 'shardId-000000000000', 'END', [], { ...fence, readFrom: '49591' });
    expect(await buffer.checkpoints(name)).toEqual({ 'shardId-000000000000': 'END' });
    const read = await buffer.readNew(name, 'worker', 10);
    expect(read.map((r) => r.kinesis)).toEqual([
      { shardId: 'shardId-000000000000', partitionKey: 'pk-0', sequenceNumber: '49590' },
      { shardId: 'shardId-000000000000', partitionKey: 'pk-1', sequenceNumber: '49591' },
    ]);
  });

  it('fences a source reader that lost its lease or read from a checkpoint that has moved', async () => {
    const { name } = await newStream();
    const shard = 'shardId-000000000000';
    const records = incoming(2).map((r, i) => ({ ...r, partitionKey: 'pk', sequenceNumber: `100${i}` }));
    await redis.set(firehoseKeys.sourceLease(name), 'reader-2');
    // reader-1 paused past its lease; reader-2 holds it now.
    await expect(
      buffer.appendFromSource(name, shard, '1001', records, { holder: 'reader-1', readFrom: undefined }),
    ).rejects.toThrow(SourceFencedError);
    await buffer.appendFromSource(name, shard, '1001', records, { holder: 'reader-2', readFrom: undefined });
    // A read from the old (empty) checkpoint, after reader-2 moved it, would append duplicates.
    await expect(
      buffer.appendFromSource(name, shard, '1001', records, { holder: 'reader-2', readFrom: undefined }),
    ).rejects.toThrow(SourceFencedError);
    expect(await buffer.checkpoints(name)).toEqual({ [shard]: '1001' });
    expect((await buffer.readNew(name, 'worker', 10)).map((r) => r.kinesis?.sequenceNumber)).toEqual([
      '1000',
      '1001',
    ]);
  });

  it('removes every key of a deleted delivery stream, also when a worker acknowledges afterwards', async () => {
    const stream = await newStream();
    await buffer.append(stream.name, incoming(1));
    const held = await buffer.readNew(stream.name, 'worker', 1);
    await registry.remove(stream.name);
    await buffer.acknowledge(stream.name, held);
    const keys = [
      firehoseKeys.meta,
      firehoseKeys.tags,
      firehoseKeys.buffer,
      firehoseKeys.bufferBytes,
      firehoseKeys.checkpoints,
      firehoseKeys.sourceLease,
    ].map((k) => k(stream.name));
    expect(await redis.exists(...keys)).toBe(0);
    expect(await registry.listNames(undefined, 10_000)).not.toContain(stream.name);
  });

  it('gives a re-created delivery stream none of the keys a deleted namesake left behind', async () => {
    const stream = await newStream();
    await registry.remove(stream.name);
    // A worker, source reader or tagger of the deleted stream still writing afterwards.
    await redis.incrby(firehoseKeys.bufferBytes(stream.name), 50);
    await redis.hset(firehoseKeys.checkpoints(stream.name), 'shardId-000000000000', '42');
    await redis.hset(firehoseKeys.tags(stream.name), 'old', 'tag');
    await redis.set(firehoseKeys.sourceLease(stream.name), 'old-replica');
    await registry.create({ ...stream, id: 'recreated' }, { team: 'b' });
    expect(await buffer.bufferedBytes(stream.name)).toBe(0);
    expect(await buffer.checkpoints(stream.name)).toEqual({});
    expect(await registry.getTags(stream.name)).toEqual({ team: 'b' });
    expect(await redis.exists(firehoseKeys.sourceLease(stream.name))).toBe(0);
  });
});

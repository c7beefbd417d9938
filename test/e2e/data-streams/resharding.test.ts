import { randomBytes } from 'node:crypto';
import {
  CreateStreamCommand,
  DescribeStreamSummaryCommand,
  GetRecordsCommand,
  GetShardIteratorCommand,
  KinesisClient,
  ListShardsCommand,
  MergeShardsCommand,
  PutRecordsCommand,
  type Shard,
  SplitShardCommand,
  UpdateShardCountCommand,
} from '@aws-sdk/client-kinesis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningApp, startApp, TEST_KEYS } from '../../support/start-app.ts';

let gateway: RunningApp;
let kinesis: KinesisClient;
beforeAll(async () => {
  gateway = await startApp();
  kinesis = new KinesisClient({
    endpoint: gateway.endpoint,
    region: 'us-east-1',
    credentials: TEST_KEYS,
    maxAttempts: 1,
  });
});
afterAll(async () => {
  kinesis?.destroy();
  await gateway?.stop();
});

/** Reads one shard to its end (closed) or to the tip (open). */
async function readShard(StreamName: string, ShardId: string): Promise<string[]> {
  const { ShardIterator } = await kinesis.send(
    new GetShardIteratorCommand({ StreamName, ShardId, ShardIteratorType: 'TRIM_HORIZON' }),
  );
  const out: string[] = [];
  let next = ShardIterator;
  while (next) {
    const page = await kinesis.send(new GetRecordsCommand({ ShardIterator: next }));
    out.push(...(page.Records ?? []).map((r) => Buffer.from(r.Data ?? []).toString()));
    if (page.NextShardIterator === undefined) {
      expect(page.ChildShards?.length ?? 0).toBeGreaterThan(0);
      break;
    }
    if ((page.Records ?? []).length === 0 && page.MillisBehindLatest === 0) break;
    next = page.NextShardIterator;
  }
  return out;
}

/** Reads every shard, each child only after all of its parents, as KCL does. */
async function readLineage(StreamName: string): Promise<{ records: string[]; shards: Shard[] }> {
  const { Shards = [] } = await kinesis.send(new ListShardsCommand({ StreamName }));
  const done = new Set<string>();
  const records: string[] = [];
  while (done.size < Shards.length) {
    const ready = Shards.filter(
      (s) =>
        !done.has(s.ShardId ?? '') &&
        [s.ParentShardId, s.AdjacentParentShardId].every(
          (p) => p === undefined || done.has(p) || !Shards.some((x) => x.ShardId === p),
        ),
    );
    expect(ready.length).toBeGreaterThan(0);
    for (const shard of ready) {
      records.push(...(await readShard(StreamName, shard.ShardId ?? '')));
      done.add(shard.ShardId ?? '');
    }
  }
  return { records, shards: Shards };
}

describe('resharding while writing', () => {
  it('splits, merges and rescales without losing, duplicating or reordering any record per partition key', async () => {
    const StreamName = `reshard-${randomBytes(3).toString('hex')}`;
    await kinesis.send(new CreateStreamCommand({ StreamName, ShardCount: 2 }));
    const keys = Array.from({ length: 40 }, (_, i) => `key-${i}`);
    const counters = new Map(keys.map((k) => [k, 0]));
    const acknowledged: string[] = [];
    let writing = true;
    const writer = (async () => {
      while (writing) {
        const batch = keys.map((key) => {
          const n = (counters.get(key) ?? 0) + 1;
          counters.set(key, n);
          return { PartitionKey: key, Data: Buffer.from(`${key}:${n}`) };
        });
        const out = await kinesis.send(new PutRecordsCommand({ StreamName, Records: batch }));
        expect(out.FailedRecordCount).toBe(0);
        acknowledged.push(...batch.map((r) => r.Data.toString()));
      }
    })();

    const waitForWrites = async (count: number) => {
      const target = acknowledged.length + count;
      await expect
        .poll(() => acknowledged.length, { timeout: 10_000, interval: 5 })
        .toBeGreaterThanOrEqual(target);
    };
    await waitForWrites(200);
    const mid = ((1n << 128n) / 4n).toString();
    await kinesis.send(
      new SplitShardCommand({ StreamName, ShardToSplit: 'shardId-000000000000', NewStartingHashKey: mid }),
    );
    await waitForWrites(200);
    await kinesis.send(
      new MergeShardsCommand({
        StreamName,
        ShardToMerge: 'shardId-000000000003',
        AdjacentShardToMerge: 'shardId-000000000001',
      }),
    );
    await waitForWrites(200);
    await kinesis.send(
      new UpdateShardCountCommand({ StreamName, TargetShardCount: 4, ScalingType: 'UNIFORM_SCALING' }),
    );
    await waitForWrites(200);
    writing = false;
    await writer;

    const { StreamDescriptionSummary } = await kinesis.send(new DescribeStreamSummaryCommand({ StreamName }));
    expect(StreamDescriptionSummary?.StreamStatus).toBe('ACTIVE');
    expect(StreamDescriptionSummary?.OpenShardCount).toBe(4);

    const { records, shards } = await readLineage(StreamName);
    expect(shards.find((s) => s.ShardId === 'shardId-000000000002')?.ParentShardId).toBe(
      'shardId-000000000000',
    );
    expect(shards.find((s) => s.ShardId === 'shardId-000000000004')).toMatchObject({
      ParentShardId: 'shardId-000000000003',
      AdjacentParentShardId: 'shardId-000000000001',
    });
    expect(
      shards.find((s) => s.ShardId === 'shardId-000000000000')?.SequenceNumberRange?.EndingSequenceNumber,
    ).toMatch(/^\d{56}$/);

    expect(records.length).toBe(acknowledged.length);
    expect(new Set(records).size).toBe(records.length);
    expect(new Set(records)).toEqual(new Set(acknowledged));
    const last = new Map<string, number>();
    for (const record of records) {
      const [key = '', n = '0'] = record.split(':');
      expect(Number(n), record).toBe((last.get(key) ?? 0) + 1);
      last.set(key, Number(n));
    }
  });

  it('refuses a split outside the shard and a merge of non-adjacent shards with AWS errors', async () => {
    const StreamName = `reshard-errors-${randomBytes(3).toString('hex')}`;
    await kinesis.send(new CreateStreamCommand({ StreamName, ShardCount: 3 }));
    const bad = await kinesis
      .send(
        new SplitShardCommand({ StreamName, ShardToSplit: 'shardId-000000000000', NewStartingHashKey: '1' }),
      )
      .catch((e: Error) => e);
    expect((bad as Error).name).toBe('InvalidArgumentException');
    const apart = await kinesis
      .send(
        new MergeShardsCommand({
          StreamName,
          ShardToMerge: 'shardId-000000000000',
          AdjacentShardToMerge: 'shardId-000000000002',
        }),
      )
      .catch((e: Error) => e);
    expect((apart as Error).name).toBe('InvalidArgumentException');
    expect((apart as Error).message).toContain('not an adjacent pair');
    const tooMany = await kinesis
      .send(new UpdateShardCountCommand({ StreamName, TargetShardCount: 7, ScalingType: 'UNIFORM_SCALING' }))
      .catch((e: Error) => e);
    expect((tooMany as Error).name).toBe('LimitExceededException');
  });
});

import { createHash, randomBytes } from 'node:crypto';
import {
  type _Record,
  CreateStreamCommand,
  DeleteStreamCommand,
  DescribeStreamCommand,
  DescribeStreamSummaryCommand,
  GetRecordsCommand,
  GetShardIteratorCommand,
  KinesisClient,
  ListShardsCommand,
  ListStreamsCommand,
  PutRecordCommand,
  PutRecordsCommand,
} from '@aws-sdk/client-kinesis';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningApp, startApp, TEST_KEYS } from '../../support/start-app.ts';

let gateway: RunningApp;
beforeAll(async () => {
  gateway = await startApp();
});
afterAll(async () => {
  await gateway?.stop();
});

const hashKey = (partitionKey: string) => BigInt(`0x${createHash('md5').update(partitionKey).digest('hex')}`);

async function drain(kinesis: KinesisClient, iterator: string | undefined): Promise<_Record[]> {
  const out: _Record[] = [];
  let next = iterator;
  while (next) {
    const page = await kinesis.send(new GetRecordsCommand({ ShardIterator: next, Limit: 10_000 }));
    out.push(...(page.Records ?? []));
    if ((page.Records ?? []).length === 0 && page.MillisBehindLatest === 0) break;
    next = page.NextShardIterator;
  }
  return out;
}

describe.each([
  ['HTTP/2 (default handler)', false],
  ['HTTP/1.1 (NodeHttpHandler)', true],
])('Data Streams lifecycle through @aws-sdk/client-kinesis over %s', (_, http1) => {
  let kinesis: KinesisClient;
  const StreamName = `lifecycle-${http1 ? 'h1' : 'h2'}-${randomBytes(3).toString('hex')}`;
  beforeAll(() => {
    kinesis = new KinesisClient({
      endpoint: gateway.endpoint,
      region: 'us-east-1',
      credentials: TEST_KEYS,
      maxAttempts: 1,
      ...(http1 ? { requestHandler: new NodeHttpHandler() } : {}),
    });
  });
  afterAll(() => kinesis?.destroy());

  it('creates a 4-shard stream that splits the hash-key space evenly', async () => {
    await kinesis.send(new CreateStreamCommand({ StreamName, ShardCount: 4 }));
    const { StreamDescriptionSummary: summary } = await kinesis.send(
      new DescribeStreamSummaryCommand({ StreamName }),
    );
    expect(summary).toMatchObject({
      StreamName,
      StreamARN: `arn:aws:kinesis:us-east-1:000000000000:stream/${StreamName}`,
      StreamStatus: 'ACTIVE',
      StreamModeDetails: { StreamMode: 'PROVISIONED' },
      RetentionPeriodHours: 24,
      OpenShardCount: 4,
      EncryptionType: 'NONE',
    });
    const { Shards } = await kinesis.send(new ListShardsCommand({ StreamName }));
    expect(Shards?.map((s) => s.ShardId)).toEqual([0, 1, 2, 3].map((i) => `shardId-00000000000${i}`));
    expect(Shards?.[0]?.HashKeyRange?.StartingHashKey).toBe('0');
    expect(Shards?.[3]?.HashKeyRange?.EndingHashKey).toBe(((1n << 128n) - 1n).toString());
    for (let i = 1; i < 4; i += 1) {
      expect(BigInt(Shards?.[i]?.HashKeyRange?.StartingHashKey ?? '')).toBe(
        BigInt(Shards?.[i - 1]?.HashKeyRange?.EndingHashKey ?? '') + 1n,
      );
    }
    expect(Shards?.[0]?.SequenceNumberRange?.StartingSequenceNumber).toMatch(/^\d{56}$/);
    const { StreamNames } = await kinesis.send(new ListStreamsCommand({}));
    expect(StreamNames).toContain(StreamName);
    const described = await kinesis.send(new DescribeStreamCommand({ StreamName, Limit: 2 }));
    expect(described.StreamDescription?.Shards).toHaveLength(2);
    expect(described.StreamDescription?.HasMoreShards).toBe(true);
  });

  it('puts 10,000 records with random keys and reads every one back in order per shard', async () => {
    const sent = Array.from({ length: 10_000 }, (_, i) => ({
      key: randomBytes(8).toString('hex'),
      data: `record-${i}`,
    }));
    const routed = new Map<string, string>();
    for (let batch = 0; batch < sent.length; batch += 500) {
      const chunk = sent.slice(batch, batch + 500);
      const out = await kinesis.send(
        new PutRecordsCommand({
          StreamName,
          Records: chunk.map((r) => ({ PartitionKey: r.key, Data: Buffer.from(r.data) })),
        }),
      );
      expect(out.FailedRecordCount).toBe(0);
      for (const [n, r] of (out.Records ?? []).entries()) routed.set(chunk[n]?.data ?? '', r.ShardId ?? '');
    }
    const { Shards = [] } = await kinesis.send(new ListShardsCommand({ StreamName }));
    let total = 0;
    for (const shard of Shards) {
      const { ShardIterator } = await kinesis.send(
        new GetShardIteratorCommand({
          StreamName,
          ShardId: shard.ShardId,
          ShardIteratorType: 'TRIM_HORIZON',
        }),
      );
      const records = await drain(kinesis, ShardIterator);
      total += records.length;
      const start = BigInt(shard.HashKeyRange?.StartingHashKey ?? '0');
      const end = BigInt(shard.HashKeyRange?.EndingHashKey ?? '0');
      let previous = -1n;
      let previousIndex = -1;
      for (const record of records) {
        const sequence = BigInt(record.SequenceNumber ?? '0');
        expect(sequence > previous).toBe(true);
        previous = sequence;
        const key = hashKey(record.PartitionKey ?? '');
        expect(key >= start && key <= end).toBe(true);
        const text = Buffer.from(record.Data ?? []).toString();
        expect(routed.get(text)).toBe(shard.ShardId);
        const index = Number(text.slice('record-'.length));
        expect(index).toBeGreaterThan(previousIndex);
        previousIndex = index;
        expect(record.ApproximateArrivalTimestamp).toBeInstanceOf(Date);
      }
    }
    expect(total).toBe(10_000);
  });

  it('starts iterators at, after, latest and by timestamp', async () => {
    const key = 'iterator-key';
    const put = async (text: string) =>
      kinesis.send(new PutRecordCommand({ StreamName, PartitionKey: key, Data: Buffer.from(text) }));
    const first = await put('first');
    const second = await put('second');
    expect(first.ShardId).toBe(second.ShardId);
    expect(BigInt(second.SequenceNumber ?? '0') > BigInt(first.SequenceNumber ?? '0')).toBe(true);
    const ShardId = first.ShardId;
    const readFrom = async (input: Partial<ConstructorParameters<typeof GetShardIteratorCommand>[0]>) => {
      const { ShardIterator } = await kinesis.send(
        new GetShardIteratorCommand({ StreamName, ShardId, ...input } as never),
      );
      const page = await kinesis.send(new GetRecordsCommand({ ShardIterator }));
      return (page.Records ?? []).map((r) => Buffer.from(r.Data ?? []).toString());
    };
    expect(
      await readFrom({
        ShardIteratorType: 'AT_SEQUENCE_NUMBER',
        StartingSequenceNumber: first.SequenceNumber,
      }),
    ).toEqual(['first', 'second']);
    expect(
      await readFrom({
        ShardIteratorType: 'AFTER_SEQUENCE_NUMBER',
        StartingSequenceNumber: first.SequenceNumber,
      }),
    ).toEqual(['second']);
    const { ShardIterator: latest } = await kinesis.send(
      new GetShardIteratorCommand({ StreamName, ShardId, ShardIteratorType: 'LATEST' }),
    );
    const empty = await kinesis.send(new GetRecordsCommand({ ShardIterator: latest }));
    expect(empty.Records).toEqual([]);
    expect(empty.MillisBehindLatest).toBe(0);
    await put('third');
    const afterLatest = await kinesis.send(new GetRecordsCommand({ ShardIterator: empty.NextShardIterator }));
    expect(afterLatest.Records?.map((r) => Buffer.from(r.Data ?? []).toString())).toEqual(['third']);
    const byTime = await readFrom({
      ShardIteratorType: 'AT_TIMESTAMP',
      Timestamp: new Date(Date.now() + 60_000),
    });
    expect(byTime).toEqual([]);
    const fromPast = await readFrom({
      ShardIteratorType: 'AT_TIMESTAMP',
      Timestamp: new Date(Date.now() - 3_600_000),
    });
    expect(fromPast).toEqual(expect.arrayContaining(['first', 'second', 'third']));
  });

  it('deletes the stream', async () => {
    await kinesis.send(new DeleteStreamCommand({ StreamName }));
    const error = await kinesis.send(new DescribeStreamSummaryCommand({ StreamName })).catch((e: Error) => e);
    expect((error as Error).name).toBe('ResourceNotFoundException');
    expect((error as Error).message).toBe(`Stream ${StreamName} under account 000000000000 not found.`);
  });
});

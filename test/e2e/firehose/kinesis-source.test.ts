import {
  CreateDeliveryStreamCommand,
  DescribeDeliveryStreamCommand,
  type FirehoseClient,
  PutRecordCommand,
} from '@aws-sdk/client-firehose';
import {
  CreateStreamCommand,
  DescribeStreamSummaryCommand,
  KinesisClient,
  ListShardsCommand,
  PutRecordsCommand,
  SplitShardCommand,
} from '@aws-sdk/client-kinesis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningApp, startApp, TEST_KEYS } from '../../support/start-app.ts';
import { deliveredObjects, firehoseClient, uniqueName } from './firehose-support.ts';

let gateway: RunningApp;
let firehose: FirehoseClient;
let kinesis: KinesisClient;
beforeAll(async () => {
  gateway = await startApp({ objectStore: 's3', overrides: { firehosePollMs: 50 } });
  firehose = firehoseClient(gateway.endpoint);
  kinesis = new KinesisClient({
    endpoint: gateway.endpoint,
    region: 'us-east-1',
    credentials: TEST_KEYS,
    maxAttempts: 1,
  });
});
afterAll(async () => {
  firehose?.destroy();
  kinesis?.destroy();
  await gateway?.stop();
});

describe('KinesisStreamAsSource', () => {
  it('delivers every record put during a shard split exactly once, parents before children', async () => {
    const StreamName = uniqueName('source');
    await kinesis.send(new CreateStreamCommand({ StreamName, ShardCount: 1 }));
    const { StreamDescriptionSummary } = await kinesis.send(new DescribeStreamSummaryCommand({ StreamName }));
    const name = uniqueName('from-kds');
    const bucket = uniqueName('bucket');
    const put = (from: number, count: number) =>
      kinesis.send(
        new PutRecordsCommand({
          StreamName,
          Records: Array.from({ length: count }, (_, k) => ({
            PartitionKey: `key-${(from + k) % 16}`,
            Data: Buffer.from(`${from + k}\n`),
          })),
        }),
      );
    // Records older than the delivery stream are read too (it starts at the oldest record).
    await put(0, 100);
    await firehose.send(
      new CreateDeliveryStreamCommand({
        DeliveryStreamName: name,
        DeliveryStreamType: 'KinesisStreamAsSource',
        KinesisStreamSourceConfiguration: {
          KinesisStreamARN: StreamDescriptionSummary?.StreamARN,
          RoleARN: 'arn:aws:iam::000000000000:role/r',
        },
        ExtendedS3DestinationConfiguration: {
          RoleARN: 'arn:aws:iam::000000000000:role/firehose',
          BucketARN: `arn:aws:s3:::${bucket}`,
          BufferingHints: { SizeInMBs: 1, IntervalInSeconds: 1 },
        },
      }),
    );
    const described = await firehose.send(new DescribeDeliveryStreamCommand({ DeliveryStreamName: name }));
    expect(
      described.DeliveryStreamDescription?.Source?.KinesisStreamSourceDescription?.KinesisStreamARN,
    ).toBe(StreamDescriptionSummary?.StreamARN);
    const refused = await firehose
      .send(new PutRecordCommand({ DeliveryStreamName: name, Record: { Data: Buffer.from('x') } }))
      .catch((e: Error) => e);
    expect((refused as Error).name).toBe('InvalidArgumentException');

    const writing = (async () => {
      for (let from = 100; from < 2_000; from += 100) await put(from, 100);
    })();
    const { Shards = [] } = await kinesis.send(new ListShardsCommand({ StreamName }));
    await kinesis.send(
      new SplitShardCommand({
        StreamName,
        ShardToSplit: Shards[0]?.ShardId,
        NewStartingHashKey: (2n ** 127n).toString(),
      }),
    );
    await writing;
    await put(2_000, 100);
    const after = await kinesis.send(new ListShardsCommand({ StreamName }));
    expect(after.Shards).toHaveLength(3);

    const expected = Array.from({ length: 2_100 }, (_, i) => i);
    const delivered = async () =>
      Buffer.concat((await deliveredObjects(gateway.app.objectStore, bucket)).map((o) => o.body))
        .toString()
        .split('\n')
        .filter((l) => l !== '')
        .map(Number);
    await expect
      .poll(async () => (await delivered()).length, { timeout: 30_000 })
      .toBeGreaterThanOrEqual(expected.length);
    const records = await delivered();
    // Exactly once: no duplicates, nothing missing.
    expect([...records].sort((a, b) => a - b)).toEqual(expected);
    // Per partition key, in put order (the parent shard is drained before its children are read).
    for (let key = 0; key < 16; key++) {
      const mine = records.filter((n) => n % 16 === key);
      expect(mine).toEqual([...mine].sort((a, b) => a - b));
    }
  });
});

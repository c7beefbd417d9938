import { randomBytes } from 'node:crypto';
import {
  CreateStreamCommand,
  GetRecordsCommand,
  GetShardIteratorCommand,
  KinesisClient,
  PutRecordCommand,
  PutRecordsCommand,
} from '@aws-sdk/client-kinesis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signedCall } from '../../support/signed-request.ts';
import { type RunningApp, startApp, TEST_KEYS } from '../../support/start-app.ts';

let offsetMs = 0;
let gateway: RunningApp;
let kinesis: KinesisClient;
const StreamName = `hostile-${randomBytes(3).toString('hex')}`;
const target = (op: string) => `Kinesis_20131202.${op}`;

beforeAll(async () => {
  gateway = await startApp({ overrides: { clock: { now: () => Date.now() + offsetMs } } });
  kinesis = new KinesisClient({
    endpoint: gateway.endpoint,
    region: 'us-east-1',
    credentials: TEST_KEYS,
    maxAttempts: 1,
  });
  await kinesis.send(new CreateStreamCommand({ StreamName, ShardCount: 1 }));
});
afterAll(async () => {
  kinesis?.destroy();
  await gateway?.stop();
});

async function storedCount(): Promise<number> {
  const { ShardIterator } = await kinesis.send(
    new GetShardIteratorCommand({
      StreamName,
      ShardId: 'shardId-000000000000',
      ShardIteratorType: 'TRIM_HORIZON',
    }),
  );
  return ((await kinesis.send(new GetRecordsCommand({ ShardIterator }))).Records ?? []).length;
}

describe('hostile input to Data Streams', () => {
  it.each([
    ['Data of the wrong type', { StreamName, PartitionKey: 'k', Data: 42 }, /at 'data'/],
    [
      'a missing PartitionKey',
      { StreamName, Data: 'AA==' },
      /Value null at 'partitionKey' failed to satisfy constraint: Member must not be null/,
    ],
    [
      'bad base64 in Data',
      { StreamName, PartitionKey: 'k', Data: 'not*base64' },
      /Member must be valid base64/,
    ],
    [
      'a 257-character PartitionKey',
      { StreamName, PartitionKey: 'p'.repeat(257), Data: 'AA==' },
      /Member must have length less than or equal to 256/,
    ],
    [
      'an over-large record',
      { StreamName, PartitionKey: 'k', Data: Buffer.alloc(1024 * 1024 + 1).toString('base64') },
      /less than or equal to 1048576/,
    ],
  ])('rejects %s with ValidationException and writes nothing', async (_, body, message) => {
    const before = await storedCount();
    const result = await signedCall(gateway.endpoint, target('PutRecord'), body);
    expect(result.status).toBe(400);
    expect(result.errorType).toBe('ValidationException');
    expect((result.body as { message: string }).message).toMatch(message);
    expect(await storedCount()).toBe(before);
  });

  it('rejects a batch of 501 records and a batch over 5 MiB without writing any of it', async () => {
    const before = await storedCount();
    const tooMany = await kinesis
      .send(
        new PutRecordsCommand({
          StreamName,
          Records: Array.from({ length: 501 }, () => ({ PartitionKey: 'k', Data: Buffer.from('x') })),
        }),
      )
      .catch((e: Error) => e);
    expect((tooMany as Error).name).toBe('ValidationException');
    expect((tooMany as Error).message).toContain('Member must have length less than or equal to 500');
    const tooBig = await kinesis
      .send(
        new PutRecordsCommand({
          StreamName,
          Records: Array.from({ length: 6 }, () => ({ PartitionKey: 'k', Data: Buffer.alloc(1000 * 1024) })),
        }),
      )
      .catch((e: Error) => e);
    expect((tooBig as Error).name).toBe('InvalidArgumentException');
    expect(await storedCount()).toBe(before);
  });

  it('answers unknown streams with ResourceNotFoundException in AWS words', async () => {
    const error = await kinesis
      .send(new PutRecordCommand({ StreamName: 'no-such-stream', PartitionKey: 'k', Data: Buffer.from('x') }))
      .catch((e: Error) => e);
    expect((error as Error).name).toBe('ResourceNotFoundException');
    expect((error as Error).message).toBe('Stream no-such-stream under account 000000000000 not found.');
  });

  it('rejects forged and expired shard iterators', async () => {
    const { ShardIterator = '' } = await kinesis.send(
      new GetShardIteratorCommand({
        StreamName,
        ShardId: 'shardId-000000000000',
        ShardIteratorType: 'TRIM_HORIZON',
      }),
    );
    const bytes = Buffer.from(ShardIterator, 'base64');
    bytes[2] = (bytes[2] ?? 0) ^ 1;
    const forged = await kinesis
      .send(new GetRecordsCommand({ ShardIterator: bytes.toString('base64') }))
      .catch((e: Error) => e);
    expect((forged as Error).name).toBe('InvalidArgumentException');
    expect((forged as Error).message).toBe('Invalid ShardIterator.');
    const garbage = await kinesis
      .send(new GetRecordsCommand({ ShardIterator: 'AAAA' }))
      .catch((e: Error) => e);
    expect((garbage as Error).name).toBe('InvalidArgumentException');

    offsetMs += 301_000;
    const expired = await kinesis.send(new GetRecordsCommand({ ShardIterator })).catch((e: Error) => e);
    offsetMs = 0;
    expect((expired as Error).name).toBe('ExpiredIteratorException');
    expect((expired as Error).message).toMatch(
      /^Iterator expired\. The iterator was created at time .* tolerated delay of 300000 milliseconds\.$/,
    );
  });

  it('rejects an ExplicitHashKey beyond 2^128-1 and a bad sequence number', async () => {
    const hash = await kinesis
      .send(
        new PutRecordCommand({
          StreamName,
          PartitionKey: 'k',
          Data: Buffer.from('x'),
          ExplicitHashKey: (1n << 128n).toString(),
        }),
      )
      .catch((e: Error) => e);
    expect((hash as Error).name).toBe('InvalidArgumentException');
    const sequence = await kinesis
      .send(
        new GetShardIteratorCommand({
          StreamName,
          ShardId: 'shardId-000000000000',
          ShardIteratorType: 'AT_SEQUENCE_NUMBER',
          StartingSequenceNumber: '12345',
        }),
      )
      .catch((e: Error) => e);
    expect((sequence as Error).name).toBe('InvalidArgumentException');
  });
});

describe('CBOR (as the Java SDK and KCL send it)', () => {
  it('round-trips PutRecord, GetShardIterator and GetRecords with byte strings and tag-1 timestamps', async () => {
    const data = randomBytes(32);
    const put = await signedCall(
      gateway.endpoint,
      target('PutRecord'),
      { StreamName, PartitionKey: 'cbor-key', Data: data },
      { format: 'cbor' },
    );
    expect(put.status).toBe(200);
    const { ShardId, SequenceNumber } = put.body as { ShardId: string; SequenceNumber: string };
    expect(SequenceNumber).toMatch(/^\d{56}$/);

    const iterator = await signedCall(
      gateway.endpoint,
      target('GetShardIterator'),
      {
        StreamName,
        ShardId,
        ShardIteratorType: 'AT_SEQUENCE_NUMBER',
        StartingSequenceNumber: SequenceNumber,
      },
      { format: 'cbor' },
    );
    const { ShardIterator } = iterator.body as { ShardIterator: string };
    const got = await signedCall(
      gateway.endpoint,
      target('GetRecords'),
      { ShardIterator, Limit: 1 },
      { format: 'cbor' },
    );
    const [record] = (
      got.body as {
        Records: Array<{ Data: Uint8Array; PartitionKey: string; ApproximateArrivalTimestamp: Date }>;
      }
    ).Records;
    expect(Buffer.from(record?.Data ?? [])).toEqual(data);
    expect(record?.PartitionKey).toBe('cbor-key');
    expect(record?.ApproximateArrivalTimestamp).toBeInstanceOf(Date);

    const error = await signedCall(
      gateway.endpoint,
      target('GetRecords'),
      { ShardIterator: 'nope' },
      { format: 'cbor' },
    );
    expect(error.errorType).toBe('InvalidArgumentException');
    expect(error.body).toMatchObject({ __type: 'InvalidArgumentException' });
  });
});

describe('per-shard throughput limits (STREAMGATE_KDS_SHARD_LIMITS=aws)', () => {
  it('answers PutRecords over 1,000 records/s per shard with per-record ProvisionedThroughputExceededException', async () => {
    // A frozen clock: buckets never refill during the test, so the counts are exact.
    const frozen = Date.now();
    const limited = await startApp({
      env: { STREAMGATE_KDS_SHARD_LIMITS: 'aws' },
      overrides: { clock: { now: () => frozen } },
    });
    const client = new KinesisClient({
      endpoint: limited.endpoint,
      region: 'us-east-1',
      credentials: TEST_KEYS,
      maxAttempts: 1,
    });
    try {
      const name = `limited-${randomBytes(3).toString('hex')}`;
      await client.send(new CreateStreamCommand({ StreamName: name, ShardCount: 1 }));
      const batch = {
        StreamName: name,
        Records: Array.from({ length: 500 }, (_, i) => ({ PartitionKey: `k${i}`, Data: Buffer.from('x') })),
      };
      const outcomes = [];
      for (let i = 0; i < 3; i += 1) outcomes.push(await client.send(new PutRecordsCommand(batch)));
      expect(outcomes.map((o) => o.FailedRecordCount)).toEqual([0, 0, 500]);
      const rejected = outcomes.flatMap((o) => o.Records ?? []).filter((r) => r.ErrorCode);
      expect(rejected[0]).toMatchObject({ ErrorCode: 'ProvisionedThroughputExceededException' });
      expect(rejected[0]?.ErrorMessage).toMatch(/^Rate exceeded for shard shardId-000000000000 in stream /);
      const single = await client
        .send(new PutRecordCommand({ StreamName: name, PartitionKey: 'k', Data: Buffer.from('x') }))
        .catch((e: Error) => e);
      expect((single as Error).name).toBe('ProvisionedThroughputExceededException');
    } finally {
      client.destroy();
      await limited.stop();
    }
  });
});

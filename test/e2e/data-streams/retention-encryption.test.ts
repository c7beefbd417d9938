import { randomBytes } from 'node:crypto';
import {
  CreateStreamCommand,
  DecreaseStreamRetentionPeriodCommand,
  DescribeStreamSummaryCommand,
  GetRecordsCommand,
  GetShardIteratorCommand,
  IncreaseStreamRetentionPeriodCommand,
  KinesisClient,
  PutRecordCommand,
  StartStreamEncryptionCommand,
  StopStreamEncryptionCommand,
} from '@aws-sdk/client-kinesis';
import { CreateKeyCommand, DisableKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningApp, startApp, TEST_KEYS } from '../../support/start-app.ts';

const HOUR_MS = 3_600_000;
let offsetMs = 0;
let gateway: RunningApp;
let kinesis: KinesisClient;
let kms: KMSClient;

beforeAll(async () => {
  gateway = await startApp({ overrides: { clock: { now: () => Date.now() + offsetMs } } });
  const common = { endpoint: gateway.endpoint, region: 'us-east-1', credentials: TEST_KEYS, maxAttempts: 1 };
  kinesis = new KinesisClient(common);
  kms = new KMSClient(common);
});
afterAll(async () => {
  kinesis?.destroy();
  kms?.destroy();
  await gateway?.stop();
});

async function newStream(): Promise<string> {
  const StreamName = `re-${randomBytes(4).toString('hex')}`;
  await kinesis.send(new CreateStreamCommand({ StreamName, ShardCount: 1 }));
  return StreamName;
}

async function readAll(StreamName: string) {
  const { ShardIterator } = await kinesis.send(
    new GetShardIteratorCommand({
      StreamName,
      ShardId: 'shardId-000000000000',
      ShardIteratorType: 'TRIM_HORIZON',
    }),
  );
  return (await kinesis.send(new GetRecordsCommand({ ShardIterator }))).Records ?? [];
}

describe('retention', () => {
  it('validates retention changes the way AWS does', async () => {
    const StreamName = await newStream();
    const tooLow = await kinesis
      .send(new DecreaseStreamRetentionPeriodCommand({ StreamName, RetentionPeriodHours: 23 }))
      .catch((e) => e);
    expect(tooLow.name).toBe('ValidationException');
    const same = await kinesis.send(
      new IncreaseStreamRetentionPeriodCommand({ StreamName, RetentionPeriodHours: 24 }),
    );
    expect(same.$metadata.httpStatusCode).toBe(200);
    await kinesis.send(new IncreaseStreamRetentionPeriodCommand({ StreamName, RetentionPeriodHours: 48 }));
    const wrongWay = await kinesis
      .send(new IncreaseStreamRetentionPeriodCommand({ StreamName, RetentionPeriodHours: 30 }))
      .catch((e) => e);
    expect(wrongWay.name).toBe('InvalidArgumentException');
    expect(wrongWay.message).toContain('Use DecreaseRetentionPeriod API');
    const { StreamDescriptionSummary } = await kinesis.send(new DescribeStreamSummaryCommand({ StreamName }));
    expect(StreamDescriptionSummary?.RetentionPeriodHours).toBe(48);
  });

  it('never serves records older than the retention period and trims them from Redis', async () => {
    const StreamName = await newStream();
    await kinesis.send(new PutRecordCommand({ StreamName, PartitionKey: 'k', Data: Buffer.from('old') }));
    expect((await readAll(StreamName)).length).toBe(1);
    offsetMs += 25 * HOUR_MS;
    expect(await readAll(StreamName)).toEqual([]);
    expect(await gateway.app.retentionSweeper.sweepOnce()).toBeGreaterThanOrEqual(1);
    // Back on the real clock the old record stays gone: it was trimmed from Redis, not just hidden.
    offsetMs = 0;
    await kinesis.send(new PutRecordCommand({ StreamName, PartitionKey: 'k', Data: Buffer.from('new') }));
    expect((await readAll(StreamName)).map((r) => Buffer.from(r.Data ?? []).toString())).toEqual(['new']);
  });
});

describe('server-side encryption', () => {
  it('stores records sealed under the KMS key while encryption is on, and serves them in plaintext', async () => {
    const StreamName = await newStream();
    await kinesis.send(new PutRecordCommand({ StreamName, PartitionKey: 'k', Data: Buffer.from('before') }));
    await kinesis.send(
      new StartStreamEncryptionCommand({ StreamName, EncryptionType: 'KMS', KeyId: 'alias/aws/kinesis' }),
    );
    const summary = await kinesis.send(new DescribeStreamSummaryCommand({ StreamName }));
    expect(summary.StreamDescriptionSummary).toMatchObject({
      EncryptionType: 'KMS',
      KeyId: 'alias/aws/kinesis',
    });
    const put = await kinesis.send(
      new PutRecordCommand({ StreamName, PartitionKey: 'k', Data: Buffer.from('secret payload') }),
    );
    expect(put.EncryptionType).toBe('KMS');
    await kinesis.send(
      new StopStreamEncryptionCommand({ StreamName, EncryptionType: 'KMS', KeyId: 'alias/aws/kinesis' }),
    );
    await kinesis.send(new PutRecordCommand({ StreamName, PartitionKey: 'k', Data: Buffer.from('after') }));

    const records = await readAll(StreamName);
    expect(records.map((r) => Buffer.from(r.Data ?? []).toString())).toEqual([
      'before',
      'secret payload',
      'after',
    ]);
    expect(records.map((r) => r.EncryptionType ?? 'NONE')).toEqual(['NONE', 'KMS', 'NONE']);

    // At rest, the encrypted record is an envelope, not the plaintext.
    const view = await gateway.app.redis.client.keys(`kds:{*/shardId-000000000000}:log`);
    const raw = await Promise.all(view.map((key) => gateway.app.redis.client.xrangeBuffer(key, '-', '+')));
    const stored = raw.flat().map(([, fields]) => Buffer.concat(fields as Buffer[]).toString('latin1'));
    expect(stored.some((s) => s.includes('before'))).toBe(true);
    expect(stored.some((s) => s.includes('secret payload'))).toBe(false);
    expect(stored.some((s) => s.includes('SGEV'))).toBe(true);
  });

  it('answers KMS errors with the Kinesis KMS* names', async () => {
    const StreamName = await newStream();
    const missing = await kinesis
      .send(
        new StartStreamEncryptionCommand({ StreamName, EncryptionType: 'KMS', KeyId: 'alias/nothing-here' }),
      )
      .catch((e) => e);
    expect(missing.name).toBe('KMSNotFoundException');
    const { KeyMetadata } = await kms.send(new CreateKeyCommand({}));
    await kinesis.send(
      new StartStreamEncryptionCommand({ StreamName, EncryptionType: 'KMS', KeyId: KeyMetadata?.KeyId }),
    );
    await kms.send(new DisableKeyCommand({ KeyId: KeyMetadata?.KeyId }));
    const disabled = await kinesis
      .send(new PutRecordCommand({ StreamName, PartitionKey: 'k', Data: Buffer.from('x') }))
      .catch((e) => e);
    expect(disabled.name).toBe('KMSDisabledException');
  });
});

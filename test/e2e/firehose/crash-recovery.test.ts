import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CreateDeliveryStreamCommand,
  FirehoseClient,
  PutRecordBatchCommand,
  UpdateDestinationCommand,
} from '@aws-sdk/client-firehose';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { portFromLog } from '../../../bench/support/gateway-process.ts';
import { S3ObjectStore } from '../../../src/storage/index.ts';
import { TEST_KEYS, TEST_ROOT_KEY } from '../../support/start-app.ts';
import { deliveredObjects, uniqueName } from './firehose-support.ts';

const repoRoot = join(import.meta.dirname, '..', '..', '..');
const children: ChildProcess[] = [];
const dataDirs: string[] = [];
let redis: Redis;
let store: S3ObjectStore;

beforeAll(async () => {
  redis = new Redis(inject('redisUrl'));
  const s3 = inject('s3');
  store = new S3ObjectStore({
    endpoint: s3.endpoint,
    accessKey: s3.accessKey,
    secretKey: s3.secretKey,
    bucket: s3.bucket,
    region: s3.region,
  });
  await store.start();
});
afterAll(async () => {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      await exited;
    }
  }
  redis?.disconnect();
  await store?.stop();
  for (const dir of dataDirs) await rm(dir, { recursive: true, force: true });
});

/**
 * `streamgate serve` as a separate process on the run's Redis and S3 server. Each has its own data
 * dir, so the second is another replica (another consumer name) that must take the records over.
 */
async function startGateway(
  options: { dataDir?: string; claimIdleMs?: number } = {},
): Promise<{ child: ChildProcess; client: FirehoseClient; dataDir: string }> {
  const s3 = inject('s3');
  const dataDir = options.dataDir ?? (await mkdtemp(join(tmpdir(), 'streamgate-firehose-crash-')));
  if (!dataDirs.includes(dataDir)) dataDirs.push(dataDir);
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'serve'], {
    cwd: repoRoot,
    env: {
      PATH: process.env.PATH,
      STREAMGATE_HOST: '127.0.0.1',
      STREAMGATE_HTTP_PORT: '0',
      STREAMGATE_RTMP_PORT: 'off',
      STREAMGATE_DATA_DIR: dataDir,
      STREAMGATE_REDIS_URL: inject('redisUrl'),
      STREAMGATE_ACCESS_KEYS: `${TEST_KEYS.accessKeyId}:${TEST_KEYS.secretAccessKey}`,
      STREAMGATE_KMS_ROOT_KEY: TEST_ROOT_KEY,
      STREAMGATE_S3_ENDPOINT: s3.endpoint,
      STREAMGATE_S3_ACCESS_KEY: s3.accessKey,
      STREAMGATE_S3_SECRET_KEY: s3.secretKey,
      STREAMGATE_S3_BUCKET: s3.bucket,
      STREAMGATE_S3_REGION: s3.region,
      STREAMGATE_FIREHOSE_CLAIM_IDLE_MS: String(options.claimIdleMs ?? 1000),
      STREAMGATE_LOG_LEVEL: 'info',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(child);
  const port = await portFromLog(child, /"httpPort":(\d+)/, 'streamgate');
  const client = new FirehoseClient({
    endpoint: `http://127.0.0.1:${port}`,
    region: 'us-east-1',
    credentials: TEST_KEYS,
    maxAttempts: 1,
  });
  return { child, client, dataDir };
}

/** Creates an encrypted delivery stream that holds everything, puts 5,000 records, waits until the worker holds them all. */
async function fillAndHold(client: FirehoseClient, name: string, bucket: string): Promise<string[]> {
  await client.send(
    new CreateDeliveryStreamCommand({
      DeliveryStreamName: name,
      DeliveryStreamEncryptionConfigurationInput: { KeyType: 'AWS_OWNED_CMK' },
      ExtendedS3DestinationConfiguration: {
        RoleARN: 'arn:aws:iam::000000000000:role/firehose',
        BucketARN: `arn:aws:s3:::${bucket}`,
        BufferingHints: { SizeInMBs: 128, IntervalInSeconds: 900 },
      },
    }),
  );
  const acknowledged: string[] = [];
  for (let batch = 0; batch < 10; batch++) {
    const records = Array.from({ length: 500 }, (_, k) => `${name}-record-${batch * 500 + k}\n`);
    const put = await client.send(
      new PutRecordBatchCommand({
        DeliveryStreamName: name,
        Records: records.map((r) => ({ Data: Buffer.from(r) })),
      }),
    );
    put.RequestResponses?.forEach((response, k) => {
      if (response.RecordId) acknowledged.push(records[k] as string);
    });
  }
  // The worker holds every record (read through the group, pending, not delivered) when it dies.
  const buffer = `firehose:{fh:${name}}:buffer`;
  await expect
    .poll(async () => ((await redis.xpending(buffer, 'delivery')) as [number])[0], { timeout: 20_000 })
    .toBe(5_000);
  return acknowledged;
}

async function kill(child: ChildProcess, client: FirehoseClient): Promise<void> {
  const killed = once(child, 'exit');
  child.kill('SIGKILL');
  await killed;
  client.destroy();
}

/** Shortens the interval so the survivor flushes now, then checks every acknowledged record arrived. */
async function expectAllDelivered(
  client: FirehoseClient,
  name: string,
  bucket: string,
  acknowledged: string[],
) {
  await client.send(
    new UpdateDestinationCommand({
      DeliveryStreamName: name,
      CurrentDeliveryStreamVersionId: '1',
      DestinationId: 'destinationId-000000000001',
      ExtendedS3DestinationUpdate: { BufferingHints: { SizeInMBs: 1, IntervalInSeconds: 1 } },
    }),
  );
  const delivered = async () =>
    Buffer.concat((await deliveredObjects(store, bucket)).map((o) => o.body))
      .toString()
      .split('\n')
      .filter((l) => l !== '');
  await expect
    .poll(async () => new Set(await delivered()).size, { timeout: 30_000 })
    .toBe(acknowledged.length);
  const lines = await delivered();
  const unique = new Set(lines);
  for (const record of acknowledged) expect(unique.has(record.trimEnd())).toBe(true);
  console.warn(
    `firehose crash test ${name}: ${acknowledged.length} acknowledged, ${lines.length} delivered, ${lines.length - unique.size} duplicates`,
  );
  // Acknowledged (XACK + XDEL) right after the objects were written.
  await expect.poll(() => redis.xlen(`firehose:{fh:${name}}:buffer`), { timeout: 10_000 }).toBe(0);
}

describe('a gateway killed mid-buffer', () => {
  it('loses no acknowledged record: another replica takes them over (duplicates allowed and counted)', async () => {
    const name = uniqueName('crash');
    const bucket = uniqueName('bucket');
    const first = await startGateway();
    const acknowledged = await fillAndHold(first.client, name, bucket);
    expect(acknowledged).toHaveLength(5_000);
    await kill(first.child, first.client);
    const second = await startGateway();
    await expectAllDelivered(second.client, name, bucket, acknowledged);
    second.client.destroy();
  });

  it('loses no acknowledged record: the same replica restarted takes them back without waiting', async () => {
    const name = uniqueName('restart');
    const bucket = uniqueName('bucket');
    // A takeover by another replica would need 10 minutes of silence: only the own-pending path can pass.
    const first = await startGateway({ claimIdleMs: 600_000 });
    const acknowledged = await fillAndHold(first.client, name, bucket);
    await kill(first.child, first.client);
    const second = await startGateway({ dataDir: first.dataDir, claimIdleMs: 600_000 });
    await expectAllDelivered(second.client, name, bucket, acknowledged);
    second.client.destroy();
  });
});

import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  CreateDeliveryStreamCommand,
  type FirehoseClient,
  PutRecordBatchCommand,
} from '@aws-sdk/client-firehose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningApp, startApp } from '../../support/start-app.ts';
import { deliveredObjects, firehoseClient, uniqueName } from './firehose-support.ts';

// Two replicas on one Redis and one S3 server, as `docker compose` runs them, with a short takeover
// time so a worker that stopped renewing would lose its records quickly.
const replicas: RunningApp[] = [];
const clients: FirehoseClient[] = [];
beforeAll(async () => {
  for (let i = 0; i < 2; i++) {
    const app = await startApp({
      objectStore: 's3',
      env: { STREAMGATE_FIREHOSE_CLAIM_IDLE_MS: '1000' },
      overrides: { firehosePollMs: 50, firehoseRetryBaseMs: 50 },
    });
    replicas.push(app);
    clients.push(firehoseClient(app.endpoint));
  }
});
afterAll(async () => {
  for (const client of clients) client.destroy();
  for (const app of replicas) await app.stop();
});

describe('two replicas', () => {
  it('share one delivery stream: records put through either are delivered once', async () => {
    const [a, b] = clients as [FirehoseClient, FirehoseClient];
    const name = uniqueName('shared');
    const bucket = uniqueName('bucket');
    await a.send(
      new CreateDeliveryStreamCommand({
        DeliveryStreamName: name,
        ExtendedS3DestinationConfiguration: {
          RoleARN: 'arn:aws:iam::000000000000:role/firehose',
          BucketARN: `arn:aws:s3:::${bucket}`,
          BufferingHints: { SizeInMBs: 1, IntervalInSeconds: 1 },
        },
      }),
    );
    const expected: string[] = [];
    for (let batch = 0; batch < 20; batch++) {
      const records = Array.from({ length: 500 }, (_, k) => `r${batch * 500 + k}\n`);
      expected.push(...records);
      const client = batch % 2 === 0 ? a : b;
      const put = await client.send(
        new PutRecordBatchCommand({
          DeliveryStreamName: name,
          Records: records.map((r) => ({ Data: Buffer.from(r) })),
        }),
      );
      expect(put.FailedPutCount).toBe(0);
    }
    const lines = async () =>
      Buffer.concat(
        (await deliveredObjects((replicas[0] as RunningApp).app.objectStore, bucket)).map((o) => o.body),
      )
        .toString()
        .split('\n')
        .filter((l) => l !== '');
    await expect
      .poll(async () => (await lines()).length, { timeout: 30_000 })
      .toBeGreaterThanOrEqual(expected.length);
    const delivered = await lines();
    expect([...delivered].sort()).toEqual(expected.map((r) => r.trimEnd()).sort());
  });
});

describe('a long delivery', () => {
  it('keeps its records: a worker retrying an HTTP endpoint renews them, so no other replica posts them', async () => {
    const requestIds: string[] = [];
    const started = Date.now();
    const receiver: Server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const { requestId } = JSON.parse(Buffer.concat(chunks).toString()) as { requestId: string };
        requestIds.push(requestId);
        // Down for longer than several takeover periods (1 s), then up.
        const status = Date.now() - started < 3_500 ? 503 : 200;
        res
          .writeHead(status, { 'content-type': 'application/json' })
          .end(JSON.stringify({ requestId, timestamp: Date.now() }));
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    try {
      const name = uniqueName('long-http');
      const [a] = clients as [FirehoseClient];
      await a.send(
        new CreateDeliveryStreamCommand({
          DeliveryStreamName: name,
          HttpEndpointDestinationConfiguration: {
            EndpointConfiguration: { Url: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/` },
            BufferingHints: { SizeInMBs: 1, IntervalInSeconds: 0 },
            RetryOptions: { DurationInSeconds: 60 },
            S3Configuration: {
              RoleARN: 'arn:aws:iam::000000000000:role/firehose',
              BucketARN: `arn:aws:s3:::${uniqueName('bucket')}`,
            },
          },
        }),
      );
      await a.send(
        new PutRecordBatchCommand({ DeliveryStreamName: name, Records: [{ Data: Buffer.from('once') }] }),
      );
      await expect
        .poll(() => Date.now() - started > 3_500 && requestIds.length > 0, { timeout: 20_000 })
        .toBe(true);
      await expect.poll(() => redisLength(name), { timeout: 20_000 }).toBe(0);
      expect(new Set(requestIds).size).toBe(1);
    } finally {
      await new Promise((resolve) => receiver.close(resolve));
    }
  });
});

function redisLength(name: string): Promise<number> {
  return (replicas[0] as RunningApp).app.redis.client.xlen(`firehose:{fh:${name}}:buffer`);
}

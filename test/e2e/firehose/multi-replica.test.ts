import {
  CreateDeliveryStreamCommand,
  type FirehoseClient,
  PutRecordBatchCommand,
} from '@aws-sdk/client-firehose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningApp, startApp } from '../../support/start-app.ts';
import { deliveredObjects, firehoseClient, uniqueName } from './firehose-support.ts';

// Two replicas on one Redis and one S3 server, as `docker compose` runs them.
const replicas: RunningApp[] = [];
const clients: FirehoseClient[] = [];
beforeAll(async () => {
  for (let i = 0; i < 2; i++) {
    const app = await startApp({ objectStore: 's3', overrides: { firehosePollMs: 50 } });
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

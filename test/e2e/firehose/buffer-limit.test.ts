import {
  CreateDeliveryStreamCommand,
  type FirehoseClient,
  PutRecordBatchCommand,
} from '@aws-sdk/client-firehose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningApp, startApp } from '../../support/start-app.ts';
import { firehoseClient, uniqueName } from './firehose-support.ts';

let gateway: RunningApp;
let firehose: FirehoseClient;
beforeAll(async () => {
  gateway = await startApp({ env: { STREAMGATE_FIREHOSE_MAX_BUFFER_BYTES: String(1024 * 1024) } });
  firehose = firehoseClient(gateway.endpoint);
});
afterAll(async () => {
  firehose?.destroy();
  await gateway?.stop();
});

describe('the buffer limit', () => {
  it('answers ServiceUnavailableException (503) once a delivery stream holds STREAMGATE_FIREHOSE_MAX_BUFFER_BYTES', async () => {
    const name = uniqueName('full');
    await firehose.send(
      new CreateDeliveryStreamCommand({
        DeliveryStreamName: name,
        ExtendedS3DestinationConfiguration: {
          RoleARN: 'arn:aws:iam::000000000000:role/firehose',
          BucketARN: 'arn:aws:s3:::full',
          // Nothing is delivered during the test: the buffer only grows.
          BufferingHints: { SizeInMBs: 128, IntervalInSeconds: 900 },
        },
      }),
    );
    const batch = {
      DeliveryStreamName: name,
      Records: Array.from({ length: 6 }, () => ({ Data: Buffer.alloc(100_000) })),
    };
    expect((await firehose.send(new PutRecordBatchCommand(batch))).FailedPutCount).toBe(0);
    const refused = (await firehose.send(new PutRecordBatchCommand(batch)).catch((e: unknown) => e)) as {
      name: string;
      message: string;
      $metadata: { httpStatusCode?: number };
    };
    expect(refused.name).toBe('ServiceUnavailableException');
    expect(refused.message).toBe('Slow down.');
    expect(refused.$metadata.httpStatusCode).toBe(503);
  });
});

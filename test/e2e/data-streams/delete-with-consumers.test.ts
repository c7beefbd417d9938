import { randomBytes } from 'node:crypto';
import {
  CreateStreamCommand,
  DeleteStreamCommand,
  DescribeStreamSummaryCommand,
  KinesisClient,
  ListStreamConsumersCommand,
  RegisterStreamConsumerCommand,
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

describe('DeleteStream with registered consumers', () => {
  it('counts consumers, refuses deletion without EnforceConsumerDeletion, and removes them with it', async () => {
    const StreamName = `consumed-${randomBytes(3).toString('hex')}`;
    await kinesis.send(new CreateStreamCommand({ StreamName, ShardCount: 1 }));
    const { StreamDescriptionSummary } = await kinesis.send(new DescribeStreamSummaryCommand({ StreamName }));
    const StreamARN = StreamDescriptionSummary?.StreamARN;
    await kinesis.send(new RegisterStreamConsumerCommand({ StreamARN, ConsumerName: 'analytics' }));
    const summary = await kinesis.send(new DescribeStreamSummaryCommand({ StreamName }));
    expect(summary.StreamDescriptionSummary?.ConsumerCount).toBe(1);

    const refused = await kinesis.send(new DeleteStreamCommand({ StreamName })).catch((e: Error) => e);
    expect((refused as Error).name).toBe('ResourceInUseException');
    await kinesis.send(new DeleteStreamCommand({ StreamName, EnforceConsumerDeletion: true }));

    await kinesis.send(new CreateStreamCommand({ StreamName, ShardCount: 1 }));
    const { Consumers } = await kinesis.send(new ListStreamConsumersCommand({ StreamARN }));
    expect(Consumers).toEqual([]);
  });
});

import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import {
  CreateDeliveryStreamCommand,
  type FirehoseClient,
  PutRecordBatchCommand,
  UpdateDestinationCommand,
} from '@aws-sdk/client-firehose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningApp, startApp } from '../../support/start-app.ts';
import { deliveredObjects, errorLines, firehoseClient, uniqueName } from './firehose-support.ts';

interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  body: { requestId: string; timestamp: number; records: Array<{ data: string }> };
}

let gateway: RunningApp;
let firehose: FirehoseClient;
let receiver: Server;
let receiverUrl: string;
const received: Received[] = [];
/** Per path: how many more requests to refuse (Infinity = always). */
const refusals = new Map<string, number>();

beforeAll(async () => {
  receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      const json = req.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw;
      const body = JSON.parse(json.toString()) as Received['body'];
      const path = req.url ?? '/';
      received.push({ path, headers: req.headers, body });
      const left = refusals.get(path) ?? 0;
      if (left > 0) {
        refusals.set(path, left - 1);
        res.writeHead(503, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ requestId: body.requestId, timestamp: Date.now(), errorMessage: 'busy' }));
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ requestId: body.requestId, timestamp: Date.now() }));
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
  gateway = await startApp({ objectStore: 's3', overrides: { firehoseRetryBaseMs: 20 } });
  firehose = firehoseClient(gateway.endpoint);
});
afterAll(async () => {
  firehose?.destroy();
  await gateway?.stop();
  await new Promise((resolve) => receiver?.close(resolve));
});

async function createHttpStream(name: string, path: string, bucket: string, retrySeconds: number) {
  await firehose.send(
    new CreateDeliveryStreamCommand({
      DeliveryStreamName: name,
      HttpEndpointDestinationConfiguration: {
        EndpointConfiguration: { Url: `${receiverUrl}${path}`, Name: 'receiver', AccessKey: 'secret-key' },
        BufferingHints: { SizeInMBs: 1, IntervalInSeconds: 1 },
        RequestConfiguration: {
          ContentEncoding: 'GZIP',
          CommonAttributes: [{ AttributeName: 'env', AttributeValue: 'test' }],
        },
        RetryOptions: { DurationInSeconds: retrySeconds },
        S3BackupMode: 'FailedDataOnly',
        S3Configuration: {
          RoleARN: 'arn:aws:iam::000000000000:role/firehose',
          BucketARN: `arn:aws:s3:::${bucket}`,
        },
      },
    }),
  );
}

const records = Array.from({ length: 20 }, (_, i) => `{"event":${i}}`);
const put = (name: string) =>
  firehose.send(
    new PutRecordBatchCommand({
      DeliveryStreamName: name,
      Records: records.map((r) => ({ Data: Buffer.from(r) })),
    }),
  );

describe('HttpEndpoint destination', () => {
  it('retries a failing receiver with the same request id, then delivers', async () => {
    const name = uniqueName('http-ok');
    refusals.set('/flaky', 2);
    await createHttpStream(name, '/flaky', uniqueName('bucket'), 60);
    expect((await put(name)).FailedPutCount).toBe(0);

    await expect.poll(() => received.filter((r) => r.path === '/flaky').length, { timeout: 20_000 }).toBe(3);
    const attempts = received.filter((r) => r.path === '/flaky');
    expect(new Set(attempts.map((a) => a.body.requestId)).size).toBe(1);
    const last = attempts[2] as Received;
    expect(last.headers['x-amz-firehose-request-id']).toBe(last.body.requestId);
    expect(last.headers['x-amz-firehose-access-key']).toBe('secret-key');
    expect(JSON.parse(String(last.headers['x-amz-firehose-common-attributes']))).toEqual({
      commonAttributes: { env: 'test' },
    });
    expect(last.headers['content-encoding']).toBe('gzip');
    expect(last.body.records.map((r) => Buffer.from(r.data, 'base64').toString())).toEqual(records);
  });

  it('keeps the AccessKey when UpdateDestination changes only RetryOptions', async () => {
    const name = uniqueName('http-update');
    await createHttpStream(name, '/updated', uniqueName('bucket'), 60);
    await firehose.send(
      new UpdateDestinationCommand({
        DeliveryStreamName: name,
        CurrentDeliveryStreamVersionId: '1',
        DestinationId: 'destinationId-000000000001',
        HttpEndpointDestinationUpdate: { RetryOptions: { DurationInSeconds: 120 } },
      }),
    );
    expect((await put(name)).FailedPutCount).toBe(0);

    await expect
      .poll(() => received.filter((r) => r.path === '/updated').length, { timeout: 20_000 })
      .toBe(1);
    const [delivery] = received.filter((r) => r.path === '/updated');
    expect(delivery?.headers['x-amz-firehose-access-key']).toBe('secret-key');
  });

  it('sends records to the S3 backup once the retry duration is over', async () => {
    const name = uniqueName('http-down');
    const bucket = uniqueName('bucket');
    refusals.set('/down', Number.POSITIVE_INFINITY);
    await createHttpStream(name, '/down', bucket, 1);
    expect((await put(name)).FailedPutCount).toBe(0);

    await expect
      .poll(async () => (await deliveredObjects(gateway.app.objectStore, bucket)).length, { timeout: 20_000 })
      .toBe(1);
    const [object] = await deliveredObjects(gateway.app.objectStore, bucket);
    expect(object?.key).toMatch(/^http-endpoint-failed\/\d{4}\/\d{2}\/\d{2}\/\d{2}\//);
    const lines = errorLines(object ? [object] : []);
    expect(lines.map((l) => Buffer.from(String(l.rawData), 'base64').toString())).toEqual(records);
    expect(lines[0]).toMatchObject({ errorCode: 'HttpEndpoint.ResponseCode' });
    expect(Number(lines[0]?.attemptsMade)).toBeGreaterThan(1);
  });
});

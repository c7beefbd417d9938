import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  CreateDeliveryStreamCommand,
  type FirehoseClient,
  PutRecordBatchCommand,
} from '@aws-sdk/client-firehose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningApp, startApp } from '../../support/start-app.ts';
import { deliveredObjects, errorLines, firehoseClient, uniqueName } from './firehose-support.ts';

interface TransformEvent {
  invocationId: string;
  deliveryStreamArn: string;
  region: string;
  records: Array<{ recordId: string; approximateArrivalTimestamp: number; data: string }>;
}

let gateway: RunningApp;
let firehose: FirehoseClient;
let transform: Server;
let transformUrl: string;
const invocations: TransformEvent[] = [];
let refusalsLeft = 2;

beforeAll(async () => {
  // A Lambda-style transform: drops multiples of 5, fails multiples of 7, rewrites the rest. It
  // answers 500 to its first two invocations so the gateway's retries show.
  transform = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (refusalsLeft > 0) {
        refusalsLeft--;
        res.writeHead(500).end('cold start');
        return;
      }
      const event = JSON.parse(Buffer.concat(chunks).toString()) as TransformEvent;
      invocations.push(event);
      const records = event.records.map((r) => {
        const { n } = JSON.parse(Buffer.from(r.data, 'base64').toString()) as { n: number };
        if (n % 5 === 0) return { recordId: r.recordId, result: 'Dropped', data: r.data };
        if (n % 7 === 0) return { recordId: r.recordId, result: 'ProcessingFailed', data: r.data };
        return {
          recordId: r.recordId,
          result: 'Ok',
          data: Buffer.from(`{"n":${n},"seen":true}`).toString('base64'),
        };
      });
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ records }));
    });
  });
  await new Promise<void>((resolve) => transform.listen(0, '127.0.0.1', resolve));
  transformUrl = `http://127.0.0.1:${(transform.address() as AddressInfo).port}/transform`;
  gateway = await startApp({ objectStore: 's3', overrides: { firehoseRetryBaseMs: 20 } });
  firehose = firehoseClient(gateway.endpoint);
});
afterAll(async () => {
  firehose?.destroy();
  await gateway?.stop();
  await new Promise((resolve) => transform?.close(resolve));
});

describe('ProcessingConfiguration with an HTTP Lambda-style transform', () => {
  it('delivers rewritten records, drops dropped ones, writes failed ones to the error output and backs up the source', async () => {
    const name = uniqueName('transform');
    const bucket = uniqueName('bucket');
    await firehose.send(
      new CreateDeliveryStreamCommand({
        DeliveryStreamName: name,
        ExtendedS3DestinationConfiguration: {
          RoleARN: 'arn:aws:iam::000000000000:role/firehose',
          BucketARN: `arn:aws:s3:::${bucket}`,
          Prefix: 'out/',
          ErrorOutputPrefix: 'failed/!{firehose:error-output-type}/!{timestamp:yyyy}/',
          BufferingHints: { SizeInMBs: 1, IntervalInSeconds: 1 },
          ProcessingConfiguration: {
            Enabled: true,
            Processors: [
              {
                Type: 'Lambda',
                Parameters: [
                  { ParameterName: 'LambdaArn', ParameterValue: transformUrl },
                  { ParameterName: 'NumberOfRetries', ParameterValue: '3' },
                ],
              },
              {
                Type: 'AppendDelimiterToRecord',
                Parameters: [{ ParameterName: 'Delimiter', ParameterValue: '\\n' }],
              },
            ],
          },
          S3BackupMode: 'Enabled',
          S3BackupConfiguration: {
            RoleARN: 'arn:aws:iam::000000000000:role/firehose',
            BucketARN: `arn:aws:s3:::${bucket}`,
            Prefix: 'source/',
          },
        },
      }),
    );
    const count = 300;
    const source = Array.from({ length: count }, (_, n) => `{"n":${n}}`);
    const put = await firehose.send(
      new PutRecordBatchCommand({
        DeliveryStreamName: name,
        Records: source.map((s) => ({ Data: Buffer.from(s) })),
      }),
    );
    expect(put.FailedPutCount).toBe(0);

    const numbers = Array.from({ length: count }, (_, n) => n);
    const expectedOk = numbers
      .filter((n) => n % 5 !== 0 && n % 7 !== 0)
      .map((n) => `{"n":${n},"seen":true}\n`);
    const expectedFailed = numbers.filter((n) => n % 5 !== 0 && n % 7 === 0).map((n) => `{"n":${n}}`);
    await expect
      .poll(async () => (await deliveredObjects(gateway.app.objectStore, bucket, 'failed/')).length, {
        timeout: 30_000,
      })
      .toBeGreaterThan(0);
    await expect
      .poll(
        async () =>
          Buffer.concat(
            (await deliveredObjects(gateway.app.objectStore, bucket, 'out/')).map((o) => o.body),
          ).toString(),
        {
          timeout: 30_000,
        },
      )
      .toBe(expectedOk.join(''));

    const failed = await deliveredObjects(gateway.app.objectStore, bucket, 'failed/');
    expect(failed.every((o) => /^failed\/processing-failed\/\d{4}\//.test(o.key))).toBe(true);
    const lines = errorLines(failed);
    expect(lines.map((l) => Buffer.from(String(l.rawData), 'base64').toString())).toEqual(expectedFailed);
    expect(lines[0]).toMatchObject({
      errorCode: 'Lambda.ProcessingFailed',
      lambdaArn: transformUrl,
      attemptsMade: 3,
    });

    const backup = await deliveredObjects(gateway.app.objectStore, bucket, 'source/');
    expect(Buffer.concat(backup.map((o) => o.body)).toString()).toBe(source.join(''));
    expect(backup[0]?.key).toMatch(/^source\/\d{4}\/\d{2}\/\d{2}\/\d{2}\//);

    const metrics = await (await fetch(`${gateway.endpoint}/metrics`)).text();
    const series = (outcome: string) =>
      `streamgate_firehose_execute_processing_success_total{delivery_stream="${name}",outcome="${outcome}"}`;
    expect(metrics).toContain(`${series('ok')} ${expectedOk.length}`);
    expect(metrics).toContain(`${series('dropped')} ${count / 5}`);
    expect(metrics).toContain(`${series('failed')} ${expectedFailed.length}`);

    expect(invocations[0]).toMatchObject({
      deliveryStreamArn: `arn:aws:firehose:us-east-1:000000000000:deliverystream/${name}`,
      region: 'us-east-1',
    });
    expect(typeof invocations[0]?.records[0]?.approximateArrivalTimestamp).toBe('number');
  });
});

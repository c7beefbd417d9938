import {
  CreateDeliveryStreamCommand,
  DeleteDeliveryStreamCommand,
  DescribeDeliveryStreamCommand,
  type FirehoseClient,
  ListDeliveryStreamsCommand,
  PutRecordBatchCommand,
} from '@aws-sdk/client-firehose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningApp, startApp } from '../../support/start-app.ts';
import { deliveredObjects, firehoseClient, gunzipAll, uniqueName } from './firehose-support.ts';

let gateway: RunningApp;
let firehose: FirehoseClient;
// The gateway's clock (arrival times, buffering intervals) stands still until the test moves it, so
// only size can flush while records are put, and the interval flush happens exactly when asked.
let nowMs = Date.now();
beforeAll(async () => {
  gateway = await startApp({ objectStore: 's3', overrides: { clock: { now: () => nowMs } } });
  firehose = firehoseClient(gateway.endpoint);
});
afterAll(async () => {
  firehose?.destroy();
  await gateway?.stop();
});

describe('DirectPut to ExtendedS3 with GZIP', () => {
  it('delivers 100,000 JSON records exactly, in order per producer, flushing by size and by interval', async () => {
    const name = uniqueName('gz');
    const bucket = uniqueName('bucket');
    const created = await firehose.send(
      new CreateDeliveryStreamCommand({
        DeliveryStreamName: name,
        DeliveryStreamType: 'DirectPut',
        ExtendedS3DestinationConfiguration: {
          RoleARN: 'arn:aws:iam::000000000000:role/firehose',
          BucketARN: `arn:aws:s3:::${bucket}`,
          Prefix: "data/dt=!{timestamp:yyyy'-'MM'-'dd}/h=!{timestamp:HH}/",
          ErrorOutputPrefix: 'errors/!{firehose:error-output-type}/',
          BufferingHints: { SizeInMBs: 1, IntervalInSeconds: 2 },
          CompressionFormat: 'GZIP',
        },
      }),
    );
    expect(created.DeliveryStreamARN).toBe(`arn:aws:firehose:us-east-1:000000000000:deliverystream/${name}`);
    const described = await firehose.send(new DescribeDeliveryStreamCommand({ DeliveryStreamName: name }));
    expect(described.DeliveryStreamDescription?.DeliveryStreamStatus).toBe('ACTIVE');
    expect(described.DeliveryStreamDescription?.VersionId).toBe('1');
    const listed = await firehose.send(new ListDeliveryStreamsCommand({ Limit: 10_000 }));
    expect(listed.DeliveryStreamNames).toContain(name);

    const producers = 4;
    const perProducer = 25_000;
    const inputs: string[][] = [];
    await Promise.all(
      Array.from({ length: producers }, async (_, p) => {
        const lines: string[] = [];
        inputs[p] = lines;
        for (let start = 0; start < perProducer; start += 500) {
          const batch = Array.from(
            { length: 500 },
            (_, k) => `${JSON.stringify({ producer: p, seq: start + k, pad: 'x'.repeat(20) })}\n`,
          );
          lines.push(...batch);
          const put = await firehose.send(
            new PutRecordBatchCommand({
              DeliveryStreamName: name,
              Records: batch.map((line) => ({ Data: Buffer.from(line) })),
            }),
          );
          expect(put.FailedPutCount).toBe(0);
          expect(put.RequestResponses?.every((r) => typeof r.RecordId === 'string')).toBe(true);
        }
      }),
    );
    const expectedBytes = inputs.flat().reduce((n, l) => n + Buffer.byteLength(l), 0);
    const MiB = 1024 * 1024;
    const deliveredBytes = async () =>
      gunzipAll(await deliveredObjects(gateway.app.objectStore, bucket)).length;
    // Size flushes only: everything but a remainder smaller than SizeInMBs goes out.
    await expect
      .poll(async () => expectedBytes - (await deliveredBytes()) < MiB, { timeout: 60_000, interval: 250 })
      .toBe(true);
    const bySize = await deliveredObjects(gateway.app.objectStore, bucket);
    expect(bySize.length).toBeGreaterThanOrEqual(Math.floor(expectedBytes / MiB) - 1);
    expect(bySize.every((o) => gunzipAll([o]).length >= MiB)).toBe(true);
    // The interval flush: once the clock passes IntervalInSeconds, the remainder is delivered.
    nowMs += 2_500;
    await expect.poll(deliveredBytes, { timeout: 30_000, interval: 250 }).toBe(expectedBytes);
    const objects = await deliveredObjects(gateway.app.objectStore, bucket);
    expect(objects).toHaveLength(bySize.length + 1);
    expect(gunzipAll(objects.slice(-1)).length).toBeLessThan(MiB);
    for (const o of objects) {
      expect(o.key).toMatch(
        new RegExp(
          `^data/dt=\\d{4}-\\d{2}-\\d{2}/h=\\d{2}/${name}-1-\\d{4}-\\d{2}-\\d{2}-\\d{2}-\\d{2}-\\d{2}-[0-9a-f-]{36}\\.gz$`,
        ),
      );
    }

    const delivered = gunzipAll(objects)
      .toString()
      .split('\n')
      .filter((l) => l !== '');
    expect(delivered).toHaveLength(producers * perProducer);
    for (let p = 0; p < producers; p++) {
      const mine = delivered.filter((l) => l.startsWith(`{"producer":${p},`)).map((l) => `${l}\n`);
      expect(mine).toEqual(inputs[p]);
    }
    const metrics = await (await fetch(`${gateway.endpoint}/metrics`)).text();
    const label = `{delivery_stream="${name}"}`;
    expect(metrics).toContain(
      `streamgate_firehose_incoming_records_total${label} ${producers * perProducer}`,
    );
    expect(metrics).toContain(`streamgate_firehose_incoming_bytes_total${label} ${expectedBytes}`);
    expect(metrics).toContain(
      `streamgate_firehose_delivery_to_s3_records_total${label} ${producers * perProducer}`,
    );
    expect(metrics).toContain(
      `streamgate_firehose_delivery_to_s3_success_total{delivery_stream="${name}",outcome="success"} ${objects.length}`,
    );
    expect(metrics).toMatch(
      new RegExp(
        `streamgate_firehose_delivery_to_s3_data_freshness_seconds\\{delivery_stream="${name}"\\} \\d`,
      ),
    );

    await firehose.send(new DeleteDeliveryStreamCommand({ DeliveryStreamName: name }));
    const gone = await firehose.send(new ListDeliveryStreamsCommand({ Limit: 10_000 }));
    expect(gone.DeliveryStreamNames).not.toContain(name);
  });
});

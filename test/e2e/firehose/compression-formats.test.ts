import { inflateRawSync } from 'node:zlib';
import {
  CreateDeliveryStreamCommand,
  type FirehoseClient,
  PutRecordBatchCommand,
} from '@aws-sdk/client-firehose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningApp, startApp } from '../../support/start-app.ts';
import { snappyDecodeBlock, snappyDecodeFramed } from '../../unit/firehose/snappy-reader.ts';
import { deliveredObjects, firehoseClient, uniqueName } from './firehose-support.ts';

let gateway: RunningApp;
let firehose: FirehoseClient;
beforeAll(async () => {
  gateway = await startApp();
  firehose = firehoseClient(gateway.endpoint);
});
afterAll(async () => {
  firehose?.destroy();
  await gateway?.stop();
});

const records = Array.from({ length: 400 }, (_, i) => `{"i":${i},"text":"the same words again and again"}\n`);
const expected = records.join('');

/** Decodes one object body of a compression format back to the records. */
const decoders: Record<string, (body: Buffer) => Buffer> = {
  ZIP: (body) => {
    const nameLength = body.readUInt16LE(26);
    return inflateRawSync(body.subarray(30 + nameLength, 30 + nameLength + body.readUInt32LE(18)));
  },
  Snappy: (body) => snappyDecodeFramed(body).data,
  HADOOP_SNAPPY: (body) => {
    const parts: Buffer[] = [];
    for (let pos = 0; pos < body.length; pos += 8 + body.readUInt32BE(pos + 4)) {
      parts.push(snappyDecodeBlock(body.subarray(pos + 8, pos + 8 + body.readUInt32BE(pos + 4))));
    }
    return Buffer.concat(parts);
  },
};

describe('CompressionFormat on the filesystem object store', () => {
  it.each([
    ['ZIP', '.zip', undefined],
    ['Snappy', '.snappy', undefined],
    ['HADOOP_SNAPPY', '.hsn', '.hsn'],
  ] as const)('%s objects decode to the records, named with %s', async (format, extension, fileExtension) => {
    const name = uniqueName(format.toLowerCase().replace('_', '-'));
    const bucket = uniqueName('bucket');
    await firehose.send(
      new CreateDeliveryStreamCommand({
        DeliveryStreamName: name,
        ExtendedS3DestinationConfiguration: {
          RoleARN: 'arn:aws:iam::000000000000:role/firehose',
          BucketARN: `arn:aws:s3:::${bucket}`,
          BufferingHints: { SizeInMBs: 1, IntervalInSeconds: 1 },
          CompressionFormat: format,
          ...(fileExtension ? { FileExtension: fileExtension } : {}),
        },
      }),
    );
    await firehose.send(
      new PutRecordBatchCommand({
        DeliveryStreamName: name,
        Records: records.map((r) => ({ Data: Buffer.from(r) })),
      }),
    );
    await expect
      .poll(async () => (await deliveredObjects(gateway.app.objectStore, bucket)).length, { timeout: 20_000 })
      .toBe(1);
    const [object] = await deliveredObjects(gateway.app.objectStore, bucket);
    expect(object?.key.endsWith(extension)).toBe(true);
    expect(decoders[format]?.(object?.body ?? Buffer.alloc(0)).toString()).toBe(expected);
  });
});

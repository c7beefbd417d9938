import {
  CreateDeliveryStreamCommand,
  DescribeDeliveryStreamCommand,
  type FirehoseClient,
  PutRecordBatchCommand,
  UpdateDestinationCommand,
} from '@aws-sdk/client-firehose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningApp, startApp } from '../../support/start-app.ts';
import { deliveredObjects, errorLines, firehoseClient, gunzipAll, uniqueName } from './firehose-support.ts';

let gateway: RunningApp;
let firehose: FirehoseClient;
beforeAll(async () => {
  gateway = await startApp({ objectStore: 's3' });
  firehose = firehoseClient(gateway.endpoint);
});
afterAll(async () => {
  firehose?.destroy();
  await gateway?.stop();
});

const role = 'arn:aws:iam::000000000000:role/firehose';

describe('DynamicPartitioning with partitionKeyFromQuery', () => {
  it('writes one object per partition key value and sends unparsable records to the error output', async () => {
    const name = uniqueName('partitioned');
    const bucket = uniqueName('bucket');
    await firehose.send(
      new CreateDeliveryStreamCommand({
        DeliveryStreamName: name,
        ExtendedS3DestinationConfiguration: {
          RoleARN: role,
          BucketARN: `arn:aws:s3:::${bucket}`,
          Prefix: 'customer=!{partitionKeyFromQuery:customer}/kind=!{partitionKeyFromQuery:kind}/',
          ErrorOutputPrefix: 'errors/!{firehose:error-output-type}/',
          BufferingHints: { SizeInMBs: 64, IntervalInSeconds: 1 },
          DynamicPartitioningConfiguration: { Enabled: true },
          ProcessingConfiguration: {
            Enabled: true,
            Processors: [
              {
                Type: 'MetadataExtraction',
                Parameters: [
                  {
                    ParameterName: 'MetadataExtractionQuery',
                    ParameterValue: '{customer: .customer, kind: .event."kind"}',
                  },
                  { ParameterName: 'JsonParsingEngine', ParameterValue: 'JQ-1.6' },
                ],
              },
              {
                Type: 'AppendDelimiterToRecord',
                Parameters: [{ ParameterName: 'Delimiter', ParameterValue: '\\n' }],
              },
            ],
          },
        },
      }),
    );
    const described = await firehose.send(new DescribeDeliveryStreamCommand({ DeliveryStreamName: name }));
    expect(
      described.DeliveryStreamDescription?.Destinations?.[0]?.ExtendedS3DestinationDescription
        ?.DynamicPartitioningConfiguration,
    ).toMatchObject({ Enabled: true });

    const records = Array.from({ length: 60 }, (_, i) =>
      JSON.stringify({ customer: `c${i % 3}`, event: { kind: i % 2 === 0 ? 'click' : 'view' }, i }),
    );
    const bad = ['not json', JSON.stringify({ customer: 'c9' })];
    await firehose.send(
      new PutRecordBatchCommand({
        DeliveryStreamName: name,
        Records: [...records, ...bad].map((r) => ({ Data: Buffer.from(r) })),
      }),
    );

    await expect
      .poll(async () => (await deliveredObjects(gateway.app.objectStore, bucket)).length, { timeout: 20_000 })
      .toBe(7);
    const objects = await deliveredObjects(gateway.app.objectStore, bucket);
    for (let c = 0; c < 3; c++) {
      for (const kind of ['click', 'view']) {
        const mine = objects.filter((o) => o.key.startsWith(`customer=c${c}/kind=${kind}/`));
        expect(mine).toHaveLength(1);
        const expected = records.filter(
          (r) => r.includes(`"customer":"c${c}"`) && r.includes(`"kind":"${kind}"`),
        );
        expect(mine[0]?.body.toString()).toBe(expected.map((r) => `${r}\n`).join(''));
      }
    }
    const errors = objects.filter((o) => o.key.startsWith('errors/partitioning-failed/'));
    expect(errors).toHaveLength(1);
    const lines = errorLines(errors);
    expect(lines.map((l) => Buffer.from(String(l.rawData), 'base64').toString())).toEqual(bad);
    expect(lines[0]?.errorCode).toBe('DynamicPartitioning.MetadataExtractionFailed');
  });

  it('sends records whose partition values make invalid object keys to the error output and delivers the rest', async () => {
    const name = uniqueName('bad-keys');
    const bucket = uniqueName('bucket');
    await firehose.send(
      new CreateDeliveryStreamCommand({
        DeliveryStreamName: name,
        ExtendedS3DestinationConfiguration: {
          RoleARN: role,
          BucketARN: `arn:aws:s3:::${bucket}`,
          Prefix: 'data/!{partitionKeyFromQuery:customer}/',
          ErrorOutputPrefix: 'errors/!{firehose:error-output-type}/',
          BufferingHints: { SizeInMBs: 64, IntervalInSeconds: 1 },
          DynamicPartitioningConfiguration: { Enabled: true },
          ProcessingConfiguration: {
            Enabled: true,
            Processors: [
              {
                Type: 'MetadataExtraction',
                Parameters: [
                  { ParameterName: 'MetadataExtractionQuery', ParameterValue: '{customer: .customer}' },
                  { ParameterName: 'JsonParsingEngine', ParameterValue: 'JQ-1.6' },
                ],
              },
            ],
          },
        },
      }),
    );
    const good = [JSON.stringify({ customer: 'c1', i: 0 }), JSON.stringify({ customer: 'c1', i: 1 })];
    const bad = [
      JSON.stringify({ customer: '..' }),
      JSON.stringify({ customer: 'a\\b' }),
      JSON.stringify({ customer: 'tab\there' }),
      JSON.stringify({ customer: 'x'.repeat(1100) }),
    ];
    await firehose.send(
      new PutRecordBatchCommand({
        DeliveryStreamName: name,
        Records: [good[0], ...bad, good[1]].map((r) => ({ Data: Buffer.from(r as string) })),
      }),
    );

    await expect.poll(() => gateway.app.firehose.buffer.length(name), { timeout: 20_000 }).toBe(0);
    const objects = await deliveredObjects(gateway.app.objectStore, bucket);
    const delivered = objects.filter((o) => o.key.startsWith('data/'));
    expect(delivered.map((o) => [o.key.split('/')[1], o.body.toString()])).toEqual([['c1', good.join('')]]);
    const lines = errorLines(objects.filter((o) => o.key.startsWith('errors/partitioning-failed/')));
    expect(lines.map((l) => Buffer.from(String(l.rawData), 'base64').toString())).toEqual(bad);
    expect(new Set(lines.map((l) => l.errorCode))).toEqual(new Set(['DynamicPartitioning.InvalidObjectKey']));
  });

  it('keeps dynamic partitioning when UpdateDestination changes only CompressionFormat', async () => {
    const name = uniqueName('dp-update');
    const bucket = uniqueName('bucket');
    await firehose.send(
      new CreateDeliveryStreamCommand({
        DeliveryStreamName: name,
        ExtendedS3DestinationConfiguration: {
          RoleARN: role,
          BucketARN: `arn:aws:s3:::${bucket}`,
          Prefix: 'data/!{partitionKeyFromQuery:customer}/',
          ErrorOutputPrefix: 'errors/!{firehose:error-output-type}/',
          BufferingHints: { SizeInMBs: 64, IntervalInSeconds: 1 },
          DynamicPartitioningConfiguration: { Enabled: true },
          ProcessingConfiguration: {
            Enabled: true,
            Processors: [
              {
                Type: 'MetadataExtraction',
                Parameters: [
                  { ParameterName: 'MetadataExtractionQuery', ParameterValue: '{customer: .customer}' },
                  { ParameterName: 'JsonParsingEngine', ParameterValue: 'JQ-1.6' },
                ],
              },
            ],
          },
        },
      }),
    );
    await firehose.send(
      new UpdateDestinationCommand({
        DeliveryStreamName: name,
        CurrentDeliveryStreamVersionId: '1',
        DestinationId: 'destinationId-000000000001',
        ExtendedS3DestinationUpdate: { CompressionFormat: 'GZIP' },
      }),
    );
    const described = await firehose.send(new DescribeDeliveryStreamCommand({ DeliveryStreamName: name }));
    expect(
      described.DeliveryStreamDescription?.Destinations?.[0]?.ExtendedS3DestinationDescription,
    ).toMatchObject({ CompressionFormat: 'GZIP', DynamicPartitioningConfiguration: { Enabled: true } });

    const records = ['a', 'b', 'a'].map((customer, i) => JSON.stringify({ customer, i }));
    await firehose.send(
      new PutRecordBatchCommand({
        DeliveryStreamName: name,
        Records: records.map((r) => ({ Data: Buffer.from(r) })),
      }),
    );
    await expect
      .poll(async () => (await deliveredObjects(gateway.app.objectStore, bucket, 'data/')).length, {
        timeout: 20_000,
      })
      .toBe(2);
    const objects = await deliveredObjects(gateway.app.objectStore, bucket, 'data/');
    const a = objects.filter((o) => o.key.startsWith('data/a/'));
    expect(a.map((o) => o.key.endsWith('.gz'))).toEqual([true]);
    expect(gunzipAll(a).toString()).toBe(`${records[0]}${records[2]}`);
  });

  it('refuses prefixes that make invalid object keys', async () => {
    const create = (extra: Record<string, unknown>) =>
      firehose
        .send(
          new CreateDeliveryStreamCommand({
            DeliveryStreamName: uniqueName('bad-prefix'),
            ExtendedS3DestinationConfiguration: {
              RoleARN: role,
              BucketARN: 'arn:aws:s3:::prefix-bucket',
              ErrorOutputPrefix: 'e/',
              ...extra,
            },
          }),
        )
        .then(
          () => 'created',
          (e: Error) => e.name,
        );
    expect(await create({ Prefix: 'a\\b/' })).toBe('InvalidArgumentException');
    expect(await create({ Prefix: 'a/../b/' })).toBe('InvalidArgumentException');
    expect(await create({ Prefix: `${'p'.repeat(950)}/` })).toBe('InvalidArgumentException');
    expect(await create({ ErrorOutputPrefix: 'e\\rr/' })).toBe('InvalidArgumentException');
    expect(await create({ ErrorOutputPrefix: `${'e'.repeat(950)}/` })).toBe('InvalidArgumentException');
    expect(await create({ Prefix: `${'p'.repeat(700)}/` })).toBe('created');
  });

  it('refuses partition keys without dynamic partitioning and small buffers with it', async () => {
    const refused = await firehose
      .send(
        new CreateDeliveryStreamCommand({
          DeliveryStreamName: uniqueName('no-dp'),
          ExtendedS3DestinationConfiguration: {
            RoleARN: role,
            BucketARN: 'arn:aws:s3:::b',
            Prefix: '!{partitionKeyFromQuery:id}/',
            ErrorOutputPrefix: 'e/',
          },
        }),
      )
      .catch((e: Error) => e);
    expect((refused as Error).name).toBe('InvalidArgumentException');
    const small = await firehose
      .send(
        new CreateDeliveryStreamCommand({
          DeliveryStreamName: uniqueName('small'),
          ExtendedS3DestinationConfiguration: {
            RoleARN: role,
            BucketARN: 'arn:aws:s3:::b',
            Prefix: '!{partitionKeyFromQuery:id}/',
            ErrorOutputPrefix: 'e/',
            BufferingHints: { SizeInMBs: 5, IntervalInSeconds: 60 },
            DynamicPartitioningConfiguration: { Enabled: true },
          },
        }),
      )
      .catch((e: Error) => e);
    expect((small as Error).name).toBe('InvalidArgumentException');
  });
});

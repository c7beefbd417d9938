import {
  CreateDeliveryStreamCommand,
  DescribeDeliveryStreamCommand,
  type FirehoseClient,
  ListTagsForDeliveryStreamCommand,
  PutRecordBatchCommand,
  PutRecordCommand,
  StartDeliveryStreamEncryptionCommand,
  StopDeliveryStreamEncryptionCommand,
  TagDeliveryStreamCommand,
  UntagDeliveryStreamCommand,
  UpdateDestinationCommand,
} from '@aws-sdk/client-firehose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningApp, startApp } from '../../support/start-app.ts';
import { deliveredObjects, firehoseClient, uniqueName } from './firehose-support.ts';

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
const s3 = (bucket: string, extra: Record<string, unknown> = {}) => ({
  RoleARN: role,
  BucketARN: `arn:aws:s3:::${bucket}`,
  BufferingHints: { SizeInMBs: 1, IntervalInSeconds: 1 },
  ...extra,
});

/** The error a command fails with: its name, message and HTTP status. */
async function failure(
  promise: Promise<unknown>,
): Promise<{ name: string; message: string; status: number | undefined }> {
  const error = (await promise.then(
    () => undefined,
    (e: unknown) => e,
  )) as { name: string; message: string; $metadata?: { httpStatusCode?: number } } | undefined;
  if (!error) throw new Error('the command succeeded');
  return { name: error.name, message: error.message, status: error.$metadata?.httpStatusCode };
}

describe('hostile inputs get AWS errors', () => {
  it('rejects oversize records and batches, bad names, unknown streams and wrong versions', async () => {
    const name = uniqueName('hostile');
    await firehose.send(
      new CreateDeliveryStreamCommand({
        DeliveryStreamName: name,
        S3DestinationConfiguration: s3('hostile'),
      }),
    );

    const oversize = await failure(
      firehose.send(
        new PutRecordCommand({ DeliveryStreamName: name, Record: { Data: Buffer.alloc(1_024_001) } }),
      ),
    );
    expect(oversize).toMatchObject({ name: 'ValidationException', status: 400 });
    expect(oversize.message).toContain(
      "at 'record.data' failed to satisfy constraint: Member must have length less than or equal to 1024000",
    );

    const tooMany = await failure(
      firehose.send(
        new PutRecordBatchCommand({
          DeliveryStreamName: name,
          Records: Array.from({ length: 501 }, () => ({ Data: Buffer.from('x') })),
        }),
      ),
    );
    expect(tooMany).toMatchObject({ name: 'ValidationException', status: 400 });
    expect(tooMany.message).toContain(
      "at 'records' failed to satisfy constraint: Member must have length less than or equal to 500",
    );

    const tooBig = await failure(
      firehose.send(
        new PutRecordBatchCommand({
          DeliveryStreamName: name,
          Records: Array.from({ length: 5 }, () => ({ Data: Buffer.alloc(1_000_000) })),
        }),
      ),
    );
    expect(tooBig).toMatchObject({ name: 'InvalidArgumentException', status: 400 });

    const badName = await failure(
      firehose.send(
        new PutRecordCommand({ DeliveryStreamName: 'bad name!', Record: { Data: Buffer.from('x') } }),
      ),
    );
    expect(badName.name).toBe('ValidationException');
    expect(badName.message).toContain("at 'deliveryStreamName' failed to satisfy constraint");

    const unknown = await failure(
      firehose.send(
        new PutRecordCommand({ DeliveryStreamName: 'no-such-stream', Record: { Data: Buffer.from('x') } }),
      ),
    );
    expect(unknown).toMatchObject({ name: 'ResourceNotFoundException', status: 400 });
    expect(unknown.message).toBe('Firehose no-such-stream under account 000000000000 not found.');

    const again = await failure(
      firehose.send(
        new CreateDeliveryStreamCommand({
          DeliveryStreamName: name,
          S3DestinationConfiguration: s3('hostile'),
        }),
      ),
    );
    expect(again.name).toBe('ResourceInUseException');

    const badBucket = await failure(
      firehose.send(
        new CreateDeliveryStreamCommand({
          DeliveryStreamName: uniqueName('bad-bucket'),
          ExtendedS3DestinationConfiguration: { RoleARN: role, BucketARN: 'arn:aws:s3:::Not_A_Bucket' },
        }),
      ),
    );
    expect(badBucket.name).toBe('InvalidArgumentException');

    const noErrorPrefix = await failure(
      firehose.send(
        new CreateDeliveryStreamCommand({
          DeliveryStreamName: uniqueName('no-error-prefix'),
          ExtendedS3DestinationConfiguration: s3('hostile', { Prefix: '!{timestamp:yyyy}/' }),
        }),
      ),
    );
    expect(noErrorPrefix.name).toBe('InvalidArgumentException');
    expect(noErrorPrefix.message).toContain('ErrorOutputPrefix cannot be null or empty');

    const badZone = await failure(
      firehose.send(
        new CreateDeliveryStreamCommand({
          DeliveryStreamName: uniqueName('bad-zone'),
          ExtendedS3DestinationConfiguration: s3('hostile', { CustomTimeZone: 'Mars/Olympus_Mons' }),
        }),
      ),
    );
    expect(badZone.name).toBe('InvalidArgumentException');

    const wrongVersion = await failure(
      firehose.send(
        new UpdateDestinationCommand({
          DeliveryStreamName: name,
          CurrentDeliveryStreamVersionId: '7',
          DestinationId: 'destinationId-000000000001',
          ExtendedS3DestinationUpdate: { Prefix: 'new/' },
        }),
      ),
    );
    expect(wrongVersion).toMatchObject({ name: 'ConcurrentModificationException', status: 400 });

    const unknownUpdate = await failure(
      firehose.send(
        new UpdateDestinationCommand({
          DeliveryStreamName: 'no-such-stream',
          CurrentDeliveryStreamVersionId: '1',
          DestinationId: 'destinationId-000000000001',
          ExtendedS3DestinationUpdate: { Prefix: 'new/' },
        }),
      ),
    );
    expect(unknownUpdate.name).toBe('ResourceNotFoundException');
  });
});

describe('UpdateDestination, tags and encryption', () => {
  it('bumps VersionId, merges the update, keeps tags and seals records at rest', async () => {
    const name = uniqueName('update');
    const bucket = uniqueName('bucket');
    await firehose.send(
      new CreateDeliveryStreamCommand({
        DeliveryStreamName: name,
        ExtendedS3DestinationConfiguration: s3(bucket, { Prefix: 'v1/' }),
        Tags: [{ Key: 'team', Value: 'data' }],
      }),
    );
    await firehose.send(
      new UpdateDestinationCommand({
        DeliveryStreamName: name,
        CurrentDeliveryStreamVersionId: '1',
        DestinationId: 'destinationId-000000000001',
        ExtendedS3DestinationUpdate: { Prefix: 'v2/', CompressionFormat: 'UNCOMPRESSED' },
      }),
    );
    const { DeliveryStreamDescription: d } = await firehose.send(
      new DescribeDeliveryStreamCommand({ DeliveryStreamName: name }),
    );
    expect(d?.VersionId).toBe('2');
    const destination = d?.Destinations?.[0];
    expect(destination?.DestinationId).toBe('destinationId-000000000001');
    expect(destination?.ExtendedS3DestinationDescription).toMatchObject({
      BucketARN: `arn:aws:s3:::${bucket}`,
      Prefix: 'v2/',
      BufferingHints: { SizeInMBs: 1, IntervalInSeconds: 1 },
      CompressionFormat: 'UNCOMPRESSED',
    });
    expect(destination?.S3DestinationDescription?.BucketARN).toBe(`arn:aws:s3:::${bucket}`);

    await firehose.send(
      new TagDeliveryStreamCommand({ DeliveryStreamName: name, Tags: [{ Key: 'env', Value: 'test' }] }),
    );
    await firehose.send(new UntagDeliveryStreamCommand({ DeliveryStreamName: name, TagKeys: ['team'] }));
    const tags = await firehose.send(new ListTagsForDeliveryStreamCommand({ DeliveryStreamName: name }));
    expect(tags).toMatchObject({ Tags: [{ Key: 'env', Value: 'test' }], HasMoreTags: false });

    await firehose.send(
      new StartDeliveryStreamEncryptionCommand({
        DeliveryStreamName: name,
        DeliveryStreamEncryptionConfigurationInput: { KeyType: 'AWS_OWNED_CMK' },
      }),
    );
    const encrypted = await firehose.send(new DescribeDeliveryStreamCommand({ DeliveryStreamName: name }));
    expect(encrypted.DeliveryStreamDescription?.DeliveryStreamEncryptionConfiguration).toMatchObject({
      Status: 'ENABLED',
      KeyType: 'AWS_OWNED_CMK',
    });
    const put = await firehose.send(
      new PutRecordCommand({ DeliveryStreamName: name, Record: { Data: Buffer.from('secret-1;') } }),
    );
    expect(put.Encrypted).toBe(true);
    await firehose.send(new StopDeliveryStreamEncryptionCommand({ DeliveryStreamName: name }));
    const plain = await firehose.send(
      new PutRecordCommand({ DeliveryStreamName: name, Record: { Data: Buffer.from('plain-2;') } }),
    );
    expect(plain.Encrypted).toBe(false);

    await expect
      .poll(
        async () =>
          Buffer.concat(
            (await deliveredObjects(gateway.app.objectStore, bucket, 'v2/')).map((o) => o.body),
          ).toString(),
        {
          timeout: 20_000,
        },
      )
      .toBe('secret-1;plain-2;');
  });
});

describe('encryption at rest', () => {
  it('keeps records sealed in the Redis buffer while encryption is on', async () => {
    const name = uniqueName('sealed');
    await firehose.send(
      new CreateDeliveryStreamCommand({
        DeliveryStreamName: name,
        DeliveryStreamEncryptionConfigurationInput: { KeyType: 'AWS_OWNED_CMK' },
        ExtendedS3DestinationConfiguration: s3(uniqueName('bucket'), {
          BufferingHints: { SizeInMBs: 128, IntervalInSeconds: 900 },
        }),
      }),
    );
    const put = await firehose.send(
      new PutRecordCommand({ DeliveryStreamName: name, Record: { Data: Buffer.from('top-secret-payload') } }),
    );
    expect(put.Encrypted).toBe(true);
    const entries = (await gateway.app.redis.client.xrangeBuffer(
      `firehose:{fh:${name}}:buffer`,
      '-',
      '+',
    )) as Array<[Buffer, Buffer[]]>;
    expect(entries).toHaveLength(1);
    const fields = new Map<string, Buffer>();
    const flat = entries[0]?.[1] ?? [];
    for (let i = 0; i + 1 < flat.length; i += 2) fields.set(String(flat[i]), flat[i + 1] as Buffer);
    expect(fields.get('e')?.toString()).toBe('1');
    expect(fields.get('d')?.includes('top-secret-payload')).toBe(false);
    expect(fields.get('d')?.length).toBeGreaterThan('top-secret-payload'.length);
  });
});

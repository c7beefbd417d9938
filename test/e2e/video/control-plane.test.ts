import { randomBytes } from 'node:crypto';
import {
  CreateStreamCommand,
  DeleteStreamCommand,
  DescribeStreamCommand,
  GetDataEndpointCommand,
  KinesisVideoClient,
  ListStreamsCommand,
  ListTagsForResourceCommand,
  ListTagsForStreamCommand,
  ResourceInUseException,
  ResourceNotFoundException,
  type StreamInfo,
  TagResourceCommand,
  TagStreamCommand,
  UntagResourceCommand,
  UntagStreamCommand,
  UpdateDataRetentionCommand,
  UpdateStreamCommand,
} from '@aws-sdk/client-kinesis-video';
import { CreateKeyCommand, DisableKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signedRestCall } from '../../support/signed-request.ts';
import { type RunningApp, startApp, TEST_KEYS } from '../../support/start-app.ts';

let gateway: RunningApp;
let kvs: KinesisVideoClient;
beforeAll(async () => {
  gateway = await startApp();
  // Unmodified client: REST-JSON over HTTP/1.1, the default handler.
  kvs = new KinesisVideoClient({
    endpoint: gateway.endpoint,
    region: 'us-east-1',
    credentials: TEST_KEYS,
    maxAttempts: 1,
  });
});
afterAll(async () => {
  kvs?.destroy();
  await gateway?.stop();
});

const unique = (prefix: string) => `${prefix}-${randomBytes(4).toString('hex')}`;

async function describeByName(StreamName: string): Promise<StreamInfo> {
  const { StreamInfo: info } = await kvs.send(new DescribeStreamCommand({ StreamName }));
  if (!info) throw new Error('no StreamInfo');
  return info;
}

describe('Kinesis Video Streams control plane through @aws-sdk/client-kinesis-video', () => {
  it('creates a stream with tags, retention and the default KMS alias, and describes it by name and ARN', async () => {
    const StreamName = unique('cam.front_door');
    const before = Date.now();
    const { StreamARN } = await kvs.send(
      new CreateStreamCommand({
        StreamName,
        DeviceName: 'door-cam-1',
        MediaType: 'video/h264',
        DataRetentionInHours: 24,
        Tags: { site: 'hq', floor: '1' },
      }),
    );
    expect(StreamARN).toMatch(
      new RegExp(`^arn:aws:kinesisvideo:us-east-1:000000000000:stream/${StreamName}/\\d{13}$`),
    );
    const info = await describeByName(StreamName);
    expect(info).toMatchObject({
      StreamName,
      StreamARN,
      DeviceName: 'door-cam-1',
      MediaType: 'video/h264',
      KmsKeyId: 'alias/aws/kinesisvideo',
      Status: 'ACTIVE',
      DataRetentionInHours: 24,
    });
    expect(info.Version).toMatch(/^[a-zA-Z0-9]{20}$/);
    expect(info.CreationTime).toBeInstanceOf(Date);
    expect(info.CreationTime?.getTime()).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000);
    expect(Number(StreamARN?.split('/').at(-1))).toBe(info.CreationTime?.getTime());

    const byArn = await kvs.send(new DescribeStreamCommand({ StreamARN }));
    expect(byArn.StreamInfo).toEqual(info);
    const { Tags } = await kvs.send(new ListTagsForStreamCommand({ StreamARN }));
    expect(Tags).toEqual({ site: 'hq', floor: '1' });
  });

  it('defaults to live-only (0 h) retention and omits unset DeviceName/MediaType', async () => {
    const StreamName = unique('live');
    await kvs.send(new CreateStreamCommand({ StreamName }));
    const info = await describeByName(StreamName);
    expect(info.DataRetentionInHours).toBe(0);
    expect(info.DeviceName).toBeUndefined();
    expect(info.MediaType).toBeUndefined();
  });

  it('answers ResourceNotFoundException for unknown names and ARNs of another incarnation', async () => {
    const StreamName = unique('ghost');
    const error = await kvs.send(new DescribeStreamCommand({ StreamName })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ResourceNotFoundException);
    // KVS's model declares 404 here (Kinesis Data Streams uses 400 for the same name).
    expect((error as ResourceNotFoundException).$metadata.httpStatusCode).toBe(404);

    const { StreamARN } = await kvs.send(new CreateStreamCommand({ StreamName }));
    const stale = StreamARN?.replace(/\/\d+$/, '/1000000000000');
    await expect(kvs.send(new DescribeStreamCommand({ StreamARN: stale }))).rejects.toBeInstanceOf(
      ResourceNotFoundException,
    );
    await expect(
      kvs.send(
        new DescribeStreamCommand({
          StreamARN: `arn:aws:kinesisvideo:eu-west-1:000000000000:stream/${StreamName}/1`,
        }),
      ),
    ).rejects.toBeInstanceOf(ResourceNotFoundException);
  });

  it('lists streams with a BEGINS_WITH filter, page by page', async () => {
    const prefix = unique('list');
    const names = ['a', 'b', 'c', 'd', 'e'].map((s) => `${prefix}-${s}`);
    for (const StreamName of [...names].reverse()) await kvs.send(new CreateStreamCommand({ StreamName }));
    await kvs.send(new CreateStreamCommand({ StreamName: unique('other') }));

    const seen: string[] = [];
    let NextToken: string | undefined;
    let pages = 0;
    do {
      const page = await kvs.send(
        new ListStreamsCommand({
          MaxResults: 2,
          ...(NextToken ? { NextToken } : {}),
          StreamNameCondition: { ComparisonOperator: 'BEGINS_WITH', ComparisonValue: prefix },
        }),
      );
      pages += 1;
      for (const info of page.StreamInfoList ?? []) {
        expect(info.Status).toBe('ACTIVE');
        expect(info.StreamARN).toContain(`:stream/${info.StreamName}/`);
        seen.push(info.StreamName ?? '');
      }
      NextToken = page.NextToken;
    } while (NextToken);
    expect(seen).toEqual(names);
    expect(pages).toBe(3);

    const all = await kvs.send(new ListStreamsCommand({}));
    const allNames = (all.StreamInfoList ?? []).map((s) => s.StreamName);
    expect(allNames).toEqual(expect.arrayContaining(names));
    expect(allNames).toEqual([...allNames].sort());
  });

  it('updates DeviceName and MediaType under optimistic concurrency on Version', async () => {
    const StreamName = unique('update');
    await kvs.send(new CreateStreamCommand({ StreamName, DeviceName: 'old', MediaType: 'video/h264' }));
    const { Version } = await describeByName(StreamName);
    await kvs.send(
      new UpdateStreamCommand({
        StreamName,
        CurrentVersion: Version,
        DeviceName: 'new-device',
        MediaType: 'video/h264,audio/aac',
      }),
    );
    const updated = await describeByName(StreamName);
    expect(updated).toMatchObject({ DeviceName: 'new-device', MediaType: 'video/h264,audio/aac' });
    expect(updated.Version).toMatch(/^[a-zA-Z0-9]{20}$/);
    expect(updated.Version).not.toBe(Version);

    // The old version is stale now.
    await expect(
      kvs.send(new UpdateStreamCommand({ StreamName, CurrentVersion: Version, DeviceName: 'late' })),
    ).rejects.toMatchObject({ name: 'VersionMismatchException' });
    expect((await describeByName(StreamName)).DeviceName).toBe('new-device');
  });

  it('increases and decreases data retention, within 0..87600 hours', async () => {
    const StreamName = unique('retention');
    const { StreamARN } = await kvs.send(new CreateStreamCommand({ StreamName, DataRetentionInHours: 2 }));
    let { Version } = await describeByName(StreamName);
    await kvs.send(
      new UpdateDataRetentionCommand({
        StreamARN,
        CurrentVersion: Version,
        Operation: 'INCREASE_DATA_RETENTION',
        DataRetentionChangeInHours: 46,
      }),
    );
    let info = await describeByName(StreamName);
    expect(info.DataRetentionInHours).toBe(48);
    expect(info.Version).not.toBe(Version);
    Version = info.Version;

    await kvs.send(
      new UpdateDataRetentionCommand({
        StreamName,
        CurrentVersion: Version,
        Operation: 'DECREASE_DATA_RETENTION',
        DataRetentionChangeInHours: 40,
      }),
    );
    info = await describeByName(StreamName);
    expect(info.DataRetentionInHours).toBe(8);

    await expect(
      kvs.send(
        new UpdateDataRetentionCommand({
          StreamName,
          CurrentVersion: info.Version,
          Operation: 'DECREASE_DATA_RETENTION',
          DataRetentionChangeInHours: 9,
        }),
      ),
    ).rejects.toMatchObject({ name: 'InvalidArgumentException' });
    await expect(
      kvs.send(
        new UpdateDataRetentionCommand({
          StreamName,
          CurrentVersion: info.Version,
          Operation: 'INCREASE_DATA_RETENTION',
          DataRetentionChangeInHours: 87_600,
        }),
      ),
    ).rejects.toMatchObject({ name: 'InvalidArgumentException' });
    await expect(
      kvs.send(
        new UpdateDataRetentionCommand({
          StreamName,
          CurrentVersion: Version,
          Operation: 'INCREASE_DATA_RETENTION',
          DataRetentionChangeInHours: 1,
        }),
      ),
    ).rejects.toMatchObject({ name: 'VersionMismatchException' });
    expect((await describeByName(StreamName)).DataRetentionInHours).toBe(8);
  });

  it('tags and untags by stream and by resource ARN, at most 50 tags', async () => {
    const StreamName = unique('tags');
    const { StreamARN } = await kvs.send(new CreateStreamCommand({ StreamName, Tags: { a: '1' } }));
    await kvs.send(new TagStreamCommand({ StreamName, Tags: { b: '2', c: '3' } }));
    await kvs.send(new UntagStreamCommand({ StreamARN, TagKeyList: ['a', 'missing'] }));
    expect((await kvs.send(new ListTagsForStreamCommand({ StreamName }))).Tags).toEqual({ b: '2', c: '3' });

    await kvs.send(
      new TagResourceCommand({
        ResourceARN: StreamARN,
        Tags: [
          { Key: 'c', Value: 'three' },
          { Key: 'd', Value: '' },
        ],
      }),
    );
    await kvs.send(new UntagResourceCommand({ ResourceARN: StreamARN, TagKeyList: ['b'] }));
    const { Tags } = await kvs.send(new ListTagsForResourceCommand({ ResourceARN: StreamARN }));
    expect(Tags).toEqual({ c: 'three', d: '' });

    const many = Object.fromEntries(Array.from({ length: 49 }, (_, i) => [`k${i}`, String(i)]));
    await expect(kvs.send(new TagStreamCommand({ StreamName, Tags: many }))).rejects.toMatchObject({
      name: 'TagsPerResourceExceededLimitException',
    });
    const fortyEight = Object.fromEntries(Object.entries(many).slice(0, 48));
    await kvs.send(new TagStreamCommand({ StreamName, Tags: fortyEight }));
    expect(
      Object.keys((await kvs.send(new ListTagsForStreamCommand({ StreamName }))).Tags ?? {}),
    ).toHaveLength(50);
    await expect(
      kvs.send(new CreateStreamCommand({ StreamName: unique('tags'), Tags: { ...many, x: '1', y: '2' } })),
    ).rejects.toMatchObject({ name: 'TagsPerResourceExceededLimitException' });
    await expect(
      kvs.send(new ListTagsForResourceCommand({ ResourceARN: `${StreamARN?.replace(/\/\d+$/, '')}/1` })),
    ).rejects.toBeInstanceOf(ResourceNotFoundException);
  });

  it('returns the gateway itself as the data endpoint of every data-plane API', async () => {
    const StreamName = unique('endpoint');
    await kvs.send(new CreateStreamCommand({ StreamName }));
    for (const APIName of ['PUT_MEDIA', 'GET_HLS_STREAMING_SESSION_URL', 'GET_CLIP', 'GET_IMAGES'] as const) {
      const { DataEndpoint } = await kvs.send(new GetDataEndpointCommand({ StreamName, APIName }));
      expect(DataEndpoint).toBe(gateway.endpoint);
    }
    await expect(
      kvs.send(new GetDataEndpointCommand({ StreamName: unique('nope'), APIName: 'GET_MEDIA' })),
    ).rejects.toBeInstanceOf(ResourceNotFoundException);
  });

  it('deletes a stream (honouring CurrentVersion), after which it is gone', async () => {
    const StreamName = unique('delete');
    const { StreamARN } = await kvs.send(new CreateStreamCommand({ StreamName, Tags: { t: '1' } }));
    await expect(
      kvs.send(new DeleteStreamCommand({ StreamARN, CurrentVersion: 'AAAAAAAAAAAAAAAAAAAA' })),
    ).rejects.toMatchObject({ name: 'VersionMismatchException' });
    const { Version } = await describeByName(StreamName);
    await kvs.send(new DeleteStreamCommand({ StreamARN, CurrentVersion: Version }));
    await expect(kvs.send(new DescribeStreamCommand({ StreamName }))).rejects.toBeInstanceOf(
      ResourceNotFoundException,
    );
    await expect(kvs.send(new DeleteStreamCommand({ StreamARN }))).rejects.toBeInstanceOf(
      ResourceNotFoundException,
    );
    const listed = await kvs.send(
      new ListStreamsCommand({
        StreamNameCondition: { ComparisonOperator: 'BEGINS_WITH', ComparisonValue: StreamName },
      }),
    );
    expect(listed.StreamInfoList).toEqual([]);

    // The name is free again; the new incarnation has a new ARN and no old tags.
    const again = await kvs.send(new CreateStreamCommand({ StreamName }));
    expect(again.StreamARN).not.toBe(StreamARN);
    expect((await kvs.send(new ListTagsForStreamCommand({ StreamName }))).Tags).toEqual({});
    await expect(kvs.send(new DescribeStreamCommand({ StreamARN }))).rejects.toBeInstanceOf(
      ResourceNotFoundException,
    );
  });

  it('rejects a duplicate name with ResourceInUseException', async () => {
    const StreamName = unique('dup');
    await kvs.send(new CreateStreamCommand({ StreamName }));
    await expect(kvs.send(new CreateStreamCommand({ StreamName }))).rejects.toBeInstanceOf(
      ResourceInUseException,
    );
  });

  it('rejects invalid names and arguments with InvalidArgumentException', async () => {
    for (const StreamName of ['has space', 'slash/name', 'x'.repeat(257)]) {
      const error = await kvs.send(new CreateStreamCommand({ StreamName })).catch((e: unknown) => e);
      expect(error).toMatchObject({ name: 'InvalidArgumentException' });
      expect((error as Error).message).toMatch(/at 'streamName' failed to satisfy constraint/);
    }
    await expect(
      kvs.send(new CreateStreamCommand({ StreamName: unique('media'), MediaType: 'not a type' })),
    ).rejects.toMatchObject({ name: 'InvalidArgumentException' });
    await expect(kvs.send(new DescribeStreamCommand({}))).rejects.toMatchObject({
      name: 'InvalidArgumentException',
    });
    await expect(kvs.send(new ListStreamsCommand({ NextToken: '!!not-a-token' }))).rejects.toMatchObject({
      name: 'InvalidArgumentException',
    });
  });

  it('checks that the KMS key exists and is usable', async () => {
    await expect(
      kvs.send(new CreateStreamCommand({ StreamName: unique('kms'), KmsKeyId: 'alias/does-not-exist' })),
    ).rejects.toMatchObject({
      name: 'InvalidArgumentException',
      message: expect.stringMatching(/alias\/does-not-exist/),
    });

    const kms = new KMSClient({
      endpoint: gateway.endpoint,
      region: 'us-east-1',
      credentials: TEST_KEYS,
      maxAttempts: 1,
    });
    try {
      const { KeyMetadata } = await kms.send(new CreateKeyCommand({}));
      const KmsKeyId = KeyMetadata?.Arn ?? '';
      const StreamName = unique('kms');
      await kvs.send(new CreateStreamCommand({ StreamName, KmsKeyId }));
      expect((await describeByName(StreamName)).KmsKeyId).toBe(KmsKeyId);

      await kms.send(new DisableKeyCommand({ KeyId: KmsKeyId }));
      await expect(
        kvs.send(new CreateStreamCommand({ StreamName: unique('kms'), KmsKeyId })),
      ).rejects.toMatchObject({
        name: 'InvalidArgumentException',
      });
    } finally {
      kms.destroy();
    }
  });
});

describe('GetDataEndpoint with STREAMGATE_PUBLIC_URL', () => {
  let behindProxy: RunningApp;
  let client: KinesisVideoClient;
  beforeAll(async () => {
    behindProxy = await startApp({ env: { STREAMGATE_PUBLIC_URL: 'https://video.example.com/' } });
    client = new KinesisVideoClient({
      endpoint: behindProxy.endpoint,
      region: 'us-east-1',
      credentials: TEST_KEYS,
      maxAttempts: 1,
    });
  });
  afterAll(async () => {
    client?.destroy();
    await behindProxy?.stop();
  });

  it('returns the configured public URL', async () => {
    const StreamName = unique('public');
    await client.send(new CreateStreamCommand({ StreamName }));
    const { DataEndpoint } = await client.send(
      new GetDataEndpointCommand({ StreamName, APIName: 'GET_MEDIA' }),
    );
    expect(DataEndpoint).toBe('https://video.example.com');
  });
});

describe('Kinesis Video Streams on the wire', () => {
  it('accepts only the kinesisvideo SigV4 scope on KVS paths', async () => {
    const StreamName = unique('scope');
    const wrong = await signedRestCall(gateway.endpoint, '/createStream', { StreamName }, 'kinesis');
    expect(wrong).toMatchObject({ status: 403, errorType: 'InvalidSignatureException' });
    const right = await signedRestCall(gateway.endpoint, '/createStream', { StreamName }, 'kinesisvideo');
    expect(right.status).toBe(200);
    expect(right.body.StreamARN).toContain(`:stream/${StreamName}/`);
    const missing = await signedRestCall(
      gateway.endpoint,
      '/describeStream',
      { StreamName: unique('x') },
      'kinesisvideo',
    );
    expect(missing).toMatchObject({
      status: 404,
      errorType: 'ResourceNotFoundException',
      body: { __type: 'ResourceNotFoundException' },
    });
  });
});

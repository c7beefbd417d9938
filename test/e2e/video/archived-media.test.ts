import { randomBytes } from 'node:crypto';
import {
  CreateStreamCommand,
  DeleteStreamCommand,
  GetDataEndpointCommand,
  KinesisVideoClient,
} from '@aws-sdk/client-kinesis-video';
import {
  GetMediaForFragmentListCommand,
  KinesisVideoArchivedMediaClient,
  ListFragmentsCommand,
  ResourceNotFoundException,
} from '@aws-sdk/client-kinesis-video-archived-media';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { streamIdOf, streamObjectPrefix } from '../../../src/video-archive/index.ts';
import { fragment, makeFmp4, probe } from '../../integration/video/fmp4-source.ts';
import { type RunningApp, startApp, TEST_KEYS } from '../../support/start-app.ts';

// ListFragments and GetMediaForFragmentList through the unmodified archived-media SDK client, on the
// endpoint GetDataEndpoint returns, over fragments the app's archive writer stored from real ffmpeg output.

let gateway: RunningApp;
let kvs: KinesisVideoClient;
beforeAll(async () => {
  gateway = await startApp();
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

async function archivedMediaClient(
  streamName: string,
  apiName: 'LIST_FRAGMENTS' | 'GET_MEDIA_FOR_FRAGMENT_LIST',
) {
  const { DataEndpoint: endpoint } = await kvs.send(
    new GetDataEndpointCommand({ StreamName: streamName, APIName: apiName }),
  );
  return new KinesisVideoArchivedMediaClient({
    endpoint: endpoint ?? expect.fail('GetDataEndpoint returned no DataEndpoint'),
    region: 'us-east-1',
    credentials: TEST_KEYS,
    maxAttempts: 1,
  });
}

describe('archived media', () => {
  it('lists fragments and returns their media as a playable MP4; DeleteStream removes the objects', async () => {
    const name = `archived-${randomBytes(4).toString('hex')}`;
    const { StreamARN } = await kvs.send(
      new CreateStreamCommand({ StreamName: name, DataRetentionInHours: 1 }),
    );
    const before = Date.now();
    const numbers: string[] = [];
    for (const event of fragment(await makeFmp4(6))) {
      const result = await gateway.app.videoArchive.write(name, event);
      if (result.kind === 'fragment') numbers.push(result.fragment.fragmentNumber);
    }
    expect(numbers.length).toBeGreaterThanOrEqual(3);

    const list = await archivedMediaClient(name, 'LIST_FRAGMENTS');
    const listed = await list.send(
      new ListFragmentsCommand({
        StreamName: name,
        FragmentSelector: {
          FragmentSelectorType: 'SERVER_TIMESTAMP',
          TimestampRange: {
            StartTimestamp: new Date(before - 1_000),
            EndTimestamp: new Date(Date.now() + 1_000),
          },
        },
      }),
    );
    const fragments = listed.Fragments ?? [];
    expect(fragments.map((f) => f.FragmentNumber)).toEqual(numbers);
    expect(listed.NextToken).toBeUndefined();
    for (const f of fragments) {
      expect(f.ServerTimestamp).toBeInstanceOf(Date);
      expect(f.ProducerTimestamp).toBeInstanceOf(Date);
      expect(f.FragmentSizeInBytes).toBeGreaterThan(0);
      expect(f.FragmentLengthInMilliseconds).toBeGreaterThan(0);
    }
    const firstPage = await list.send(new ListFragmentsCommand({ StreamARN, MaxResults: 2 }));
    expect(firstPage.Fragments).toHaveLength(2);
    const secondPage = await list.send(
      new ListFragmentsCommand({ StreamARN, NextToken: firstPage.NextToken }),
    );
    expect(
      [...(firstPage.Fragments ?? []), ...(secondPage.Fragments ?? [])].map((f) => f.FragmentNumber),
    ).toEqual(numbers);
    list.destroy();

    const media = await archivedMediaClient(name, 'GET_MEDIA_FOR_FRAGMENT_LIST');
    const output = await media.send(
      new GetMediaForFragmentListCommand({ StreamName: name, Fragments: numbers }),
    );
    expect(output.ContentType).toBe('video/mp4');
    const bytes = Buffer.from((await output.Payload?.transformToByteArray()) ?? []);
    const probed = await probe(gateway.dataDir, bytes);
    expect(probed.codecs.sort()).toEqual(['aac', 'h264']);
    expect(probed.durationSeconds).toBeGreaterThan(5.5);
    await expect(
      media.send(
        new GetMediaForFragmentListCommand({ StreamName: name, Fragments: ['900000000000000999999'] }),
      ),
    ).rejects.toBeInstanceOf(ResourceNotFoundException);
    media.destroy();

    const prefix = streamObjectPrefix(
      streamIdOf({ name, creationTimeMs: Number(StreamARN?.split('/').at(-1)) }),
    );
    expect((await gateway.app.objectStore.list(prefix)).objects.length).toBe(numbers.length + 1);
    await kvs.send(new DeleteStreamCommand({ StreamARN }));
    expect((await gateway.app.objectStore.list(prefix)).objects).toEqual([]);
  });
});

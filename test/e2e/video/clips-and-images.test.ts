import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import {
  CreateStreamCommand,
  DeleteStreamCommand,
  GetDataEndpointCommand,
  KinesisVideoClient,
} from '@aws-sdk/client-kinesis-video';
import {
  GetClipCommand,
  GetImagesCommand,
  InvalidArgumentException,
  KinesisVideoArchivedMediaClient,
  NoDataRetentionException,
  ResourceNotFoundException,
} from '@aws-sdk/client-kinesis-video-archived-media';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FragmentMetadata } from '../../../src/video-archive/index.ts';
import { fragment, makeFmp4, probe } from '../../integration/video/fmp4-source.ts';
import { type RunningApp, startApp, TEST_KEYS } from '../../support/start-app.ts';

// GetClip and GetImages through the unmodified archived-media SDK client, over ~6 s of real H.264 + AAC
// fragments (2 s GOPs) stored by the app's archive writer.

const run = promisify(execFile);

let gateway: RunningApp;
let kvs: KinesisVideoClient;
let name: string;
let streamArn: string;
let fragments: FragmentMetadata[];
beforeAll(async () => {
  gateway = await startApp();
  kvs = new KinesisVideoClient({
    endpoint: gateway.endpoint,
    region: 'us-east-1',
    credentials: TEST_KEYS,
    maxAttempts: 1,
  });
  name = `clips-${randomBytes(4).toString('hex')}`;
  const created = await kvs.send(new CreateStreamCommand({ StreamName: name, DataRetentionInHours: 1 }));
  streamArn = created.StreamARN ?? expect.fail('CreateStream returned no StreamARN');
  fragments = [];
  for (const event of fragment(await makeFmp4(6))) {
    const result = await gateway.app.videoArchive.write(name, event);
    if (result.kind === 'fragment') fragments.push(result.fragment);
  }
});
afterAll(async () => {
  if (streamArn) await kvs.send(new DeleteStreamCommand({ StreamARN: streamArn }));
  kvs?.destroy();
  await gateway?.stop();
});

async function archivedMediaClient(apiName: 'GET_CLIP' | 'GET_IMAGES') {
  const { DataEndpoint: endpoint } = await kvs.send(
    new GetDataEndpointCommand({ StreamName: name, APIName: apiName }),
  );
  return new KinesisVideoArchivedMediaClient({
    endpoint: endpoint ?? expect.fail('GetDataEndpoint returned no DataEndpoint'),
    region: 'us-east-1',
    credentials: TEST_KEYS,
    maxAttempts: 1,
  });
}

/** The four-character types of the top-level boxes of an ISO BMFF file (ISO/IEC 14496-12 §4.2). */
function topLevelBoxes(bytes: Buffer): string[] {
  const types: string[] = [];
  for (let offset = 0; offset + 8 <= bytes.length; ) {
    let size = bytes.readUInt32BE(offset);
    const type = bytes.toString('latin1', offset + 4, offset + 8);
    if (size === 1) size = Number(bytes.readBigUInt64BE(offset + 8));
    else if (size === 0) size = bytes.length - offset;
    if (size < 8) throw new Error(`bad box size ${size} at ${offset}`);
    types.push(type);
    offset += size;
  }
  return types;
}

/** ffprobe's width and codec of a single image. */
async function probeImage(bytes: Buffer): Promise<{ width: number; height: number; codec: string }> {
  const file = join(gateway.dataDir, `image-${randomBytes(4).toString('hex')}`);
  await writeFile(file, bytes);
  const { stdout } = await run('/usr/bin/ffprobe', [
    ...['-v', 'error', '-show_entries', 'stream=width,height,codec_name', '-of', 'json', file],
  ]);
  const stream = (JSON.parse(stdout) as { streams: { width: number; height: number; codec_name: string }[] })
    .streams[0];
  return {
    width: stream?.width ?? 0,
    height: stream?.height ?? 0,
    codec: stream?.codec_name ?? '',
  };
}

describe('GetClip', () => {
  it('returns the range as a plain faststart MP4 with h264 + aac', async () => {
    expect(fragments.length).toBeGreaterThanOrEqual(3);
    const client = await archivedMediaClient('GET_CLIP');
    const first = fragments[0] ?? expect.fail('no fragments');
    const last = fragments.at(-1) ?? expect.fail('no fragments');
    const output = await client.send(
      new GetClipCommand({
        StreamName: name,
        ClipFragmentSelector: {
          FragmentSelectorType: 'PRODUCER_TIMESTAMP',
          TimestampRange: {
            StartTimestamp: new Date(first.producerTimestampMs),
            EndTimestamp: new Date(last.producerTimestampMs + 1),
          },
        },
      }),
    );
    expect(output.ContentType).toBe('video/mp4');
    const bytes = Buffer.from((await output.Payload?.transformToByteArray()) ?? []);
    const boxes = topLevelBoxes(bytes);
    expect(boxes).not.toContain('moof');
    expect(boxes.indexOf('moov')).toBeGreaterThanOrEqual(0);
    expect(boxes.indexOf('moov')).toBeLessThan(boxes.indexOf('mdat'));
    const probed = await probe(gateway.dataDir, bytes);
    expect(probed.codecs.sort()).toEqual(['aac', 'h264']);
    expect(probed.durationSeconds).toBeGreaterThan(5.5);
    expect(probed.durationSeconds).toBeLessThan(6.5);
    client.destroy();
  });

  it('rejects a range without fragments and a reversed range with the AWS errors', async () => {
    const client = await archivedMediaClient('GET_CLIP');
    const long = new Date(Date.now() - 3_600_000);
    await expect(
      client.send(
        new GetClipCommand({
          StreamARN: streamArn,
          ClipFragmentSelector: {
            FragmentSelectorType: 'SERVER_TIMESTAMP',
            TimestampRange: { StartTimestamp: long, EndTimestamp: new Date(long.getTime() + 60_000) },
          },
        }),
      ),
    ).rejects.toBeInstanceOf(ResourceNotFoundException);
    await expect(
      client.send(
        new GetClipCommand({
          StreamName: name,
          ClipFragmentSelector: {
            FragmentSelectorType: 'SERVER_TIMESTAMP',
            TimestampRange: { StartTimestamp: new Date(), EndTimestamp: long },
          },
        }),
      ),
    ).rejects.toBeInstanceOf(InvalidArgumentException);
    client.destroy();
  });
});

describe('GetImages', () => {
  it('samples JPEGs every 1000 ms at the requested size, and PNGs with paging', async () => {
    const client = await archivedMediaClient('GET_IMAGES');
    const start = (fragments[0] ?? expect.fail('no fragments')).producerTimestampMs;
    const jpegs = await client.send(
      new GetImagesCommand({
        StreamName: name,
        ImageSelectorType: 'PRODUCER_TIMESTAMP',
        StartTimestamp: new Date(start + 500),
        EndTimestamp: new Date(start + 3_500),
        SamplingInterval: 1000,
        Format: 'JPEG',
        FormatConfig: { JPEGQuality: '90' },
        WidthPixels: 160,
        HeightPixels: 120,
      }),
    );
    const images = jpegs.Images ?? [];
    expect(images).toHaveLength(4);
    expect(jpegs.NextToken).toBeUndefined();
    // Sub-GOP sampling decodes to the instant: every image is a different frame.
    expect(new Set(images.map((i) => i.ImageContent)).size).toBe(4);
    for (const [k, image] of images.entries()) {
      expect(image.Error).toBeUndefined();
      expect(image.TimeStamp?.getTime()).toBe(start + 500 + k * 1000);
      const bytes = Buffer.from(image.ImageContent ?? '', 'base64');
      expect(bytes.subarray(0, 2)).toEqual(Buffer.from([0xff, 0xd8]));
      expect(bytes.subarray(-2)).toEqual(Buffer.from([0xff, 0xd9]));
      expect(await probeImage(bytes)).toEqual({ width: 160, height: 120, codec: 'mjpeg' });
    }

    const firstPage = await client.send(
      new GetImagesCommand({
        StreamARN: streamArn,
        ImageSelectorType: 'PRODUCER_TIMESTAMP',
        StartTimestamp: new Date(start),
        EndTimestamp: new Date(start + 4_000),
        SamplingInterval: 2000,
        Format: 'PNG',
        HeightPixels: 60,
        MaxResults: 2,
      }),
    );
    expect(firstPage.Images).toHaveLength(2);
    expect(firstPage.NextToken).toBeDefined();
    const secondPage = await client.send(
      new GetImagesCommand({
        StreamARN: streamArn,
        ImageSelectorType: 'PRODUCER_TIMESTAMP',
        StartTimestamp: new Date(start),
        EndTimestamp: new Date(start + 4_000),
        SamplingInterval: 2000,
        Format: 'PNG',
        HeightPixels: 60,
        MaxResults: 2,
        NextToken: firstPage.NextToken,
      }),
    );
    expect(secondPage.NextToken).toBeUndefined();
    const pngs = [...(firstPage.Images ?? []), ...(secondPage.Images ?? [])];
    expect(pngs.map((i) => i.TimeStamp?.getTime())).toEqual([start, start + 2000, start + 4000]);
    for (const image of pngs) {
      expect(image.Error).toBeUndefined();
      const bytes = Buffer.from(image.ImageContent ?? '', 'base64');
      expect(bytes.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
      expect(await probeImage(bytes)).toEqual({ width: 80, height: 60, codec: 'png' });
    }

    const beyond = await client.send(
      new GetImagesCommand({
        StreamName: name,
        ImageSelectorType: 'PRODUCER_TIMESTAMP',
        StartTimestamp: new Date(start + 60_000),
        EndTimestamp: new Date(start + 61_000),
        SamplingInterval: 1000,
        Format: 'JPEG',
      }),
    );
    expect(beyond.Images?.map((i) => i.Error)).toEqual(['NO_MEDIA', 'NO_MEDIA']);
    client.destroy();
  });
});

describe('NoDataRetentionException', () => {
  it('answers GetClip and GetImages on a stream with DataRetentionInHours 0', async () => {
    const unretained = `noretention-${randomBytes(4).toString('hex')}`;
    const { StreamARN } = await kvs.send(
      new CreateStreamCommand({ StreamName: unretained, DataRetentionInHours: 0 }),
    );
    const client = await archivedMediaClient('GET_CLIP');
    const now = Date.now();
    const clip = client.send(
      new GetClipCommand({
        StreamName: unretained,
        ClipFragmentSelector: {
          FragmentSelectorType: 'SERVER_TIMESTAMP',
          TimestampRange: { StartTimestamp: new Date(now - 60_000), EndTimestamp: new Date(now) },
        },
      }),
    );
    await expect(clip).rejects.toBeInstanceOf(NoDataRetentionException);
    await expect(clip).rejects.toMatchObject({
      $metadata: { httpStatusCode: 400 },
      message: expect.stringContaining('DataRetentionInHours of 0'),
    });
    await expect(
      client.send(
        new GetImagesCommand({
          StreamARN,
          ImageSelectorType: 'SERVER_TIMESTAMP',
          StartTimestamp: new Date(now - 60_000),
          EndTimestamp: new Date(now),
          SamplingInterval: 1000,
          Format: 'JPEG',
        }),
      ),
    ).rejects.toBeInstanceOf(NoDataRetentionException);
    client.destroy();
    await kvs.send(new DeleteStreamCommand({ StreamARN }));
  });
});

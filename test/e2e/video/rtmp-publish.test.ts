import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CreateStreamCommand,
  GetDataEndpointCommand,
  KinesisVideoClient,
} from '@aws-sdk/client-kinesis-video';
import {
  GetMediaForFragmentListCommand,
  KinesisVideoArchivedMediaClient,
} from '@aws-sdk/client-kinesis-video-archived-media';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { publishToken } from '../../../src/ingest/index.ts';
import { probe } from '../../integration/video/fmp4-source.ts';
import { freePort } from '../../support/free-port.ts';
import { type RunningApp, startApp, TEST_KEYS } from '../../support/start-app.ts';
import { recentFragments } from '../../support/video.ts';

// The whole path as an OBS user takes it: ffmpeg publishes over RTMP to the gateway, which archives
// encrypted GOP fragments; the archived-media SDK lists them and gets playable media back.

const SECRET = 'rtmp-e2e-publish-secret-0123456789';
let gateway: RunningApp;
let kvs: KinesisVideoClient;
let rtmpPort: number;
const publishers: ChildProcess[] = [];

beforeAll(async () => {
  rtmpPort = await freePort();
  gateway = await startApp({
    env: { STREAMGATE_RTMP_PORT: String(rtmpPort), STREAMGATE_PUBLISH_SECRET: SECRET },
  });
  kvs = new KinesisVideoClient({
    endpoint: gateway.endpoint,
    region: 'us-east-1',
    credentials: TEST_KEYS,
    maxAttempts: 1,
  });
});
afterAll(async () => {
  for (const p of publishers) if (p.exitCode === null) p.kill('SIGKILL');
  kvs?.destroy();
  await gateway?.stop();
});

/** ffmpeg as OBS would publish: H.264 (2 s GOP) + AAC over RTMP; resolves with its exit code. */
function publish(streamName: string, key: string, seconds: number): Promise<number | null> {
  const child = spawn(
    '/usr/bin/ffmpeg',
    [
      '-hide_banner',
      '-loglevel',
      'error',
      '-re',
      '-f',
      'lavfi',
      '-i',
      'testsrc2=size=640x360:rate=30',
      '-f',
      'lavfi',
      '-i',
      'sine',
      '-t',
      String(seconds),
      '-c:v',
      'libx264',
      '-preset',
      'veryfast',
      '-g',
      '60',
      '-pix_fmt',
      'yuv420p',
      '-c:a',
      'aac',
      '-f',
      'flv',
      `rtmp://127.0.0.1:${rtmpPort}/live/${streamName}?key=${key}`,
    ],
    { stdio: 'ignore' },
  );
  publishers.push(child);
  return once(child, 'exit').then(([code]) => code as number | null);
}

async function archivedMedia(streamName: string): Promise<KinesisVideoArchivedMediaClient> {
  const { DataEndpoint } = await kvs.send(
    new GetDataEndpointCommand({ StreamName: streamName, APIName: 'LIST_FRAGMENTS' }),
  );
  return new KinesisVideoArchivedMediaClient({
    endpoint: DataEndpoint ?? expect.fail('GetDataEndpoint returned no DataEndpoint'),
    region: 'us-east-1',
    credentials: TEST_KEYS,
    maxAttempts: 1,
  });
}

describe('RTMP publish to archive', () => {
  it('archives a 6 s ffmpeg publish as ~3 fragments that come back as playable H.264 + AAC', async () => {
    const name = `rtmp-${randomBytes(3).toString('hex')}`;
    await kvs.send(new CreateStreamCommand({ StreamName: name, DataRetentionInHours: 1 }));
    expect(await publish(name, publishToken(SECRET, name), 6)).toBe(0);

    const client = await archivedMedia(name);
    await expect
      .poll(async () => (await recentFragments(client, name)).length, { timeout: 20_000, interval: 200 })
      .toBeGreaterThanOrEqual(3);
    const fragments = (await recentFragments(client, name)).sort((a, b) =>
      (a.FragmentNumber ?? '').localeCompare(b.FragmentNumber ?? ''),
    );
    for (const f of fragments) {
      expect(f.FragmentLengthInMilliseconds).toBeGreaterThan(1_500);
      expect(f.FragmentLengthInMilliseconds).toBeLessThan(2_500);
      expect(f.FragmentSizeInBytes).toBeGreaterThan(0);
    }
    const media = await client.send(
      new GetMediaForFragmentListCommand({
        StreamName: name,
        Fragments: fragments.map((f) => f.FragmentNumber ?? ''),
      }),
    );
    const bytes = Buffer.from((await media.Payload?.transformToByteArray()) ?? []);
    const dir = await mkdtemp(join(tmpdir(), 'streamgate-rtmp-e2e-'));
    try {
      const info = await probe(dir, bytes);
      expect(info.codecs.sort()).toEqual(['aac', 'h264']);
      expect(info.durationSeconds).toBeGreaterThan(3.5);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    client.destroy();
  });

  it('refuses a wrong publish token and an unknown stream, storing nothing', async () => {
    const name = `rtmp-refused-${randomBytes(3).toString('hex')}`;
    await kvs.send(new CreateStreamCommand({ StreamName: name, DataRetentionInHours: 1 }));
    expect(await publish(name, 'not-the-token', 2)).not.toBe(0);
    expect(await publish('no-such-stream', publishToken(SECRET, 'no-such-stream'), 2)).not.toBe(0);
    const client = await archivedMedia(name);
    expect(await recentFragments(client, name)).toEqual([]);
    client.destroy();
  });
});

import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { Socket } from 'node:net';
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
import { RTMP_TYPE, rawRtmpPublish } from '../../support/raw-rtmp-publisher.ts';
import { type RunningApp, startApp, TEST_KEYS } from '../../support/start-app.ts';
import { recentFragments } from '../../support/video.ts';

// Acceptance: "garbage on the RTMP port, an FLV with broken headers, a camera that sends nothing —
// each is closed with a reason, the process and other streams keep going". The whole gateway with
// RTMP on; a healthy ffmpeg publisher (1 s GOP) archives throughout while hostile peers come and go.

const SECRET = 'rtmp-hostile-e2e-publish-secret-0123456789';
const IDLE_TIMEOUT_MS = 2_000;
/** Above the ~5 s ffmpeg probes a video-only publish before its init segment. */
const MEDIA_START_TIMEOUT_MS = 8_000;
let gateway: RunningApp;
let kvs: KinesisVideoClient;
let media: KinesisVideoArchivedMediaClient;
let rtmpPort: number;
let healthy: ChildProcess | undefined;
const HEALTHY = `healthy-${randomBytes(3).toString('hex')}`;

beforeAll(async () => {
  rtmpPort = await freePort();
  gateway = await startApp({
    env: { STREAMGATE_RTMP_PORT: String(rtmpPort), STREAMGATE_PUBLISH_SECRET: SECRET },
    overrides: {
      rtmpIdleTimeoutMs: IDLE_TIMEOUT_MS,
      rtmpAdmissionTimeoutMs: 3_000,
      rtmpMediaStartTimeoutMs: MEDIA_START_TIMEOUT_MS,
    },
  });
  kvs = new KinesisVideoClient({
    endpoint: gateway.endpoint,
    region: 'us-east-1',
    credentials: TEST_KEYS,
    maxAttempts: 1,
  });
  await kvs.send(new CreateStreamCommand({ StreamName: HEALTHY, DataRetentionInHours: 1 }));
  const { DataEndpoint } = await kvs.send(
    new GetDataEndpointCommand({ StreamName: HEALTHY, APIName: 'LIST_FRAGMENTS' }),
  );
  media = new KinesisVideoArchivedMediaClient({
    endpoint: DataEndpoint ?? expect.fail('GetDataEndpoint returned no DataEndpoint'),
    region: 'us-east-1',
    credentials: TEST_KEYS,
    maxAttempts: 1,
  });
  // Long enough for every case below; killed in afterAll.
  healthy = spawn(
    '/usr/bin/ffmpeg',
    [
      ...['-hide_banner', '-loglevel', 'error', '-re'],
      ...['-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=25', '-t', '120'],
      ...['-c:v', 'libx264', '-preset', 'ultrafast', '-g', '25', '-keyint_min', '25', '-sc_threshold', '0'],
      ...['-pix_fmt', 'yuv420p', '-f', 'flv'],
      `rtmp://127.0.0.1:${rtmpPort}/live/${HEALTHY}?key=${publishToken(SECRET, HEALTHY)}`,
    ],
    { stdio: 'ignore' },
  );
});
afterAll(async () => {
  if (healthy?.exitCode === null) healthy.kill('SIGKILL');
  media?.destroy();
  kvs?.destroy();
  await gateway?.stop();
});

const healthyFragments = async () => (await recentFragments(media, HEALTHY)).length;

/** The gateway answers /healthz and the healthy stream archives at least two more fragments. */
async function expectGatewayAndHealthyStreamAlive(fragmentsBefore: number): Promise<void> {
  const response = await fetch(`${gateway.endpoint}/healthz`);
  expect(response.status).toBe(200);
  await expect
    .poll(() => healthyFragments(), { timeout: 15_000, interval: 200 })
    .toBeGreaterThanOrEqual(fragmentsBefore + 2);
  expect(healthy?.exitCode).toBeNull();
}

async function newBadStream(): Promise<string> {
  const name = `bad-${randomBytes(3).toString('hex')}`;
  await kvs.send(new CreateStreamCommand({ StreamName: name, DataRetentionInHours: 1 }));
  return name;
}

/** Whatever a bad stream stored is complete: each listed fragment has media that ffprobe reads. */
async function expectOnlyCompleteFragments(streamName: string): Promise<void> {
  const fragments = await recentFragments(media, streamName);
  if (fragments.length === 0) return;
  const response = await media.send(
    new GetMediaForFragmentListCommand({
      StreamName: streamName,
      Fragments: fragments.map((f) => f.FragmentNumber ?? ''),
    }),
  );
  const bytes = Buffer.from((await response.Payload?.transformToByteArray()) ?? []);
  const dir = await mkdtemp(join(tmpdir(), 'streamgate-hostile-e2e-'));
  try {
    const probed = await probe(dir, bytes);
    expect(probed.durationSeconds).toBeGreaterThan(0);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** FLV video tag bodies (video_file_format_spec_v10_1, E.4.3) that no encoder would send. */
const BROKEN_VIDEO_TAGS: Record<string, Buffer[]> = {
  'an empty video message': [Buffer.alloc(0)],
  'an AVC sequence header of garbage': [
    Buffer.concat([Buffer.from([0x17, 0x00, 0, 0, 0]), randomBytes(40)]),
    Buffer.concat([Buffer.from([0x17, 0x01, 0, 0, 0]), randomBytes(2_000)]),
  ],
  'an AVC sequence header cut short, then NAL units with lengths past the tag': [
    Buffer.from([0x17, 0x00, 0, 0, 0, 0x01, 0x64]),
    Buffer.concat([Buffer.from([0x17, 0x01, 0, 0, 0, 0xff, 0xff, 0xff, 0xff]), randomBytes(500)]),
  ],
  'an enhanced-RTMP header with a truncated FourCC': [Buffer.from([0x90, 0x68]), Buffer.from([0x91])],
  'an unknown codec id': [Buffer.concat([Buffer.from([0x1f]), randomBytes(300)])],
};

describe('hostile RTMP input', () => {
  it('archives the healthy publisher that runs beside every case below', async () => {
    await expect.poll(() => healthyFragments(), { timeout: 20_000, interval: 200 }).toBeGreaterThanOrEqual(2);
  });

  it('closes a connection that sends random bytes; the gateway and the healthy stream keep going', async () => {
    const before = await healthyFragments();
    const socket = new Socket();
    socket.on('error', () => undefined);
    socket.resume();
    const closed = once(socket, 'close');
    socket.connect(rtmpPort, '127.0.0.1', () => socket.write(randomBytes(8_000)));
    await closed;
    await expectGatewayAndHealthyStreamAlive(before);
  });

  for (const [what, tags] of Object.entries(BROKEN_VIDEO_TAGS)) {
    it(`closes an admitted publisher that sends ${what}, and stores nothing incomplete`, async () => {
      const before = await healthyFragments();
      const name = await newBadStream();
      const publisher = await rawRtmpPublish({
        port: rtmpPort,
        app: 'live',
        streamName: name,
        token: publishToken(SECRET, name),
      });
      // Keep sending (a publisher that goes quiet would be closed by the idle timeout instead).
      let timestampMs = 0;
      const timer = setInterval(() => {
        for (const tag of tags) publisher.send(RTMP_TYPE.video, timestampMs, tag);
        publisher.send(RTMP_TYPE.audio, timestampMs, Buffer.from([0xaf]));
        timestampMs += 40;
      }, 40);
      try {
        await expect
          .poll(() => publisher.isClosed(), { timeout: MEDIA_START_TIMEOUT_MS + 10_000, interval: 100 })
          .toBe(true);
      } finally {
        clearInterval(timer);
      }
      await expectGatewayAndHealthyStreamAlive(before);
      await expectOnlyCompleteFragments(name);
    });
  }

  it('closes an admitted publisher that sends nothing after publish (idle timeout)', async () => {
    const before = await healthyFragments();
    const name = await newBadStream();
    const publisher = await rawRtmpPublish({
      port: rtmpPort,
      app: 'live',
      streamName: name,
      token: publishToken(SECRET, name),
    });
    await expect
      .poll(() => publisher.isClosed(), { timeout: IDLE_TIMEOUT_MS + 10_000, interval: 100 })
      .toBe(true);
    expect(await recentFragments(media, name)).toEqual([]);
    await expectGatewayAndHealthyStreamAlive(before);
  });

  it('kept archiving the healthy stream in order, without holes, through all of the above', async () => {
    const fragments = await recentFragments(media, HEALTHY);
    for (const [i, f] of fragments.entries()) {
      const previous = fragments[i - 1];
      if (previous === undefined) continue;
      // (equal when fragments arrive in one burst, e.g. after ffmpeg's probe)
      expect(f.ServerTimestamp?.getTime() ?? 0).toBeGreaterThanOrEqual(
        previous.ServerTimestamp?.getTime() ?? 0,
      );
      const previousEndMs =
        (previous.ProducerTimestamp?.getTime() ?? 0) + (previous.FragmentLengthInMilliseconds ?? 0);
      expect(Math.abs((f.ProducerTimestamp?.getTime() ?? 0) - previousEndMs)).toBeLessThan(1_000);
    }
    expect(gateway.app.videoArchive.stats().dropped).toBe(0);
  });
});

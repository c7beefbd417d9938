import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type Server, type Socket } from 'node:net';
import {
  CreateStreamCommand,
  DeleteStreamCommand,
  DescribeStreamCommand,
  KinesisVideoClient,
} from '@aws-sdk/client-kinesis-video';
import {
  GetMediaForFragmentListCommand,
  KinesisVideoArchivedMediaClient,
} from '@aws-sdk/client-kinesis-video-archived-media';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FragmentIndex } from '../../../src/video-archive/index.ts';
import { probe } from '../../integration/video/fmp4-source.ts';
import { type FakeCamera, startFakeCamera } from '../../support/fake-camera.ts';
import { freePort } from '../../support/free-port.ts';
import { startPrivateRedis } from '../../support/private-redis.ts';
import { signedRestCall } from '../../support/signed-request.ts';
import { type RunningApp, startApp, TEST_KEYS } from '../../support/start-app.ts';
import { recentFragments } from '../../support/video.ts';

// An IP camera as the gateway meets it: GStreamer's RTSP server pulled over TCP by ffmpeg, archived as
// encrypted GOP fragments; the watchdog restarts the pull when the camera dies and resumes with a new
// init version when it is back; a camera that accepts TCP but never answers is retried, not fatal.

const PASSWORD = 'camera-pass-5Qx9';
let gateway: RunningApp;
let kvs: KinesisVideoClient;
let media: KinesisVideoArchivedMediaClient;
const cameras: FakeCamera[] = [];
let silent: Server | undefined;
const silentSockets = new Set<Socket>();

beforeAll(async () => {
  gateway = await startApp({
    overrides: {
      rtsp: {
        reconcileIntervalMs: 200,
        leaseTtlMs: 5_000,
        connectTimeoutMs: 3_000,
        // Generous: a starved CI machine must not make a healthy camera look stalled.
        stallTimeoutMs: 10_000,
        backoff: { baseMs: 300, maxMs: 2_000 },
      },
    },
  });
  const client = { endpoint: gateway.endpoint, region: 'us-east-1', credentials: TEST_KEYS, maxAttempts: 1 };
  kvs = new KinesisVideoClient(client);
  media = new KinesisVideoArchivedMediaClient(client);
});
afterAll(async () => {
  await gateway?.stop();
  for (const camera of cameras) await camera.kill();
  for (const socket of silentSockets) socket.destroy();
  silent?.close();
  kvs?.destroy();
  media?.destroy();
});

async function createStream(prefix: string): Promise<string> {
  const name = `${prefix}-${randomBytes(3).toString('hex')}`;
  await kvs.send(new CreateStreamCommand({ StreamName: name, DataRetentionInHours: 1 }));
  return name;
}

async function describeSource(streamName: string) {
  const response = await signedRestCall(gateway.endpoint, '/describeRtspSource', { StreamName: streamName });
  expect(response.status, JSON.stringify(response.body)).toBe(200);
  return response.body.RtspSource as {
    Url: string;
    Transport: string;
    Status: { State: string; Restarts: number; Fragments: number; LastError?: string };
  };
}

async function initVersionsOf(streamName: string, numbers: string[]): Promise<string[]> {
  const index = new FragmentIndex({ redis: gateway.app.redis.client });
  const stream = await kvs.send(new DescribeStreamCommand({ StreamName: streamName }));
  const arn = stream.StreamInfo?.StreamARN ?? '';
  // The ARN ends with the creation time in ms, which (with the name) identifies the stream's index.
  const record = { name: streamName, arn, creationTimeMs: Number(arn.split('/').at(-1)) };
  const fragments = await index.get(record as never, numbers);
  return fragments.map((f) => f?.initVersion ?? 'missing');
}

describe('RTSP camera pull', () => {
  it('archives a camera, survives it dying, and resumes with a new init version', async () => {
    const port = await freePort();
    cameras.push(await startFakeCamera(port));
    const name = await createStream('rtsp');
    const url = `rtsp://viewer@127.0.0.1:${port}/cam`;
    const put = await signedRestCall(gateway.endpoint, '/putRtspSource', {
      StreamName: name,
      Url: url,
      Password: PASSWORD,
    });
    expect(put.status, JSON.stringify(put.body)).toBe(200);
    expect(put.body.Url).toBe(`rtsp://viewer:***@127.0.0.1:${port}/cam`);

    await expect
      .poll(async () => (await recentFragments(media, name)).length, { timeout: 20_000, interval: 250 })
      .toBeGreaterThanOrEqual(3);
    const source = await describeSource(name);
    expect(source).toMatchObject({ Url: `rtsp://viewer:***@127.0.0.1:${port}/cam`, Transport: 'TCP' });
    expect(source.Status.State).toBe('STREAMING');
    expect(source.Status.Fragments).toBeGreaterThanOrEqual(3);
    // The password is only stored sealed.
    const raw = JSON.stringify(await gateway.app.redis.client.hgetall(`kvs:{kvs:${name}}:camera`));
    expect(raw).not.toContain(PASSWORD);

    const before = await recentFragments(media, name);
    for (const f of before) {
      expect(f.FragmentLengthInMilliseconds).toBeGreaterThan(0);
      expect(f.FragmentLengthInMilliseconds).toBeLessThanOrEqual(1_500);
      expect(Math.abs((f.ProducerTimestamp?.getTime() ?? 0) - Date.now())).toBeLessThan(60_000);
    }
    for (let i = 1; i < before.length; i += 1) {
      const gapMs =
        (before[i]?.ProducerTimestamp?.getTime() ?? 0) - (before[i - 1]?.ProducerTimestamp?.getTime() ?? 0);
      // Producer timestamps follow the camera's clock: consecutive fragments are one GOP apart.
      expect(gapMs).toBeCloseTo(before[i - 1]?.FragmentLengthInMilliseconds ?? 0, -2);
    }

    // Power cut: the pull fails, the watchdog backs off and retries.
    await cameras[0]?.kill();
    await expect
      .poll(async () => (await describeSource(name)).Status, { timeout: 20_000, interval: 250 })
      .toMatchObject({
        State: expect.stringMatching(/^(BACKOFF|CONNECTING)$/),
        Restarts: expect.any(Number),
      });
    await expect
      .poll(async () => (await describeSource(name)).Status.Restarts, { timeout: 20_000, interval: 250 })
      .toBeGreaterThanOrEqual(1);
    const during = await describeSource(name);
    expect(during.Status.LastError).toBeDefined();
    expect(during.Status.LastError).not.toContain(PASSWORD);
    const countAtOutage = (await recentFragments(media, name)).length;

    // The camera comes back on the same address: archiving resumes under a new init version.
    cameras.push(await startFakeCamera(port));
    await expect
      .poll(async () => (await recentFragments(media, name)).length, { timeout: 30_000, interval: 250 })
      .toBeGreaterThanOrEqual(countAtOutage + 3);
    expect((await describeSource(name)).Status.State).toBe('STREAMING');
    const all = await recentFragments(media, name);
    const numbers = all.map((f) => f.FragmentNumber ?? '');
    const versions = await initVersionsOf(name, numbers);
    expect(new Set(versions).size).toBeGreaterThanOrEqual(2);
    expect(versions[0]).not.toBe(versions.at(-1));
    const serverTimes = all.map((f) => f.ServerTimestamp?.getTime() ?? 0);
    expect([...serverTimes].sort((a, b) => a - b)).toEqual(serverTimes);

    // Both sessions play back: the first and the last fragment, each with its own init segment.
    for (const number of [numbers[0], numbers.at(-1)]) {
      const { Payload } = await media.send(
        new GetMediaForFragmentListCommand({ StreamName: name, Fragments: [number ?? ''] }),
      );
      const bytes = Buffer.from((await Payload?.transformToByteArray()) ?? []);
      const probed = await probe(gateway.dataDir, bytes);
      expect(probed.codecs.sort()).toEqual(['aac', 'h264']);
    }

    const metrics = await (await fetch(`${gateway.endpoint}/metrics`)).text();
    const restarts = new RegExp(`streamgate_rtsp_source_restarts_total\\{stream="${name}"\\} (\\d+)`).exec(
      metrics,
    );
    expect(Number(restarts?.[1])).toBeGreaterThanOrEqual(1);
    expect(metrics).toContain(`streamgate_rtsp_source_up{stream="${name}"} 1`);

    // Removing the source stops the pull.
    expect((await signedRestCall(gateway.endpoint, '/deleteRtspSource', { StreamName: name })).status).toBe(
      200,
    );
    // Every series of the camera goes (matching whole label sets: `restarts_total{...} 1` once
    // passed for the gauge and made this flaky).
    await expect
      .poll(
        async () =>
          (await fetch(`${gateway.endpoint}/metrics`).then((r) => r.text()))
            .split('\n')
            .filter((line) => line.includes(`{stream="${name}"}`)),
        { timeout: 10_000, interval: 250 },
      )
      .toEqual([]);
    const missing = await signedRestCall(gateway.endpoint, '/describeRtspSource', { StreamName: name });
    expect([missing.status, missing.errorType]).toEqual([404, 'ResourceNotFoundException']);
  });

  it('retries a camera that accepts TCP but never answers, with a reason, and keeps serving', async () => {
    silent = createServer((socket) => {
      silentSockets.add(socket);
      socket.on('close', () => silentSockets.delete(socket));
    }).listen(0, '127.0.0.1');
    await once(silent, 'listening');
    const { port } = silent.address() as { port: number };
    const name = await createStream('rtsp-silent');
    const put = await signedRestCall(gateway.endpoint, '/putRtspSource', {
      StreamName: name,
      Url: `rtsp://127.0.0.1:${port}/cam`,
    });
    expect(put.status).toBe(200);
    await expect
      .poll(async () => (await describeSource(name)).Status.Restarts, { timeout: 20_000, interval: 250 })
      .toBeGreaterThanOrEqual(2);
    const status = (await describeSource(name)).Status;
    expect(status.LastError).toMatch(/no media within|timed out|Connection|ffmpeg exited/i);
    expect(await recentFragments(media, name)).toEqual([]);
    expect((await fetch(`${gateway.endpoint}/healthz`)).status).toBe(200);

    // Deleting the stream removes its camera too.
    const arn = (await kvs.send(new DescribeStreamCommand({ StreamName: name }))).StreamInfo?.StreamARN;
    await kvs.send(new DeleteStreamCommand({ StreamARN: arn }));
    await expect
      .poll(async () => (await gateway.app.redis.client.sismember('kvs:{kvs}:cameras', name)) === 1, {
        timeout: 10_000,
      })
      .toBe(false);
  });

  it('refuses camera URLs that are not rtsp, carry options or control characters, or name no stream', async () => {
    const name = await createStream('rtsp-bad');
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ StreamName: name, Url: 'http://127.0.0.1/cam' }, 'InvalidArgumentException'],
      [{ StreamName: name, Url: 'file:///etc/passwd' }, 'InvalidArgumentException'],
      [{ StreamName: name, Url: '-i /etc/passwd' }, 'InvalidArgumentException'],
      [{ StreamName: name, Url: 'rtsp://127.0.0.1/cam\n-y' }, 'InvalidArgumentException'],
      [{ StreamName: name, Url: `rtsp://127.0.0.1/${'a'.repeat(3000)}` }, 'InvalidArgumentException'],
      [{ StreamName: name, Url: 'rtsp://127.0.0.1/cam', Transport: 'SCTP' }, 'InvalidArgumentException'],
      [{ StreamName: name, Url: 'rtsp://:pw@127.0.0.1/cam' }, 'InvalidArgumentException'],
      [{ StreamName: name }, 'InvalidArgumentException'],
      [{ StreamName: 'no-such-stream-x', Url: 'rtsp://127.0.0.1/cam' }, 'ResourceNotFoundException'],
    ];
    for (const [body, errorType] of cases) {
      const response = await signedRestCall(gateway.endpoint, '/putRtspSource', body);
      expect(response.errorType, JSON.stringify(body)).toBe(errorType);
      expect(response.status).toBeGreaterThanOrEqual(400);
      expect(response.body.message ?? response.body.Message).toEqual(expect.any(String));
    }
    const missing = await signedRestCall(gateway.endpoint, '/describeRtspSource', { StreamName: name });
    expect(missing.errorType).toBe('ResourceNotFoundException');
  });
});

describe('RTSP pull and shutdown', () => {
  it('stops the gateway promptly while pulling a camera after Redis died', async () => {
    const redis = await startPrivateRedis();
    const camera = await startFakeCamera(await freePort());
    cameras.push(camera);
    const own = await startApp({
      env: { STREAMGATE_REDIS_URL: redis.url },
      overrides: { rtsp: { reconcileIntervalMs: 200, backoff: { baseMs: 300, maxMs: 1_000 } } },
    });
    try {
      const client = new KinesisVideoClient({
        endpoint: own.endpoint,
        region: 'us-east-1',
        credentials: TEST_KEYS,
      });
      const name = `rtsp-down-${randomBytes(3).toString('hex')}`;
      await client.send(new CreateStreamCommand({ StreamName: name, DataRetentionInHours: 1 }));
      client.destroy();
      expect(
        (await signedRestCall(own.endpoint, '/putRtspSource', { StreamName: name, Url: camera.url })).status,
      ).toBe(200);
      await expect
        .poll(
          async () => (await signedRestCall(own.endpoint, '/describeRtspSource', { StreamName: name })).body,
          {
            timeout: 20_000,
            interval: 250,
          },
        )
        .toMatchObject({ RtspSource: { Status: { State: 'STREAMING' } } });
      await redis.stop();
      await new Promise((resolve) => setTimeout(resolve, 2_000));
      // Before: the pull loop, the lease release and Redis QUIT each waited for ioredis to give up on
      // the dead server (27 s in all); none of them may hold the drain now.
      const outcome = await Promise.race([
        own.stop().then(() => 'stopped'),
        new Promise((resolve) => setTimeout(resolve, 10_000, 'still stopping after 10 s')),
      ]);
      expect(outcome).toBe('stopped');
    } finally {
      await own.stop();
      await redis.stop();
    }
  });
});

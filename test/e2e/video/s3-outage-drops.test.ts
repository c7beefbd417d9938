import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import {
  CreateStreamCommand,
  GetDataEndpointCommand,
  KinesisVideoClient,
} from '@aws-sdk/client-kinesis-video';
import { KinesisVideoArchivedMediaClient } from '@aws-sdk/client-kinesis-video-archived-media';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { publishToken } from '../../../src/ingest/index.ts';
import { freePort } from '../../support/free-port.ts';
import { type S3Server, startS3Server } from '../../support/s3-server.ts';
import { type RunningApp, startApp, TEST_KEYS } from '../../support/start-app.ts';
import { recentFragments } from '../../support/video.ts';

// The other half of the outage acceptance: when an outage outlasts the backlog (here a 64 KiB memory
// bound and a 400 KB spool per stream), the oldest GOPs are dropped, and exactly those are counted.
// Checked from outside: the fragment numbers missing from ListFragments equal the dropped metric.

const SECRET = 's3-outage-drops-e2e-publish-secret-0123456789';
let s3: S3Server;
let gateway: RunningApp;
let kvs: KinesisVideoClient;
let rtmpPort: number;
let publisher: ChildProcess | undefined;

beforeAll(async () => {
  s3 = await startS3Server();
  rtmpPort = await freePort();
  gateway = await startApp({
    env: {
      STREAMGATE_S3_ENDPOINT: s3.info.endpoint,
      STREAMGATE_S3_ACCESS_KEY: s3.info.accessKey,
      STREAMGATE_S3_SECRET_KEY: s3.info.secretKey,
      STREAMGATE_S3_BUCKET: s3.info.bucket,
      STREAMGATE_S3_REGION: s3.info.region,
      STREAMGATE_RTMP_PORT: String(rtmpPort),
      STREAMGATE_PUBLISH_SECRET: SECRET,
      STREAMGATE_VIDEO_BACKLOG_MEMORY_BYTES: String(64 * 1024),
      STREAMGATE_VIDEO_SPOOL_MAX_BYTES: String(400_000),
    },
  });
  kvs = new KinesisVideoClient({
    endpoint: gateway.endpoint,
    region: 'us-east-1',
    credentials: TEST_KEYS,
    maxAttempts: 1,
  });
});
afterAll(async () => {
  if (publisher?.exitCode === null) publisher.kill('SIGKILL');
  kvs?.destroy();
  await gateway?.stop();
  await s3?.stop();
});

const droppedMetric = async () =>
  (
    await gateway.app.metrics.registry
      .getSingleMetric('streamgate_video_archive_dropped_fragments_total')
      ?.get()
  )?.values[0]?.value ?? 0;

describe('S3 outage longer than the backlog', () => {
  it('drops the oldest GOPs of the outage and counts exactly the fragments that are missing', async () => {
    const name = `drops-${randomBytes(3).toString('hex')}`;
    await kvs.send(new CreateStreamCommand({ StreamName: name, DataRetentionInHours: 1 }));
    const writer = gateway.app.videoArchive;
    publisher = spawn(
      '/usr/bin/ffmpeg',
      [
        ...['-hide_banner', '-loglevel', 'error', '-re'],
        ...['-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=25', '-f', 'lavfi', '-i', 'sine', '-t', '24'],
        ...['-c:v', 'libx264', '-preset', 'ultrafast', '-g', '25', '-pix_fmt', 'yuv420p', '-c:a', 'aac'],
        ...['-f', 'flv', `rtmp://127.0.0.1:${rtmpPort}/live/${name}?key=${publishToken(SECRET, name)}`],
      ],
      { stdio: 'ignore' },
    );
    const exit = once(publisher, 'exit');
    await expect
      .poll(() => writer.stats().fragmentsWritten, { timeout: 20_000, interval: 100 })
      .toBeGreaterThanOrEqual(2);
    await s3.suspend();
    await expect
      .poll(() => writer.stats().dropped, { timeout: 30_000, interval: 100 })
      .toBeGreaterThanOrEqual(3);
    const { memoryBytes, spoolBytes } = writer.stats();
    expect(memoryBytes + spoolBytes).toBeLessThanOrEqual(64 * 1024 + 400_000);
    await s3.resume();
    expect((await exit)[0]).toBe(0);
    await expect.poll(() => writer.stats().pendingWrites, { timeout: 30_000, interval: 100 }).toBe(0);

    const { DataEndpoint } = await kvs.send(
      new GetDataEndpointCommand({ StreamName: name, APIName: 'LIST_FRAGMENTS' }),
    );
    const client = new KinesisVideoArchivedMediaClient({
      endpoint: DataEndpoint ?? expect.fail('no DataEndpoint'),
      region: 'us-east-1',
      credentials: TEST_KEYS,
      maxAttempts: 1,
    });
    const sequences = (await recentFragments(client, name)).map((f) =>
      Number((f.FragmentNumber ?? '').slice(1)),
    );
    client.destroy();
    const first = sequences[0] ?? 0;
    const last = sequences.at(-1) ?? 0;
    const missing: number[] = [];
    for (let n = first; n <= last; n += 1) if (!sequences.includes(n)) missing.push(n);
    expect(missing.length).toBe(await droppedMetric());
    expect(missing.length).toBe(writer.stats().dropped);
    // Every number handed out is either listed or counted as dropped; none is listed twice.
    expect(sequences.length + missing.length).toBe(last - first + 1);
    expect(new Set(sequences).size).toBe(sequences.length);
  });
});

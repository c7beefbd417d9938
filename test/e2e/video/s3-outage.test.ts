import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
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
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { publishToken } from '../../../src/ingest/index.ts';
import { probe } from '../../integration/video/fmp4-source.ts';
import { freePort } from '../../support/free-port.ts';
import { type S3Server, startS3Server } from '../../support/s3-server.ts';
import { type RunningApp, startApp, TEST_KEYS } from '../../support/start-app.ts';
import { recentFragments, watchIndexed } from '../../support/video.ts';

// Acceptance: "stop the S3 protocol server for 10 s during ingest and restart it — no acknowledged
// fragment is lost, fragments arrive in order". A private s3rver (suspended and resumed on the same
// port and directory) behind the gateway, ffmpeg publishing over RTMP with a 1 s GOP, a 64 KiB memory
// backlog so the outage goes through the disk spool, and the unmodified archived-media SDK to check.

const SECRET = 's3-outage-e2e-publish-secret-0123456789';
const GOP_MS = 1_000;
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

/** ffmpeg publishing H.264 with a fixed 1 s GOP (25 fps) + AAC over RTMP; resolves with its exit code. */
function publish(streamName: string, seconds: number): Promise<number | null> {
  const child = spawn(
    '/usr/bin/ffmpeg',
    [
      ...['-hide_banner', '-loglevel', 'error', '-re'],
      ...['-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=25'],
      ...['-f', 'lavfi', '-i', 'sine', '-t', String(seconds)],
      ...['-c:v', 'libx264', '-preset', 'ultrafast', '-g', '25', '-keyint_min', '25', '-sc_threshold', '0'],
      ...['-pix_fmt', 'yuv420p', '-c:a', 'aac', '-f', 'flv'],
      `rtmp://127.0.0.1:${rtmpPort}/live/${streamName}?key=${publishToken(SECRET, streamName)}`,
    ],
    { stdio: 'ignore' },
  );
  publisher = child;
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

async function spoolFileCount(): Promise<number> {
  const root = join(gateway.dataDir, 'spool');
  let count = 0;
  for (const stream of await readdir(root)) count += (await readdir(join(root, stream))).length;
  return count;
}

describe('S3 outage during RTMP ingest', () => {
  it('spools through a 10 s outage and stores every fragment, in order, once S3 is back', async () => {
    const name = `outage-${randomBytes(3).toString('hex')}`;
    await kvs.send(new CreateStreamCommand({ StreamName: name, DataRetentionInHours: 1 }));
    const indexed = await watchIndexed(inject('redisUrl'), name);
    const writer = gateway.app.videoArchive;
    const exit = publish(name, 28);

    await expect
      .poll(() => writer.stats().fragmentsWritten, { timeout: 20_000, interval: 100 })
      .toBeGreaterThanOrEqual(3);
    await s3.suspend();
    const writtenAtOutage = writer.stats().fragmentsWritten;
    // About ten GOPs arrive while S3 is down (1 s each): they wait in memory and the spool.
    await expect
      .poll(() => writer.stats().pendingWrites, { timeout: 30_000, interval: 100 })
      .toBeGreaterThanOrEqual(10);
    expect(writer.stats().spooled).toBeGreaterThanOrEqual(5);
    expect(writer.stats().fragmentsWritten).toBe(writtenAtOutage);
    expect(await spoolFileCount()).toBeGreaterThanOrEqual(5);
    await s3.resume();

    expect(await exit).toBe(0);
    await expect.poll(() => writer.stats().pendingWrites, { timeout: 30_000, interval: 100 }).toBe(0);
    const stats = writer.stats();
    expect(stats).toMatchObject({ dropped: 0, memoryBytes: 0, spoolBytes: 0 });
    expect(stats.retries).toBeGreaterThan(0);
    expect(await spoolFileCount()).toBe(0);
    const droppedMetric = await gateway.app.metrics.registry
      .getSingleMetric('streamgate_video_archive_dropped_fragments_total')
      ?.get();
    expect(droppedMetric?.values[0]?.value ?? 0).toBe(0);

    const client = await archivedMedia(name);
    const fragments = await recentFragments(client, name);
    expect(fragments).toHaveLength(stats.fragmentsWritten);
    expect(fragments.length).toBeGreaterThanOrEqual(25);
    // In order: the writer indexed them (memory and spool, across the outage) in the order it
    // accepted and numbered them; ListFragments below is sorted, so it cannot show this.
    await expect.poll(() => indexed.numbers.length).toBe(fragments.length);
    indexed.stop();
    expect(indexed.numbers).toEqual(fragments.map((f) => f.FragmentNumber));
    for (const [i, f] of fragments.entries()) {
      const previous = fragments[i - 1];
      if (previous === undefined) continue;
      // Fragment numbers increase with server timestamps (never decreasing)...
      // (equal when fragments arrive in one burst, e.g. after ffmpeg's probe)
      expect(f.ServerTimestamp?.getTime() ?? 0).toBeGreaterThanOrEqual(
        previous.ServerTimestamp?.getTime() ?? 0,
      );
      // ...and producer time has no hole wider than one GOP, across the outage too.
      const previousEndMs =
        (previous.ProducerTimestamp?.getTime() ?? 0) + (previous.FragmentLengthInMilliseconds ?? 0);
      expect(Math.abs((f.ProducerTimestamp?.getTime() ?? 0) - previousEndMs)).toBeLessThan(GOP_MS);
    }
    const totalMs = fragments.reduce((sum, f) => sum + (f.FragmentLengthInMilliseconds ?? 0), 0);
    expect(totalMs).toBeGreaterThan(26_000);

    const media = await client.send(
      new GetMediaForFragmentListCommand({
        StreamName: name,
        Fragments: fragments.map((f) => f.FragmentNumber ?? ''),
      }),
    );
    const bytes = Buffer.from((await media.Payload?.transformToByteArray()) ?? []);
    const dir = await mkdtemp(join(tmpdir(), 'streamgate-outage-e2e-'));
    try {
      const probed = await probe(dir, bytes);
      expect(probed.codecs.sort()).toEqual(['aac', 'h264']);
      expect(probed.durationSeconds * 1000).toBeGreaterThan(totalMs - 1_500);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    client.destroy();
  });
});

import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
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
import { TEST_KEYS, TEST_ROOT_KEY } from '../../support/start-app.ts';
import { recentFragments, watchIndexed } from '../../support/video.ts';

// "An acknowledged-to-spool fragment is not lost by a crash": the gateway runs as `streamgate serve`
// in a child process against a private s3rver; S3 goes down during an RTMP publish, fragments pile up
// in <data dir>/spool, the gateway is SIGKILLed, S3 comes back, a new gateway on the same data dir
// drains the spool: every fragment that was in the spool is listed, in order, and plays.

const REPO_ROOT = join(import.meta.dirname, '..', '..', '..');
const SECRET = 'spool-crash-e2e-publish-secret-0123456789';
let s3: S3Server;
let dataDir: string;
const children: ChildProcess[] = [];

beforeAll(async () => {
  s3 = await startS3Server();
  dataDir = await mkdtemp(join(tmpdir(), 'streamgate-spool-crash-'));
});
afterAll(async () => {
  for (const child of children)
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await s3?.stop();
  await rm(dataDir, { recursive: true, force: true });
});

/** `streamgate serve` as a child on the shared data dir; resolves with its HTTP endpoint. */
async function startGateway(rtmpPort: number | 'off'): Promise<{ child: ChildProcess; endpoint: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'serve'], {
    cwd: REPO_ROOT,
    env: {
      PATH: process.env.PATH,
      STREAMGATE_HOST: '127.0.0.1',
      STREAMGATE_HTTP_PORT: '0',
      STREAMGATE_RTMP_PORT: String(rtmpPort),
      STREAMGATE_PUBLISH_SECRET: SECRET,
      STREAMGATE_DATA_DIR: dataDir,
      STREAMGATE_REDIS_URL: inject('redisUrl'),
      STREAMGATE_ACCESS_KEYS: `${TEST_KEYS.accessKeyId}:${TEST_KEYS.secretAccessKey}`,
      STREAMGATE_KMS_ROOT_KEY: TEST_ROOT_KEY,
      STREAMGATE_S3_ENDPOINT: s3.info.endpoint,
      STREAMGATE_S3_ACCESS_KEY: s3.info.accessKey,
      STREAMGATE_S3_SECRET_KEY: s3.info.secretKey,
      STREAMGATE_S3_BUCKET: s3.info.bucket,
      STREAMGATE_S3_REGION: s3.info.region,
      STREAMGATE_VIDEO_BACKLOG_MEMORY_BYTES: '0',
      STREAMGATE_LOG_LEVEL: 'info',
    },
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  children.push(child);
  let stdout = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    stdout = (stdout + chunk).slice(-65_536);
  });
  await expect
    .poll(() => /"httpPort":(\d+)/.exec(stdout)?.[1], { timeout: 30_000, interval: 100 })
    .toBeDefined();
  return { child, endpoint: `http://127.0.0.1:${/"httpPort":(\d+)/.exec(stdout)?.[1]}` };
}

/** Fragment numbers of the spool files on disk now (record JSON after 'SGSP', version, u32 length). */
async function spooledFragmentNumbers(): Promise<string[]> {
  const root = join(dataDir, 'spool');
  const numbers: string[] = [];
  for (const stream of await readdir(root).catch(() => [] as string[])) {
    for (const name of await readdir(join(root, stream))) {
      if (!name.endsWith('.spool')) continue;
      const bytes = await readFile(join(root, stream, name)).catch(() => undefined);
      if (bytes === undefined) continue; // drained meanwhile
      const record = JSON.parse(bytes.subarray(9, 9 + bytes.readUInt32BE(5)).toString('utf8')) as {
        fragment?: { fragmentNumber: string };
      };
      if (record.fragment) numbers.push(record.fragment.fragmentNumber);
    }
  }
  return numbers.sort();
}

function clients(endpoint: string) {
  const options = { endpoint, region: 'us-east-1', credentials: TEST_KEYS, maxAttempts: 1 };
  return { kvs: new KinesisVideoClient(options), options };
}

describe('spool across a crash', () => {
  it('drains the spool of a SIGKILLed gateway on the next start: nothing spooled is lost', async () => {
    const rtmpPort = await freePort();
    const first = await startGateway(rtmpPort);
    const { kvs, options } = clients(first.endpoint);
    const name = `crash-${randomBytes(3).toString('hex')}`;
    await kvs.send(new CreateStreamCommand({ StreamName: name, DataRetentionInHours: 1 }));
    const { DataEndpoint } = await kvs.send(
      new GetDataEndpointCommand({ StreamName: name, APIName: 'LIST_FRAGMENTS' }),
    );
    kvs.destroy();
    let media = new KinesisVideoArchivedMediaClient({ ...options, endpoint: DataEndpoint ?? '' });

    const publisher = spawn(
      '/usr/bin/ffmpeg',
      [
        ...['-hide_banner', '-loglevel', 'error', '-re'],
        ...['-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=25', '-f', 'lavfi', '-i', 'sine', '-t', '60'],
        ...['-c:v', 'libx264', '-preset', 'ultrafast', '-g', '25', '-pix_fmt', 'yuv420p', '-c:a', 'aac'],
        ...['-f', 'flv', `rtmp://127.0.0.1:${rtmpPort}/live/${name}?key=${publishToken(SECRET, name)}`],
      ],
      { stdio: 'ignore' },
    );
    children.push(publisher);
    await expect
      .poll(async () => (await recentFragments(media, name)).length, { timeout: 20_000 })
      .toBeGreaterThanOrEqual(2);
    await s3.suspend();
    await expect
      .poll(async () => (await spooledFragmentNumbers()).length, { timeout: 20_000 })
      .toBeGreaterThanOrEqual(5);

    first.child.kill('SIGKILL');
    await once(first.child, 'exit');
    publisher.kill('SIGKILL');
    const spooled = await spooledFragmentNumbers();
    media.destroy();

    await s3.resume();
    const indexed = await watchIndexed(inject('redisUrl'), name);
    const second = await startGateway('off');
    media = new KinesisVideoArchivedMediaClient({ ...options, endpoint: second.endpoint });
    await expect.poll(async () => (await spooledFragmentNumbers()).length, { timeout: 20_000 }).toBe(0);
    const listed = await recentFragments(media, name);
    const numbers = listed.map((f) => f.FragmentNumber ?? '');
    expect(numbers).toEqual(expect.arrayContaining(spooled));
    // In order: the new gateway indexed exactly the spooled fragments, oldest first (ListFragments
    // is sorted, so only the order of indexing shows the drain order).
    await expect.poll(() => indexed.numbers.length).toBe(spooled.length);
    indexed.stop();
    expect(indexed.numbers).toEqual(spooled);
    for (const [i, f] of listed.entries()) {
      const previous = listed[i - 1];
      if (previous === undefined) continue;
      expect(f.ServerTimestamp?.getTime() ?? 0).toBeGreaterThanOrEqual(
        previous.ServerTimestamp?.getTime() ?? 0,
      );
    }
    // The recovered fragments decode (they need the init segment stored before the outage).
    const response = await media.send(
      new GetMediaForFragmentListCommand({ StreamName: name, Fragments: spooled }),
    );
    const bytes = Buffer.from((await response.Payload?.transformToByteArray()) ?? []);
    const dir = await mkdtemp(join(tmpdir(), 'streamgate-spool-crash-probe-'));
    try {
      const probed = await probe(dir, bytes);
      expect(probed.codecs.sort()).toEqual(['aac', 'h264']);
      expect(probed.durationSeconds).toBeGreaterThan(spooled.length - 1.5);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    media.destroy();
    const exited = once(second.child, 'exit');
    second.child.kill('SIGTERM');
    await exited;
  });
});

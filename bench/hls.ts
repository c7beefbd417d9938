// HLS live-edge benchmark (issue 6). One gateway child process (RTMP on, private Redis), one RTMP
// publisher of a pre-encoded 720p30 H.264 + AAC file at ~2 Mbit/s with 1 s GOPs (`-re -c copy`), then:
//   (a) indexed → visible: the time from the writer's "fragment indexed" pub/sub message to a blocking
//       playlist reload (`_HLS_msn`) returning that fragment, p50/p99;
//   (b) glass to glass: in headless Chromium with hls.js (player settings as the player page),
//       wall clock − PROGRAM-DATE-TIME (producer timestamp) of the frame being shown, sampled every 500 ms;
//   (c) concurrent LIVE viewers: N HTTP clients, each doing blocking reloads and fetching every new
//       fragment; "added latency" = fragment fully received by a viewer − fragment indexed, p50/p99 per N.
// Prints one JSON document. Usage: npm run bench:hls [-- --seconds 20 --viewers 100,250,500]
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { Agent, get } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { CreateStreamCommand, KinesisVideoClient } from '@aws-sdk/client-kinesis-video';
import {
  GetHLSStreamingSessionURLCommand,
  KinesisVideoArchivedMediaClient,
  ListFragmentsCommand,
} from '@aws-sdk/client-kinesis-video-archived-media';
import { Redis } from 'ioredis';
import { chromium } from 'playwright-core';
import { publishToken } from '../src/ingest/index.ts';
import { freePort, startGatewayProcess, stopChild } from './support/gateway-process.ts';
import { percentile } from './support/stats.ts';

const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string', default: '20' },
    viewers: { type: 'string', default: '100,250,500' },
  },
});
const PHASE_SECONDS = Number(args.seconds);
const VIEWER_COUNTS = (args.viewers ?? '')
  .split(',')
  .map(Number)
  .filter((n) => n > 0);
const KEYS = { accessKeyId: 'AKIDBENCHHLS1', secretAccessKey: 'bench-secret' };
const SECRET = randomBytes(24).toString('hex');
const children: ChildProcess[] = [];

const summary = (values: number[]) => ({
  samples: values.length,
  p50Ms: percentile(values, 0.5),
  p99Ms: percentile(values, 0.99),
  maxMs: percentile(values, 1),
});

async function ffmpeg(argv: string[]): Promise<void> {
  const child = spawn('/usr/bin/ffmpeg', ['-hide_banner', '-loglevel', 'error', ...argv], {
    stdio: 'ignore',
  });
  children.push(child);
  const [code] = await once(child, 'exit');
  if (code !== 0) throw new Error(`ffmpeg exited with ${code}`);
}

/** 30 s of 720p30 at ~2 Mbit/s, keyframe every second, + AAC. */
async function encodeSource(dir: string): Promise<string> {
  const file = join(dir, 'source.mp4');
  await ffmpeg([
    ...['-f', 'lavfi', '-i', 'testsrc2=size=1280x720:rate=30', '-f', 'lavfi', '-i', 'sine=frequency=440'],
    ...[
      '-t',
      '30',
      '-c:v',
      'libx264',
      '-preset',
      'veryfast',
      '-b:v',
      '2M',
      '-maxrate',
      '2M',
      '-bufsize',
      '2M',
    ],
    ...[
      '-g',
      '30',
      '-keyint_min',
      '30',
      '-sc_threshold',
      '0',
      '-pix_fmt',
      'yuv420p',
      '-c:a',
      'aac',
      '-b:a',
      '96k',
    ],
    ...['-y', file],
  ]);
  return file;
}

/** The fragments the writer announces: sequence → time the announcement arrived here. */
class IndexedFeed {
  readonly indexedAt = new Map<number, number>();
  readonly #sub: Redis;
  readonly #waiters = new Set<() => void>();
  constructor(url: string) {
    this.#sub = new Redis(url, { lazyConnect: true });
  }
  async start(stream: string): Promise<void> {
    await this.#sub.connect();
    this.#sub.on('message', (_channel: string, number: string) => {
      this.indexedAt.set(Number(number.slice(1)), performance.timeOrigin + performance.now());
      for (const wake of this.#waiters) wake();
    });
    await this.#sub.subscribe(`kvs:{kvs:${stream}}:indexed`);
  }
  get newest(): number {
    return Math.max(-1, ...this.indexedAt.keys());
  }
  stop(): void {
    this.#sub.disconnect();
  }
}

const now = () => performance.timeOrigin + performance.now();

/** GET over a keep-alive agent; resolves with the body. */
function httpGet(url: string, agent: Agent): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    get(url, { agent }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () =>
        response.statusCode === 200
          ? resolve(Buffer.concat(chunks))
          : reject(new Error(`HTTP ${response.statusCode}`)),
      );
      response.on('error', reject);
    }).on('error', reject);
  });
}

/** A playlist's media sequence, and its last segment's sequence and URL. */
function parsePlaylist(body: string, base: string) {
  const lines = body.split('\n');
  const mediaSequence = Number(lines.find((l) => l.startsWith('#EXT-X-MEDIA-SEQUENCE:'))?.slice(22));
  const uris = lines.filter((l) => l !== '' && !l.startsWith('#'));
  return {
    last: mediaSequence + uris.length - 1,
    uris: uris.map((uri, i) => ({ sequence: mediaSequence + i, url: new URL(uri, base).toString() })),
  };
}

/** One viewer: blocking reloads, then every new fragment fetched in full; records added latency. */
async function viewer(
  mediaUrl: string,
  feed: IndexedFeed,
  until: number,
  agent: Agent,
  latencies: number[],
  errors: { count: number },
): Promise<number> {
  let bytes = 0;
  let next = -1;
  while (now() < until) {
    try {
      const url = next < 0 ? mediaUrl : `${mediaUrl}&_HLS_msn=${next}`;
      const playlist = parsePlaylist((await httpGet(url, agent)).toString(), mediaUrl);
      const fresh = playlist.uris.filter((u) => u.sequence >= next && next >= 0);
      for (const segment of fresh) {
        bytes += (await httpGet(segment.url, agent)).length;
        const indexed = feed.indexedAt.get(segment.sequence);
        if (indexed !== undefined) latencies.push(now() - indexed);
      }
      next = playlist.last + 1;
    } catch {
      errors.count += 1;
      await sleep(100);
    }
  }
  return bytes;
}

async function main(): Promise<void> {
  const work = await mkdtemp(join(tmpdir(), 'streamgate-bench-hls-'));
  const rtmpPort = await freePort();
  const gateway = await startGatewayProcess({
    keys: KEYS,
    env: {
      STREAMGATE_RTMP_PORT: String(rtmpPort),
      STREAMGATE_PUBLISH_SECRET: SECRET,
    },
  });
  const feed = new IndexedFeed(gateway.redisUrl);
  const client = { endpoint: gateway.endpoint, region: 'us-east-1', credentials: KEYS, maxAttempts: 1 };
  const kvs = new KinesisVideoClient(client);
  const media = new KinesisVideoArchivedMediaClient(client);
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--no-sandbox', '--autoplay-policy=no-user-gesture-required'],
  });
  try {
    const source = await encodeSource(work);
    const stream = `bench-hls-${randomBytes(3).toString('hex')}`;
    await kvs.send(new CreateStreamCommand({ StreamName: stream, DataRetentionInHours: 1 }));
    await feed.start(stream);
    const publishStartMs = Date.now();
    const publisher = spawn(
      '/usr/bin/ffmpeg',
      [
        ...[
          '-hide_banner',
          '-loglevel',
          'error',
          '-re',
          '-stream_loop',
          '-1',
          '-i',
          source,
          '-c',
          'copy',
          '-f',
          'flv',
        ],
        `rtmp://127.0.0.1:${rtmpPort}/live/${stream}?key=${publishToken(SECRET, stream)}`,
      ],
      { stdio: 'ignore' },
    );
    children.push(publisher);
    while (feed.newest < 3) await sleep(100);
    const sessionUrl = async (timestampType: 'SERVER_TIMESTAMP' | 'PRODUCER_TIMESTAMP') => {
      const { HLSStreamingSessionURL = '' } = await media.send(
        new GetHLSStreamingSessionURLCommand({
          StreamName: stream,
          PlaybackMode: 'LIVE',
          DisplayFragmentTimestamp: 'ALWAYS',
          HLSFragmentSelector: { FragmentSelectorType: timestampType },
          Expires: 3600,
        }),
      );
      const master = await (await fetch(HLSStreamingSessionURL)).text();
      return new URL(master.trim().split('\n').at(-1) ?? '', HLSStreamingSessionURL).toString();
    };

    // (a) one client, blocking reloads only.
    const mediaUrl = await sessionUrl('SERVER_TIMESTAMP');
    const visible: number[] = [];
    {
      const until = now() + PHASE_SECONDS * 1000;
      let next = parsePlaylist(await (await fetch(mediaUrl)).text(), mediaUrl).last + 1;
      while (now() < until) {
        const body = await (await fetch(`${mediaUrl}&_HLS_msn=${next}`)).text();
        const received = now();
        const playlist = parsePlaylist(body, mediaUrl);
        for (let sequence = next; sequence <= playlist.last; sequence += 1) {
          const indexed = feed.indexedAt.get(sequence);
          if (indexed !== undefined) visible.push(received - indexed);
        }
        next = Math.max(next, playlist.last + 1);
      }
    }

    // (b) glass to glass in Chromium: hls.js as the player page configures it, PDT = producer time.
    const producerUrl = await sessionUrl('PRODUCER_TIMESTAMP');
    const page = await browser.newPage();
    await page.setContent(`<video id="v" muted autoplay></video>`);
    await page.addScriptTag({ url: `${gateway.endpoint}/console/hls.min.js` });
    await page.evaluate(`(() => {
      const hls = new Hls({ lowLatencyMode: true, liveSyncDurationCount: 1, liveMaxLatencyDurationCount: 4 });
      window.hlsBench = hls;
      hls.loadSource(${JSON.stringify(producerUrl)});
      hls.attachMedia(document.getElementById('v'));
    })()`);
    await page.waitForFunction('document.getElementById("v").currentTime > 1', undefined, {
      timeout: 30_000,
    });
    const glass: number[] = [];
    for (const until = now() + PHASE_SECONDS * 1000; now() < until; ) {
      await sleep(500);
      const at = await page.evaluate<number | null>(
        '(() => { const d = window.hlsBench.playingDate; return d ? Date.now() - d.getTime() : null; })()',
      );
      if (at !== null) glass.push(at);
    }
    // The producer timestamps are the source clock mapped to wall time when the first fragment
    // completed (see docs/video.md); against the publisher's own start they are this much late, so
    // the true glass-to-glass latency is the measured one plus this offset.
    const { Fragments = [] } = await media.send(
      new ListFragmentsCommand({
        StreamName: stream,
        FragmentSelector: {
          FragmentSelectorType: 'SERVER_TIMESTAMP',
          TimestampRange: { StartTimestamp: new Date(publishStartMs - 10_000), EndTimestamp: new Date() },
        },
        MaxResults: 1000,
      }),
    );
    const first = Fragments.sort((a, b) => (a.FragmentNumber ?? '').localeCompare(b.FragmentNumber ?? ''))[0];
    const producerOffsetMs = (first?.ProducerTimestamp?.getTime() ?? Number.NaN) - publishStartMs;
    const frames = await page.evaluate<number>(
      'document.getElementById("v").getVideoPlaybackQuality().totalVideoFrames',
    );
    await page.close();

    // (c) N concurrent viewers sharing one session URL (as behind a CDN, or one page per viewer).
    const viewers = [];
    for (const count of VIEWER_COUNTS) {
      const agent = new Agent({ keepAlive: true, maxSockets: Number.POSITIVE_INFINITY });
      const latencies: number[] = [];
      const errors = { count: 0 };
      const until = now() + PHASE_SECONDS * 1000;
      const bytes = await Promise.all(
        Array.from({ length: count }, () => viewer(mediaUrl, feed, until, agent, latencies, errors)),
      );
      const totalBytes = bytes.reduce((a, b) => a + b, 0);
      viewers.push({
        viewers: count,
        addedLatency: summary(latencies),
        deliveredMbitPerS: Math.round((totalBytes * 8) / PHASE_SECONDS / 1e5) / 10,
        perViewerMbitPerS: Math.round((totalBytes * 8) / PHASE_SECONDS / count / 1e4) / 100,
        errors: errors.count,
      });
      agent.destroy();
    }
    process.stdout.write(
      `${JSON.stringify(
        {
          bench: 'hls',
          source: '1280x720 30 fps H.264 ~2 Mbit/s, 1 s GOP, AAC; ffmpeg -re -c copy over RTMP',
          machine: { cpus: (await import('node:os')).cpus().length },
          phaseSeconds: PHASE_SECONDS,
          indexedToVisibleInBlockingReload: summary(visible),
          glassToGlassMs: { ...summary(glass), decodedFrames: frames },
          glassToGlassVsPublisherStartMs: {
            producerTimestampOffsetMs: producerOffsetMs,
            p50Ms: percentile(
              glass.map((g) => g + producerOffsetMs),
              0.5,
            ),
            p99Ms: percentile(
              glass.map((g) => g + producerOffsetMs),
              0.99,
            ),
          },
          concurrentViewers: viewers,
          goals: { indexedToVisibleP99Ms: 100, glassToGlassMs: 3000, viewersAtUnder1sAdded: 500 },
        },
        null,
        2,
      )}\n`,
    );
  } finally {
    for (const child of children) if (child.exitCode === null) await stopChild(child, 'SIGKILL');
    await browser.close();
    feed.stop();
    kvs.destroy();
    media.destroy();
    await gateway.stop();
    await rm(work, { recursive: true, force: true });
  }
}

await main();

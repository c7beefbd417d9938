// RTMP ingest benchmark: N concurrent ffmpeg publishers (720p30 H.264 2 s GOP + AAC, `-c copy`, `-re`)
// into the gateway (child process, private redis-server), and in the same run a peer of N bare
// `ffmpeg -c copy` remuxes of the same file to fragmented MP4 on /dev/null. Measures, over the steady
// part of each run: gateway CPU (node process, which remuxes H.264/AAC FLV itself, + any ffmpeg
// remux children it starts for other codecs) and RSS per stream,
// fragment server-timestamp-to-visible-in-ListFragments latency, fragments received vs expected.
// Prints one JSON document on stdout.
// Usage: npx tsx bench/ingest.ts [--streams 1,5,10,20] [--seconds 20] [--bare-seconds 20]
//   [--poll-ms 0 (off) | ms] [--latency-streams 3]
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { closeSync, openSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import {
  CreateStreamCommand,
  DescribeStreamCommand,
  GetDataEndpointCommand,
  KinesisVideoClient,
} from '@aws-sdk/client-kinesis-video';
import {
  type Fragment,
  KinesisVideoArchivedMediaClient,
  ListFragmentsCommand,
} from '@aws-sdk/client-kinesis-video-archived-media';
import { Redis } from 'ioredis';
import { publishToken } from '../src/ingest/index.ts';
import { freePort, type GatewayProcess, startGatewayProcess, stopChild } from './support/gateway-process.ts';
import { percentile } from './support/stats.ts';

const { values } = parseArgs({
  options: {
    streams: { type: 'string', default: '1,5,10,20' },
    seconds: { type: 'string', default: '20' },
    'bare-seconds': { type: 'string', default: '20' },
    'poll-ms': { type: 'string', default: '0' },
    'latency-streams': { type: 'string', default: '3' },
  },
});
const streamCounts = String(values.streams).split(',').map(Number);
const seconds = Number(values.seconds);
const bareSeconds = Number(values['bare-seconds']);
const pollMs = Number(values['poll-ms']);
const latencyStreams = Number(values['latency-streams']);
const FFMPEG = '/usr/bin/ffmpeg';
const KEYS = { accessKeyId: 'AKIDBENCH0001', secretAccessKey: 'bench-secret' };
const SECRET = randomBytes(24).toString('hex');
const CLOCK_TICKS_PER_SECOND = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout) || 100;
const PAGE_SIZE = Number(spawnSync('getconf', ['PAGESIZE'], { encoding: 'utf8' }).stdout) || 4096;
/** Seconds skipped at the start (connect, first GOP) and the end (publishers finishing) of a run. */
const WARMUP_S = Math.min(4, seconds / 4);
const TAIL_S = Math.min(2, seconds / 8);

const started: ChildProcess[] = [];

// --- /proc accounting

interface ProcSample {
  cpuS: number;
  rssBytes: number;
  ppid: number;
  comm: string;
}

async function procSample(pid: number): Promise<ProcSample | null> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // after "pid (comm) ": f[0]=state f[1]=ppid ... f[11]=utime f[12]=stime ... f[21]=rss (pages)
    return {
      comm: stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')),
      ppid: Number(f[1]),
      cpuS: (Number(f[11]) + Number(f[12])) / CLOCK_TICKS_PER_SECOND,
      rssBytes: Number(f[21]) * PAGE_SIZE,
    };
  } catch {
    return null;
  }
}

/** Direct ffmpeg children of a process (remuxers of non-H.264/AAC publishes, RTSP pulls; not tsx's esbuild). */
async function ffmpegChildrenOf(ppid: number): Promise<number[]> {
  const out: number[] = [];
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const s = await procSample(Number(name));
    if (s?.ppid === ppid && s.comm === 'ffmpeg') out.push(Number(name));
  }
  return out;
}

/** A process and its direct ffmpeg children: per-pid CPU seconds, and total RSS. */
async function treeSample(rootPid: number): Promise<{ cpu: Map<number, number>; rssBytes: number }> {
  const pids = [rootPid, ...(await ffmpegChildrenOf(rootPid))];
  const cpu = new Map<number, number>();
  let rssBytes = 0;
  for (const pid of pids) {
    const s = await procSample(pid);
    if (!s) continue;
    cpu.set(pid, s.cpuS);
    rssBytes += s.rssBytes;
  }
  return { cpu, rssBytes };
}

/** CPU seconds used between two samples, per pid present at the end (a new pid counts from 0). */
function cpuDelta(a: Map<number, number>, b: Map<number, number>, only?: (pid: number) => boolean): number {
  let total = 0;
  for (const [pid, cpuS] of b) if (!only || only(pid)) total += cpuS - (a.get(pid) ?? 0);
  return total;
}

async function pidsCpu(pids: number[]): Promise<Map<number, number>> {
  const m = new Map<number, number>();
  for (const pid of pids) {
    const s = await procSample(pid);
    if (s) m.set(pid, s.cpuS);
  }
  return m;
}

// --- helpers

function round(v: number, d = 1): number {
  return Number.isFinite(v) ? Number(v.toFixed(d)) : v;
}

function run(args: string[], stdout: 'ignore' | number = 'ignore'): ChildProcess {
  const child = spawn(FFMPEG, args, { stdio: ['ignore', stdout, 'ignore'] });
  started.push(child);
  return child;
}

async function encodeSource(dir: string): Promise<string> {
  const file = join(dir, 'source.mp4');
  const child = run([
    '-hide_banner',
    '-loglevel',
    'error',
    '-f',
    'lavfi',
    '-i',
    'testsrc2=size=1280x720:rate=30',
    '-f',
    'lavfi',
    '-i',
    'sine=frequency=440:sample_rate=48000',
    '-t',
    '20',
    '-c:v',
    'libx264',
    '-preset',
    'veryfast',
    '-g',
    '60',
    '-keyint_min',
    '60',
    '-sc_threshold',
    '0',
    '-pix_fmt',
    'yuv420p',
    '-c:a',
    'aac',
    '-b:a',
    '128k',
    '-movflags',
    '+faststart',
    '-y',
    file,
  ]);
  const [code] = await once(child, 'exit');
  if (code !== 0) throw new Error(`source encode failed with ${code}`);
  return file;
}

// --- gateway

interface Gateway extends GatewayProcess {
  rtmpPort: number;
}

async function startGateway(): Promise<Gateway> {
  const rtmpPort = await freePort();
  const gateway = await startGatewayProcess({
    keys: KEYS,
    env: { STREAMGATE_RTMP_PORT: String(rtmpPort), STREAMGATE_PUBLISH_SECRET: SECRET },
  });
  return { ...gateway, rtmpPort };
}

// --- index latency from redis keyspace notifications (no load on the gateway)

/**
 * Subscribes to keyspace events of the fragment index's by-server-time sorted sets
 * (`kvs:{kvs:<name>}:f:<id>:server`). The archive writer adds a fragment there in one MULTI with its
 * metadata hash, after the sealed object is stored, so the event marks the moment ListFragments can
 * return it. Latency = event received here - the fragment's ServerTimestamp (its score).
 */
class IndexWatcher {
  readonly samples = new Map<string, { latencyMs: number; serverMs: number }[]>();
  #sub: Redis;
  #reader: Redis;
  constructor(url: string) {
    this.#sub = new Redis(url, { lazyConnect: true });
    this.#reader = new Redis(url, { lazyConnect: true });
  }
  async start(): Promise<void> {
    await this.#reader.connect();
    await this.#sub.connect();
    await this.#reader.config('SET', 'notify-keyspace-events', 'Kz');
    this.#sub.on('pmessage', (_pattern: string, channel: string, event: string) => {
      const receivedAt = Date.now();
      if (event !== 'zadd') return;
      const key = channel.slice(channel.indexOf(':') + 1);
      const name = /^kvs:\{kvs:(.+)\}:f:[^:]+:server$/.exec(key)?.[1];
      if (!name) return;
      void this.#reader.zrange(key, '-1', '-1', 'WITHSCORES').then((reply) => {
        const score = Number(reply[1]);
        if (!Number.isFinite(score)) return;
        const list = this.samples.get(name) ?? [];
        list.push({ latencyMs: receivedAt - score, serverMs: score });
        this.samples.set(name, list);
      });
    });
    await this.#sub.psubscribe('__keyspace@*__:kvs:*:server');
  }
  of(names: string[]): { latencyMs: number; serverMs: number }[] {
    return names.flatMap((name) => this.samples.get(name) ?? []);
  }
  stop(): void {
    this.#sub.disconnect();
    this.#reader.disconnect();
  }
}

// --- one gateway run with N publishers

interface LatencySample {
  /** First poll response that listed the fragment, minus its ServerTimestamp. */
  upperMs: number;
  /** Send time of the last poll that did not list it, minus its ServerTimestamp (clamped at 0). */
  lowerMs: number;
}

async function gatewayRun(
  gw: Gateway,
  kvs: KinesisVideoClient,
  source: string,
  n: number,
  idleRssBytes: number,
  watcher: IndexWatcher,
) {
  const tag = randomBytes(3).toString('hex');
  const names = Array.from({ length: n }, (_, i) => `bench-${n}-${tag}-${i}`);
  await Promise.all(
    names.map((name) => kvs.send(new CreateStreamCommand({ StreamName: name, DataRetentionInHours: 1 }))),
  );
  for (const name of names) {
    for (let i = 0; i < 100; i += 1) {
      const d = await kvs.send(new DescribeStreamCommand({ StreamName: name }));
      if (d.StreamInfo?.Status === 'ACTIVE') break;
      await sleep(50);
    }
  }
  const { DataEndpoint } = await kvs.send(
    new GetDataEndpointCommand({ StreamName: names[0], APIName: 'LIST_FRAGMENTS' }),
  );
  if (!DataEndpoint) throw new Error('GetDataEndpoint returned no DataEndpoint');
  const archive = new KinesisVideoArchivedMediaClient({
    endpoint: DataEndpoint,
    region: 'us-east-1',
    credentials: KEYS,
    maxAttempts: 1,
  });
  const list = async (name: string, fromMs: number): Promise<Fragment[]> => {
    const { Fragments = [] } = await archive.send(
      new ListFragmentsCommand({
        StreamName: name,
        FragmentSelector: {
          FragmentSelectorType: 'SERVER_TIMESTAMP',
          TimestampRange: { StartTimestamp: new Date(fromMs), EndTimestamp: new Date(Date.now() + 60_000) },
        },
      }),
    );
    return Fragments;
  };

  const runStart = Date.now();
  const publishers = names.map((name) =>
    run([
      '-hide_banner',
      '-loglevel',
      'error',
      '-re',
      '-stream_loop',
      '-1',
      '-i',
      source,
      '-t',
      String(seconds),
      '-c',
      'copy',
      '-f',
      'flv',
      `rtmp://127.0.0.1:${gw.rtmpPort}/live/${name}?key=${publishToken(SECRET, name)}`,
    ]),
  );
  const publisherExits = publishers.map((p) => once(p, 'exit').then(([code]) => code as number | null));

  // Latency poller over the first `latencyStreams` streams.
  const polled = pollMs > 0 ? names.slice(0, Math.min(latencyStreams, n)) : [];
  const seen = new Map<string, Set<string>>(polled.map((name) => [name, new Set()]));
  const lastMissSentAt = new Map<string, number>(polled.map((name) => [name, runStart]));
  const latencies: LatencySample[] = [];
  let pollCalls = 0;
  let pollErrors = 0;
  let polling = true;
  const poller = (async () => {
    while (polling && polled.length > 0) {
      const tick = Date.now();
      await Promise.all(
        polled.map(async (name) => {
          const sentAt = Date.now();
          try {
            const fragments = await list(name, sentAt - 30_000);
            const gotAt = Date.now();
            pollCalls += 1;
            const known = seen.get(name) ?? new Set();
            for (const f of fragments) {
              const number = f.FragmentNumber ?? '';
              if (known.has(number)) continue;
              known.add(number);
              const serverMs = f.ServerTimestamp?.getTime() ?? Number.NaN;
              // Only fragments stamped after this stream's poll loop began have a meaningful bound.
              if (serverMs >= runStart) {
                latencies.push({
                  upperMs: gotAt - serverMs,
                  lowerMs: Math.max(0, (lastMissSentAt.get(name) ?? sentAt) - serverMs),
                });
              }
            }
            lastMissSentAt.set(name, sentAt);
          } catch {
            pollErrors += 1;
          }
        }),
      );
      await sleep(Math.max(0, pollMs - (Date.now() - tick)));
    }
  })();

  // Steady window: after WARMUP_S, until TAIL_S before the publishers' -t ends.
  await sleep(WARMUP_S * 1000);
  const gwPid = gw.child.pid ?? 0;
  const windowStart = performance.now();
  const gw0 = await treeSample(gwPid);
  const pub0 = await pidsCpu(publishers.map((p) => p.pid ?? 0));
  const redis0 = await pidsCpu([gw.pids.redis ?? 0]);
  const rssSamples: number[] = [];
  let childCounts: number[] = [];
  const windowEnd = runStart + (seconds - TAIL_S) * 1000;
  while (Date.now() < windowEnd - 500) {
    const s = await treeSample(gwPid);
    rssSamples.push(s.rssBytes);
    childCounts.push(s.cpu.size - 1);
    await sleep(500);
  }
  const gw1 = await treeSample(gwPid);
  const pub1 = await pidsCpu(publishers.map((p) => p.pid ?? 0));
  const redis1 = await pidsCpu([gw.pids.redis ?? 0]);
  const windowS = (performance.now() - windowStart) / 1000;
  const gatewayCpuS = cpuDelta(gw0.cpu, gw1.cpu);
  const nodeCpuS = cpuDelta(gw0.cpu, gw1.cpu, (pid) => pid === gwPid);
  const publisherCpuS = cpuDelta(pub0, pub1);
  const redisCpuS = cpuDelta(redis0, redis1);

  const exitCodes = await Promise.all(publisherExits);
  // Let the last GOP be flushed and indexed, then count every stream's fragments.
  await sleep(3000);
  polling = false;
  await poller;
  const finals = await Promise.all(names.map((name) => list(name, runStart - 60_000)));
  const counts = finals.map((f) => f.length);
  const mediaSeconds = finals.map(
    (f) => f.reduce((sum, x) => sum + (x.FragmentLengthInMilliseconds ?? 0), 0) / 1000,
  );
  const lengthsMs = finals.flat().map((x) => x.FragmentLengthInMilliseconds ?? 0);
  archive.destroy();
  childCounts = childCounts.length ? childCounts : [0];

  const meanRss = rssSamples.length
    ? rssSamples.reduce((a, b) => a + b, 0) / rssSamples.length
    : gw1.rssBytes;
  const expected = Math.floor(seconds / 2);
  const pct = (cpuS: number) => (cpuS / windowS) * 100;
  return {
    streams: n,
    windowSeconds: round(windowS, 2),
    gatewayRemuxChildrenSeen: { min: Math.min(...childCounts), max: Math.max(...childCounts) },
    gatewayCpuPercentPerStream: round(pct(gatewayCpuS) / n, 2),
    gatewayCpuPercentTotal: round(pct(gatewayCpuS)),
    gatewayNodeCpuPercentTotal: round(pct(nodeCpuS)),
    gatewayFfmpegChildrenCpuPercentTotal: round(pct(gatewayCpuS - nodeCpuS)),
    redisCpuPercentTotal: round(pct(redisCpuS)),
    publishersCpuPercentTotal: round(pct(publisherCpuS)),
    gatewayRssMbTotal: round(meanRss / 2 ** 20),
    gatewayRssMbPerStream: round((meanRss - idleRssBytes) / 2 ** 20 / n, 2),
    indexLatencyMs: (() => {
      const all = watcher.of(names);
      const v = all.map((x) => x.latencyMs);
      const steady = all
        .filter((x) => x.serverMs >= runStart + WARMUP_S * 1000 && x.serverMs <= windowEnd)
        .map((x) => x.latencyMs);
      return {
        source: 'redis keyspace event of the index ZADD - ServerTimestamp, every fragment of every stream',
        samples: v.length,
        p50: percentile(v, 0.5),
        p99: percentile(v, 0.99),
        max: percentile(v, 1),
        steadyWindowSamples: steady.length,
        steadyWindowP50: percentile(steady, 0.5),
        steadyWindowP99: percentile(steady, 0.99),
        steadyWindowMax: percentile(steady, 1),
      };
    })(),
    listFragmentsPollLatencyMs: {
      streamsPolled: polled.length,
      pollIntervalMs: pollMs,
      pollCalls,
      pollErrors,
      samples: latencies.length,
      upperBoundP50: percentile(
        latencies.map((l) => l.upperMs),
        0.5,
      ),
      upperBoundP99: percentile(
        latencies.map((l) => l.upperMs),
        0.99,
      ),
      upperBoundMax: percentile(
        latencies.map((l) => l.upperMs),
        1,
      ),
      lowerBoundP50: percentile(
        latencies.map((l) => l.lowerMs),
        0.5,
      ),
      lowerBoundP99: percentile(
        latencies.map((l) => l.lowerMs),
        0.99,
      ),
    },
    fragments: {
      expectedPerStream: expected,
      receivedMin: Math.min(...counts),
      receivedMax: Math.max(...counts),
      receivedTotal: counts.reduce((a, b) => a + b, 0),
      expectedTotal: expected * n,
      archivedMediaSecondsPerStreamMin: round(Math.min(...mediaSeconds), 2),
      archivedMediaSecondsPerStreamMax: round(Math.max(...mediaSeconds), 2),
      fragmentLengthMsMin: Math.min(...lengthsMs),
      fragmentLengthMsMax: Math.max(...lengthsMs),
    },
    publisherExitCodes: Object.fromEntries(
      [...new Set(exitCodes)].map((c) => [String(c), exitCodes.filter((x) => x === c).length]),
    ),
  };
}

/** Gateway node CPU of the latency poller alone: ListFragments on idle streams at the same rate. */
async function pollerCost(gw: Gateway, kvs: KinesisVideoClient): Promise<number> {
  const tag = randomBytes(3).toString('hex');
  const names = Array.from({ length: latencyStreams }, (_, i) => `bench-poll-${tag}-${i}`);
  await Promise.all(
    names.map((name) => kvs.send(new CreateStreamCommand({ StreamName: name, DataRetentionInHours: 1 }))),
  );
  const { DataEndpoint } = await kvs.send(
    new GetDataEndpointCommand({ StreamName: names[0], APIName: 'LIST_FRAGMENTS' }),
  );
  if (!DataEndpoint) throw new Error('GetDataEndpoint returned no DataEndpoint');
  const archive = new KinesisVideoArchivedMediaClient({
    endpoint: DataEndpoint,
    region: 'us-east-1',
    credentials: KEYS,
    maxAttempts: 1,
  });
  const poll = () =>
    Promise.all(
      names.map((name) =>
        archive.send(
          new ListFragmentsCommand({
            StreamName: name,
            FragmentSelector: {
              FragmentSelectorType: 'SERVER_TIMESTAMP',
              TimestampRange: {
                StartTimestamp: new Date(Date.now() - 30_000),
                EndTimestamp: new Date(Date.now() + 60_000),
              },
            },
          }),
        ),
      ),
    );
  const warmEnd = Date.now() + 1000;
  while (Date.now() < warmEnd) await poll();
  const pid = gw.child.pid ?? 0;
  const c0 = await pidsCpu([pid]);
  const t0 = performance.now();
  const end = Date.now() + 4000;
  while (Date.now() < end) {
    const tick = Date.now();
    await poll();
    await sleep(Math.max(0, pollMs - (Date.now() - tick)));
  }
  const c1 = await pidsCpu([pid]);
  archive.destroy();
  return (cpuDelta(c0, c1) / ((performance.now() - t0) / 1000)) * 100;
}

// --- the peer: N bare remuxes to fragmented MP4 on /dev/null

async function bareRun(source: string, n: number) {
  const devNull = openSync('/dev/null', 'w');
  try {
    const runStart = Date.now();
    const procs = Array.from({ length: n }, () =>
      run(
        [
          '-hide_banner',
          '-loglevel',
          'error',
          '-re',
          '-stream_loop',
          '-1',
          '-i',
          source,
          '-t',
          String(bareSeconds),
          '-c',
          'copy',
          '-f',
          'mp4',
          '-movflags',
          'frag_keyframe+empty_moov+default_base_moof',
          'pipe:1',
        ],
        devNull,
      ),
    );
    const exits = procs.map((p) => once(p, 'exit'));
    const warm = Math.min(2, bareSeconds / 4);
    await sleep(warm * 1000);
    const pids = procs.map((p) => p.pid ?? 0);
    const t0 = performance.now();
    const c0 = await pidsCpu(pids);
    await sleep(Math.max(0, runStart + (bareSeconds - Math.min(1, bareSeconds / 8)) * 1000 - Date.now()));
    const c1 = await pidsCpu(pids);
    const windowS = (performance.now() - t0) / 1000;
    await Promise.all(exits);
    const total = (cpuDelta(c0, c1) / windowS) * 100;
    return {
      streams: n,
      windowSeconds: round(windowS, 2),
      cpuPercentPerStream: round(total / n, 2),
      cpuPercentTotal: round(total),
    };
  } finally {
    closeSync(devNull);
  }
}

// --- main

const workDir = await mkdtemp(join(tmpdir(), 'streamgate-bench-ingest-src-'));
let gateway: Gateway | undefined;
let watcher: IndexWatcher | undefined;
const onSignal = () => {
  for (const c of started) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  gateway?.child.kill('SIGTERM');
  process.exit(130);
};
process.once('SIGINT', onSignal);
try {
  const encodeStart = performance.now();
  const source = await encodeSource(workDir);
  const encodeSeconds = (performance.now() - encodeStart) / 1000;
  gateway = await startGateway();
  const kvs = new KinesisVideoClient({
    endpoint: gateway.endpoint,
    region: 'us-east-1',
    credentials: KEYS,
    maxAttempts: 1,
  });
  await sleep(1000);
  const idle = await treeSample(gateway.child.pid ?? 0);
  const pollerCpuPercent = pollMs > 0 ? await pollerCost(gateway, kvs) : 0;
  watcher = new IndexWatcher(gateway.redisUrl);
  await watcher.start();
  type Run = Awaited<ReturnType<typeof gatewayRun>> & {
    bareRemuxCpuPercentPerStream: number;
    bareRemux: Awaited<ReturnType<typeof bareRun>>;
    gatewayOverheadRatio: number | null;
    gatewayCpuPercentPerStreamExclPoller: number;
    gatewayOverheadRatioExclPoller: number | null;
  };
  const runs: Run[] = [];
  for (const n of streamCounts) {
    const gatewayResult = await gatewayRun(gateway, kvs, source, n, idle.rssBytes, watcher);
    const bare = await bareRun(source, n);
    const exclPoller =
      pollMs > 0
        ? round(Math.max(0, gatewayResult.gatewayCpuPercentTotal - pollerCpuPercent) / n, 2)
        : gatewayResult.gatewayCpuPercentPerStream;
    runs.push({
      ...gatewayResult,
      bareRemuxCpuPercentPerStream: bare.cpuPercentPerStream,
      bareRemux: bare,
      gatewayOverheadRatio:
        bare.cpuPercentPerStream > 0
          ? round(gatewayResult.gatewayCpuPercentPerStream / bare.cpuPercentPerStream, 2)
          : null,
      gatewayCpuPercentPerStreamExclPoller: exclPoller,
      gatewayOverheadRatioExclPoller:
        bare.cpuPercentPerStream > 0 ? round(exclPoller / bare.cpuPercentPerStream, 2) : null,
    });
  }
  kvs.destroy();

  const maxN = Math.max(...streamCounts);
  const atMax = runs.find((r) => r.streams === maxN);
  const healthy = (r: Run) =>
    r.fragments.receivedMin >= r.fragments.expectedPerStream - 1 && r.publisherExitCodes['0'] === r.streams;
  const goals = {
    twentyStreams: {
      goal: '>= 20 concurrent streams on this machine with every publisher finishing and >= expected-1 fragments each',
      measuredMaxHealthyStreams: Math.max(0, ...runs.filter(healthy).map((r) => r.streams)),
      met: runs.some((r) => r.streams >= 20 && healthy(r)),
    },
    overhead: {
      goal: 'gateway CPU per stream <= 2x bare remux CPU per stream (at the largest N)',
      ratio: atMax?.gatewayOverheadRatio ?? null,
      ratioExclPoller: atMax?.gatewayOverheadRatioExclPoller ?? null,
      met: atMax?.gatewayOverheadRatioExclPoller != null && atMax.gatewayOverheadRatioExclPoller <= 2,
    },
    indexLatency: {
      goal: 'fragment indexed (ZADD to the ListFragments index) within 200 ms p99 of its ServerTimestamp, every N',
      worstP99Ms: Math.max(...runs.map((r) => r.indexLatencyMs.p99 ?? Infinity)),
      met: runs.every((r) => (r.indexLatencyMs.p99 ?? Infinity) <= 200),
    },
  };
  process.stdout.write(
    `${JSON.stringify(
      {
        benchmark: 'ingest',
        node: process.version,
        cpus: cpus().length,
        source: '1280x720 30 fps testsrc2, libx264 veryfast -g 60 (2 s GOP), AAC 128k, 20 s mp4',
        encodeSeconds: round(encodeSeconds),
        seconds,
        bareSeconds,
        steadyWindow: `from ${WARMUP_S} s after publishers start to ${TAIL_S} s before their -t ends`,
        idleGatewayRssMb: round(idle.rssBytes / 2 ** 20),
        pollerOnlyGatewayCpuPercent: round(pollerCpuPercent),
        runs,
        goals,
        notes: [
          'CPU: /proc/<pid>/stat utime+stime over the steady window; 100 = one core. gateway = the node process (H.264/AAC publishes are remuxed in process) plus any direct ffmpeg children (remuxers for other codecs, found by PPID; none for this source). Publishers (ffmpeg -re) and redis are reported separately and not charged to the gateway.',
          'RSS: mean over the window of (gateway node + its children) RSS, minus the idle gateway RSS, divided by N.',
          'indexLatencyMs (the goal figure): ServerTimestamp is stamped by the archive writer when it accepts the complete fragment from the fragmenter (after the next keyframe reached the gateway and closed the GOP); indexed = the redis keyspace notification of the by-server-time ZADD (one MULTI with the metadata hash, after the sealed object was stored), received by this process. Same host clock for both. It does not include the time from the GOP end on the publisher to ServerTimestamp (RTMP + remux).',
          'listFragmentsPollLatencyMs (off unless --poll-ms > 0): ServerTimestamp is stamped by the archive writer when it accepts the complete fragment from the fragmenter (i.e. after the next keyframe reached the gateway); indexed = first ListFragments poll (every poll-ms on latency-streams streams) that lists it. upperBound = that poll response time - ServerTimestamp; lowerBound = send time of the previous poll that did not list it - ServerTimestamp. Same host clock for both.',
          'The latency poller adds its ListFragments load to the gateway CPU; pollerOnlyGatewayCpuPercent is that load measured alone (same rate, idle streams, 4 s) and the ExclPoller fields subtract it (approximate: lists of idle streams are empty).',
          'gatewayOverheadRatio is computed from gatewayCpuPercentPerStream (poller included, if on); goals use the ExclPoller ratio (equal when the poller is off).',
          'All N publishers start together from the same file, so their GOP boundaries (and fragment writes) coincide across streams: a worst-case burst. The first and last fragment of each stream (connect, and every publisher ending at once) carry the index-latency tail; steadyWindow* excludes them.',
          'Fragments: -t cuts the looped 20 s source at ~20.08 s of media, so the last fragment per stream is a short tail (fragmentLengthMsMin); received = expected + 1 with full coverage is the healthy outcome.',
          'Bare remux: ffmpeg -re -stream_loop -1 -c copy to fragmented MP4 on /dev/null, run right after each gateway run with the same N, for bare-seconds.',
        ],
      },
      null,
      2,
    )}\n`,
  );
} finally {
  watcher?.stop();
  for (const c of started) if (c.exitCode === null && c.signalCode === null) await stopChild(c, 'SIGKILL');
  await gateway?.stop();
  await rm(workDir, { recursive: true, force: true });
}

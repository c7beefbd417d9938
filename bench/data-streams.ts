// Kinesis Data Streams benchmark: Streamgate (child process on a private redis-server) beside kinesalite
// (in-memory memdown store, HTTP/1.1 only), driven in one run by the same @aws-sdk/client-kinesis client
// with the same payloads. Columns: kinesalite and Streamgate over HTTP/1.1 keep-alive, Streamgate with the
// SDK's default HTTP/2 handler, and (opt-in) Streamgate over one shared HTTP/2 session. Phases per target:
// CreateStream (4 shards) until ACTIVE, PutRecords throughput, PutRecord latency at moderate load, and
// put-to-GetRecords visibility. A phase that fails is recorded as { error } and the run goes on.
// Prints one JSON document on stdout; the SDK's Node-version warning goes to stderr.
// Usage: npx tsx bench/data-streams.ts [--seconds 5] [--warmup-seconds 1] [--concurrency 8,32]
//   [--latency-seconds 3] [--latency-concurrency 4] [--latency-rate 0 (closed loop) | calls/s]
//   [--visibility-records 200] [--visibility-interval-ms 20] [--poll-sleep-ms 1]
//   [--targets kinesalite,streamgate-h1,streamgate-h2[,streamgate-h2-shared]] [--kinesalite child|in-process]
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import { createRequire } from 'node:module';
import { cpus, loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import {
  CreateStreamCommand,
  DeleteStreamCommand,
  DescribeStreamSummaryCommand,
  GetRecordsCommand,
  type GetRecordsCommandOutput,
  GetShardIteratorCommand,
  KinesisClient,
  PutRecordCommand,
  PutRecordsCommand,
  type PutRecordsRequestEntry,
} from '@aws-sdk/client-kinesis';
import { NodeHttp2Handler, NodeHttpHandler } from '@smithy/node-http-handler';
import { portFromLog, startGatewayProcess, stopChild } from './support/gateway-process.ts';

const TARGETS = ['kinesalite', 'streamgate-h1', 'streamgate-h2', 'streamgate-h2-shared'] as const;
type TargetName = (typeof TARGETS)[number];

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '5' },
    'warmup-seconds': { type: 'string', default: '1' },
    concurrency: { type: 'string', default: '8,32' },
    'latency-seconds': { type: 'string', default: '3' },
    'latency-concurrency': { type: 'string', default: '4' },
    'latency-rate': { type: 'string', default: '0' },
    'visibility-records': { type: 'string', default: '200' },
    'visibility-interval-ms': { type: 'string', default: '20' },
    'poll-sleep-ms': { type: 'string', default: '1' },
    targets: { type: 'string', default: 'kinesalite,streamgate-h1,streamgate-h2' },
    kinesalite: { type: 'string', default: 'child' },
  },
});
const options = {
  putRecordsSeconds: Number(values.seconds),
  warmupSeconds: Number(values['warmup-seconds']),
  putRecordsConcurrency: String(values.concurrency).split(',').map(Number),
  putRecordSeconds: Number(values['latency-seconds']),
  putRecordConcurrency: Number(values['latency-concurrency']),
  /** Total PutRecord calls per second across the callers; 0 = each caller goes back to back. */
  putRecordRatePerSecond: Number(values['latency-rate']),
  visibilityRecords: Number(values['visibility-records']),
  visibilityIntervalMs: Number(values['visibility-interval-ms']),
  pollSleepMsWhenEmpty: Number(values['poll-sleep-ms']),
  targets: String(values.targets).split(',') as TargetName[],
  kinesaliteMode: values.kinesalite === 'in-process' ? ('in-process' as const) : ('child' as const),
};
for (const target of options.targets) {
  if (!TARGETS.includes(target)) throw new Error(`unknown target ${target}; expected one of ${TARGETS}`);
}

const KEYS = { accessKeyId: 'AKIDBENCH0001', secretAccessKey: 'bench-secret' };
const SHARD_COUNT = 4;
const RECORD_BYTES = 1024;
const BATCH_RECORDS = 500;
const POOL_RECORDS = 4096;
const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));
const require = createRequire(import.meta.url);

/** The same random 1 KiB records and partition keys for every target, used round-robin. */
const pool = Array.from({ length: POOL_RECORDS }, () => ({
  data: randomBytes(RECORD_BYTES),
  partitionKey: randomBytes(12).toString('hex'),
}));

type Outcome<T> = T | { error: string };

interface CpuPercent {
  /** This process (the SDK client, and kinesalite too when it runs in-process); 100 = one core. */
  client: number;
  /** Each server process of the target, by role. */
  servers: Record<string, number | null>;
}

interface PutRecordsResult {
  concurrency: number;
  seconds: number;
  calls: number;
  recordsOk: number;
  failedRecordCount: number;
  failedByErrorCode: Record<string, number>;
  callErrors: Record<string, number>;
  warmupErrors: Record<string, number>;
  recordsPerSecond: number;
  megabytesPerSecond: number;
  callP50Ms: number;
  callP99Ms: number;
  cpuPercent: CpuPercent;
}

interface PutRecordResult {
  concurrency: number;
  /** The offered rate, or 'closed-loop' when each caller goes back to back. */
  targetRatePerSecond: number | 'closed-loop';
  seconds: number;
  calls: number;
  callErrors: Record<string, number>;
  warmupErrors: Record<string, number>;
  ratePerSecond: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  cpuPercent: CpuPercent;
}

interface VisibilityResult {
  shardId: string;
  records: number;
  seen: number;
  missing: number;
  intervalMs: number;
  pollSleepMsWhenEmpty: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  putP50Ms: number;
  getRecordsCalls: number;
  emptyGetRecordsCalls: number;
  callErrors: Record<string, number>;
}

interface TargetResult {
  endpoint?: string;
  transport?: string;
  createStream?: Outcome<{ streamName: string; shards: number; createToActiveMs: number }>;
  putRecords?: Outcome<PutRecordsResult>[];
  putRecord?: Outcome<PutRecordResult>;
  visibility?: Outcome<VisibilityResult>;
  deleteStream?: Outcome<{ ok: true }>;
  error?: string;
}

/** A server under test: where it listens and which processes to charge CPU to. */
interface Server {
  endpoint: string;
  pids: Record<string, number | undefined>;
  stop(): Promise<void>;
}

function message(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return String(error);
}

/** A tally key: the AWS exception name, or the message of a plain transport Error. */
function errorName(error: unknown): string {
  if (!(error instanceof Error)) return 'unknown';
  return error.name === 'Error' ? `Error: ${error.message.slice(0, 100)}` : error.name;
}

function count(tally: Record<string, number>, key: string): void {
  tally[key] = (tally[key] ?? 0) + 1;
}

function percentile(sortedMs: readonly number[], q: number): number {
  const value = sortedMs[Math.min(sortedMs.length - 1, Math.floor(q * sortedMs.length))] ?? Number.NaN;
  return round(value);
}

function round(value: number, digits = 3): number {
  return Number(value.toFixed(digits));
}

// --- CPU accounting: /proc/<pid>/stat utime + stime, in clock ticks (Linux only; null elsewhere).

const CLOCK_TICKS_PER_SECOND = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout) || 100;

async function processCpuSeconds(pid: number | undefined): Promise<number | null> {
  if (pid === undefined) return null;
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND;
  } catch {
    return null; // not Linux, or the process is gone: no figure rather than a wrong one
  }
}

async function startCpuMeter(pids: Record<string, number | undefined>): Promise<() => Promise<CpuPercent>> {
  const wall0 = performance.now();
  const client0 = process.cpuUsage();
  const servers0 = await Promise.all(Object.values(pids).map(processCpuSeconds));
  return async () => {
    const wallS = (performance.now() - wall0) / 1000;
    const client = process.cpuUsage(client0);
    const servers1 = await Promise.all(Object.values(pids).map(processCpuSeconds));
    const servers: Record<string, number | null> = {};
    Object.keys(pids).forEach((role, i) => {
      const a = servers0[i];
      const b = servers1[i];
      servers[role] = a == null || b == null ? null : Math.round(((b - a) / wallS) * 100);
    });
    return { client: Math.round(((client.user + client.system) / 1e6 / wallS) * 100), servers };
  };
}

// --- Servers

/** kinesalite through its JS API (memdown store, no leveldown), in its own Node process by default. */
async function startKinesalite(): Promise<Server> {
  const kinesaliteOptions = { createStreamMs: 0, deleteStreamMs: 0, updateStreamMs: 0, shardLimit: 100 };
  if (options.kinesaliteMode === 'in-process') {
    const kinesalite = require('kinesalite') as (opts: typeof kinesaliteOptions) => http.Server;
    const server = kinesalite(kinesaliteOptions);
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('kinesalite has no TCP address');
    return {
      endpoint: `http://127.0.0.1:${address.port}`,
      pids: {},
      stop: () => new Promise<void>((done) => server.close(() => done())),
    };
  }
  const script = `const server = require('kinesalite')(${JSON.stringify(kinesaliteOptions)});
server.listen(0, '127.0.0.1', () => process.stdout.write(JSON.stringify({ kinesalitePort: server.address().port }) + '\\n'));`;
  const child = spawn(process.execPath, ['-e', script], {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const port = await portFromLog(child, /"kinesalitePort":(\d+)/, 'kinesalite').catch(async (error) => {
    await stopChild(child);
    throw error;
  });
  return {
    endpoint: `http://127.0.0.1:${port}`,
    pids: { kinesalite: child.pid },
    stop: () => stopChild(child),
  };
}

/** The gateway as `node --import tsx src/cli.ts serve` on a free port, with a private redis-server. */
async function startStreamgate(): Promise<Server> {
  const gateway = await startGatewayProcess({ keys: KEYS });
  return {
    endpoint: gateway.endpoint,
    pids: { streamgate: gateway.pids.gateway, redis: gateway.pids.redis },
    stop: () => gateway.stop(),
  };
}

// --- Client

type Transport = 'h1-keepalive' | 'h2-sdk-default' | 'h2-shared-session';

/** One SDK client; retries off so that every throttle or fault shows up in the counts. */
function makeClient(endpoint: string, transport: Transport): KinesisClient {
  const requestHandler =
    transport === 'h1-keepalive'
      ? new NodeHttpHandler({ httpAgent: new http.Agent({ keepAlive: true, maxSockets: 64 }) })
      : transport === 'h2-shared-session'
        ? // Node's default client maxSessionMemory (10 MB) makes nghttp2 reset streams with
          // ENHANCE_YOUR_CALM once 32 PutRecords bodies of ~700 KB are in flight on one session.
          new NodeHttp2Handler({
            disableConcurrentStreams: false,
            nodeHttp2ConnectOptions: { maxSessionMemory: 64 },
          })
        : undefined; // the SDK's own: NodeHttp2Handler with disableConcurrentStreams (a session per call)
  return new KinesisClient({
    endpoint,
    region: 'us-east-1',
    credentials: KEYS,
    maxAttempts: 1,
    ...(requestHandler ? { requestHandler } : {}),
  });
}

// --- Phases

/** CreateStream, then DescribeStreamSummary every 10 ms until ACTIVE. */
async function createStream(client: KinesisClient, streamName: string) {
  const t0 = performance.now();
  await client.send(new CreateStreamCommand({ StreamName: streamName, ShardCount: SHARD_COUNT }));
  for (;;) {
    const out = await client.send(new DescribeStreamSummaryCommand({ StreamName: streamName }));
    const summary = out.StreamDescriptionSummary;
    if (summary?.StreamStatus === 'ACTIVE') {
      return {
        streamName,
        shards: summary.OpenShardCount ?? SHARD_COUNT,
        createToActiveMs: round(performance.now() - t0, 1),
      };
    }
    if (performance.now() - t0 > 30_000) throw new Error(`stream still ${summary?.StreamStatus} after 30 s`);
    await sleep(10);
  }
}

let poolCursor = 0;
function nextPoolRecord() {
  const record = pool[poolCursor % POOL_RECORDS];
  poolCursor += 1;
  if (!record) throw new Error('empty record pool');
  return record;
}

function nextBatch(): PutRecordsRequestEntry[] {
  return Array.from({ length: BATCH_RECORDS }, () => {
    const { data, partitionKey } = nextPoolRecord();
    return { Data: data, PartitionKey: partitionKey };
  });
}

/**
 * Runs `concurrency` callers of `call`: first for the warm-up (results dropped; the first call must
 * succeed, so an unsupported operation fails the phase at once), then for `seconds`. Each caller goes
 * back to back, or, with `ratePerSecond` > 0, starts a call every `concurrency / ratePerSecond` s at most.
 */
async function drive(
  concurrency: number,
  seconds: number,
  pids: Server['pids'],
  call: (measured: boolean) => Promise<void>,
  ratePerSecond = 0,
): Promise<{ elapsedS: number; cpuPercent: CpuPercent; warmupErrors: Record<string, number> }> {
  const intervalMs = ratePerSecond > 0 ? (concurrency * 1000) / ratePerSecond : 0;
  const warmupErrors: Record<string, number> = {};
  await call(false);
  const warmupEnd = performance.now() + options.warmupSeconds * 1000;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < warmupEnd) {
        await call(false).catch((error: unknown) => count(warmupErrors, errorName(error)));
      }
    }),
  );
  const meter = await startCpuMeter(pids);
  const t0 = performance.now();
  const end = t0 + seconds * 1000;
  await Promise.all(
    Array.from({ length: concurrency }, async (_, caller) => {
      let due = t0 + (caller * intervalMs) / concurrency;
      while (performance.now() < end) {
        const wait = due - performance.now();
        if (wait > 0) await sleep(wait);
        due += intervalMs;
        await call(true);
      }
    }),
  );
  const elapsedS = (performance.now() - t0) / 1000;
  return { elapsedS, cpuPercent: await meter(), warmupErrors };
}

async function putRecordsThroughput(
  client: KinesisClient,
  streamName: string,
  concurrency: number,
  pids: Server['pids'],
): Promise<PutRecordsResult> {
  const latenciesMs: number[] = [];
  const failedByErrorCode: Record<string, number> = {};
  const callErrors: Record<string, number> = {};
  let recordsOk = 0;
  let failedRecordCount = 0;
  const call = async (measured: boolean) => {
    const records = nextBatch();
    const t0 = performance.now();
    if (!measured) {
      await client.send(new PutRecordsCommand({ StreamName: streamName, Records: records }));
      return;
    }
    try {
      const out = await client.send(new PutRecordsCommand({ StreamName: streamName, Records: records }));
      latenciesMs.push(performance.now() - t0);
      const failed = out.FailedRecordCount ?? 0;
      failedRecordCount += failed;
      recordsOk += records.length - failed;
      if (failed > 0) {
        for (const entry of out.Records ?? []) if (entry.ErrorCode) count(failedByErrorCode, entry.ErrorCode);
      }
    } catch (error) {
      count(callErrors, errorName(error));
    }
  };
  const { elapsedS, cpuPercent, warmupErrors } = await drive(
    concurrency,
    options.putRecordsSeconds,
    pids,
    call,
  );
  latenciesMs.sort((a, b) => a - b);
  return {
    concurrency,
    seconds: round(elapsedS, 2),
    calls: latenciesMs.length,
    recordsOk,
    failedRecordCount,
    failedByErrorCode,
    callErrors,
    warmupErrors,
    recordsPerSecond: Math.round(recordsOk / elapsedS),
    megabytesPerSecond: round((recordsOk * RECORD_BYTES) / 1e6 / elapsedS, 2),
    callP50Ms: percentile(latenciesMs, 0.5),
    callP99Ms: percentile(latenciesMs, 0.99),
    cpuPercent,
  };
}

async function putRecordLatency(
  client: KinesisClient,
  streamName: string,
  pids: Server['pids'],
): Promise<PutRecordResult> {
  const latenciesMs: number[] = [];
  const callErrors: Record<string, number> = {};
  const call = async (measured: boolean) => {
    const { data, partitionKey } = nextPoolRecord();
    const command = new PutRecordCommand({ StreamName: streamName, Data: data, PartitionKey: partitionKey });
    const t0 = performance.now();
    if (!measured) {
      await client.send(command);
      return;
    }
    try {
      await client.send(command);
      latenciesMs.push(performance.now() - t0);
    } catch (error) {
      count(callErrors, errorName(error));
    }
  };
  const concurrency = options.putRecordConcurrency;
  const { elapsedS, cpuPercent, warmupErrors } = await drive(
    concurrency,
    options.putRecordSeconds,
    pids,
    call,
    options.putRecordRatePerSecond,
  );
  latenciesMs.sort((a, b) => a - b);
  return {
    concurrency,
    targetRatePerSecond: options.putRecordRatePerSecond > 0 ? options.putRecordRatePerSecond : 'closed-loop',
    seconds: round(elapsedS, 2),
    calls: latenciesMs.length,
    callErrors,
    warmupErrors,
    ratePerSecond: Math.round(latenciesMs.length / elapsedS),
    p50Ms: percentile(latenciesMs, 0.5),
    p99Ms: percentile(latenciesMs, 0.99),
    maxMs: round(latenciesMs.at(-1) ?? Number.NaN),
    cpuPercent,
  };
}

/** Visibility records: 'SGVB', the run id, the sequence and the send time (performance.now()), padded to 1 KiB. */
const VISIBILITY_MAGIC = 0x53475642;

function visibilityRecord(runId: number, seq: number, sentAtMs: number): Buffer {
  const data = Buffer.alloc(RECORD_BYTES);
  data.writeUInt32BE(VISIBILITY_MAGIC, 0);
  data.writeUInt32BE(runId, 4);
  data.writeInt32BE(seq, 8);
  data.writeDoubleBE(sentAtMs, 12);
  return data;
}

/**
 * A writer puts one record every `visibilityIntervalMs` under one partition key (so on one shard); a reader
 * follows that shard from a LATEST iterator with GetRecords back to back: no pause after a call that returned
 * records, `pollSleepMsWhenEmpty` after an empty one. Visibility = when the reader got the record back −
 * when the writer started its PutRecord (the send time carried in the data).
 */
async function visibility(client: KinesisClient, streamName: string): Promise<VisibilityResult> {
  const runId = randomBytes(4).readUInt32BE(0);
  const partitionKey = `visibility-${runId}`;
  const probe = await client.send(
    new PutRecordCommand({
      StreamName: streamName,
      PartitionKey: partitionKey,
      Data: visibilityRecord(runId, -1, 0),
    }),
  );
  const shardId = probe.ShardId;
  if (!shardId) throw new Error('PutRecord returned no ShardId');
  const first = await client.send(
    new GetShardIteratorCommand({ StreamName: streamName, ShardId: shardId, ShardIteratorType: 'LATEST' }),
  );
  const total = options.visibilityRecords;
  const visibleMs = new Map<number, number>();
  const putMs: number[] = [];
  const callErrors: Record<string, number> = {};
  let getRecordsCalls = 0;
  let emptyGetRecordsCalls = 0;
  let stop = false;

  const reader = async () => {
    let iterator = first.ShardIterator;
    let consecutiveErrors = 0;
    while (!stop && iterator) {
      let out: GetRecordsCommandOutput;
      try {
        out = await client.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: 1000 }));
        consecutiveErrors = 0;
      } catch (error) {
        count(callErrors, `GetRecords ${errorName(error)}`);
        consecutiveErrors += 1;
        if (consecutiveErrors >= 100)
          throw new Error('GetRecords failed 100 times in a row', { cause: error });
        await sleep(5);
        continue;
      }
      const receivedAt = performance.now();
      getRecordsCalls += 1;
      const records = out.Records ?? [];
      for (const record of records) {
        if (!record.Data || record.Data.byteLength < 20) continue;
        const data = Buffer.from(record.Data.buffer, record.Data.byteOffset, record.Data.byteLength);
        if (data.readUInt32BE(0) !== VISIBILITY_MAGIC || data.readUInt32BE(4) !== runId) continue;
        const seq = data.readInt32BE(8);
        if (seq >= 0 && !visibleMs.has(seq)) visibleMs.set(seq, receivedAt - data.readDoubleBE(12));
      }
      if (visibleMs.size >= total) return;
      iterator = out.NextShardIterator;
      if (records.length === 0) {
        emptyGetRecordsCalls += 1;
        if (options.pollSleepMsWhenEmpty > 0) await sleep(options.pollSleepMsWhenEmpty);
      }
    }
  };

  const writer = async () => {
    const puts: Promise<void>[] = [];
    const t0 = performance.now();
    for (let seq = 0; seq < total; seq += 1) {
      const due = t0 + seq * options.visibilityIntervalMs;
      const wait = due - performance.now();
      if (wait > 0) await sleep(wait);
      const sentAt = performance.now();
      const data = visibilityRecord(runId, seq, sentAt);
      puts.push(
        client
          .send(new PutRecordCommand({ StreamName: streamName, PartitionKey: partitionKey, Data: data }))
          .then(
            () => {
              putMs.push(performance.now() - sentAt);
            },
            (error: unknown) => count(callErrors, `PutRecord ${errorName(error)}`),
          ),
      );
    }
    await Promise.all(puts);
  };

  // Attach the handler now: a reader that gives up must not become an unhandled rejection mid-writer.
  let readerError: unknown;
  const reading = reader().catch((error: unknown) => {
    readerError = error;
  });
  await writer();
  // Give the reader up to 5 s after the last put to see everything, then stop it.
  const grace = new AbortController();
  const deadline = sleep(5_000, undefined, { signal: grace.signal }).then(
    () => {
      stop = true;
    },
    () => undefined, // aborted because the reader finished first
  );
  await Promise.race([reading, deadline]);
  grace.abort();
  stop = true;
  await reading;
  if (readerError !== undefined) throw readerError;

  const sorted = [...visibleMs.values()].sort((a, b) => a - b);
  putMs.sort((a, b) => a - b);
  return {
    shardId,
    records: total,
    seen: visibleMs.size,
    missing: total - visibleMs.size,
    intervalMs: options.visibilityIntervalMs,
    pollSleepMsWhenEmpty: options.pollSleepMsWhenEmpty,
    p50Ms: percentile(sorted, 0.5),
    p99Ms: percentile(sorted, 0.99),
    maxMs: round(sorted.at(-1) ?? Number.NaN),
    putP50Ms: percentile(putMs, 0.5),
    getRecordsCalls,
    emptyGetRecordsCalls,
    callErrors,
  };
}

async function phase<T>(run: () => Promise<T>): Promise<Outcome<T>> {
  try {
    return await run();
  } catch (error) {
    return { error: message(error) };
  }
}

async function runTarget(server: Server, transport: Transport): Promise<TargetResult> {
  const client = makeClient(server.endpoint, transport);
  const result: TargetResult = { endpoint: server.endpoint, transport };
  poolCursor = 0; // every target gets the same records in the same order
  try {
    const streamName = `bench-${transport}-${randomBytes(4).toString('hex')}`;
    result.createStream = await phase(() => createStream(client, streamName));
    if ('error' in result.createStream) return result;
    result.putRecords = [];
    for (const concurrency of options.putRecordsConcurrency) {
      result.putRecords.push(
        await phase(() => putRecordsThroughput(client, streamName, concurrency, server.pids)),
      );
    }
    result.putRecord = await phase(() => putRecordLatency(client, streamName, server.pids));
    result.visibility = await phase(() => visibility(client, streamName));
    result.deleteStream = await phase(async () => {
      await client.send(new DeleteStreamCommand({ StreamName: streamName }));
      return { ok: true as const };
    });
    return result;
  } finally {
    client.destroy();
  }
}

// --- Summary

function ok<T extends object>(outcome: Outcome<T> | undefined): T | undefined {
  return outcome && !('error' in outcome) ? outcome : undefined;
}

function bestPutRecordsRate(target: TargetResult | undefined): number | undefined {
  const rates = (target?.putRecords ?? []).flatMap((r) => {
    const value = ok(r);
    return value ? [value.recordsPerSecond] : [];
  });
  return rates.length > 0 ? Math.max(...rates) : undefined;
}

function ratio(a: number | undefined, b: number | undefined): number | null {
  return a === undefined || b === undefined || !Number.isFinite(a) || !Number.isFinite(b) || b === 0
    ? null
    : round(a / b, 2);
}

function ratiosAgainstKinesalite(target: TargetResult | undefined, base: TargetResult | undefined) {
  return {
    putRecordsThroughputRatio: ratio(bestPutRecordsRate(target), bestPutRecordsRate(base)),
    putRecordRateRatio: ratio(ok(target?.putRecord)?.ratePerSecond, ok(base?.putRecord)?.ratePerSecond),
    putRecordP99Ratio: ratio(ok(target?.putRecord)?.p99Ms, ok(base?.putRecord)?.p99Ms),
    visibilityP50Ratio: ratio(ok(target?.visibility)?.p50Ms, ok(base?.visibility)?.p50Ms),
  };
}

function goals(results: Partial<Record<TargetName, TargetResult>>) {
  const streamgateTargets = options.targets.filter((t) => t !== 'kinesalite');
  const judge = (threshold: number, higherIsBetter: boolean, value: (t: TargetResult) => number | null) =>
    Object.fromEntries(
      streamgateTargets.map((name) => {
        const target = results[name];
        const v = target ? value(target) : null;
        const met = v === null ? null : higherIsBetter ? v >= threshold : v < threshold;
        return [name, { value: v, met }];
      }),
    );
  const base = results.kinesalite;
  return [
    {
      goal: 'PutRecords throughput >= 5x kinesalite',
      threshold: 5,
      results: judge(5, true, (t) => ratio(bestPutRecordsRate(t), bestPutRecordsRate(base))),
    },
    {
      goal: '>= 50,000 records/s of 1 KiB through PutRecords',
      threshold: 50_000,
      results: judge(50_000, true, (t) => bestPutRecordsRate(t) ?? null),
    },
    {
      goal: `PutRecord p99 < 5 ms at moderate load (${options.putRecordConcurrency} callers)`,
      threshold: 5,
      results: judge(5, false, (t) => ok(t.putRecord)?.p99Ms ?? null),
    },
    {
      goal: 'Put-to-GetRecords visibility p50 < 10 ms',
      threshold: 10,
      results: judge(10, false, (t) => ok(t.visibility)?.p50Ms ?? null),
    },
  ];
}

function packageVersion(name: string): string | undefined {
  try {
    return (require(`${name}/package.json`) as { version: string }).version;
  } catch {
    return undefined; // the package hides its package.json behind "exports": report no version
  }
}

// --- Main

const results: Partial<Record<TargetName, TargetResult>> = {};
const startedAt = performance.now();
const loadAverageAtStart = loadavg().map((v) => round(v, 2)); // other work on the box skews every column

if (options.targets.includes('kinesalite')) {
  let server: Server | undefined;
  try {
    server = await startKinesalite();
    results.kinesalite = await runTarget(server, 'h1-keepalive');
  } catch (error) {
    results.kinesalite = { error: message(error) };
  } finally {
    await server?.stop();
  }
}

const streamgateTransports: [TargetName, Transport][] = [
  ['streamgate-h1', 'h1-keepalive'],
  ['streamgate-h2', 'h2-sdk-default'],
  ['streamgate-h2-shared', 'h2-shared-session'],
];
const wanted = streamgateTransports.filter(([name]) => options.targets.includes(name));
if (wanted.length > 0) {
  let server: Server | undefined;
  try {
    server = await startStreamgate();
    for (const [name, transport] of wanted) {
      try {
        results[name] = await runTarget(server, transport);
      } catch (error) {
        results[name] = { error: message(error) };
      }
    }
  } catch (error) {
    for (const [name] of wanted) results[name] ??= { error: message(error) };
  } finally {
    await server?.stop();
  }
}

const ratios = Object.fromEntries(
  options.targets
    .filter((t) => t !== 'kinesalite')
    .map((name) => [name, ratiosAgainstKinesalite(results[name], results.kinesalite)]),
);

process.stdout.write(
  `${JSON.stringify(
    {
      benchmark: 'data-streams',
      node: process.version,
      loadAverageAtStart,
      cpu: { model: cpus()[0]?.model ?? 'unknown', cores: cpus().length },
      versions: {
        '@aws-sdk/client-kinesis': packageVersion('@aws-sdk/client-kinesis'),
        kinesalite: packageVersion('kinesalite'),
      },
      options: { ...options, shards: SHARD_COUNT, recordBytes: RECORD_BYTES, batchRecords: BATCH_RECORDS },
      notes: [
        'One client process (this one) drives every target; cpuPercent.client is its CPU (100 = one core).',
        `kinesalite runs ${options.kinesaliteMode === 'child' ? 'in its own Node process' : 'inside this process, sharing the client event loop'} with its memdown store.`,
        'streamgate-h2 is the SDK default handler: NodeHttp2Handler with disableConcurrentStreams, i.e. a new HTTP/2 session (TCP connection) per call.',
        'streamgate-h2-shared (opt-in) multiplexes every call on one HTTP/2 session, client maxSessionMemory 64 MB.',
        'PutRecords: 500 records of 1 KiB per call, data and partition keys taken round-robin from one pool of 4096 random records shared by all targets.',
        `Visibility reader: GetRecords back to back, no pause after records, ${options.pollSleepMsWhenEmpty} ms sleep after an empty response.`,
        'SDK retries are off (maxAttempts 1): callErrors counts every failed call.',
        "Ratios are streamgate / kinesalite (throughput: each target's best records/s over the concurrencies): >1 is better for throughput and rate, <1 is better for p99 and visibility.",
      ],
      targets: results,
      ratios,
      goals: goals(results),
      totalSeconds: round((performance.now() - startedAt) / 1000, 1),
    },
    null,
    2,
  )}\n`,
);

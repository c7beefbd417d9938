// Firehose benchmark: sustained PutRecordBatch ingest of 1 KiB records into a DirectPut delivery stream
// with GZIP delivery to the filesystem object store, against the gateway as a child process on a
// private redis-server. Measures accepted records/s and MB/s, the time until every record is in an
// object, and freshness (put -> object visible) p50/p99 from timestamps carried in the records.
// Prints one JSON document on stdout; the SDK's Node-version warning goes to stderr.
// Two phases: closed-loop saturation, then a steady rate (records/s) for freshness under moderate load.
// Usage: npx tsx bench/firehose.ts [--seconds 10] [--concurrency 8] [--size-mb 5] [--interval-s 1]
//   [--steady-rate 5000]
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { gunzipSync } from 'node:zlib';
import { CreateDeliveryStreamCommand, FirehoseClient, PutRecordBatchCommand } from '@aws-sdk/client-firehose';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { FilesystemObjectStore } from '../src/storage/index.ts';
import { startGatewayProcess } from './support/gateway-process.ts';

const RECORD_BYTES = 1024;
const BATCH_RECORDS = 500;
const KEYS = { accessKeyId: 'AKIDBENCHFIREHOSE', secretAccessKey: 'bench-secret' };

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '10' },
    concurrency: { type: 'string', default: '8' },
    'size-mb': { type: 'string', default: '5' },
    'interval-s': { type: 'string', default: '1' },
    'steady-rate': { type: 'string', default: '5000' },
  },
});
const options = {
  seconds: Number(values.seconds),
  concurrency: Number(values.concurrency),
  sizeInMBs: Number(values['size-mb']),
  intervalInSeconds: Number(values['interval-s']),
  steadyRate: Number(values['steady-rate']),
};

/** A 1 KiB JSON line carrying its put time (ms since the bench's time origin) and a sequence. */
function record(seq: number, putMs: number): Buffer {
  const head = `{"seq":${seq},"putMs":${putMs.toFixed(3)},"pad":"`;
  const tail = '"}\n';
  return Buffer.from(head + 'x'.repeat(RECORD_BYTES - head.length - tail.length) + tail);
}

function percentile(sorted: readonly number[], q: number): number {
  return Number(
    (sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN).toFixed(1),
  );
}

const loadAverageAtStart = loadavg();
const dataDir = await mkdtemp(join(tmpdir(), 'streamgate-bench-firehose-'));
const gateway = await startGatewayProcess({
  keys: KEYS,
  env: { STREAMGATE_DATA_DIR: dataDir },
});
const store = new FilesystemObjectStore({ rootDir: join(dataDir, 'objects') });
await store.start();
const client = new FirehoseClient({
  endpoint: gateway.endpoint,
  region: 'us-east-1',
  credentials: KEYS,
  maxAttempts: 1,
  requestHandler: new NodeHttpHandler({ httpAgent: { keepAlive: true, maxSockets: options.concurrency } }),
});

/** One phase on its own delivery stream (bucket = name): closed-loop saturation, or a fixed rate. */
async function phase(name: string, seconds: number, recordsPerSecond: number | undefined) {
  await client.send(
    new CreateDeliveryStreamCommand({
      DeliveryStreamName: name,
      ExtendedS3DestinationConfiguration: {
        RoleARN: 'arn:aws:iam::000000000000:role/bench',
        BucketARN: `arn:aws:s3:::${name}`,
        BufferingHints: { SizeInMBs: options.sizeInMBs, IntervalInSeconds: options.intervalInSeconds },
        CompressionFormat: 'GZIP',
      },
    }),
  );
  // Watch objects as they appear: each record's freshness is (first time its object was seen) - putMs.
  const seen = new Set<string>();
  const freshnessMs: number[] = [];
  let deliveredRecords = 0;
  let watching = true;
  const watch = async () => {
    while (watching) {
      const keys: string[] = [];
      let token: string | undefined;
      do {
        const page = await store.list(`firehose/${name}/`, token ? { continuationToken: token } : {});
        keys.push(...page.objects.map((o) => o.key).filter((k) => !seen.has(k)));
        token = page.nextContinuationToken;
      } while (token);
      for (const key of keys) {
        seen.add(key);
        const now = performance.now();
        for (const line of gunzipSync(await store.getBuffer(key))
          .toString()
          .split('\n')) {
          if (line === '') continue;
          freshnessMs.push(now - (JSON.parse(line) as { putMs: number }).putMs);
          deliveredRecords++;
        }
      }
      await sleep(20);
    }
  };
  const watcher = watch();

  let seq = 0;
  let accepted = 0;
  let failedCalls = 0;
  const started = performance.now();
  const deadline = started + seconds * 1000;
  const callsPerSecondPerWorker =
    recordsPerSecond === undefined ? undefined : recordsPerSecond / BATCH_RECORDS / options.concurrency;
  await Promise.all(
    Array.from({ length: options.concurrency }, async (_, worker) => {
      let call = 0;
      while (performance.now() < deadline) {
        if (callsPerSecondPerWorker !== undefined) {
          const due = started + ((call + worker / options.concurrency) * 1000) / callsPerSecondPerWorker;
          call++;
          if (due > performance.now()) await sleep(due - performance.now());
          if (performance.now() >= deadline) break;
        }
        const now = performance.now();
        const records = Array.from({ length: BATCH_RECORDS }, () => ({ Data: record(seq++, now) }));
        try {
          const put = await client.send(
            new PutRecordBatchCommand({ DeliveryStreamName: name, Records: records }),
          );
          accepted += BATCH_RECORDS - (put.FailedPutCount ?? 0);
        } catch {
          failedCalls++; // counted and reported; the run goes on
        }
      }
    }),
  );
  const ingestSeconds = (performance.now() - started) / 1000;
  const drainDeadline = performance.now() + 120_000;
  while (deliveredRecords < accepted && performance.now() < drainDeadline) await sleep(50);
  const allDeliveredSeconds = (performance.now() - started) / 1000;
  watching = false;
  await watcher;
  freshnessMs.sort((a, b) => a - b);
  return {
    targetRecordsPerSecond: recordsPerSecond ?? 'closed loop',
    ingest: {
      seconds: Number(ingestSeconds.toFixed(2)),
      acceptedRecords: accepted,
      failedCalls,
      recordsPerSecond: Math.round(accepted / ingestSeconds),
      megabytesPerSecond: Number(((accepted * RECORD_BYTES) / 1e6 / ingestSeconds).toFixed(2)),
    },
    delivery: {
      deliveredRecords,
      duplicates: deliveredRecords - accepted,
      objects: seen.size,
      secondsUntilAllDelivered: Number(allDeliveredSeconds.toFixed(2)),
      freshnessMs: {
        p50: percentile(freshnessMs, 0.5),
        p99: percentile(freshnessMs, 0.99),
        max: percentile(freshnessMs, 1),
      },
    },
  };
}

try {
  const saturation = await phase('bench-saturation', options.seconds, undefined);
  const steady = await phase('bench-steady', options.seconds, options.steadyRate);
  process.stdout.write(
    `${JSON.stringify(
      {
        benchmark: 'firehose',
        node: process.version,
        loadAverageAtStart,
        cpu: { model: cpus()[0]?.model ?? 'unknown', cores: cpus().length },
        options: { ...options, recordBytes: RECORD_BYTES, batchRecords: BATCH_RECORDS, compression: 'GZIP' },
        saturation,
        steady,
        notes: [
          'Gateway: child process, private redis-server, filesystem object store; client: this process, HTTP/1.1 keep-alive.',
          'saturation: every client worker puts back to back; steady: a fixed rate of PutRecordBatch calls.',
          'Freshness = first sight of the object by a 20 ms list poll minus the put call start, so it includes the poll period and the buffering interval.',
          'SDK retries are off (maxAttempts 1): failedCalls counts every failed call.',
        ],
      },
      null,
      2,
    )}\n`,
  );
} finally {
  client.destroy();
  await store.stop();
  await gateway.stop();
  await rm(dataDir, { recursive: true, force: true });
}

import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { Redis } from 'ioredis';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { BatchDelivery } from '../../../src/firehose/batch-delivery.ts';
import { DeliveryWorker } from '../../../src/firehose/delivery-worker.ts';
import {
  type DeliveryStreamRecord,
  DeliveryStreamRegistry,
  FirehoseMetrics,
} from '../../../src/firehose/index.ts';
import { RecordBuffer } from '../../../src/firehose/record-buffer.ts';
import { createLogger } from '../../../src/logging/index.ts';
import { S3ObjectStore } from '../../../src/storage/index.ts';
import { directPutRecord, s3Destination } from '../../support/firehose-records.ts';

let redis: Redis;
let registry: DeliveryStreamRegistry;
let buffer: RecordBuffer;
const names: string[] = [];

beforeAll(() => {
  redis = new Redis(inject('redisUrl'));
  registry = new DeliveryStreamRegistry(redis, '000000000000');
  buffer = new RecordBuffer(redis, { maxBufferBytes: 1024 * 1024 });
});
afterAll(async () => {
  for (const name of names) await registry.remove(name);
  redis.disconnect();
});

const destination = s3Destination({ bucket: 'worker-bucket', buffering: { sizeBytes: 1024, intervalMs: 0 } });

async function newStream(): Promise<DeliveryStreamRecord> {
  const name = `worker-${randomBytes(4).toString('hex')}`;
  names.push(name);
  const stream = directPutRecord(name, destination);
  await registry.create(stream, {});
  return stream;
}

describe('DeliveryWorker', () => {
  it('keeps renewing its records while it backs off after failed deliveries', async () => {
    const stream = await newStream();
    const s3 = inject('s3');
    // A real S3 store whose bucket does not exist: every put fails.
    const store = new S3ObjectStore({
      endpoint: s3.endpoint,
      accessKey: s3.accessKey,
      secretKey: s3.secretKey,
      bucket: `missing-${randomBytes(4).toString('hex')}`,
      region: s3.region,
    });
    const metrics = new FirehoseMetrics(new Registry());
    const claimIdleMs = 600;
    const worker = new DeliveryWorker({
      name: stream.name,
      consumer: 'worker-1',
      buffer,
      registry,
      delivery: new BatchDelivery({
        store,
        sealer: {
          seal: () => Promise.reject(new Error('no records are sealed here')),
          open: () => Promise.reject(new Error('no records are sealed here')),
        },
        clock: { now: () => Date.now() },
        metrics,
        region: 'us-east-1',
        invoke: () => Promise.reject(new Error('no transform here')),
        retryBaseMs: 10,
      }),
      clock: { now: () => Date.now() },
      timing: { claimIdleMs, pollMs: 20 },
      logger: createLogger({ level: 'silent', destination: new Writable({ write: (_c, _e, cb) => cb() }) }),
    });
    await buffer.append(stream.name, [{ data: Buffer.from('r0'), arrivalMs: Date.now(), sealed: false }]);
    worker.start();
    const failures = async () =>
      (await metrics.deliveryToS3Success.get()).values.find((v) => v.labels.outcome === 'failure')?.value ??
      0;
    // Backoffs after failures 1 and 2 are 500 and 1000 ms, longer than claimIdleMs: another replica
    // looking for idle records all along must find none.
    let taken: Awaited<ReturnType<RecordBuffer['reclaim']>> = [];
    try {
      await expect
        .poll(
          async () => {
            taken = [...taken, ...(await buffer.reclaim(stream.name, 'rescuer', claimIdleMs, 100))];
            return failures();
          },
          { timeout: 20_000, interval: 50 },
        )
        .toBeGreaterThanOrEqual(3);
    } finally {
      await worker.stop();
    }
    expect(taken).toEqual([]);
  });
});

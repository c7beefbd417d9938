import type { Clock } from './ports.ts';

/** AWS's per-shard limits (Kinesis Data Streams quotas). */
export const AWS_SHARD_LIMITS = {
  writeBytesPerSecond: 1024 * 1024,
  writeRecordsPerSecond: 1000,
  readBytesPerSecond: 2 * 1024 * 1024,
  readCallsPerSecond: 5,
} as const;

/** A token bucket holding up to one second of its rate. */
class Bucket {
  #tokens: number;
  #updatedMs: number;
  readonly #ratePerSecond: number;

  constructor(ratePerSecond: number, nowMs: number) {
    this.#ratePerSecond = ratePerSecond;
    this.#tokens = ratePerSecond;
    this.#updatedMs = nowMs;
  }

  #refill(nowMs: number): void {
    const elapsed = Math.max(0, nowMs - this.#updatedMs) / 1000;
    this.#tokens = Math.min(this.#ratePerSecond, this.#tokens + elapsed * this.#ratePerSecond);
    this.#updatedMs = nowMs;
  }

  /** Whether `amount` tokens are available now (without taking them). */
  has(amount: number, nowMs: number): boolean {
    this.#refill(nowMs);
    return this.#tokens >= amount;
  }

  /** Takes `amount` tokens; the balance may go negative (a large read throttles later calls). */
  take(amount: number, nowMs: number): void {
    this.#refill(nowMs);
    this.#tokens -= amount;
  }
}

interface ShardBuckets {
  writeBytes: Bucket;
  writeRecords: Bucket;
  readBytes: Bucket;
  readCalls: Bucket;
}

/**
 * Optional per-shard throughput limits with AWS's numbers, enforced by each gateway replica for the
 * requests it serves (so N replicas admit up to N times the limit). Off unless enabled.
 */
export class ShardThrottle {
  readonly #clock: Clock;
  readonly #shards = new Map<string, ShardBuckets>();

  constructor(clock: Clock) {
    this.#clock = clock;
  }

  /** Admits one record of `bytes` to a shard, or returns false (ProvisionedThroughputExceeded). */
  admitWrite(shardKey: string, bytes: number): boolean {
    const now = this.#clock.now();
    const b = this.#buckets(shardKey, now);
    if (!b.writeRecords.has(1, now) || !b.writeBytes.has(bytes, now)) return false;
    b.writeRecords.take(1, now);
    b.writeBytes.take(bytes, now);
    return true;
  }

  /** Admits one GetRecords call on a shard, or returns false. */
  admitRead(shardKey: string): boolean {
    const now = this.#clock.now();
    const b = this.#buckets(shardKey, now);
    if (!b.readCalls.has(1, now) || !b.readBytes.has(0, now)) return false;
    b.readCalls.take(1, now);
    return true;
  }

  /** Charges the bytes a GetRecords call returned. */
  chargeRead(shardKey: string, bytes: number): void {
    const now = this.#clock.now();
    this.#buckets(shardKey, now).readBytes.take(bytes, now);
  }

  #buckets(shardKey: string, nowMs: number): ShardBuckets {
    let buckets = this.#shards.get(shardKey);
    if (!buckets) {
      buckets = {
        writeBytes: new Bucket(AWS_SHARD_LIMITS.writeBytesPerSecond, nowMs),
        writeRecords: new Bucket(AWS_SHARD_LIMITS.writeRecordsPerSecond, nowMs),
        readBytes: new Bucket(AWS_SHARD_LIMITS.readBytesPerSecond, nowMs),
        readCalls: new Bucket(AWS_SHARD_LIMITS.readCallsPerSecond, nowMs),
      };
      this.#shards.set(shardKey, buckets);
    }
    return buckets;
  }
}

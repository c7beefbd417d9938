import { describe, expect, it } from 'vitest';
import { AWS_SHARD_LIMITS, ShardThrottle } from '../../../src/data-streams/index.ts';

function clock(start = 1_000_000) {
  let now = start;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

describe('ShardThrottle (AWS per-shard limits)', () => {
  it('admits 1,000 records per second per shard, then refills', () => {
    const c = clock();
    const throttle = new ShardThrottle(c);
    let admitted = 0;
    for (let i = 0; i < 1500; i += 1) if (throttle.admitWrite('s/shard-0', 10)) admitted += 1;
    expect(admitted).toBe(AWS_SHARD_LIMITS.writeRecordsPerSecond);
    expect(throttle.admitWrite('s/shard-1', 10)).toBe(true);
    c.advance(500);
    let more = 0;
    for (let i = 0; i < 1000; i += 1) if (throttle.admitWrite('s/shard-0', 10)) more += 1;
    expect(more).toBe(500);
  });

  it('admits 1 MiB per second of writes', () => {
    const throttle = new ShardThrottle(clock());
    expect(throttle.admitWrite('s/0', 600 * 1024)).toBe(true);
    expect(throttle.admitWrite('s/0', 600 * 1024)).toBe(false);
    expect(throttle.admitWrite('s/0', 400 * 1024)).toBe(true);
  });

  it('admits 5 GetRecords calls per second and throttles after reading more than 2 MiB', () => {
    const c = clock();
    const throttle = new ShardThrottle(c);
    const calls = Array.from({ length: 7 }, () => throttle.admitRead('s/0'));
    expect(calls.filter(Boolean)).toHaveLength(5);
    c.advance(1000);
    expect(throttle.admitRead('s/0')).toBe(true);
    throttle.chargeRead('s/0', 3 * 1024 * 1024);
    c.advance(200);
    expect(throttle.admitRead('s/0')).toBe(false);
    c.advance(1000);
    expect(throttle.admitRead('s/0')).toBe(true);
  });
});

import { describe, expect, it } from 'vitest';
import { RestartBackoff } from '../../../src/ingest/rtsp/index.ts';

describe('RestartBackoff', () => {
  it('doubles from about 1 s up to about 60 s, with ±20 % jitter, and never exceeds the maximum', () => {
    const low = new RestartBackoff({ random: () => 0 });
    const high = new RestartBackoff({ random: () => 0.999_999 });
    const lows = Array.from({ length: 9 }, () => low.next());
    const highs = Array.from({ length: 9 }, () => high.next());
    expect(lows).toEqual([800, 1600, 3200, 6400, 12_800, 25_600, 48_000, 48_000, 48_000]);
    expect(highs).toEqual([1200, 2400, 4800, 9600, 19_200, 38_400, 60_000, 60_000, 60_000]);
    expect(low.failures).toBe(9);
  });

  it('starts again from the base after reset (a good fragment)', () => {
    const backoff = new RestartBackoff({ baseMs: 100, maxMs: 1000, random: () => 0.5 });
    expect([backoff.next(), backoff.next(), backoff.next()]).toEqual([100, 200, 400]);
    backoff.reset();
    expect(backoff.failures).toBe(0);
    expect(backoff.next()).toBe(100);
  });

  it('spreads the delays of sources that failed together', () => {
    const delays = new Set(Array.from({ length: 50 }, () => new RestartBackoff().next()));
    expect(delays.size).toBeGreaterThan(10);
    for (const delay of delays) expect(delay).toBeGreaterThanOrEqual(800);
  });
});

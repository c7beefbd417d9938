import { describe, expect, it } from 'vitest';
import { MediaCache } from '../../../src/hls/index.ts';

describe('MediaCache', () => {
  it('evicts the least recently used entries past its byte bound and skips entries over a quarter of it', () => {
    const cache = new MediaCache(400);
    cache.set('a', Buffer.alloc(100));
    cache.set('b', Buffer.alloc(100));
    cache.set('c', Buffer.alloc(100));
    expect(cache.get('a')).toBeDefined(); // a is now the most recent
    cache.set('d', Buffer.alloc(100));
    cache.set('e', Buffer.alloc(100)); // 500 > 400: the least recent (b) goes
    expect(cache.get('b')).toBeUndefined();
    expect(['a', 'c', 'd', 'e'].map((k) => cache.get(k) !== undefined)).toEqual([true, true, true, true]);
    cache.set('huge', Buffer.alloc(101));
    expect(cache.get('huge')).toBeUndefined();
    expect(cache.stats().bytes).toBe(400);
  });

  it('shares one load between concurrent misses and caches its result', async () => {
    const cache = new MediaCache(1000);
    let loads = 0;
    const load = async () => {
      loads += 1;
      await new Promise((resolve) => setTimeout(resolve, 10));
      return Buffer.from('fragment');
    };
    const results = await Promise.all([
      cache.through('k', load),
      cache.through('k', load),
      cache.through('k', load),
    ]);
    expect(results.map(String)).toEqual(['fragment', 'fragment', 'fragment']);
    expect(await cache.through('k', load)).toEqual(Buffer.from('fragment'));
    expect(loads).toBe(1);
  });

  it('does not keep a failed load', async () => {
    const cache = new MediaCache(1000);
    await expect(cache.through('k', async () => Promise.reject(new Error('storage down')))).rejects.toThrow(
      'storage down',
    );
    expect(await cache.through('k', async () => Buffer.from('ok'))).toEqual(Buffer.from('ok'));
  });
});

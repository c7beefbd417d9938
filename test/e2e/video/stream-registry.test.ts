import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { duplicateRedisClient, type RedisClient } from '../../../src/redis/index.ts';
import { type VideoStreamRecord, VideoStreamRegistry } from '../../../src/video-archive/index.ts';
import { type RunningApp, startApp } from '../../support/start-app.ts';

// The registry on the run's real Redis and the app's real key service: deletion hooks and the
// atomicity of the Lua scripts under concurrent callers (what the SDK test cannot reach).

let gateway: RunningApp;
let redis: RedisClient;
let registry: VideoStreamRegistry;
beforeAll(async () => {
  gateway = await startApp();
  redis = duplicateRedisClient(gateway.app.redis.client, 'video-registry-test');
  redis.on('error', () => undefined);
  const kms = gateway.app.kms;
  registry = new VideoStreamRegistry({
    redis,
    keys: { checkKey: async (keyRef) => void (await kms.usableKey(keyRef)) },
    clock: { now: () => Date.now() },
    region: 'us-east-1',
    accountId: '000000000000',
  });
});
afterAll(async () => {
  redis?.disconnect();
  await gateway?.stop();
});

const unique = (prefix: string) => `${prefix}-${randomBytes(4).toString('hex')}`;
const create = (name: string, tags: Record<string, string> = {}) =>
  registry.create({ name, retentionHours: 1, tags });

describe('VideoStreamRegistry', () => {
  it('runs deletion listeners while the stream is DELETING, then removes it', async () => {
    const stream = await create(unique('hook'));
    const seen: { record: VideoStreamRecord; described: VideoStreamRecord }[] = [];
    let failOnce = true;
    registry.onDeleted(async (record) => {
      if (record.name !== stream.name) return;
      seen.push({ record, described: await registry.describe({ name: record.name }) });
      await expect(
        registry.update({ name: record.name }, record.version, { deviceName: 'x' }),
      ).rejects.toMatchObject({ code: 'ResourceInUseException' });
      if (failOnce) {
        failOnce = false;
        throw new Error('object store down');
      }
    });

    await expect(registry.delete(stream.arn, undefined)).rejects.toThrow('object store down');
    expect((await registry.describe({ arn: stream.arn })).status).toBe('DELETING');
    const listed = await registry.list({ limit: 10, prefix: stream.name });
    expect(listed.streams.map((s) => [s.name, s.status])).toEqual([[stream.name, 'DELETING']]);

    await registry.delete(stream.arn, undefined); // a retry runs the listeners again
    expect(seen).toHaveLength(2);
    expect(seen[0]?.record).toMatchObject({ name: stream.name, arn: stream.arn, status: 'DELETING' });
    expect(seen[0]?.described.status).toBe('DELETING');
    await expect(registry.describe({ name: stream.name })).rejects.toMatchObject({
      code: 'ResourceNotFoundException',
    });
    expect((await registry.list({ limit: 10, prefix: stream.name })).streams).toEqual([]);
  });

  it('lets exactly one of many concurrent updates with the same CurrentVersion win', async () => {
    const stream = await create(unique('race'));
    const results = await Promise.allSettled(
      Array.from({ length: 10 }, (_, i) =>
        registry.update({ name: stream.name }, stream.version, { deviceName: `device-${i}` }),
      ),
    );
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    for (const r of results) {
      if (r.status === 'rejected') expect(r.reason).toMatchObject({ code: 'VersionMismatchException' });
    }
  });

  it('never lets concurrent taggers exceed 50 tags', async () => {
    const base = Object.fromEntries(Array.from({ length: 48 }, (_, i) => [`k${i}`, 'v']));
    const stream = await create(unique('tagrace'), base);
    const results = await Promise.allSettled(
      Array.from({ length: 6 }, (_, i) => registry.tag({ arn: stream.arn }, { [`new${i}`]: 'v' })),
    );
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(2);
    expect(Object.keys(await registry.tags({ arn: stream.arn }))).toHaveLength(50);
    // Replacing existing tags at the limit is fine.
    await registry.tag({ arn: stream.arn }, { k0: 'changed' });
    expect((await registry.tags({ arn: stream.arn })).k0).toBe('changed');
  });

  it('reports a second concurrent create of one name as ResourceInUseException', async () => {
    const name = unique('twin');
    const results = await Promise.allSettled([create(name), create(name), create(name)]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const listed = await registry.list({ limit: 10, prefix: name });
    expect(listed.streams.map((s) => s.name)).toEqual([name]);
  });
});

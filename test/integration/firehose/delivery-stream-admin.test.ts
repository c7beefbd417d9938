import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  DeliveryStreamAdmin,
  type DeliveryStreamRecord,
  DeliveryStreamRegistry,
} from '../../../src/firehose/index.ts';
import { directPutRecord, s3Destination } from '../../support/firehose-records.ts';

// Start/StopDeliveryStreamEncryption write the whole metadata record: they must not revert an
// UpdateDestination that lands between their read and their write.

let redis: Redis;
const names: string[] = [];

/** A registry whose first require() returns the record and then lets a concurrent update land. */
class RacingRegistry extends DeliveryStreamRegistry {
  race: ((read: DeliveryStreamRecord) => Promise<void>) | undefined;
  override async require(name: string): Promise<DeliveryStreamRecord> {
    const read = await super.require(name);
    const race = this.race;
    this.race = undefined;
    if (race) await race(read);
    return read;
  }
}

beforeAll(() => {
  redis = new Redis(inject('redisUrl'));
});
afterAll(async () => {
  const registry = new DeliveryStreamRegistry(redis, '000000000000');
  for (const name of names) await registry.remove(name);
  redis.disconnect();
});

const destination = (prefix: string) =>
  s3Destination({ bucket: 'admin-bucket', buffering: { sizeBytes: 1024, intervalMs: 0 }, prefix });

describe('DeliveryStreamAdmin encryption changes', () => {
  it('do not revert an UpdateDestination that lands between their read and write', async () => {
    const registry = new RacingRegistry(redis, '000000000000');
    const admin = new DeliveryStreamAdmin({
      registry,
      keys: { checkKey: async () => undefined },
      source: { describe: async () => expect.fail('no source') } as never,
      clock: { now: () => Date.now() },
      region: 'us-east-1',
      accountId: '000000000000',
      onCreated: () => undefined,
    });
    const name = `admin-${randomBytes(4).toString('hex')}`;
    names.push(name);
    const record = directPutRecord(name, destination('old/'));
    await registry.create(record, {});

    for (const change of [
      () => admin.startEncryption(name, 'AWS_OWNED_CMK', undefined),
      () => admin.stopEncryption(name),
    ]) {
      registry.race = async (read) => {
        // UpdateDestination by another caller, after the encryption change read the record.
        const next = `v${read.versionId + 1}/`;
        await registry.replace(
          read,
          { ...read, versionId: read.versionId + 1, destination: destination(next) },
          read.versionId,
        );
      };
      await change();
      const stored = await registry.require(name);
      expect(stored.destination.kind === 'ExtendedS3' && stored.destination.s3.prefix).toBe(
        `v${stored.versionId}/`,
      );
    }
    const final = await registry.require(name);
    expect(final.versionId).toBe(3);
    expect(final.encryption.status).toBe('DISABLED');
  });
});

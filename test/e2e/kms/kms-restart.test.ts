import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateKeyCommand, DecryptCommand, EncryptCommand, KMSClient } from '@aws-sdk/client-kms';
import { afterEach, describe, expect, it } from 'vitest';
import { startPrivateRedis } from '../../support/private-redis.ts';
import { startApp, TEST_KEYS } from '../../support/start-app.ts';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function fixture() {
  const redis = await startPrivateRedis();
  const dataDir = await mkdtemp(join(tmpdir(), 'streamgate-kms-restart-'));
  cleanups.push(
    () => redis.stop(),
    () => rm(dataDir, { recursive: true, force: true }),
  );
  return { redis, dataDir };
}

async function encryptOnce(endpoint: string): Promise<{ client: KMSClient; blob: Uint8Array }> {
  const client = new KMSClient({ endpoint, region: 'us-east-1', credentials: TEST_KEYS, maxAttempts: 1 });
  const { KeyMetadata } = await client.send(new CreateKeyCommand({}));
  const { CiphertextBlob } = await client.send(
    new EncryptCommand({
      KeyId: KeyMetadata?.KeyId,
      Plaintext: Buffer.from('survives'),
      EncryptionContext: { k: 'v' },
    }),
  );
  client.destroy();
  return { client, blob: CiphertextBlob ?? new Uint8Array() };
}

describe('KMS keys across restarts', () => {
  it('keeps keys in Redis, wrapped, and decrypts old ciphertexts after a restart (generated root key file)', async () => {
    const { redis, dataDir } = await fixture();
    const env = { STREAMGATE_REDIS_URL: redis.url, STREAMGATE_KMS_ROOT_KEY: '' };
    const first = await startApp({ env, dataDir });
    const { blob } = await encryptOnce(first.endpoint);
    await first.stop();

    const second = await startApp({ env, dataDir });
    try {
      const client = new KMSClient({
        endpoint: second.endpoint,
        region: 'us-east-1',
        credentials: TEST_KEYS,
        maxAttempts: 1,
      });
      const { Plaintext } = await client.send(
        new DecryptCommand({ CiphertextBlob: blob, EncryptionContext: { k: 'v' } }),
      );
      expect(Buffer.from(Plaintext ?? []).toString()).toBe('survives');
      client.destroy();
    } finally {
      await second.stop();
    }
  });

  it('refuses to start with another root key, saying so', async () => {
    const { redis, dataDir } = await fixture();
    const root = randomBytes(32).toString('base64');
    const first = await startApp({
      env: { STREAMGATE_REDIS_URL: redis.url, STREAMGATE_KMS_ROOT_KEY: root },
      dataDir,
    });
    await encryptOnce(first.endpoint);
    await first.stop();

    const other = randomBytes(32).toString('base64');
    await expect(
      startApp({ env: { STREAMGATE_REDIS_URL: redis.url, STREAMGATE_KMS_ROOT_KEY: other }, dataDir }),
    ).rejects.toThrow(/STREAMGATE_KMS_ROOT_KEY is not the root key that wrapped the KMS keys in Redis/);
  });

  it('refuses to start when keys exist but the root key file is gone, instead of generating a new one', async () => {
    const { redis, dataDir } = await fixture();
    const env = { STREAMGATE_REDIS_URL: redis.url, STREAMGATE_KMS_ROOT_KEY: '' };
    const first = await startApp({ env, dataDir });
    await encryptOnce(first.endpoint);
    await first.stop();
    await rm(join(dataDir, 'kms-root.key'));

    await expect(startApp({ env, dataDir })).rejects.toThrow(
      /KMS keys exist in Redis but no root key was found/,
    );
  });
});

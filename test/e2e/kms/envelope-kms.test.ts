import {
  CreateKeyCommand,
  DisableKeyCommand,
  EnableKeyCommand,
  KMSClient,
  ScheduleKeyDeletionCommand,
} from '@aws-sdk/client-kms';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeEnvelope } from '../../../src/crypto/index.ts';
import { type RunningApp, startApp, TEST_KEYS } from '../../support/start-app.ts';

const DAY_MS = 86_400_000;
let offsetMs = 0;
let gateway: RunningApp;
let kms: KMSClient;

beforeAll(async () => {
  gateway = await startApp({ overrides: { clock: { now: () => Date.now() + offsetMs } } });
  kms = new KMSClient({
    endpoint: gateway.endpoint,
    region: 'us-east-1',
    credentials: TEST_KEYS,
    maxAttempts: 1,
  });
});
afterAll(async () => {
  kms?.destroy();
  await gateway?.stop();
});

const context = (fragment: number) => ({
  'aws:kinesisvideo:arn': 'arn:aws:kinesisvideo:us-east-1:000000000000:stream/cam1/1',
  fragment: String(fragment),
});

describe('envelope encryption over the real key service', () => {
  it('seals many fragments with one data key from the default video key and opens them', async () => {
    const { envelope } = gateway.app;
    const fragments = Array.from({ length: 30 }, (_, i) => Buffer.from(`fragment ${i}`));
    const sealed = await Promise.all(
      fragments.map((f, i) => envelope.seal(f, 'alias/aws/kinesisvideo', context(i))),
    );
    const opened = await Promise.all(sealed.map((e, i) => envelope.open(e, context(i))));
    expect(opened.map(String)).toEqual(fragments.map(String));
    // One data key (one GenerateDataKey) serves every fragment: they all carry the same wrapped key.
    expect(new Set(sealed.map((e) => decodeEnvelope(e).wrappedKey.toString('hex'))).size).toBe(1);
    await expect(envelope.open(sealed[0] as Buffer, context(1))).rejects.toMatchObject({
      reason: 'authentication-failed',
    });
  });

  it('stops sealing and opening at once when the key is disabled, and resumes when enabled', async () => {
    const { KeyMetadata } = await kms.send(new CreateKeyCommand({}));
    const keyId = KeyMetadata?.KeyId ?? '';
    const { envelope } = gateway.app;
    const sealed = await envelope.seal(Buffer.from('x'), keyId, context(1));
    await envelope.open(sealed, context(1));
    await kms.send(new DisableKeyCommand({ KeyId: keyId }));
    await expect(envelope.seal(Buffer.from('y'), keyId, context(2))).rejects.toMatchObject({
      code: 'DisabledException',
    });
    await expect(envelope.open(sealed, context(1))).rejects.toMatchObject({ code: 'DisabledException' });
    await kms.send(new EnableKeyCommand({ KeyId: keyId }));
    expect(String(await envelope.open(sealed, context(1)))).toBe('x');
  });

  it('makes every envelope under a deleted key unreadable (crypto-shredding), cached keys included', async () => {
    const { KeyMetadata } = await kms.send(new CreateKeyCommand({}));
    const keyId = KeyMetadata?.KeyId ?? '';
    const { envelope } = gateway.app;
    const sealed = await envelope.seal(Buffer.from('secret'), keyId, context(7));
    expect(String(await envelope.open(sealed, context(7)))).toBe('secret');
    await kms.send(new ScheduleKeyDeletionCommand({ KeyId: keyId, PendingWindowInDays: 7 }));
    await expect(envelope.open(sealed, context(7))).rejects.toMatchObject({
      code: 'KMSInvalidStateException',
    });
    offsetMs += 8 * DAY_MS;
    await expect(envelope.open(sealed, context(7))).rejects.toMatchObject({
      code: 'NotFoundException',
      message: expect.stringMatching(/can never be decrypted/),
    });
  });
});

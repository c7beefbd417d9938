import {
  CancelKeyDeletionCommand,
  CreateAliasCommand,
  CreateKeyCommand,
  DecryptCommand,
  DeleteAliasCommand,
  DescribeKeyCommand,
  DisableKeyCommand,
  EnableKeyCommand,
  EnableKeyRotationCommand,
  EncryptCommand,
  GenerateDataKeyCommand,
  GenerateDataKeyWithoutPlaintextCommand,
  GetKeyRotationStatusCommand,
  KMSClient,
  ListAliasesCommand,
  ListKeysCommand,
  ListResourceTagsCommand,
  ReEncryptCommand,
  RotateKeyOnDemandCommand,
  ScheduleKeyDeletionCommand,
  TagResourceCommand,
  UntagResourceCommand,
  UpdateAliasCommand,
} from '@aws-sdk/client-kms';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningApp, startApp, TEST_KEYS } from '../../support/start-app.ts';

const DAY_MS = 86_400_000;
/** The gateway's KMS clock: real time plus an offset the tests move forward. */
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

async function newKey(description = 'test key'): Promise<string> {
  const { KeyMetadata } = await kms.send(new CreateKeyCommand({ Description: description }));
  return KeyMetadata?.KeyId ?? '';
}

async function failure(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected the call to fail');
}

const uniqueAlias = () => `alias/test-${Math.random().toString(36).slice(2)}`;

describe('KMS keys and aliases through @aws-sdk/client-kms', () => {
  it('creates a key with the AWS metadata shape and finds it by id, ARN, alias and alias ARN', async () => {
    const created = await kms.send(
      new CreateKeyCommand({ Description: 'orders', Tags: [{ TagKey: 'team', TagValue: 'video' }] }),
    );
    const meta = created.KeyMetadata;
    expect(meta).toMatchObject({
      AWSAccountId: '000000000000',
      Description: 'orders',
      Enabled: true,
      KeyState: 'Enabled',
      KeyUsage: 'ENCRYPT_DECRYPT',
      KeySpec: 'SYMMETRIC_DEFAULT',
      KeyManager: 'CUSTOMER',
      Origin: 'AWS_KMS',
      EncryptionAlgorithms: ['SYMMETRIC_DEFAULT'],
    });
    expect(meta?.KeyId).toMatch(/^[0-9a-f-]{36}$/);
    expect(meta?.Arn).toBe(`arn:aws:kms:us-east-1:000000000000:key/${meta?.KeyId}`);
    expect(meta?.CreationDate).toBeInstanceOf(Date);

    const alias = uniqueAlias();
    await kms.send(new CreateAliasCommand({ AliasName: alias, TargetKeyId: meta?.KeyId }));
    for (const ref of [meta?.KeyId, meta?.Arn, alias, `arn:aws:kms:us-east-1:000000000000:${alias}`]) {
      const { KeyMetadata } = await kms.send(new DescribeKeyCommand({ KeyId: ref }));
      expect(KeyMetadata?.KeyId, ref).toBe(meta?.KeyId);
    }
    const aliases = await kms.send(new ListAliasesCommand({ KeyId: meta?.KeyId }));
    expect(aliases.Aliases).toEqual([
      expect.objectContaining({
        AliasName: alias,
        TargetKeyId: meta?.KeyId,
        AliasArn: expect.stringContaining(alias),
      }),
    ]);
    const keys = await kms.send(new ListKeysCommand({ Limit: 1000 }));
    expect(keys.Keys?.map((k) => k.KeyId)).toContain(meta?.KeyId);
  });

  it('pages ListKeys with Marker', async () => {
    await Promise.all([newKey(), newKey(), newKey()]);
    const seen: string[] = [];
    let marker: string | undefined;
    do {
      const page = await kms.send(new ListKeysCommand({ Limit: 2, ...(marker ? { Marker: marker } : {}) }));
      expect(page.Keys?.length).toBeLessThanOrEqual(2);
      seen.push(...(page.Keys ?? []).map((k) => k.KeyId ?? ''));
      marker = page.Truncated ? page.NextMarker : undefined;
    } while (marker);
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen.length).toBeGreaterThanOrEqual(3);
  });

  it('updates and deletes aliases, refusing duplicates and the reserved alias/aws/ prefix', async () => {
    const [a, b] = await Promise.all([newKey(), newKey()]);
    const alias = uniqueAlias();
    await kms.send(new CreateAliasCommand({ AliasName: alias, TargetKeyId: a }));
    expect((await failure(kms.send(new CreateAliasCommand({ AliasName: alias, TargetKeyId: b })))).name).toBe(
      'AlreadyExistsException',
    );
    await kms.send(new UpdateAliasCommand({ AliasName: alias, TargetKeyId: b }));
    expect((await kms.send(new DescribeKeyCommand({ KeyId: alias }))).KeyMetadata?.KeyId).toBe(b);
    await kms.send(new DeleteAliasCommand({ AliasName: alias }));
    expect((await failure(kms.send(new DescribeKeyCommand({ KeyId: alias })))).name).toBe(
      'NotFoundException',
    );
    const reserved = await failure(
      kms.send(new CreateAliasCommand({ AliasName: 'alias/aws/mine', TargetKeyId: a })),
    );
    expect(reserved.name).toBe('ValidationException');
  });

  it('creates the AWS-managed style default keys on first use', async () => {
    const first = await kms.send(
      new GenerateDataKeyCommand({ KeyId: 'alias/aws/kinesis', KeySpec: 'AES_256' }),
    );
    const second = await kms.send(
      new GenerateDataKeyCommand({ KeyId: 'alias/aws/kinesis', KeySpec: 'AES_256' }),
    );
    expect(second.KeyId).toBe(first.KeyId);
    const { KeyMetadata } = await kms.send(new DescribeKeyCommand({ KeyId: 'alias/aws/kinesis' }));
    expect(KeyMetadata?.KeyManager).toBe('AWS');
    expect((await failure(kms.send(new DisableKeyCommand({ KeyId: 'alias/aws/kinesis' })))).name).toBe(
      'UnsupportedOperationException',
    );
    expect((await failure(kms.send(new DescribeKeyCommand({ KeyId: 'alias/aws/nothing' })))).name).toBe(
      'NotFoundException',
    );
  });

  it('tags, untags and lists tags', async () => {
    const keyId = await newKey();
    await kms.send(
      new TagResourceCommand({
        KeyId: keyId,
        Tags: [
          { TagKey: 'b', TagValue: '2' },
          { TagKey: 'a', TagValue: '1' },
        ],
      }),
    );
    await kms.send(new UntagResourceCommand({ KeyId: keyId, TagKeys: ['b'] }));
    const { Tags, Truncated } = await kms.send(new ListResourceTagsCommand({ KeyId: keyId }));
    expect(Tags).toEqual([{ TagKey: 'a', TagValue: '1' }]);
    expect(Truncated).toBe(false);
  });
});

describe('KMS cryptographic operations', () => {
  it('generates data keys whose CiphertextBlob decrypts to the plaintext key', async () => {
    const keyId = await newKey();
    const context = { stream: 'arn:aws:kinesisvideo:us-east-1:000000000000:stream/cam1/1' };
    const dataKey = await kms.send(
      new GenerateDataKeyCommand({ KeyId: keyId, KeySpec: 'AES_256', EncryptionContext: context }),
    );
    expect(dataKey.Plaintext?.length).toBe(32);
    const opened = await kms.send(
      new DecryptCommand({ CiphertextBlob: dataKey.CiphertextBlob, EncryptionContext: context }),
    );
    expect(Buffer.from(opened.Plaintext ?? [])).toEqual(Buffer.from(dataKey.Plaintext ?? []));
    expect(opened.KeyId).toBe(dataKey.KeyId);

    const sized = await kms.send(new GenerateDataKeyCommand({ KeyId: keyId, NumberOfBytes: 64 }));
    expect(sized.Plaintext?.length).toBe(64);
    const aes128 = await kms.send(new GenerateDataKeyCommand({ KeyId: keyId, KeySpec: 'AES_128' }));
    expect(aes128.Plaintext?.length).toBe(16);
    const hidden = await kms.send(
      new GenerateDataKeyWithoutPlaintextCommand({ KeyId: keyId, KeySpec: 'AES_256' }),
    );
    expect(hidden).not.toHaveProperty('Plaintext');
    expect(
      (await kms.send(new DecryptCommand({ CiphertextBlob: hidden.CiphertextBlob }))).Plaintext?.length,
    ).toBe(32);

    const both = await failure(
      kms.send(new GenerateDataKeyCommand({ KeyId: keyId, KeySpec: 'AES_256', NumberOfBytes: 8 })),
    );
    expect(both.name).toBe('ValidationException');
  });

  it('encrypts and decrypts with and without an encryption context, which is bound as AAD', async () => {
    const keyId = await newKey();
    const plain = Buffer.from('the quick brown fox');
    const bare = await kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: plain }));
    expect(
      Buffer.from(
        (await kms.send(new DecryptCommand({ CiphertextBlob: bare.CiphertextBlob }))).Plaintext ?? [],
      ),
    ).toEqual(plain);

    const context = { purpose: 'test', tenant: 'a' };
    const bound = await kms.send(
      new EncryptCommand({ KeyId: keyId, Plaintext: plain, EncryptionContext: context }),
    );
    const reordered = { tenant: 'a', purpose: 'test' };
    const opened = await kms.send(
      new DecryptCommand({ CiphertextBlob: bound.CiphertextBlob, EncryptionContext: reordered }),
    );
    expect(Buffer.from(opened.Plaintext ?? [])).toEqual(plain);

    for (const wrong of [undefined, { purpose: 'test', tenant: 'b' }, { purpose: 'test' }]) {
      const error = await failure(
        kms.send(new DecryptCommand({ CiphertextBlob: bound.CiphertextBlob, EncryptionContext: wrong })),
      );
      expect(error.name).toBe('InvalidCiphertextException');
    }
    const otherKey = await newKey();
    expect(
      (await failure(kms.send(new DecryptCommand({ CiphertextBlob: bare.CiphertextBlob, KeyId: otherKey }))))
        .name,
    ).toBe('IncorrectKeyException');
  });

  it('rejects tampered and truncated ciphertext blobs with InvalidCiphertextException', async () => {
    const keyId = await newKey();
    const { CiphertextBlob } = await kms.send(
      new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('secret') }),
    );
    const blob = Buffer.from(CiphertextBlob ?? []);
    for (const offset of [0, 4, 21, 24, 30, 40, blob.length - 1]) {
      const tampered = Buffer.from(blob);
      tampered[offset] = (tampered[offset] ?? 0) ^ 0x01;
      const error = await failure(kms.send(new DecryptCommand({ CiphertextBlob: tampered })));
      expect(['InvalidCiphertextException', 'NotFoundException'], `offset ${offset}`).toContain(error.name);
    }
    expect((await failure(kms.send(new DecryptCommand({ CiphertextBlob: blob.subarray(0, 20) })))).name).toBe(
      'InvalidCiphertextException',
    );
  });

  it('validates Encrypt input without echoing the plaintext', async () => {
    const keyId = await newKey();
    const error = await failure(
      kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.alloc(5000, 0x41) })),
    );
    expect(error.name).toBe('ValidationException');
    expect(error.message).toMatch(/^1 validation error detected: Value \[sensitive\] at 'plaintext'/);
    expect(error.message).not.toContain('AAAA');
  });

  it('re-encrypts under another key and context', async () => {
    const [source, destination] = await Promise.all([newKey(), newKey()]);
    const { CiphertextBlob } = await kms.send(
      new EncryptCommand({ KeyId: source, Plaintext: Buffer.from('move me'), EncryptionContext: { a: '1' } }),
    );
    const moved = await kms.send(
      new ReEncryptCommand({
        CiphertextBlob,
        SourceEncryptionContext: { a: '1' },
        DestinationKeyId: destination,
        DestinationEncryptionContext: { b: '2' },
      }),
    );
    expect(moved.SourceKeyId).toContain(source);
    expect(moved.KeyId).toContain(destination);
    const opened = await kms.send(
      new DecryptCommand({ CiphertextBlob: moved.CiphertextBlob, EncryptionContext: { b: '2' } }),
    );
    expect(Buffer.from(opened.Plaintext ?? []).toString()).toBe('move me');
  });

  it('refuses a disabled key and serves it again once enabled', async () => {
    const keyId = await newKey();
    const { CiphertextBlob } = await kms.send(
      new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('x') }),
    );
    await kms.send(new DisableKeyCommand({ KeyId: keyId }));
    expect((await kms.send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata).toMatchObject({
      Enabled: false,
      KeyState: 'Disabled',
    });
    expect(
      (await failure(kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('x') })))).name,
    ).toBe('DisabledException');
    expect((await failure(kms.send(new DecryptCommand({ CiphertextBlob })))).name).toBe('DisabledException');
    await kms.send(new EnableKeyCommand({ KeyId: keyId }));
    expect((await kms.send(new DecryptCommand({ CiphertextBlob }))).Plaintext?.length).toBe(1);
  });
});

describe('KMS rotation', () => {
  it('rotates on demand: new encryptions use the new version, old ciphertexts still decrypt', async () => {
    const keyId = await newKey();
    const before = await kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('v1') }));
    await kms.send(new RotateKeyOnDemandCommand({ KeyId: keyId }));
    await kms.send(new RotateKeyOnDemandCommand({ KeyId: keyId }));
    const after = await kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('v3') }));
    // The blob names its key version (bytes 21..24, docs/encryption.md).
    expect(Buffer.from(before.CiphertextBlob ?? []).readUInt32BE(21)).toBe(1);
    expect(Buffer.from(after.CiphertextBlob ?? []).readUInt32BE(21)).toBe(3);
    for (const [blob, text] of [
      [before.CiphertextBlob, 'v1'],
      [after.CiphertextBlob, 'v3'],
    ] as const) {
      expect(
        Buffer.from(
          (await kms.send(new DecryptCommand({ CiphertextBlob: blob }))).Plaintext ?? [],
        ).toString(),
      ).toBe(text);
    }
    const status = await kms.send(new GetKeyRotationStatusCommand({ KeyId: keyId }));
    expect(status.KeyRotationEnabled).toBe(false);
    expect(status.OnDemandRotationStartDate).toBeInstanceOf(Date);
  });

  it('rotates automatically when the period has passed on the injected clock', async () => {
    const keyId = await newKey();
    await kms.send(new EnableKeyRotationCommand({ KeyId: keyId, RotationPeriodInDays: 90 }));
    const status = await kms.send(new GetKeyRotationStatusCommand({ KeyId: keyId }));
    expect(status).toMatchObject({ KeyRotationEnabled: true, RotationPeriodInDays: 90 });
    const old = await kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('old') }));
    offsetMs += 91 * DAY_MS;
    const { rotated } = await gateway.app.kmsMaintenance.runOnce();
    expect(rotated).toContain(keyId);
    const fresh = await kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('new') }));
    expect(Buffer.from(fresh.CiphertextBlob ?? []).readUInt32BE(21)).toBe(2);
    expect(
      Buffer.from(
        (await kms.send(new DecryptCommand({ CiphertextBlob: old.CiphertextBlob }))).Plaintext ?? [],
      ).toString(),
    ).toBe('old');
  });
});

describe('KMS scheduled deletion (crypto-shredding)', () => {
  it('blocks use while pending, allows cancel, then destroys the material when the window ends', async () => {
    const keyId = await newKey();
    const alias = uniqueAlias();
    await kms.send(new CreateAliasCommand({ AliasName: alias, TargetKeyId: keyId }));
    const { CiphertextBlob } = await kms.send(
      new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('doomed') }),
    );
    const dataKey = await kms.send(new GenerateDataKeyCommand({ KeyId: keyId, KeySpec: 'AES_256' }));

    const tooShort = await failure(
      kms.send(new ScheduleKeyDeletionCommand({ KeyId: keyId, PendingWindowInDays: 6 })),
    );
    expect(tooShort.name).toBe('ValidationException');
    const scheduled = await kms.send(
      new ScheduleKeyDeletionCommand({ KeyId: keyId, PendingWindowInDays: 7 }),
    );
    expect(scheduled).toMatchObject({ KeyState: 'PendingDeletion', PendingWindowInDays: 7 });
    expect((scheduled.DeletionDate?.getTime() ?? 0) - Date.now() - offsetMs).toBeGreaterThan(
      7 * DAY_MS - 60_000,
    );
    expect((await failure(kms.send(new DecryptCommand({ CiphertextBlob })))).name).toBe(
      'KMSInvalidStateException',
    );

    await kms.send(new CancelKeyDeletionCommand({ KeyId: keyId }));
    expect((await kms.send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata?.KeyState).toBe('Disabled');
    await kms.send(new EnableKeyCommand({ KeyId: keyId }));
    expect((await kms.send(new DecryptCommand({ CiphertextBlob }))).Plaintext?.length).toBe(6);

    await kms.send(new ScheduleKeyDeletionCommand({ KeyId: keyId, PendingWindowInDays: 7 }));
    offsetMs += 7 * DAY_MS + 1000;

    for (const blob of [CiphertextBlob, dataKey.CiphertextBlob]) {
      const gone = await failure(kms.send(new DecryptCommand({ CiphertextBlob: blob })));
      expect(gone.name).toBe('NotFoundException');
      expect(gone.message).toMatch(/was deleted on .*can never be decrypted/);
    }
    expect((await failure(kms.send(new DescribeKeyCommand({ KeyId: keyId })))).name).toBe(
      'NotFoundException',
    );
    expect((await failure(kms.send(new DescribeKeyCommand({ KeyId: alias })))).name).toBe(
      'NotFoundException',
    );
    expect((await kms.send(new ListKeysCommand({ Limit: 1000 }))).Keys?.map((k) => k.KeyId)).not.toContain(
      keyId,
    );
    // The wrapped key material itself is gone from Redis.
    expect(await gateway.app.redis.client.exists(`kms:{kms}:material:${keyId}`)).toBe(0);
  });

  it('lets the maintenance loop destroy keys nobody touches', async () => {
    const keyId = await newKey();
    await kms.send(new ScheduleKeyDeletionCommand({ KeyId: keyId, PendingWindowInDays: 30 }));
    offsetMs += 31 * DAY_MS;
    const { destroyed } = await gateway.app.kmsMaintenance.runOnce();
    expect(destroyed).toContain(keyId);
    expect(await gateway.app.redis.client.exists(`kms:{kms}:material:${keyId}`)).toBe(0);
  });
});

import { randomBytes, randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  canonicalContext,
  DATA_KEY_CONTEXT,
  type DataKey,
  type EncryptionContext,
  Envelope,
  EnvelopeError,
  type EnvelopeErrorReason,
  type EnvelopeOptions,
  gcmDecrypt,
  gcmEncrypt,
  headerBytes,
  type KeyProvider,
} from '../../../src/crypto/index.ts';
import { ServiceError } from '../../../src/errors/index.ts';

interface MasterKey {
  keyId: string;
  secret: Buffer;
}

/**
 * The KeyProvider port in memory: one random master key per key reference; a wrapped data key is
 * keyId (36 ASCII bytes) || IV || tag || AES-256-GCM(data key), with AAD keyId || canonical context.
 */
class MemoryKeyProvider implements KeyProvider {
  generateCalls = 0;
  decryptCalls = 0;
  /** Every plaintext data key handed out, to check that the caches zero them. */
  readonly issued: Buffer[] = [];
  /** While set, calls wait for it (to hold fetches in flight). */
  gate: Promise<void> | undefined;
  /** While set, calls reject with it. */
  failure: Error | undefined;
  /** Length of the data keys handed out (a misbehaving provider hands out other lengths). */
  dataKeyBytes = 32;
  readonly #keys = new Map<string, MasterKey>();

  /** For each data key handed out so far, whether it has been zeroed since. */
  zeroed(): boolean[] {
    return this.issued.map((key) => key.every((byte) => byte === 0));
  }

  keyIdOf(keyRef: string): string {
    return this.#key(keyRef).keyId;
  }

  async generateDataKey(keyRef: string, context: EncryptionContext): Promise<DataKey> {
    this.generateCalls++;
    await this.gate;
    if (this.failure) throw this.failure;
    const key = this.#key(keyRef);
    const plaintext = randomBytes(this.dataKeyBytes);
    const keyId = Buffer.from(key.keyId, 'latin1');
    const { iv, tag, ciphertext } = gcmEncrypt(key.secret, aad(keyId, context), plaintext);
    this.issued.push(plaintext);
    return { plaintext, wrapped: Buffer.concat([keyId, iv, tag, ciphertext]), keyId: key.keyId };
  }

  async decryptDataKey(
    wrapped: Buffer,
    context: EncryptionContext,
  ): Promise<{ plaintext: Buffer; keyId: string }> {
    this.decryptCalls++;
    await this.gate;
    if (this.failure) throw this.failure;
    const keyId = wrapped.subarray(0, 36);
    const key = [...this.#keys.values()].find((k) => k.keyId === keyId.toString('latin1'));
    if (key === undefined || wrapped.length !== 36 + 12 + 16 + 32) throw invalidCiphertext();
    try {
      const plaintext = gcmDecrypt(
        key.secret,
        aad(keyId, context),
        wrapped.subarray(36, 48),
        wrapped.subarray(64),
        wrapped.subarray(48, 64),
      );
      this.issued.push(plaintext);
      return { plaintext, keyId: key.keyId };
    } catch (error) {
      throw invalidCiphertext(error);
    }
  }

  #key(keyRef: string): MasterKey {
    let key = this.#keys.get(keyRef);
    if (key === undefined) {
      key = { keyId: randomUUID(), secret: randomBytes(32) };
      this.#keys.set(keyRef, key);
    }
    return key;
  }
}

/** What the key service throws for a wrapped key it cannot unwrap (as KMS Decrypt does). */
function invalidCiphertext(cause?: unknown): ServiceError {
  return new ServiceError('InvalidCiphertextException', 'The ciphertext is invalid.', { cause });
}

function aad(keyId: Buffer, context: EncryptionContext): Buffer {
  return Buffer.concat([keyId, canonicalContext(context)]);
}

function setup(options: Omit<EnvelopeOptions, 'keyProvider'> = {}) {
  const provider = new MemoryKeyProvider();
  return { provider, envelope: new Envelope({ keyProvider: provider, ...options }) };
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve = (): void => {};
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

async function reasonOf(promise: Promise<unknown>): Promise<EnvelopeErrorReason | string> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof EnvelopeError) return error.reason;
    if (error instanceof Error) return error.name;
  }
  return 'opened';
}

const CONTEXT = {
  'aws:kinesisvideo:arn': 'arn:aws:kinesisvideo:us-east-1:000000000000:stream/cam/1',
  fragment: '9',
};
const KEY = 'alias/aws/kinesisvideo';
const WRAPPED_BYTES = 36 + 12 + 16 + 32;

describe('Envelope seal/open', () => {
  it.each([0, 1, 4096, 1024 * 1024])('round-trips %i bytes in one documented v1 envelope', async (size) => {
    const { envelope } = setup();
    const plaintext = randomBytes(size);
    const sealed = await envelope.seal(plaintext, KEY, CONTEXT);
    expect(sealed.subarray(0, 6)).toEqual(Buffer.from([0x53, 0x47, 0x45, 0x56, 1, 1]));
    expect(sealed.readUInt16BE(6)).toBe(WRAPPED_BYTES);
    expect(sealed.length).toBe(headerBytes(WRAPPED_BYTES) + size);
    expect(headerBytes(WRAPPED_BYTES)).toBe(36 + WRAPPED_BYTES);
    expect((await envelope.open(sealed, CONTEXT)).equals(plaintext)).toBe(true);
  });

  it.each([0, 4096, 1024 * 1024])(
    'seals %i bytes as [header, ciphertext] parts that concatenate to an envelope',
    async (size) => {
      const { envelope } = setup();
      const plaintext = randomBytes(size);
      const [header, ciphertext] = await envelope.sealParts(plaintext, KEY, CONTEXT);
      expect(header.length).toBe(headerBytes(WRAPPED_BYTES));
      expect(ciphertext.length).toBe(size);
      const opened = await envelope.open(Buffer.concat([header, ciphertext]), CONTEXT);
      expect(opened.equals(plaintext)).toBe(true);
      await expect(
        envelope.open(Buffer.concat([header, ciphertext]), { other: 'context' }),
      ).rejects.toMatchObject({
        reason: 'authentication-failed',
      });
    },
  );

  it('round-trips 64 MiB', async () => {
    const { envelope } = setup();
    const plaintext = Buffer.alloc(64 * 1024 * 1024, 0xa5);
    const opened = await envelope.open(await envelope.seal(plaintext, KEY, CONTEXT), CONTEXT);
    expect(opened.equals(plaintext)).toBe(true);
  });

  it('uses a fresh IV for every seal', async () => {
    const { envelope } = setup();
    const plaintext = Buffer.from('same fragment');
    const sealed = await Promise.all([
      envelope.seal(plaintext, KEY, CONTEXT),
      envelope.seal(plaintext, KEY, CONTEXT),
    ]);
    const distinct = (start: number, end: number) =>
      new Set(sealed.map((s) => s.subarray(start, end).toString('hex')));
    expect(distinct(0, 8 + WRAPPED_BYTES).size).toBe(1); // same data key
    expect(distinct(8 + WRAPPED_BYTES, 20 + WRAPPED_BYTES).size).toBe(2); // distinct IVs
  });

  it('opens with a context whose pairs come in another insertion order', async () => {
    const { envelope } = setup();
    const sealed = await envelope.seal(Buffer.from('x'), KEY, { a: '1', b: '2', c: '3', stream: 's' });
    const opened = await envelope.open(sealed, { stream: 's', c: '3', a: '1', b: '2' });
    expect(opened.toString()).toBe('x');
  });

  it.each<[string, EncryptionContext]>([
    ['another fragment number', { ...CONTEXT, fragment: '10' }],
    [
      'another stream',
      { ...CONTEXT, 'aws:kinesisvideo:arn': 'arn:aws:kinesisvideo:us-east-1:0:stream/other/2' },
    ],
    ['an extra pair', { ...CONTEXT, extra: '' }],
    ['the empty context', {}],
  ])('refuses to open under %s', async (_, other) => {
    const { envelope } = setup();
    const sealed = await envelope.seal(Buffer.from('fragment bytes'), KEY, CONTEXT);
    await expect(reasonOf(envelope.open(sealed, other))).resolves.toBe('authentication-failed');
  });

  it('detects a flip of every single byte, with the reason of the field it lands in', async () => {
    const { envelope } = setup();
    const sealed = await envelope.seal(randomBytes(64), KEY, CONTEXT);
    const ivOffset = 8 + WRAPPED_BYTES;
    const expected = (offset: number): EnvelopeErrorReason | string => {
      if (offset < 4) return 'bad-magic';
      if (offset === 4) return 'unsupported-version';
      if (offset === 5) return 'unsupported-algorithm';
      if (offset === 6) return 'truncated'; // N + 256 runs past the end
      if (offset < ivOffset) return 'InvalidCiphertextException'; // N - 1 or a wrapped-key byte: the key service refuses
      return 'authentication-failed'; // IV, tag, ciphertext
    };
    for (let offset = 0; offset < sealed.length; offset++) {
      for (const mask of [0x01, 0x80]) {
        const tampered = Buffer.from(sealed);
        tampered[offset] = (tampered[offset] ?? 0) ^ mask;
        const reason = await reasonOf(envelope.open(tampered, CONTEXT));
        const want = offset === 7 && mask === 0x80 ? 'truncated' : expected(offset);
        expect({ offset, mask, reason }).toEqual({ offset, mask, reason: want });
      }
    }
    expect((await envelope.open(sealed, CONTEXT)).length).toBe(64);
  });

  it('refuses every truncation with a clear error', async () => {
    const { envelope } = setup();
    const sealed = await envelope.seal(randomBytes(64), KEY, CONTEXT);
    const header = headerBytes(WRAPPED_BYTES);
    for (let length = 0; length < sealed.length; length++) {
      const error = await envelope.open(sealed.subarray(0, length), CONTEXT).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(EnvelopeError);
      const { reason, message } = error as EnvelopeError;
      if (length < header) {
        expect(reason).toBe('truncated');
        expect(message).toMatch(
          new RegExp(`^envelope truncated: ${length} bytes, the header needs at least 36\\+N`),
        );
      } else {
        expect(reason).toBe('authentication-failed');
      }
    }
    await expect(envelope.open(sealed.subarray(0, 30), CONTEXT)).rejects.toThrow(
      `envelope truncated: 30 bytes, the header needs at least 36+N = ${header} (N = ${WRAPPED_BYTES})`,
    );
  });

  it('refuses an unknown format version, algorithm or magic', async () => {
    const { envelope } = setup();
    const sealed = await envelope.seal(Buffer.from('x'), KEY, CONTEXT);
    const withByte = (offset: number, value: number) => {
      const copy = Buffer.from(sealed);
      copy[offset] = value;
      return copy;
    };
    await expect(envelope.open(withByte(4, 2), CONTEXT)).rejects.toThrow(
      'envelope format version 2 is not supported (this build reads version 1)',
    );
    await expect(reasonOf(envelope.open(withByte(4, 0), CONTEXT))).resolves.toBe('unsupported-version');
    await expect(envelope.open(withByte(5, 2), CONTEXT)).rejects.toThrow(
      'envelope algorithm id 2 is not supported',
    );
    await expect(reasonOf(envelope.open(withByte(5, 2), CONTEXT))).resolves.toBe('unsupported-algorithm');
    await expect(reasonOf(envelope.open(Buffer.from('{"not":"an envelope"}'), CONTEXT))).resolves.toBe(
      'bad-magic',
    );
    await expect(reasonOf(envelope.open(Buffer.from('SG'), CONTEXT))).resolves.toBe('truncated');
  });

  it('lets key-service errors through unchanged, from seal and from open, and caches no failure', async () => {
    const { provider, envelope } = setup();
    const sealed = await envelope.seal(Buffer.from('x'), KEY, CONTEXT);
    const disabled = new ServiceError(
      'DisabledException',
      'arn:aws:kms:us-east-1:000000000000:key/k is disabled.',
    );
    provider.failure = disabled;
    const reader = new Envelope({ keyProvider: provider });
    await expect(envelope.seal(Buffer.from('y'), 'alias/other', CONTEXT)).rejects.toBe(disabled);
    await expect(reader.open(sealed, CONTEXT)).rejects.toBe(disabled);
    provider.failure = undefined;
    await expect(reader.open(sealed, CONTEXT)).resolves.toEqual(Buffer.from('x'));
    await expect(envelope.seal(Buffer.from('y'), 'alias/other', CONTEXT)).resolves.toBeInstanceOf(Buffer);
    await expect(setup().envelope.open(sealed, CONTEXT)).rejects.toMatchObject({
      code: 'InvalidCiphertextException',
    });
  });

  it('rejects a data key that is not 256 bits', async () => {
    const { provider, envelope } = setup();
    provider.dataKeyBytes = 16;
    await expect(envelope.seal(Buffer.from('x'), KEY, CONTEXT)).rejects.toThrow(
      'key provider returned a 16-byte data key; AES-256-GCM needs 32',
    );
  });

  it('wraps data keys under the fixed data-key context, not the message context', async () => {
    const { provider, envelope } = setup();
    const contexts: EncryptionContext[] = [];
    const generate = provider.generateDataKey.bind(provider);
    provider.generateDataKey = (keyRef, context) => {
      contexts.push(context);
      return generate(keyRef, context);
    };
    await envelope.seal(Buffer.from('x'), KEY, CONTEXT);
    expect(contexts).toEqual([{ 'streamgate:envelope': 'v1' }]);
    expect(DATA_KEY_CONTEXT).toEqual({ 'streamgate:envelope': 'v1' });
  });
});

describe('Envelope data-key caches', () => {
  it('seals many messages under one key reference with one GenerateDataKey', async () => {
    const { provider, envelope } = setup();
    for (let i = 0; i < 100; i++)
      await envelope.seal(Buffer.from([i]), KEY, { ...CONTEXT, fragment: `${i}` });
    await envelope.seal(Buffer.from('x'), 'alias/other', CONTEXT);
    expect(provider.generateCalls).toBe(2);
    expect(envelope.stats()).toEqual({ encryptHits: 99, encryptMisses: 2, decryptHits: 0, decryptMisses: 0 });
  });

  it('rolls over to a new data key after maxMessagesPerKey seals and zeroes the old one', async () => {
    const { provider, envelope } = setup({ cache: { maxMessagesPerKey: 3 } });
    const sealed = [];
    for (let i = 0; i < 7; i++) sealed.push(await envelope.seal(Buffer.from([i]), KEY, CONTEXT));
    expect(provider.generateCalls).toBe(3);
    expect(provider.zeroed()).toEqual([true, true, false]);
    const opened = await Promise.all(sealed.map((s) => envelope.open(s, CONTEXT)));
    expect(opened.map((b) => b[0])).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(provider.decryptCalls).toBe(3);
  });

  it('rolls over after maxBytesPerKey and gives a larger message its own uncached key', async () => {
    const { provider, envelope } = setup({ cache: { maxBytesPerKey: 100 } });
    for (let i = 0; i < 5; i++) await envelope.seal(Buffer.alloc(40), KEY, CONTEXT); // 40+40 | 40+40 | 40
    expect(provider.generateCalls).toBe(3);
    const big = await envelope.seal(Buffer.alloc(200, 7), KEY, CONTEXT);
    expect(provider.generateCalls).toBe(4);
    expect(provider.zeroed()).toEqual([true, true, false, true]);
    await envelope.seal(Buffer.alloc(40), KEY, CONTEXT); // still fits the third key
    expect(provider.generateCalls).toBe(4);
    expect(await envelope.open(big, CONTEXT)).toEqual(Buffer.alloc(200, 7));
  });

  it('expires data keys after maxAgeMs on both sides, zeroing idle ones', async () => {
    let now = 1_000;
    const { provider, envelope } = setup({ now: () => now });
    const sealed = await envelope.seal(Buffer.from('x'), KEY, CONTEXT);
    await envelope.open(sealed, CONTEXT);
    now += 299_999;
    await envelope.seal(Buffer.from('x'), KEY, CONTEXT);
    await envelope.open(sealed, CONTEXT);
    expect([provider.generateCalls, provider.decryptCalls]).toEqual([1, 1]);
    now += 1_000; // expired; idle entries are swept at most once a second of cache use
    await envelope.seal(Buffer.from('x'), 'alias/other', CONTEXT);
    expect(provider.zeroed()).toEqual([true, false, false]); // swept although KEY was not used again
    await envelope.seal(Buffer.from('x'), KEY, CONTEXT);
    await envelope.open(sealed, CONTEXT);
    expect([provider.generateCalls, provider.decryptCalls]).toEqual([3, 2]);
  });

  it('bounds the decryption cache to maxEntries, least recently used out', async () => {
    const { provider, envelope } = setup({ cache: { maxEntries: 2 } });
    const a = await envelope.seal(Buffer.from('a'), 'a', CONTEXT);
    const b = await envelope.seal(Buffer.from('b'), 'b', CONTEXT);
    const c = await envelope.seal(Buffer.from('c'), 'c', CONTEXT);
    for (const sealed of [a, b, a, c, a, b]) await envelope.open(sealed, CONTEXT);
    expect(provider.decryptCalls).toBe(4); // a, b, (a hit), c evicts b, (a hit), b evicts c
  });

  it('shares one GenerateDataKey between concurrent seals', async () => {
    const { provider, envelope } = setup();
    const gate = deferred();
    provider.gate = gate.promise;
    const seals = Array.from({ length: 50 }, (_, i) => envelope.seal(Buffer.from([i]), KEY, CONTEXT));
    gate.resolve();
    const sealed = await Promise.all(seals);
    expect(provider.generateCalls).toBe(1);
    expect(envelope.stats()).toMatchObject({ encryptHits: 0, encryptMisses: 50 });
    const opened = await Promise.all(sealed.map((s) => envelope.open(s, CONTEXT)));
    expect(opened.map((b) => b[0])).toEqual(Array.from({ length: 50 }, (_, i) => i));
  });

  it('respects maxMessagesPerKey among concurrent seals and never seals with a zeroed key', async () => {
    for (const [maxMessagesPerKey, calls] of [
      [3, 4],
      [1, 20],
    ] as const) {
      const { provider, envelope } = setup({ cache: { maxMessagesPerKey } });
      const seals = Array.from({ length: maxMessagesPerKey === 3 ? 10 : 20 }, (_, i) =>
        envelope.seal(Buffer.from([i]), KEY, CONTEXT),
      );
      const sealed = await Promise.all(seals);
      expect(provider.generateCalls).toBe(calls);
      const reader = new Envelope({ keyProvider: provider });
      const opened = await Promise.all(sealed.map((s) => reader.open(s, CONTEXT)));
      expect(opened.map((b) => b[0])).toEqual(sealed.map((_, i) => i));
    }
  });

  it('opens 1000 envelopes sealed under one data key with one Decrypt, concurrently or not', async () => {
    const { provider, envelope } = setup();
    const sealed = await Promise.all(
      Array.from({ length: 1000 }, (_, i) =>
        envelope.seal(Buffer.from(`${i}`), KEY, { ...CONTEXT, fragment: `${i}` }),
      ),
    );
    const reader = new Envelope({ keyProvider: provider });
    const opened = await Promise.all(sealed.map((s, i) => reader.open(s, { ...CONTEXT, fragment: `${i}` })));
    for (const [i, s] of sealed.entries()) await reader.open(s, { ...CONTEXT, fragment: `${i}` });
    expect(opened.map(String)).toEqual(sealed.map((_, i) => `${i}`));
    expect([provider.generateCalls, provider.decryptCalls]).toEqual([1, 1]);
    expect(reader.stats()).toEqual({
      encryptHits: 0,
      encryptMisses: 0,
      decryptHits: 1000,
      decryptMisses: 1000,
    });
  });

  it('forgetKey drops and zeroes the data keys of that master key only', async () => {
    const { provider, envelope } = setup();
    const sealed = await envelope.seal(Buffer.from('x'), KEY, CONTEXT);
    await envelope.seal(Buffer.from('x'), 'alias/other', CONTEXT);
    await envelope.open(sealed, CONTEXT);
    envelope.forgetKey(provider.keyIdOf(KEY));
    expect(provider.zeroed()).toEqual([true, false, true]);
    await envelope.seal(Buffer.from('x'), KEY, CONTEXT);
    await envelope.seal(Buffer.from('x'), 'alias/other', CONTEXT);
    await envelope.open(sealed, CONTEXT);
    expect([provider.generateCalls, provider.decryptCalls]).toEqual([3, 2]);
  });

  it('forgetKey discards a data key that was being fetched when it was called', async () => {
    const { provider, envelope } = setup();
    const gate = deferred();
    provider.gate = gate.promise;
    const sealing = envelope.seal(Buffer.from('x'), KEY, CONTEXT);
    envelope.forgetKey(provider.keyIdOf(KEY));
    gate.resolve();
    const sealed = await sealing;
    expect(provider.generateCalls).toBe(2);
    expect(provider.zeroed()).toEqual([true, false]);
    await envelope.seal(Buffer.from('y'), KEY, CONTEXT);
    expect(provider.generateCalls).toBe(2);
    expect(await envelope.open(sealed, CONTEXT)).toEqual(Buffer.from('x'));
  });

  it('clear() zeroes every cached key, including one being fetched', async () => {
    const { provider, envelope } = setup();
    const sealed = await envelope.seal(Buffer.from('x'), KEY, CONTEXT);
    await envelope.open(sealed, CONTEXT);
    const gate = deferred();
    provider.gate = gate.promise;
    const sealing = envelope.seal(Buffer.from('x'), 'alias/other', CONTEXT);
    envelope.clear();
    gate.resolve();
    await sealing;
    expect(provider.generateCalls).toBe(3);
    expect(provider.zeroed()).toEqual([true, true, true, false]); // the last one was fetched after clear()
  });

  it('refuses cache limits that cannot work', () => {
    const keyProvider = new MemoryKeyProvider();
    expect(() => new Envelope({ keyProvider, cache: { maxAgeMs: 0 } })).toThrow(RangeError);
    expect(() => new Envelope({ keyProvider, cache: { maxMessagesPerKey: 0 } })).toThrow(RangeError);
    expect(() => new Envelope({ keyProvider, cache: { maxEntries: 0 } })).toThrow(RangeError);
  });
});

import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  InvalidObjectKeyError,
  InvalidObjectRequestError,
  ObjectNotFoundError,
  ObjectRangeNotSatisfiableError,
  type ObjectStore,
  ObjectStoreError,
} from '../../../src/storage/index.ts';

/** A started store for one test, and how to release it (and anything it left behind). */
export interface ObjectStoreFixture {
  store: ObjectStore;
  dispose(): Promise<void>;
}

/** Keys every adapter must reject, with what is wrong with them. */
export const INVALID_KEYS: readonly (readonly [string, string])[] = [
  ['../x', 'parent segment'],
  ['a/../b', 'inner parent segment'],
  ['/abs', 'leading slash'],
  ['a//b', 'empty segment'],
  ['a/', 'trailing slash'],
  ['a/./b', 'dot segment'],
  ['', 'empty'],
  ['a\u0000b', 'NUL'],
  ['a\nb', 'control character'],
  ['a\\b', 'backslash'],
  ['\ud800', 'lone surrogate'],
  ['x'.repeat(1025), 'longer than 1024 bytes'],
  ['é'.repeat(513), 'longer than 1024 UTF-8 bytes'],
];

/** Runs the `ObjectStore` contract against one adapter; each test gets a fresh fixture and key prefix. */
export function describeObjectStoreContract(
  name: string,
  createFixture: () => Promise<ObjectStoreFixture>,
): void {
  describe(`${name} satisfies the ObjectStore contract`, () => {
    let fixture: ObjectStoreFixture;
    let store: ObjectStore;
    let p: string;

    beforeEach(async () => {
      fixture = await createFixture();
      store = fixture.store;
      p = `contract-${randomUUID()}/`;
    });

    afterEach(async () => {
      await fixture.dispose();
    });

    describe('put, get and stat', () => {
      it('stores a buffer with content type and metadata and reads it back', async () => {
        const body = randomBytes(100_000);
        const beforeMs = Date.now();
        const { etag } = await store.put(`${p}fragment.mp4`, body, {
          contentType: 'video/mp4',
          metadata: {
            'stream-name': 'cam-1',
            'fragment-number': '91343852333181432392682062600000000000001',
          },
        });
        const afterMs = Date.now();

        expect(etag).toBe(md5(body));
        expect(await store.getBuffer(`${p}fragment.mp4`)).toEqual(body);
        expect(Buffer.concat(await (await store.get(`${p}fragment.mp4`)).toArray())).toEqual(body);
        const info = await store.stat(`${p}fragment.mp4`);
        expect(info).toEqual({
          key: `${p}fragment.mp4`,
          size: body.length,
          etag,
          lastModified: expect.any(Date),
          contentType: 'video/mp4',
          metadata: {
            'stream-name': 'cam-1',
            'fragment-number': '91343852333181432392682062600000000000001',
          },
        });
        // S3 reports Last-Modified in whole seconds.
        expect(info?.lastModified.getTime()).toBeGreaterThanOrEqual(
          Math.floor(beforeMs / 1000) * 1000 - 1000,
        );
        expect(info?.lastModified.getTime()).toBeLessThanOrEqual(afterMs + 1000);
      });

      it('defaults to application/octet-stream and no metadata', async () => {
        await store.put(`${p}plain`, Buffer.from('x'));
        const info = await store.stat(`${p}plain`);
        expect(info?.contentType).toBe('application/octet-stream');
        expect(info?.metadata).toEqual({});
      });

      it('stores an empty object', async () => {
        const { etag } = await store.put(`${p}empty`, Buffer.alloc(0));
        expect(etag).toBe(md5(Buffer.alloc(0)));
        expect(await store.getBuffer(`${p}empty`)).toEqual(Buffer.alloc(0));
        expect(Buffer.concat(await (await store.get(`${p}empty`)).toArray())).toEqual(Buffer.alloc(0));
        expect((await store.stat(`${p}empty`))?.size).toBe(0);
      });

      it('replaces an object, content and metadata together', async () => {
        await store.put(`${p}k`, Buffer.from('first version'), { metadata: { version: '1' } });
        await store.put(`${p}k`, Buffer.from('second'), {
          contentType: 'text/plain',
          metadata: { other: 'x' },
        });
        expect((await store.getBuffer(`${p}k`)).toString()).toBe('second');
        const info = await store.stat(`${p}k`);
        expect(info).toMatchObject({ size: 6, contentType: 'text/plain', metadata: { other: 'x' } });
      });

      it('round-trips keys with spaces and non-ASCII characters', async () => {
        const key = `${p}dir with space/é ü 日本 🎥.bin`;
        await store.put(key, Buffer.from('unicode'));
        expect((await store.getBuffer(key)).toString()).toBe('unicode');
        expect((await store.stat(key))?.key).toBe(key);
        expect((await store.list(`${p}dir with space/`)).objects.map((o) => o.key)).toEqual([key]);
      });

      it('reports a missing key as undefined from stat and ObjectNotFoundError from the gets', async () => {
        const key = `${p}missing/object`;
        expect(await store.stat(key)).toBeUndefined();
        await expect(store.get(key)).rejects.toThrow(ObjectNotFoundError);
        await expect(store.getBuffer(key)).rejects.toThrow(ObjectNotFoundError);
        await expect(store.getRange(key, 0, 9)).rejects.toThrow(ObjectNotFoundError);
        await expect(store.get(key)).rejects.toMatchObject({ key });
      });
    });

    describe('stream puts', () => {
      it('stores a multi-chunk stream of known size', async () => {
        const chunks = [randomBytes(70_000), randomBytes(1), randomBytes(130_000)];
        const body = Buffer.concat(chunks);
        const { etag } = await store.put(`${p}known`, Readable.from(chunks), { size: body.length });
        expect(etag).toBe(md5(body));
        expect(await store.getBuffer(`${p}known`)).toEqual(body);
        expect((await store.stat(`${p}known`))?.size).toBe(body.length);
      });

      it('stores a multi-chunk stream of unknown size', async () => {
        const chunks = [randomBytes(50_000), randomBytes(90_000)];
        const body = Buffer.concat(chunks);
        const { etag } = await store.put(`${p}unknown`, Readable.from(chunks), { contentType: 'video/mp4' });
        expect(etag).toBe(md5(body));
        expect(await store.getBuffer(`${p}unknown`)).toEqual(body);
        expect((await store.stat(`${p}unknown`))?.contentType).toBe('video/mp4');
      });

      it.each([
        ['fewer', 10],
        ['more', 30],
      ])(
        'rejects a stream that delivers %s bytes than its declared size and stores nothing',
        async (_, bytes) => {
          const put = store.put(`${p}mismatch`, Readable.from([randomBytes(bytes)]), { size: 20 });
          await expect(put).rejects.toThrow(InvalidObjectRequestError);
          await expect(put).rejects.toThrow(/size is 20 bytes/);
          expect(await store.stat(`${p}mismatch`)).toBeUndefined();
        },
      );

      it('rejects a failing stream with ObjectStoreError carrying the cause and stores nothing', async () => {
        const producerError = new Error('producer failed');
        async function* failing() {
          yield randomBytes(10_000);
          throw producerError;
        }
        const put = store.put(`${p}failed`, Readable.from(failing()), { size: 20_000 });
        await expect(put).rejects.toThrow(ObjectStoreError);
        await expect(put).rejects.toMatchObject({ cause: producerError });
        expect(await store.stat(`${p}failed`)).toBeUndefined();
      });

      it('rejects a buffer whose length differs from the declared size', async () => {
        await expect(store.put(`${p}k`, Buffer.alloc(3), { size: 4 })).rejects.toThrow(
          InvalidObjectRequestError,
        );
        expect(await store.stat(`${p}k`)).toBeUndefined();
      });
    });

    describe('ranged gets', () => {
      const body = Buffer.from(Array.from({ length: 1000 }, (_, i) => i % 251));

      beforeEach(async () => {
        await store.put(`${p}ranged`, body);
      });

      it.each([
        ['the first byte', 0, 0, 0, 1],
        ['a middle range', 10, 19, 10, 20],
        ['the last byte', 999, 999, 999, 1000],
        ['the whole object', 0, 999, 0, 1000],
        ['a range clamped to the end', 990, 5000, 990, 1000],
      ])('returns %s', async (_, start, endInclusive, from, to) => {
        const stream = await store.getRange(`${p}ranged`, start, endInclusive);
        expect(Buffer.concat(await stream.toArray())).toEqual(body.subarray(from, to));
      });

      it('rejects a range that starts past the end', async () => {
        await expect(store.getRange(`${p}ranged`, 1000, 1001)).rejects.toThrow(
          ObjectRangeNotSatisfiableError,
        );
      });

      it.each([
        [5, 4],
        [-1, 3],
        [0.5, 3],
      ])('rejects the malformed range %d-%d', async (start, endInclusive) => {
        await expect(store.getRange(`${p}ranged`, start, endInclusive)).rejects.toThrow(
          InvalidObjectRequestError,
        );
      });
    });

    describe('list', () => {
      it('pages through 25 objects 10 at a time, each key once, in order', async () => {
        const keys = Array.from({ length: 25 }, (_, i) => `${p}fragments/${String(i).padStart(4, '0')}.mp4`);
        // Put in shuffled order so creation order cannot stand in for key order.
        for (const key of [...keys].sort(() => Math.random() - 0.5)) await store.put(key, Buffer.from(key));

        const pages: string[][] = [];
        let continuationToken: string | undefined;
        do {
          const page = await store.list(`${p}fragments/`, {
            maxKeys: 10,
            ...(continuationToken === undefined ? {} : { continuationToken }),
          });
          pages.push(page.objects.map((o) => o.key));
          continuationToken = page.nextContinuationToken;
        } while (continuationToken !== undefined && pages.length < 10);

        expect(pages.map((page) => page.length)).toEqual([10, 10, 5]);
        expect(pages.flat()).toEqual(keys);
      });

      it('returns size, etag and last-modified time of each object', async () => {
        await store.put(`${p}a`, Buffer.from('12345'));
        const { objects, nextContinuationToken } = await store.list(p);
        expect(nextContinuationToken).toBeUndefined();
        expect(objects).toEqual([
          { key: `${p}a`, size: 5, etag: md5(Buffer.from('12345')), lastModified: expect.any(Date) },
        ]);
      });

      it('matches a plain string prefix: a/b/ does not match a/bc, a/b matches both', async () => {
        for (const key of ['a/b/1', 'a/bc/2', 'a/b-3', 'a/c/4'])
          await store.put(`${p}${key}`, Buffer.from(key));
        const keysOf = async (prefix: string) =>
          (await store.list(`${p}${prefix}`)).objects.map((o) => o.key.slice(p.length)).sort();
        expect(await keysOf('a/b/')).toEqual(['a/b/1']);
        expect(await keysOf('a/bc')).toEqual(['a/bc/2']);
        expect(await keysOf('a/b')).toEqual(['a/b-3', 'a/b/1', 'a/bc/2']);
        expect(await keysOf('a/')).toEqual(['a/b-3', 'a/b/1', 'a/bc/2', 'a/c/4']);
      });

      it('returns an empty last page for a prefix nothing matches', async () => {
        await store.put(`${p}x`, Buffer.from('x'));
        expect(await store.list(`${p}y`)).toEqual({ objects: [] });
      });

      it.each([0, 1001, 2.5])('rejects maxKeys %d', async (maxKeys) => {
        await expect(store.list(p, { maxKeys })).rejects.toThrow(InvalidObjectRequestError);
      });
    });

    describe('deleteMany', () => {
      it('deletes the given keys, ignores missing and repeated ones, keeps the rest', async () => {
        for (const key of ['d/1', 'd/2', 'd/3', 'e/1']) await store.put(`${p}${key}`, Buffer.from(key));
        await store.deleteMany([`${p}d/1`, `${p}d/2`, `${p}d/missing`, `${p}nowhere/at/all`, `${p}d/1`]);
        expect(await store.stat(`${p}d/1`)).toBeUndefined();
        expect(await store.stat(`${p}d/2`)).toBeUndefined();
        expect((await store.list(p)).objects.map((o) => o.key)).toEqual([`${p}d/3`, `${p}e/1`]);
      });

      it('accepts an empty list and a list of only missing keys', async () => {
        await store.put(`${p}kept`, Buffer.from('x'));
        await store.deleteMany([]);
        await store.deleteMany([`${p}gone`, `${p}gone/too`]);
        expect(await store.stat(`${p}kept`)).toBeDefined();
      });

      it('lets a deleted key be written again', async () => {
        await store.put(`${p}again/k`, Buffer.from('one'));
        await store.deleteMany([`${p}again/k`]);
        await store.put(`${p}again/k`, Buffer.from('two'));
        expect((await store.getBuffer(`${p}again/k`)).toString()).toBe('two');
      });
    });

    describe('validation', () => {
      it.each(INVALID_KEYS)('rejects the key %j (%s) in every operation', async (key) => {
        await expect(store.put(key, Buffer.from('x'))).rejects.toThrow(InvalidObjectKeyError);
        await expect(store.get(key)).rejects.toThrow(InvalidObjectKeyError);
        await expect(store.getRange(key, 0, 1)).rejects.toThrow(InvalidObjectKeyError);
        await expect(store.getBuffer(key)).rejects.toThrow(InvalidObjectKeyError);
        await expect(store.stat(key)).rejects.toThrow(InvalidObjectKeyError);
        await expect(store.deleteMany([`${p}fine`, key])).rejects.toThrow(InvalidObjectKeyError);
      });

      it('validates a whole deleteMany batch before deleting anything', async () => {
        await store.put(`${p}fine`, Buffer.from('x'));
        await expect(store.deleteMany([`${p}fine`, '../escape'])).rejects.toThrow(InvalidObjectKeyError);
        expect(await store.stat(`${p}fine`)).toBeDefined();
      });

      it.each([
        ['an uppercase metadata key', { metadata: { Upper: 'x' } }],
        ['a metadata key with an underscore', { metadata: { under_score: 'x' } }],
        ['a non-ASCII metadata value', { metadata: { k: 'é' } }],
        ['a metadata value with a newline', { metadata: { k: 'a\nb' } }],
        ['a metadata value with surrounding spaces', { metadata: { k: ' x ' } }],
        ['metadata over 2 KiB', { metadata: { k: 'x'.repeat(2048) } }],
        ['a content type with a newline', { contentType: 'text/plain\r\nx-injected: 1' }],
        ['a negative size', { size: -1 }],
      ])('rejects %s', async (_, options) => {
        await expect(store.put(`${p}k`, Buffer.from('x'), options)).rejects.toThrow(
          InvalidObjectRequestError,
        );
        expect(await store.stat(`${p}k`)).toBeUndefined();
      });

      it('rejects a list prefix with a control character', async () => {
        await expect(store.list(`${p}\u0000`)).rejects.toThrow(InvalidObjectKeyError);
      });
    });

    describe('lifecycle', () => {
      it('answers ping', async () => {
        await expect(store.ping()).resolves.toBeUndefined();
      });

      it('keeps its objects across a repeated start and tolerates a repeated stop', async () => {
        await store.put(`${p}k`, Buffer.from('kept'));
        await store.start();
        expect((await store.getBuffer(`${p}k`)).toString()).toBe('kept');
        await store.stop();
        await store.stop();
      });
    });
  });
}

function md5(bytes: Buffer): string {
  return createHash('md5').update(bytes).digest('hex');
}

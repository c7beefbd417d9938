import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  FilesystemObjectStore,
  InvalidObjectRequestError,
  ObjectNotFoundError,
  ObjectStoreError,
} from '../../../src/storage/index.ts';
import { describeObjectStoreContract } from './object-store.contract.ts';

async function makeRootDir(): Promise<string> {
  return mkdtemp(path.join(tmpdir(), 'streamgate-fs-store-'));
}

describeObjectStoreContract('FilesystemObjectStore', async () => {
  const rootDir = await makeRootDir();
  const store = new FilesystemObjectStore({ rootDir });
  await store.start();
  return {
    store,
    async dispose() {
      await store.stop();
      await rm(rootDir, { recursive: true, force: true });
    },
  };
});

describe('FilesystemObjectStore', () => {
  let rootDir: string;
  let store: FilesystemObjectStore;

  beforeEach(async () => {
    rootDir = await makeRootDir();
    store = new FilesystemObjectStore({ rootDir });
    await store.start();
  });

  afterEach(async () => {
    await store.stop();
    await rm(rootDir, { recursive: true, force: true });
  });

  const tmpFiles = () => readdir(path.join(rootDir, 'tmp'));

  /** A body that hands out `first`, then waits until `finish()` before sending `rest` and ending. */
  function slowBody(first: Buffer, rest: Buffer) {
    let reads = 0;
    let firstTaken!: () => void;
    const firstChunkTaken = new Promise<void>((resolve) => {
      firstTaken = resolve;
    });
    // `first` exceeds the 16 KiB high-water mark, so the next read() only comes once the store took it.
    const body = new Readable({
      read() {
        reads += 1;
        if (reads === 1) this.push(first);
        else if (reads === 2) firstTaken();
      },
    });
    return {
      body,
      firstChunkTaken,
      finish() {
        body.push(rest);
        body.push(null);
      },
    };
  }

  describe('atomic puts', () => {
    it('shows nothing under a new key while its stream put is in progress', async () => {
      const first = randomBytes(64 * 1024);
      const rest = randomBytes(1000);
      const slow = slowBody(first, rest);
      const putting = store.put('streams/cam/0001.mp4', slow.body);
      await slow.firstChunkTaken;

      expect(await tmpFiles()).toHaveLength(1);
      expect(await store.stat('streams/cam/0001.mp4')).toBeUndefined();
      await expect(store.get('streams/cam/0001.mp4')).rejects.toThrow(ObjectNotFoundError);
      expect((await store.list('streams/')).objects).toEqual([]);

      slow.finish();
      await putting;
      expect(await store.getBuffer('streams/cam/0001.mp4')).toEqual(Buffer.concat([first, rest]));
      expect(await tmpFiles()).toEqual([]);
    });

    it('keeps serving the old version while a replacement is in progress', async () => {
      await store.put('k', Buffer.from('old version'));
      const slow = slowBody(randomBytes(64 * 1024), Buffer.from('tail'));
      const putting = store.put('k', slow.body, { metadata: { v: '2' } });
      await slow.firstChunkTaken;

      expect((await store.getBuffer('k')).toString()).toBe('old version');
      expect((await store.stat('k'))?.metadata).toEqual({});

      slow.finish();
      await putting;
      expect((await store.stat('k'))?.metadata).toEqual({ v: '2' });
    });

    it('leaves no object and no temporary file when the stream fails', async () => {
      async function* failing() {
        yield randomBytes(64 * 1024);
        throw new Error('camera disconnected');
      }
      await expect(store.put('streams/cam/0002.mp4', Readable.from(failing()))).rejects.toThrow(
        /camera disconnected/,
      );
      expect(await store.stat('streams/cam/0002.mp4')).toBeUndefined();
      expect(await tmpFiles()).toEqual([]);
      expect(await readdir(path.join(rootDir, 'objects'))).toEqual([]);
    });

    it('leaves no temporary file when the declared size does not match', async () => {
      await expect(store.put('k', Readable.from([Buffer.alloc(10)]), { size: 11 })).rejects.toThrow(
        InvalidObjectRequestError,
      );
      expect(await tmpFiles()).toEqual([]);
    });
  });

  describe('symbolic links', () => {
    let outsideDir: string;

    beforeEach(async () => {
      outsideDir = await mkdtemp(path.join(tmpdir(), 'streamgate-outside-'));
      await writeFile(path.join(outsideDir, 'secret.txt'), 'secret');
    });

    afterEach(async () => {
      await rm(outsideDir, { recursive: true, force: true });
    });

    it('never reads, writes or deletes through a linked directory', async () => {
      await symlink(outsideDir, path.join(rootDir, 'objects', 'evil'));

      await expect(store.get('evil/secret.txt')).rejects.toThrow(/symbolic link/);
      await expect(store.stat('evil/secret.txt')).rejects.toThrow(ObjectStoreError);
      await expect(store.put('evil/planted.txt', Buffer.from('x'))).rejects.toThrow(/symbolic link/);
      await expect(store.put('evil/sub/planted.txt', Buffer.from('x'))).rejects.toThrow(/symbolic link/);
      await expect(store.deleteMany(['evil/secret.txt'])).rejects.toThrow(/symbolic link/);

      expect((await readdir(outsideDir)).sort()).toEqual(['secret.txt']);
      expect(await readFile(path.join(outsideDir, 'secret.txt'), 'utf8')).toBe('secret');
      expect((await store.list('')).objects).toEqual([]);
    });

    it('never reads through a linked object file', async () => {
      await symlink(path.join(outsideDir, 'secret.txt'), path.join(rootDir, 'objects', 'link'));
      await expect(store.getBuffer('link')).rejects.toThrow(/symbolic link/);
      await expect(store.stat('link')).rejects.toThrow(/symbolic link/);
      expect((await store.list('')).objects).toEqual([]);
    });
  });

  describe('layout', () => {
    it('lists keys across directories in UTF-8 byte order, as S3 does', async () => {
      // '-' < '/' < '0' < 'z' < 'é' (U+00E9) < '\uffff' < '🎥' (U+1F3A5); a directory `a` sorts as `a/`.
      const expected = ['a-c', 'a/b-x', 'a/b/c', 'a0', 'az', 'aé', 'a\uffff', 'a🎥'];
      for (const key of [...expected].reverse()) await store.put(key, Buffer.from(key));
      expect((await store.list('')).objects.map((o) => o.key)).toEqual(expected);

      const paged: string[] = [];
      let continuationToken: string | undefined;
      do {
        const page = await store.list('a', {
          maxKeys: 2,
          ...(continuationToken ? { continuationToken } : {}),
        });
        paged.push(...page.objects.map((o) => o.key));
        continuationToken = page.nextContinuationToken;
      } while (continuationToken !== undefined);
      expect(paged).toEqual(expected);
    });

    it('cannot hold a key and a key below it', async () => {
      await store.put('a', Buffer.from('a'));
      await expect(store.put('a/b', Buffer.from('b'))).rejects.toThrow(/conflicts with an existing key/);
      await store.put('x/y', Buffer.from('y'));
      await expect(store.put('x', Buffer.from('x'))).rejects.toThrow(/conflicts with an existing key/);
      expect(await store.stat('x')).toBeUndefined();
      expect(await tmpFiles()).toEqual([]);
    });

    it('removes directories that a delete leaves empty, and only those', async () => {
      await store.put('s/cam-1/f/1', Buffer.from('1'));
      await store.put('s/cam-1/f/2', Buffer.from('2'));
      await store.put('s/cam-2/f/1', Buffer.from('1'));
      await store.deleteMany(['s/cam-1/f/1', 's/cam-1/f/2']);
      expect(await readdir(path.join(rootDir, 'objects', 's'))).toEqual(['cam-2']);
      await store.deleteMany(['s/cam-2/f/1']);
      expect(await readdir(path.join(rootDir, 'objects'))).toEqual([]);
    });

    it('stores the object as a file under objects/ that begins with the content', async () => {
      await store.put('s/cam/1.mp4', Buffer.from('content bytes'), { metadata: { k: 'v' } });
      const file = await readFile(path.join(rootDir, 'objects', 's', 'cam', '1.mp4'));
      expect(file.subarray(0, 13).toString()).toBe('content bytes');
    });

    it('reads metadata longer than the first tail read', async () => {
      const contentType = `application/x-long; p=${'x'.repeat(10_000)}`;
      await store.put('long', Buffer.from('body'), { contentType, metadata: { k: 'v' } });
      expect(await store.stat('long')).toMatchObject({ size: 4, contentType, metadata: { k: 'v' } });
      expect((await store.getBuffer('long')).toString()).toBe('body');
    });

    it('reports a file it did not write as corrupt rather than serving it', async () => {
      await writeFile(path.join(rootDir, 'objects', 'foreign'), 'not an object file');
      await expect(store.stat('foreign')).rejects.toThrow(/corrupt/);
      await expect(store.get('foreign')).rejects.toThrow(/corrupt/);
    });
  });

  describe('lifecycle', () => {
    it('rejects operations before start()', async () => {
      const unstarted = new FilesystemObjectStore({ rootDir: path.join(rootDir, 'other') });
      await expect(unstarted.ping()).rejects.toThrow(/not started/);
      await expect(unstarted.put('k', Buffer.from('x'))).rejects.toThrow(/not started/);
    });

    it('fails ping when its directory is gone', async () => {
      await rm(path.join(rootDir, 'objects'), { recursive: true });
      await expect(store.ping()).rejects.toThrow(ObjectStoreError);
    });

    it('removes stale temporary files on start and keeps recent ones', async () => {
      const nowMs = Date.now();
      const stale = path.join(rootDir, 'tmp', 'crashed.part');
      const recent = path.join(rootDir, 'tmp', 'in-flight.part');
      await writeFile(stale, 'partial');
      await writeFile(recent, 'partial');
      await utimes(stale, new Date(nowMs - 2 * 3_600_000), new Date(nowMs - 2 * 3_600_000));
      const restarted = new FilesystemObjectStore({ rootDir, staleTempFileMs: 3_600_000, now: () => nowMs });
      await restarted.start();
      expect(await tmpFiles()).toEqual(['in-flight.part']);
      await expect(stat(recent)).resolves.toBeDefined();
    });

    it('rejects a continuation token it did not issue', async () => {
      await expect(store.list('', { continuationToken: 'not a token!' })).rejects.toThrow(
        InvalidObjectRequestError,
      );
      await expect(store.list('', { continuationToken: '' })).rejects.toThrow(InvalidObjectRequestError);
    });

    it('creates its directories under a root that does not exist yet', async () => {
      const nested = new FilesystemObjectStore({ rootDir: path.join(rootDir, 'deep', 'er') });
      await nested.start();
      await nested.put('k', Buffer.from('x'));
      expect(await readdir(path.join(rootDir, 'deep', 'er'))).toEqual(['objects', 'tmp']);
      await mkdir(path.join(rootDir, 'deep', 'er', 'objects'), { recursive: true });
      await nested.start();
      expect((await nested.getBuffer('k')).toString()).toBe('x');
    });
  });
});

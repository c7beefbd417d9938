import { createHash, randomUUID } from 'node:crypto';
import { constants } from 'node:fs';
import {
  access,
  type FileHandle,
  lstat,
  mkdir,
  open,
  readdir,
  realpath,
  rename,
  rm,
  rmdir,
  unlink,
} from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import {
  InvalidObjectKeyError,
  InvalidObjectRequestError,
  type ListOptions,
  type ListPage,
  type ObjectInfo,
  ObjectNotFoundError,
  ObjectRangeNotSatisfiableError,
  type ObjectStore,
  ObjectStoreError,
  type ObjectSummary,
  type PutOptions,
  resolveMaxKeys,
  resolvePutOptions,
  sizeMismatchError,
  validateByteRange,
  validateObjectKey,
  validateObjectKeyPrefix,
} from './object-store.ts';

/** Options of `FilesystemObjectStore`. */
export interface FilesystemObjectStoreOptions {
  rootDir: string;
  /** Temporary files older than this are removed by `start()` (left behind by a crash). Default 1 hour. */
  staleTempFileMs?: number;
  /** Wall clock in ms, for the stale temporary file check. Default `Date.now`. */
  now?: () => number;
}

// Object file layout: content ‖ trailer (UTF-8 JSON of StoredTrailer) ‖ trailer length (u32 BE) ‖ MAGIC.
// The trailer sits after the content so one rename publishes content and metadata together, a get
// streams from offset 0 and a ranged get costs one small read of the file's tail.
const MAGIC = Buffer.from('SGOBJ01\n', 'latin1');
const FOOTER_BYTES = 4 + MAGIC.length;
const TAIL_READ_BYTES = 8192;
const COMMIT_ATTEMPTS = 5;
const SUMMARY_CONCURRENCY = 32;
const DEFAULT_STALE_TEMP_FILE_MS = 60 * 60 * 1000;

interface StoredTrailer {
  etag: string;
  contentType: string;
  metadata: Record<string, string>;
}

interface OpenObject {
  handle: FileHandle;
  info: ObjectInfo;
}

interface Dirs {
  objects: string;
  tmp: string;
}

/**
 * `ObjectStore` on a local directory: each object is the file `rootDir/objects/<key>`, written to
 * `rootDir/tmp/` first, fsynced and renamed into place. Symbolic links in the tree are never followed.
 * Because keys are paths, a key and a key below it (`a` and `a/b`) cannot both exist; such a put fails.
 */
export class FilesystemObjectStore implements ObjectStore {
  readonly #rootDir: string;
  readonly #staleTempFileMs: number;
  readonly #now: () => number;
  #dirs: Dirs | undefined;

  constructor(options: FilesystemObjectStoreOptions) {
    this.#rootDir = path.resolve(options.rootDir);
    this.#staleTempFileMs = options.staleTempFileMs ?? DEFAULT_STALE_TEMP_FILE_MS;
    this.#now = options.now ?? Date.now;
  }

  async start(): Promise<void> {
    try {
      const objects = path.join(this.#rootDir, 'objects');
      const tmp = path.join(this.#rootDir, 'tmp');
      await mkdir(objects, { recursive: true });
      await mkdir(tmp, { recursive: true });
      this.#dirs = { objects: await realpath(objects), tmp: await realpath(tmp) };
      await this.#removeStaleTempFiles(this.#dirs.tmp);
    } catch (error) {
      throw failure('start', this.#rootDir, error);
    }
  }

  async stop(): Promise<void> {}

  async ping(): Promise<void> {
    const dirs = this.#started();
    try {
      await access(dirs.objects, constants.R_OK | constants.W_OK | constants.X_OK);
      await access(dirs.tmp, constants.R_OK | constants.W_OK | constants.X_OK);
    } catch (error) {
      throw failure('ping', this.#rootDir, error);
    }
  }

  async put(key: string, body: Buffer | Readable, options?: PutOptions): Promise<{ etag: string }> {
    const file = this.#objectPath(key);
    const { contentType, metadata, size } = resolvePutOptions(body, options);
    const dirs = this.#started();
    const tmpFile = path.join(dirs.tmp, `${randomUUID()}.part`);
    let handle: FileHandle | undefined;
    try {
      handle = await open(tmpFile, 'wx');
      const hash = createHash('md5');
      if (Buffer.isBuffer(body)) {
        hash.update(body);
        await writeFully(handle, body);
      } else {
        let delivered = 0;
        for await (const chunk of body) {
          const bytes = toBytes(chunk, key);
          delivered += bytes.length;
          if (size !== undefined && delivered > size) throw sizeMismatchError(key, size, delivered);
          hash.update(bytes);
          await writeFully(handle, bytes);
        }
        if (size !== undefined && delivered !== size) throw sizeMismatchError(key, size, delivered);
      }
      const etag = hash.digest('hex');
      await writeFully(handle, encodeTrailer({ etag, contentType, metadata }));
      await handle.sync();
      await handle.close();
      handle = undefined;
      await this.#commit(tmpFile, file, key);
      return { etag };
    } catch (error) {
      // Cleanup must not mask the error that made the put fail, so its own failures are dropped here.
      await handle?.close().catch(() => undefined);
      await rm(tmpFile, { force: true }).catch(() => undefined);
      throw failure('put', key, error);
    }
  }

  async get(key: string): Promise<Readable> {
    const object = await this.#openExisting(key);
    return contentStream(object, 0, object.info.size - 1);
  }

  async getRange(key: string, start: number, endInclusive: number): Promise<Readable> {
    validateByteRange(start, endInclusive);
    const object = await this.#openExisting(key);
    const { size } = object.info;
    if (start >= size) {
      await object.handle.close();
      throw new ObjectRangeNotSatisfiableError(
        `range ${start}-${endInclusive} of ${JSON.stringify(key)} starts past its ${size} bytes`,
      );
    }
    return contentStream(object, start, Math.min(endInclusive, size - 1));
  }

  async getBuffer(key: string): Promise<Buffer> {
    const { handle, info } = await this.#openExisting(key);
    try {
      const content = Buffer.allocUnsafe(info.size);
      await readFully(handle, content, 0);
      return content;
    } catch (error) {
      throw failure('get', key, error);
    } finally {
      await handle.close();
    }
  }

  async stat(key: string): Promise<ObjectInfo | undefined> {
    const object = await this.#open(key);
    await object?.handle.close();
    return object?.info;
  }

  async list(prefix: string, options?: ListOptions): Promise<ListPage> {
    validateObjectKeyPrefix(prefix);
    const maxKeys = resolveMaxKeys(options);
    const startAfter = options?.continuationToken === undefined ? '' : decodeToken(options.continuationToken);
    const dirs = this.#started();
    const keys: string[] = [];
    let truncated = false;
    try {
      for await (const key of walk(dirs.objects, '', prefix, startAfter)) {
        if (keys.length === maxKeys) {
          truncated = true;
          break;
        }
        keys.push(key);
      }
    } catch (error) {
      throw failure('list', prefix, error);
    }
    const objects: ObjectSummary[] = [];
    for (let i = 0; i < keys.length; i += SUMMARY_CONCURRENCY) {
      const batch = await Promise.all(keys.slice(i, i + SUMMARY_CONCURRENCY).map((key) => this.stat(key)));
      for (const info of batch) {
        // An object deleted since the walk is simply not listed.
        if (info !== undefined) {
          objects.push({ key: info.key, size: info.size, etag: info.etag, lastModified: info.lastModified });
        }
      }
    }
    const lastKey = keys.at(-1);
    return truncated && lastKey !== undefined
      ? { objects, nextContinuationToken: encodeToken(lastKey) }
      : { objects };
  }

  async deleteMany(keys: readonly string[]): Promise<void> {
    const files = [...new Set(keys)].map((key) => ({ key, file: this.#objectPath(key) }));
    const dirs = this.#started();
    for (const { key, file } of files) {
      try {
        const parent = path.dirname(file);
        if (!(await this.#isSafeDirectory(parent, key))) continue;
        await unlink(file);
        await removeEmptyDirectories(parent, dirs.objects);
      } catch (error) {
        // ENOENT/ENOTDIR: no such object; EISDIR: the key names a directory of other keys, not an object.
        if (hasCode(error, 'ENOENT', 'ENOTDIR', 'EISDIR')) continue;
        throw failure('delete', key, error);
      }
    }
  }

  #started(): Dirs {
    if (this.#dirs === undefined)
      throw new ObjectStoreError(`FilesystemObjectStore(${this.#rootDir}) is not started`);
    return this.#dirs;
  }

  /** Validates `key` and maps it to its file, which lexically stays under the objects directory. */
  #objectPath(key: string): string {
    validateObjectKey(key);
    const objects = this.#started().objects;
    const file = path.join(objects, ...key.split('/'));
    if (!file.startsWith(objects + path.sep)) throw new InvalidObjectKeyError(key, 'escapes the store root');
    return file;
  }

  /**
   * True when `dir` exists and resolves (through any symbolic links) to itself, i.e. stays in the tree;
   * false when it does not exist; throws when a link would lead elsewhere.
   */
  async #isSafeDirectory(dir: string, key: string): Promise<boolean> {
    let resolved: string;
    try {
      resolved = await realpath(dir);
    } catch (error) {
      if (hasCode(error, 'ENOENT', 'ENOTDIR')) return false;
      throw error;
    }
    if (resolved !== dir) {
      throw new ObjectStoreError(
        `${JSON.stringify(key)} passes through a symbolic link; refusing to follow it`,
      );
    }
    return true;
  }

  async #open(key: string): Promise<OpenObject | undefined> {
    const file = this.#objectPath(key);
    let handle: FileHandle | undefined;
    try {
      if (!(await this.#isSafeDirectory(path.dirname(file), key))) return undefined;
      try {
        handle = await open(file, constants.O_RDONLY | constants.O_NOFOLLOW);
      } catch (error) {
        if (hasCode(error, 'ENOENT', 'ENOTDIR')) return undefined;
        if (hasCode(error, 'ELOOP')) {
          throw new ObjectStoreError(`${JSON.stringify(key)} is a symbolic link; refusing to follow it`);
        }
        throw error;
      }
      const fileStat = await handle.stat();
      // A directory holds other keys (`a` of `a/b`); it is not an object.
      if (!fileStat.isFile()) {
        await handle.close();
        return undefined;
      }
      const info = await readInfo(handle, key, fileStat.size, fileStat.mtime);
      return { handle, info };
    } catch (error) {
      await handle?.close().catch(() => undefined);
      throw failure('read', key, error);
    }
  }

  async #openExisting(key: string): Promise<OpenObject> {
    const object = await this.#open(key);
    if (object === undefined) throw new ObjectNotFoundError(key);
    return object;
  }

  /** Renames the finished temporary file into place and makes the rename durable. */
  async #commit(tmpFile: string, file: string, key: string): Promise<void> {
    const parent = path.dirname(file);
    for (let attempt = 1; ; attempt++) {
      try {
        await this.#ensureDirectory(parent, key);
        await rename(tmpFile, file);
        break;
      } catch (error) {
        // A concurrent deleteMany removes directories it leaves empty, possibly ours; create them again.
        if (hasCode(error, 'ENOENT') && attempt < COMMIT_ATTEMPTS) continue;
        if (hasCode(error, 'EISDIR', 'ENOTDIR', 'ENOTEMPTY', 'EEXIST')) throw keyConflict(key);
        throw error;
      }
    }
    const dirHandle = await open(parent, 'r');
    try {
      await dirHandle.sync();
    } finally {
      await dirHandle.close();
    }
  }

  /** Creates `dir` and its missing ancestors under the objects directory, refusing symbolic links. */
  async #ensureDirectory(dir: string, key: string): Promise<void> {
    if (await this.#isSafeDirectory(dir, key)) return;
    const objects = this.#started().objects;
    let current = objects;
    for (const segment of path.relative(objects, dir).split(path.sep)) {
      current = path.join(current, segment);
      await mkdir(current).catch((error: unknown) => rethrowUnless(error, 'EEXIST'));
      const entry = await lstat(current);
      if (entry.isSymbolicLink()) {
        throw new ObjectStoreError(
          `${JSON.stringify(key)} passes through a symbolic link; refusing to follow it`,
        );
      }
      if (!entry.isDirectory()) throw keyConflict(key);
    }
  }

  async #removeStaleTempFiles(tmp: string): Promise<void> {
    const cutoffMs = this.#now() - this.#staleTempFileMs;
    for (const name of await readdir(tmp)) {
      const file = path.join(tmp, name);
      const entry = await lstat(file).catch((error: unknown) => rethrowUnless(error, 'ENOENT'));
      if (entry !== undefined && entry.mtimeMs < cutoffMs) await rm(file, { force: true, recursive: true });
    }
  }
}

interface WalkEntry {
  name: string;
  sortName: string;
  isDirectory: boolean;
}

/**
 * Yields the keys under `dir` (whose keys start with `keyBase`) that start with `prefix` and sort after
 * `startAfter`, in ascending code point order (= UTF-8 byte order, as S3 lists). A directory `x` holds
 * the keys `x/...`, so it sorts as `x/` among its siblings; subtrees that cannot match are skipped.
 * Anything but regular files and directories (symbolic links included) is ignored.
 */
async function* walk(
  dir: string,
  keyBase: string,
  prefix: string,
  startAfter: string,
): AsyncGenerator<string> {
  let entries: WalkEntry[];
  try {
    entries = (await readdir(dir, { withFileTypes: true })).flatMap((entry): WalkEntry[] => {
      if (entry.isDirectory()) return [{ name: entry.name, sortName: `${entry.name}/`, isDirectory: true }];
      if (entry.isFile()) return [{ name: entry.name, sortName: entry.name, isDirectory: false }];
      return [];
    });
  } catch (error) {
    if (hasCode(error, 'ENOENT', 'ENOTDIR')) return;
    throw error;
  }
  entries.sort((a, b) => compareCodePoints(a.sortName, b.sortName));
  for (const entry of entries) {
    const key = keyBase + entry.sortName;
    if (entry.isDirectory) {
      const mayMatchPrefix = key.startsWith(prefix) || prefix.startsWith(key);
      const mayFollowStart = compareCodePoints(key, startAfter) > 0 || startAfter.startsWith(key);
      if (mayMatchPrefix && mayFollowStart) yield* walk(path.join(dir, entry.name), key, prefix, startAfter);
    } else if (key.startsWith(prefix) && compareCodePoints(key, startAfter) > 0) {
      yield key;
    }
  }
}

/** Orders strings by code point, which is UTF-8 byte order; plain `<` compares UTF-16 code units. */
function compareCodePoints(a: string, b: string): number {
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) {
      // A surrogate starts a code point above U+FFFF, which sorts after every other BMP code point.
      const xIsSurrogate = x >= 0xd800 && x <= 0xdfff;
      const yIsSurrogate = y >= 0xd800 && y <= 0xdfff;
      if (xIsSurrogate !== yIsSurrogate) return xIsSurrogate ? 1 : -1;
      return x - y;
    }
  }
  return a.length - b.length;
}

/** Removes `dir` and its ancestors below `root` while they are empty; stops at the first that is not. */
async function removeEmptyDirectories(dir: string, root: string): Promise<void> {
  for (
    let current = dir;
    current !== root && current.startsWith(root + path.sep);
    current = path.dirname(current)
  ) {
    try {
      await rmdir(current);
    } catch (error) {
      // Not empty (or gone, or refilled by a concurrent put): the rest of the chain stays.
      if (hasCode(error, 'ENOTEMPTY', 'EEXIST', 'ENOENT')) return;
      throw error;
    }
  }
}

function encodeTrailer(trailer: StoredTrailer): Buffer {
  const json = Buffer.from(JSON.stringify(trailer), 'utf8');
  const length = Buffer.alloc(4);
  length.writeUInt32BE(json.length);
  return Buffer.concat([json, length, MAGIC]);
}

async function readInfo(
  handle: FileHandle,
  key: string,
  fileBytes: number,
  mtime: Date,
): Promise<ObjectInfo> {
  const corrupt = (reason: string) =>
    new ObjectStoreError(`object file of ${JSON.stringify(key)} is corrupt: ${reason}`);
  if (fileBytes < FOOTER_BYTES) throw corrupt('too short');
  const tailBytes = Math.min(fileBytes, TAIL_READ_BYTES);
  let tail = Buffer.alloc(tailBytes);
  await readFully(handle, tail, fileBytes - tailBytes);
  if (!tail.subarray(tailBytes - MAGIC.length).equals(MAGIC)) throw corrupt('no trailer');
  const trailerBytes = tail.readUInt32BE(tailBytes - FOOTER_BYTES);
  if (trailerBytes + FOOTER_BYTES > fileBytes) throw corrupt('trailer longer than the file');
  if (trailerBytes + FOOTER_BYTES > tailBytes) {
    tail = Buffer.alloc(trailerBytes + FOOTER_BYTES);
    await readFully(handle, tail, fileBytes - tail.length);
  }
  const json = tail.subarray(tail.length - FOOTER_BYTES - trailerBytes, tail.length - FOOTER_BYTES);
  let trailer: StoredTrailer;
  try {
    trailer = JSON.parse(json.toString('utf8')) as StoredTrailer;
  } catch (error) {
    throw new ObjectStoreError(`object file of ${JSON.stringify(key)} is corrupt: bad trailer`, {
      cause: error,
    });
  }
  return {
    key,
    size: fileBytes - FOOTER_BYTES - trailerBytes,
    etag: trailer.etag,
    lastModified: mtime,
    contentType: trailer.contentType,
    metadata: { ...trailer.metadata },
  };
}

/** Streams content bytes `start..end` (inclusive) and closes the handle when the stream ends or is destroyed. */
async function contentStream({ handle }: OpenObject, start: number, end: number): Promise<Readable> {
  if (end < start) {
    await handle.close();
    return new Readable({
      read() {
        this.push(null);
      },
    });
  }
  return handle.createReadStream({ start, end, autoClose: true });
}

async function writeFully(handle: FileHandle, bytes: Uint8Array): Promise<void> {
  for (let offset = 0; offset < bytes.length; ) {
    const { bytesWritten } = await handle.write(bytes, offset, bytes.length - offset);
    offset += bytesWritten;
  }
}

async function readFully(handle: FileHandle, into: Buffer, position: number): Promise<void> {
  for (let offset = 0; offset < into.length; ) {
    const { bytesRead } = await handle.read(into, offset, into.length - offset, position + offset);
    if (bytesRead === 0) throw new ObjectStoreError('object file ended early');
    offset += bytesRead;
  }
}

function toBytes(chunk: unknown, key: string): Uint8Array {
  if (chunk instanceof Uint8Array) return chunk;
  if (typeof chunk === 'string') return Buffer.from(chunk, 'utf8');
  throw new InvalidObjectRequestError(`put ${JSON.stringify(key)}: the body stream must yield bytes`);
}

function encodeToken(lastKey: string): string {
  return Buffer.from(lastKey, 'utf8').toString('base64url');
}

function decodeToken(token: string): string {
  const lastKey = Buffer.from(token, 'base64url').toString('utf8');
  try {
    validateObjectKey(lastKey);
  } catch (error) {
    throw new InvalidObjectRequestError(`invalid continuation token ${JSON.stringify(token)}`, {
      cause: error,
    });
  }
  if (encodeToken(lastKey) !== token) {
    throw new InvalidObjectRequestError(`invalid continuation token ${JSON.stringify(token)}`);
  }
  return lastKey;
}

function keyConflict(key: string): ObjectStoreError {
  return new ObjectStoreError(
    `${JSON.stringify(key)} conflicts with an existing key: the filesystem store cannot hold both a key and keys below it (a and a/b)`,
  );
}

function hasCode(error: unknown, ...codes: string[]): boolean {
  return error instanceof Error && 'code' in error && codes.includes(String(error.code));
}

function rethrowUnless(error: unknown, code: string): undefined {
  if (hasCode(error, code)) return undefined;
  throw error;
}

function failure(operation: string, subject: string, error: unknown): ObjectStoreError {
  if (error instanceof ObjectStoreError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new ObjectStoreError(`filesystem ${operation} ${JSON.stringify(subject)} failed: ${message}`, {
    cause: error,
  });
}

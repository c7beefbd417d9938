import http from 'node:http';
import https from 'node:https';
import { Readable } from 'node:stream';
import { Client } from 'minio';
import {
  InvalidObjectRequestError,
  type ListOptions,
  type ListPage,
  type ObjectInfo,
  ObjectNotFoundError,
  ObjectRangeNotSatisfiableError,
  type ObjectStore,
  ObjectStoreError,
  type PutOptions,
  resolveMaxKeys,
  resolvePutOptions,
  sizeMismatchError,
  validateByteRange,
  validateObjectKey,
  validateObjectKeyPrefix,
} from './object-store.ts';

/** Options of `S3ObjectStore`. */
export interface S3ObjectStoreOptions {
  /** Base URL of the S3 API, e.g. `http://127.0.0.1:9000`; requests use path-style addressing. */
  endpoint: string;
  accessKey: string;
  secretKey: string;
  bucket: string;
  region: string;
  /** Streams of known size above this go up in multipart uploads of parts this big. Default 64 MiB. */
  partSizeBytes?: number;
  /** Most bytes buffered from a stream of unknown size before the put fails. Default 64 MiB. */
  maxUnknownSizeBodyBytes?: number;
}

const MIB = 1024 * 1024;
const META_PREFIX = 'x-amz-meta-';

/**
 * `ObjectStore` on an S3-compatible service through the minio client. Error messages name the S3
 * operation (PutObject, GetObject, HeadObject, ListObjectsV2, DeleteObjects, HeadBucket, CreateBucket).
 * The minio client's own retry is off: it logs through `console.warn` and drops the S3 error code, so
 * retrying is the caller's policy.
 */
export class S3ObjectStore implements ObjectStore {
  readonly #bucket: string;
  readonly #region: string;
  readonly #endpoint: string;
  readonly #partSizeBytes: number;
  readonly #maxUnknownSizeBodyBytes: number;
  readonly #agent: http.Agent;
  readonly #client: Client;

  constructor(options: S3ObjectStoreOptions) {
    const url = new URL(options.endpoint);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new ObjectStoreError(`S3 endpoint must be an http(s) URL, got ${options.endpoint}`);
    }
    const useSSL = url.protocol === 'https:';
    this.#bucket = options.bucket;
    this.#region = options.region;
    this.#endpoint = url.origin;
    this.#partSizeBytes = options.partSizeBytes ?? 64 * MIB;
    this.#maxUnknownSizeBodyBytes = options.maxUnknownSizeBodyBytes ?? 64 * MIB;
    this.#agent = useSSL ? new https.Agent({ keepAlive: true }) : new http.Agent({ keepAlive: true });
    this.#client = new Client({
      endPoint: url.hostname.replace(/^\[(.*)\]$/, '$1'),
      port: url.port === '' ? (useSSL ? 443 : 80) : Number(url.port),
      useSSL,
      accessKey: options.accessKey,
      secretKey: options.secretKey,
      region: options.region,
      pathStyle: true,
      partSize: this.#partSizeBytes,
      transportAgent: this.#agent,
      retryOptions: { disableRetry: true },
    });
  }

  async start(): Promise<void> {
    try {
      if (await this.#client.bucketExists(this.#bucket)) return;
      await this.#client.makeBucket(this.#bucket, this.#region);
    } catch (error) {
      // Another process may have created it between our HeadBucket and CreateBucket.
      if (errorCode(error) === 'BucketAlreadyOwnedByYou') return;
      throw this.#failure('HeadBucket/CreateBucket', undefined, error);
    }
  }

  async stop(): Promise<void> {
    this.#agent.destroy();
  }

  async ping(): Promise<void> {
    let exists: boolean;
    try {
      exists = await this.#client.bucketExists(this.#bucket);
    } catch (error) {
      throw this.#failure('HeadBucket', undefined, error);
    }
    if (!exists) throw new ObjectStoreError(`S3 bucket ${this.#bucket} does not exist at ${this.#endpoint}`);
  }

  /**
   * A Buffer, or a stream of known size up to the part size, goes up in one PutObject. A stream of
   * unknown size is buffered up to `maxUnknownSizeBodyBytes` and sent the same way: real S3 and MinIO
   * would take it as a multipart upload, but minio's multipart path first lists uploads
   * (ListMultipartUploads), which s3rver does not implement. Larger streams of known size use minio's
   * multipart upload, which works on S3 and MinIO only.
   */
  async put(key: string, body: Buffer | Readable, options?: PutOptions): Promise<{ etag: string }> {
    validateObjectKey(key);
    const { contentType, metadata, size } = resolvePutOptions(body, options);
    const headers: Record<string, string> = { 'Content-Type': contentType };
    for (const [name, value] of Object.entries(metadata)) headers[META_PREFIX + name] = value;
    try {
      let payload: Buffer | Readable;
      if (Buffer.isBuffer(body)) payload = body;
      else if (size === undefined) payload = await readUnknownSize(body, key, this.#maxUnknownSizeBodyBytes);
      else if (size <= this.#partSizeBytes) payload = await readKnownSize(body, key, size);
      else payload = Readable.from(checkSize(body, key, size), { objectMode: false });
      const { etag } = await this.#client.putObject(
        this.#bucket,
        key,
        payload,
        Buffer.isBuffer(payload) ? payload.length : size,
        headers,
      );
      return { etag };
    } catch (error) {
      throw this.#failure('PutObject', key, error);
    }
  }

  async get(key: string): Promise<Readable> {
    validateObjectKey(key);
    try {
      return await this.#client.getObject(this.#bucket, key);
    } catch (error) {
      throw this.#failure('GetObject', key, error);
    }
  }

  async getRange(key: string, start: number, endInclusive: number): Promise<Readable> {
    validateObjectKey(key);
    validateByteRange(start, endInclusive);
    const length = endInclusive - start + 1;
    let response: Readable;
    try {
      response = await this.#client.getPartialObject(this.#bucket, key, start, length);
    } catch (error) {
      throw this.#failure('GetObject', key, error);
    }
    // s3rver answers `bytes=0-0` with the whole object (it reads the end 0 as "no end"), so the
    // requested length is enforced here; a server that clamps to the object's end sends fewer bytes.
    return Readable.from(take(response, length), { objectMode: false });
  }

  async getBuffer(key: string): Promise<Buffer> {
    const stream = await this.get(key);
    try {
      return Buffer.concat(await stream.toArray());
    } catch (error) {
      throw this.#failure('GetObject', key, error);
    }
  }

  async stat(key: string): Promise<ObjectInfo | undefined> {
    validateObjectKey(key);
    let headers: http.IncomingHttpHeaders;
    try {
      // A raw HEAD rather than statObject: minio's statObject folds `x-amz-meta-content-type` and
      // `Content-Type` into one `content-type` entry.
      const response = await this.#client.makeRequestAsyncOmit({
        method: 'HEAD',
        bucketName: this.#bucket,
        objectName: key,
      });
      headers = response.headers;
    } catch (error) {
      const failure = this.#failure('HeadObject', key, error);
      if (failure instanceof ObjectNotFoundError) return undefined;
      throw failure;
    }
    const metadata: Record<string, string> = {};
    for (const [name, value] of Object.entries(headers)) {
      if (name.startsWith(META_PREFIX) && typeof value === 'string') {
        metadata[name.slice(META_PREFIX.length).toLowerCase()] = value;
      }
    }
    return {
      key,
      size: Number(headers['content-length']),
      etag: unquoteEtag(headers.etag ?? ''),
      lastModified: new Date(headers['last-modified'] ?? 0),
      contentType: headers['content-type'] ?? 'application/octet-stream',
      metadata,
    };
  }

  async list(prefix: string, options?: ListOptions): Promise<ListPage> {
    validateObjectKeyPrefix(prefix);
    const maxKeys = resolveMaxKeys(options);
    try {
      const result = await this.#client.listObjectsV2Query(
        this.#bucket,
        prefix,
        options?.continuationToken ?? '',
        '',
        maxKeys,
        '',
      );
      const objects = result.objects.flatMap((item) =>
        item.name === undefined
          ? []
          : [
              {
                key: item.name,
                size: Number(item.size),
                etag: unquoteEtag(item.etag ?? ''),
                lastModified: new Date(item.lastModified ?? 0),
              },
            ],
      );
      return result.isTruncated && result.nextContinuationToken
        ? { objects, nextContinuationToken: result.nextContinuationToken }
        : { objects };
    } catch (error) {
      throw this.#failure(`ListObjectsV2 of prefix ${JSON.stringify(prefix)}`, undefined, error);
    }
  }

  async deleteMany(keys: readonly string[]): Promise<void> {
    for (const key of keys) validateObjectKey(key);
    const unique = [...new Set(keys)];
    if (unique.length === 0) return;
    let results: unknown[];
    try {
      results = await this.#client.removeObjects(this.#bucket, unique);
    } catch (error) {
      throw this.#failure(`DeleteObjects of ${unique.length} keys`, undefined, error);
    }
    // minio returns the <Error> entries of the DeleteResult (its typings wrap them in `{ Error }`).
    const errors = results.flatMap((result) => {
      const entry = (result as { Error?: DeleteError } | null)?.Error ?? (result as DeleteError | null);
      return entry?.Code === undefined || entry.Code === 'NoSuchKey' ? [] : [`${entry.Key}: ${entry.Code}`];
    });
    if (errors.length > 0) {
      throw new ObjectStoreError(
        `S3 DeleteObjects in bucket ${this.#bucket} at ${this.#endpoint} failed for ${errors.length} keys: ${errors.slice(0, 5).join(', ')}`,
      );
    }
  }

  /** Maps a minio or transport error to the port's errors, naming the S3 operation. */
  #failure(operation: string, key: string | undefined, error: unknown): ObjectStoreError {
    if (error instanceof ObjectStoreError) return error;
    const code = errorCode(error);
    if (key !== undefined && (code === 'NoSuchKey' || code === 'NotFound')) {
      return new ObjectNotFoundError(key, { cause: error });
    }
    const subject = key === undefined ? '' : ` ${JSON.stringify(key)}`;
    const message = error instanceof Error ? error.message : String(error);
    const text = `S3 ${operation}${subject} in bucket ${this.#bucket} at ${this.#endpoint} failed: ${code === undefined ? '' : `${code}: `}${message}`;
    if (code === 'InvalidRange') return new ObjectRangeNotSatisfiableError(text, { cause: error });
    return new ObjectStoreError(text, { cause: error });
  }
}

interface DeleteError {
  Code?: string;
  Key?: string;
}

function errorCode(error: unknown): string | undefined {
  if (error instanceof Error && 'code' in error && typeof error.code === 'string' && error.code !== '') {
    return error.code;
  }
  return undefined;
}

function unquoteEtag(etag: string): string {
  return etag.replace(/^"(.*)"$/, '$1');
}

async function readUnknownSize(body: Readable, key: string, maxBytes: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of body) {
    const bytes = toBuffer(chunk, key);
    total += bytes.length;
    if (total > maxBytes) {
      throw new InvalidObjectRequestError(
        `put ${JSON.stringify(key)}: a stream of unknown size may hold at most ${maxBytes} bytes; pass options.size`,
      );
    }
    chunks.push(bytes);
  }
  return Buffer.concat(chunks, total);
}

async function readKnownSize(body: Readable, key: string, size: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of checkSize(body, key, size)) chunks.push(chunk);
  return Buffer.concat(chunks, size);
}

/** Passes the stream's bytes through, failing when they do not add up to `size`. */
async function* checkSize(body: Readable, key: string, size: number): AsyncGenerator<Buffer> {
  let delivered = 0;
  for await (const chunk of body) {
    const bytes = toBuffer(chunk, key);
    delivered += bytes.length;
    if (delivered > size) throw sizeMismatchError(key, size, delivered);
    yield bytes;
  }
  if (delivered !== size) throw sizeMismatchError(key, size, delivered);
}

/** The first `length` bytes of `source`; stops reading (and destroys it) once they have passed. */
async function* take(source: Readable, length: number): AsyncGenerator<Buffer> {
  let remaining = length;
  for await (const chunk of source) {
    const bytes = chunk as Buffer;
    if (bytes.length >= remaining) {
      yield bytes.subarray(0, remaining);
      return;
    }
    remaining -= bytes.length;
    yield bytes;
  }
}

function toBuffer(chunk: unknown, key: string): Buffer {
  if (Buffer.isBuffer(chunk)) return chunk;
  if (chunk instanceof Uint8Array) return Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  if (typeof chunk === 'string') return Buffer.from(chunk, 'utf8');
  throw new InvalidObjectRequestError(`put ${JSON.stringify(key)}: the body stream must yield bytes`);
}

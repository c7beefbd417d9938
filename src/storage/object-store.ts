import type { Readable } from 'node:stream';

/** Longest object key, in UTF-8 bytes (the S3 limit). */
export const MAX_OBJECT_KEY_BYTES = 1024;
/** Largest `maxKeys` of one `list` page, and its default (the S3 ListObjectsV2 limit). */
export const MAX_LIST_KEYS = 1000;
/** Largest total of user metadata, keys plus values, in bytes (the S3 limit). */
export const MAX_METADATA_BYTES = 2048;
/** Content type of objects put without one. */
export const DEFAULT_CONTENT_TYPE = 'application/octet-stream';

/** What `list` returns per object: no content type or user metadata, which would cost a request each. */
export interface ObjectSummary {
  key: string;
  /** Content length in bytes. */
  size: number;
  /** Opaque; equals the hex MD5 of the content for objects written in one piece (single PUT). */
  etag: string;
  lastModified: Date;
}

/** Everything `stat` knows about an object. */
export interface ObjectInfo extends ObjectSummary {
  contentType: string;
  /** User metadata; keys lowercase `[a-z0-9-]`, values printable ASCII. */
  metadata: Record<string, string>;
}

/** Options of `put`. */
export interface PutOptions {
  contentType?: string;
  metadata?: Record<string, string>;
  /** Content length in bytes; a stream body must deliver exactly this many. */
  size?: number;
}

/** Options of `list`; the continuation token is opaque and only valid for the adapter that issued it. */
export interface ListOptions {
  continuationToken?: string;
  maxKeys?: number;
}

/** One page of `list`, in ascending UTF-8 byte order of keys; no token on the last page. */
export interface ListPage {
  objects: ObjectSummary[];
  nextContinuationToken?: string;
}

/**
 * Port for storing immutable blobs by key (archived fragments, delivery-stream output). Keys follow
 * `validateObjectKey`; every failure is an `ObjectStoreError`.
 */
export interface ObjectStore {
  /** Stores `body` under `key`, replacing any object there; readers see the old or the new object, never a mix. */
  put(key: string, body: Buffer | Readable, options?: PutOptions): Promise<{ etag: string }>;
  /** Streams the content; `ObjectNotFoundError` when missing. */
  get(key: string): Promise<Readable>;
  /** Streams bytes `start..endInclusive`, clamped to the object's end; `ObjectRangeNotSatisfiableError` when `start` is past it. */
  getRange(key: string, start: number, endInclusive: number): Promise<Readable>;
  /** Reads the whole content into memory; for small objects. */
  getBuffer(key: string): Promise<Buffer>;
  /** `undefined` when missing. */
  stat(key: string): Promise<ObjectInfo | undefined>;
  /** Objects whose key starts with `prefix` (a plain string prefix, not a folder), paginated. */
  list(prefix: string, options?: ListOptions): Promise<ListPage>;
  /** Deletes the keys that exist; missing keys are not an error. */
  deleteMany(keys: readonly string[]): Promise<void>;
  /** Throws when the store does not answer or is not usable (for /readyz). */
  ping(): Promise<void>;
  /** Creates the directory or bucket when missing; idempotent. */
  start(): Promise<void>;
  /** Releases connections; idempotent. */
  stop(): Promise<void>;
}

/** Any failure of an object store; I/O faults carry the underlying error as `cause`. */
export class ObjectStoreError extends Error {
  override name = 'ObjectStoreError';
}

/** The key names no object. */
export class ObjectNotFoundError extends ObjectStoreError {
  override name = 'ObjectNotFoundError';
  readonly key: string;
  constructor(key: string, options?: ErrorOptions) {
    super(`object not found: ${JSON.stringify(key)}`, options);
    this.key = key;
  }
}

/** The key (or list prefix) breaks the key rules of `validateObjectKey`. */
export class InvalidObjectKeyError extends ObjectStoreError {
  override name = 'InvalidObjectKeyError';
  readonly key: string;
  constructor(key: string, reason: string) {
    super(`invalid object key ${JSON.stringify(key)}: ${reason}`);
    this.key = key;
  }
}

/** An argument other than the key is invalid: metadata, content type, size, range, list options. */
export class InvalidObjectRequestError extends ObjectStoreError {
  override name = 'InvalidObjectRequestError';
}

/** A ranged get starts at or past the end of the object (S3 `InvalidRange`, HTTP 416). */
export class ObjectRangeNotSatisfiableError extends ObjectStoreError {
  override name = 'ObjectRangeNotSatisfiableError';
}

// Cc: C0 and C1 controls and DEL; Cs: lone surrogates, which have no UTF-8 encoding.
const FORBIDDEN_KEY_CHARS = /[\p{Cc}\p{Cs}\\]/u;
const METADATA_KEY = /^[a-z0-9-]+$/;
const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;

/**
 * Throws `InvalidObjectKeyError` unless `key` is non-empty, at most 1024 UTF-8 bytes, has no leading `/`,
 * no empty, `.` or `..` segment, no backslash and no control character. These rules make every key a
 * safe relative file path as well as a valid S3 key.
 */
export function validateObjectKey(key: string): void {
  validatePrefixChars(key);
  if (key === '') throw new InvalidObjectKeyError(key, 'must not be empty');
  if (key.startsWith('/')) throw new InvalidObjectKeyError(key, 'must not start with "/"');
  for (const segment of key.split('/')) {
    if (segment === '')
      throw new InvalidObjectKeyError(key, 'must not contain empty segments ("//" or a trailing "/")');
    if (segment === '.' || segment === '..') {
      throw new InvalidObjectKeyError(key, 'must not contain "." or ".." segments');
    }
  }
}

/** Throws `InvalidObjectKeyError` when a list prefix is too long or has characters no key may contain. */
export function validateObjectKeyPrefix(prefix: string): void {
  validatePrefixChars(prefix);
}

function validatePrefixChars(value: string): void {
  if (typeof value !== 'string') throw new InvalidObjectKeyError(String(value), 'must be a string');
  if (Buffer.byteLength(value, 'utf8') > MAX_OBJECT_KEY_BYTES) {
    throw new InvalidObjectKeyError(value, `must be at most ${MAX_OBJECT_KEY_BYTES} UTF-8 bytes`);
  }
  if (FORBIDDEN_KEY_CHARS.test(value)) {
    throw new InvalidObjectKeyError(value, 'must not contain control characters, lone surrogates or "\\"');
  }
}

/** `PutOptions` after validation, with defaults applied. */
export interface ResolvedPutOptions {
  contentType: string;
  metadata: Record<string, string>;
  size: number | undefined;
}

/**
 * Validates `PutOptions`: content type printable ASCII; metadata keys lowercase `[a-z0-9-]`, values
 * printable ASCII without surrounding spaces (HTTP trims header values), 2 KiB in total; `size` a
 * non-negative safe integer that matches a Buffer body.
 */
export function resolvePutOptions(body: Buffer | Readable, options: PutOptions = {}): ResolvedPutOptions {
  const contentType = options.contentType ?? DEFAULT_CONTENT_TYPE;
  if (contentType === '' || !PRINTABLE_ASCII.test(contentType)) {
    throw new InvalidObjectRequestError(
      `content type must be non-empty printable ASCII: ${JSON.stringify(contentType)}`,
    );
  }
  const metadata: Record<string, string> = {};
  let metadataBytes = 0;
  for (const [key, value] of Object.entries(options.metadata ?? {})) {
    if (!METADATA_KEY.test(key)) {
      throw new InvalidObjectRequestError(`metadata key must be lowercase [a-z0-9-]: ${JSON.stringify(key)}`);
    }
    if (typeof value !== 'string' || !PRINTABLE_ASCII.test(value) || value.trim() !== value) {
      throw new InvalidObjectRequestError(
        `metadata value of ${key} must be printable ASCII without surrounding spaces: ${JSON.stringify(value)}`,
      );
    }
    metadataBytes += key.length + value.length;
    metadata[key] = value;
  }
  if (metadataBytes > MAX_METADATA_BYTES) {
    throw new InvalidObjectRequestError(
      `metadata must total at most ${MAX_METADATA_BYTES} bytes, got ${metadataBytes}`,
    );
  }
  const { size } = options;
  if (size !== undefined) {
    if (!Number.isSafeInteger(size) || size < 0) {
      throw new InvalidObjectRequestError(`size must be a non-negative integer, got ${size}`);
    }
    if (Buffer.isBuffer(body) && body.length !== size) {
      throw new InvalidObjectRequestError(`size is ${size} but the buffer holds ${body.length} bytes`);
    }
  }
  return { contentType, metadata, size };
}

/** Validates `ListOptions.maxKeys` (1..1000, default 1000). */
export function resolveMaxKeys(options: ListOptions = {}): number {
  const maxKeys = options.maxKeys ?? MAX_LIST_KEYS;
  if (!Number.isSafeInteger(maxKeys) || maxKeys < 1 || maxKeys > MAX_LIST_KEYS) {
    throw new InvalidObjectRequestError(`maxKeys must be an integer in 1..${MAX_LIST_KEYS}, got ${maxKeys}`);
  }
  return maxKeys;
}

/** Validates the bounds of `getRange` (not against the object's size). */
export function validateByteRange(start: number, endInclusive: number): void {
  if (
    !Number.isSafeInteger(start) ||
    !Number.isSafeInteger(endInclusive) ||
    start < 0 ||
    endInclusive < start
  ) {
    throw new InvalidObjectRequestError(`invalid byte range ${start}-${endInclusive}`);
  }
}

/** The error of a stream put whose byte count differs from `PutOptions.size`. */
export function sizeMismatchError(
  key: string,
  declared: number,
  delivered: number,
): InvalidObjectRequestError {
  const actual = delivered > declared ? `more than ${declared}` : String(delivered);
  return new InvalidObjectRequestError(
    `put ${JSON.stringify(key)}: size is ${declared} bytes but the stream delivered ${actual}`,
  );
}

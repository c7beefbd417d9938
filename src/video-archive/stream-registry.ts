import { isServiceError, ServiceError } from '../errors/index.ts';
import type { RedisClient } from '../redis/index.ts';
import { kvsKeys } from './keys.ts';
import { BEGIN_DELETE, CREATE_STREAM, TAG_STREAM, UPDATE_STREAM } from './lua-scripts.ts';
import type { Clock, KeyChecker } from './ports.ts';
import {
  hashToRecord,
  newStreamVersion,
  parseStreamArn,
  recordToHash,
  streamArn,
  type VideoStreamRecord,
} from './video-stream-record.ts';

type ScriptClient = RedisClient & {
  sgKvsCreateStream(meta: string, tags: string, ...args: string[]): Promise<number>;
  sgKvsUpdateStream(
    meta: string,
    arn: string,
    expected: string,
    next: string,
    ...pairs: string[]
  ): Promise<number>;
  sgKvsBeginDelete(meta: string, arn: string, expected: string): Promise<number>;
  sgKvsTagStream(meta: string, tags: string, arn: string, limit: string, ...pairs: string[]): Promise<number>;
};

/** KVS limits the registry enforces. */
export const VIDEO_STREAM_LIMITS = {
  /** Largest DataRetentionInHours (10 years). */
  maxRetentionHours: 87_600,
  /** Tags per stream. */
  maxTags: 50,
  /** KmsKeyId when CreateStream names none. */
  defaultKmsKeyId: 'alias/aws/kinesisvideo',
} as const;

/** A stream named by StreamName or StreamARN (at least one; both must agree). */
export interface VideoStreamRef {
  name?: string | undefined;
  arn?: string | undefined;
}

/** What CreateStream stores. */
export interface NewVideoStream {
  name: string;
  deviceName?: string | undefined;
  mediaType?: string | undefined;
  kmsKeyId?: string | undefined;
  retentionHours: number;
  tags: Readonly<Record<string, string>>;
}

/** Called (and awaited) while a deleted stream is DELETING, before its metadata goes. */
export type StreamDeletedListener = (stream: VideoStreamRecord) => Promise<void>;

/**
 * Kinesis Video Streams metadata in Redis: create, describe, list, update (optimistic concurrency on
 * Version), retention, tags and delete. Throws catalogued ServiceErrors with the KVS exception names.
 */
export class VideoStreamRegistry {
  readonly #redis: ScriptClient;
  readonly #keys: KeyChecker;
  readonly #clock: Clock;
  readonly #region: string;
  readonly #accountId: string;
  readonly #deletedListeners: StreamDeletedListener[] = [];

  constructor(options: {
    redis: RedisClient;
    keys: KeyChecker;
    clock: Clock;
    region: string;
    accountId: string;
  }) {
    this.#redis = options.redis as ScriptClient;
    this.#keys = options.keys;
    this.#clock = options.clock;
    this.#region = options.region;
    this.#accountId = options.accountId;
    this.#redis.defineCommand('sgKvsCreateStream', { numberOfKeys: 2, lua: CREATE_STREAM });
    this.#redis.defineCommand('sgKvsUpdateStream', { numberOfKeys: 1, lua: UPDATE_STREAM });
    this.#redis.defineCommand('sgKvsBeginDelete', { numberOfKeys: 1, lua: BEGIN_DELETE });
    this.#redis.defineCommand('sgKvsTagStream', { numberOfKeys: 2, lua: TAG_STREAM });
  }

  /**
   * Registers work to run when a stream is deleted (fragments, objects, sessions). A failing listener
   * fails the DeleteStream call and leaves the stream DELETING; a retried delete runs every listener again.
   */
  onDeleted(listener: StreamDeletedListener): void {
    this.#deletedListeners.push(listener);
  }

  /** CreateStream: the new, ACTIVE stream. */
  async create(input: NewVideoStream): Promise<VideoStreamRecord> {
    if (Object.keys(input.tags).length > VIDEO_STREAM_LIMITS.maxTags) {
      throw new ServiceError(
        'TagsPerResourceExceededLimitException',
        `A stream can have at most ${VIDEO_STREAM_LIMITS.maxTags} tags.`,
      );
    }
    this.#checkRetention(input.retentionHours);
    const kmsKeyId = input.kmsKeyId ?? VIDEO_STREAM_LIMITS.defaultKmsKeyId;
    await this.#checkKey(kmsKeyId);
    const creationTimeMs = this.#clock.now();
    const record: VideoStreamRecord = {
      name: input.name,
      arn: streamArn(this.#region, this.#accountId, input.name, creationTimeMs),
      version: newStreamVersion(),
      status: 'ACTIVE',
      creationTimeMs,
      retentionHours: input.retentionHours,
      kmsKeyId,
      mediaType: input.mediaType,
      deviceName: input.deviceName,
    };
    const meta = Object.entries(recordToHash(record)).flat();
    const created = await this.#redis.sgKvsCreateStream(
      kvsKeys.meta(record.name),
      kvsKeys.tags(record.name),
      String(meta.length / 2),
      ...meta,
      ...Object.entries(input.tags).flat(),
    );
    if (created !== 1) {
      throw new ServiceError('ResourceInUseException', `The stream ${record.name} already exists.`);
    }
    await this.#redis.zadd(kvsKeys.streams(), 0, record.name);
    return record;
  }

  /** DescribeStream: the stream named by `ref`, or ResourceNotFoundException. */
  async describe(ref: VideoStreamRef): Promise<VideoStreamRecord> {
    const name = this.#nameOf(ref);
    const record = hashToRecord(await this.#redis.hgetall(kvsKeys.meta(name)));
    if (record === undefined || (ref.arn !== undefined && record.arn !== ref.arn)) {
      throw new ServiceError('ResourceNotFoundException', `The stream ${ref.arn ?? name} does not exist.`);
    }
    return record;
  }

  /**
   * ListStreams: up to `limit` streams in name order after `afterName`, optionally only names starting
   * with `prefix`; `more` says whether another page follows.
   */
  async list(options: {
    limit: number;
    afterName?: string | undefined;
    prefix?: string | undefined;
  }): Promise<{ streams: VideoStreamRecord[]; more: boolean }> {
    const { limit, afterName, prefix } = options;
    const min =
      afterName !== undefined && (prefix === undefined || afterName >= prefix)
        ? `(${afterName}`
        : prefix !== undefined
          ? `[${prefix}`
          : '-';
    // Names are ASCII, so every name with the prefix sorts below prefix + U+00FF (0xC3 0xBF in UTF-8).
    const max = prefix !== undefined ? `[${prefix}\u00ff` : '+';
    const names = await this.#redis.zrangebylex(kvsKeys.streams(), min, max, 'LIMIT', 0, limit + 1);
    const page = names.slice(0, limit);
    const hashes = await Promise.all(page.map((name) => this.#redis.hgetall(kvsKeys.meta(name))));
    const streams = hashes.flatMap((hash) => hashToRecord(hash) ?? []);
    return { streams, more: names.length > limit };
  }

  /** UpdateStream: sets DeviceName and/or MediaType if the version is still `currentVersion`. */
  async update(
    ref: VideoStreamRef,
    currentVersion: string,
    fields: { deviceName?: string | undefined; mediaType?: string | undefined },
  ): Promise<void> {
    const record = await this.describe(ref);
    const pairs: string[] = [];
    if (fields.deviceName !== undefined) pairs.push('deviceName', fields.deviceName);
    if (fields.mediaType !== undefined) pairs.push('mediaType', fields.mediaType);
    await this.#casUpdate(record, currentVersion, pairs);
  }

  /** UpdateDataRetention: adds `changeHours` (negative to decrease); the total stays in 0..87600. */
  async updateRetention(ref: VideoStreamRef, currentVersion: string, changeHours: number): Promise<void> {
    const record = await this.describe(ref);
    if (record.version !== currentVersion) throw versionMismatch(record.name);
    const retentionHours = record.retentionHours + changeHours;
    if (retentionHours < 0) {
      throw new ServiceError(
        'InvalidArgumentException',
        `The data retention of ${record.name} is ${record.retentionHours} hours; it cannot decrease by ${-changeHours}.`,
      );
    }
    this.#checkRetention(retentionHours);
    await this.#casUpdate(record, currentVersion, ['retentionHours', String(retentionHours)]);
  }

  /**
   * DeleteStream: marks the stream DELETING (still described and listed as such), runs the deletion
   * listeners, then removes its metadata, tags and list entry.
   */
  async delete(arn: string, currentVersion: string | undefined): Promise<void> {
    const record = await this.describe({ arn });
    this.#fail(
      await this.#redis.sgKvsBeginDelete(kvsKeys.meta(record.name), arn, currentVersion ?? ''),
      record,
    );
    const deleting: VideoStreamRecord = { ...record, status: 'DELETING' };
    for (const listener of this.#deletedListeners) await listener(deleting);
    // ZREM before DEL: a re-create (possible only after the DEL) then always lists the name again.
    await this.#redis.zrem(kvsKeys.streams(), record.name);
    await this.#redis.del(kvsKeys.meta(record.name), kvsKeys.tags(record.name));
  }

  /** The stream's tags (ListTagsForStream / ListTagsForResource). */
  async tags(ref: VideoStreamRef): Promise<Record<string, string>> {
    const record = await this.describe(ref);
    return this.#redis.hgetall(kvsKeys.tags(record.name));
  }

  /** TagStream / TagResource: adds or replaces tags, at most 50 per stream in all. */
  async tag(ref: VideoStreamRef, tags: Readonly<Record<string, string>>): Promise<void> {
    const record = await this.describe(ref);
    const pairs = Object.entries(tags).flat();
    if (pairs.length === 0) return;
    this.#fail(
      await this.#redis.sgKvsTagStream(
        kvsKeys.meta(record.name),
        kvsKeys.tags(record.name),
        record.arn,
        String(VIDEO_STREAM_LIMITS.maxTags),
        ...pairs,
      ),
      record,
    );
  }

  /** UntagStream / UntagResource: removes tags (unknown keys are ignored). */
  async untag(ref: VideoStreamRef, tagKeys: readonly string[]): Promise<void> {
    const record = await this.describe(ref);
    if (tagKeys.length > 0) await this.#redis.hdel(kvsKeys.tags(record.name), ...tagKeys);
  }

  async #casUpdate(
    record: VideoStreamRecord,
    currentVersion: string,
    pairs: readonly string[],
  ): Promise<void> {
    const result = await this.#redis.sgKvsUpdateStream(
      kvsKeys.meta(record.name),
      record.arn,
      currentVersion,
      newStreamVersion(),
      ...pairs,
    );
    this.#fail(result, record);
  }

  /** The one mapping of Lua return codes to errors. */
  #fail(code: number, record: VideoStreamRecord): void {
    if (code === 1) return;
    if (code === -1)
      throw new ServiceError('ResourceNotFoundException', `The stream ${record.arn} does not exist.`);
    if (code === -2) throw versionMismatch(record.name);
    if (code === -3) {
      throw new ServiceError('ResourceInUseException', `The stream ${record.name} is being deleted.`);
    }
    if (code === -4) {
      throw new ServiceError(
        'TagsPerResourceExceededLimitException',
        `A stream can have at most ${VIDEO_STREAM_LIMITS.maxTags} tags.`,
      );
    }
    throw new Error(`unexpected script result ${code}`);
  }

  #nameOf(ref: VideoStreamRef): string {
    if (ref.arn !== undefined) {
      const parsed = parseStreamArn(ref.arn);
      if (!parsed || parsed.region !== this.#region || parsed.accountId !== this.#accountId) {
        throw new ServiceError('ResourceNotFoundException', `The stream ${ref.arn} does not exist.`);
      }
      if (ref.name !== undefined && ref.name !== parsed.name) {
        throw new ServiceError(
          'InvalidArgumentException',
          'StreamARN and StreamName refer to different streams.',
        );
      }
      return parsed.name;
    }
    if (ref.name === undefined) {
      throw new ServiceError('InvalidArgumentException', 'Either StreamName or StreamARN must be provided.');
    }
    return ref.name;
  }

  #checkRetention(retentionHours: number): void {
    if (retentionHours < 0 || retentionHours > VIDEO_STREAM_LIMITS.maxRetentionHours) {
      throw new ServiceError(
        'InvalidArgumentException',
        `DataRetentionInHours must be between 0 and ${VIDEO_STREAM_LIMITS.maxRetentionHours}.`,
      );
    }
  }

  async #checkKey(kmsKeyId: string): Promise<void> {
    try {
      await this.#keys.checkKey(kmsKeyId);
    } catch (error) {
      if (!isServiceError(error)) throw error;
      throw new ServiceError(
        'InvalidArgumentException',
        `KmsKeyId ${kmsKeyId} is not usable: ${error.message}`,
        {
          cause: error,
        },
      );
    }
  }
}

function versionMismatch(streamName: string): ServiceError {
  return new ServiceError(
    'VersionMismatchException',
    `The CurrentVersion does not match the version of the stream ${streamName}.`,
  );
}

import { ServiceError } from '../errors/index.ts';
import type { RedisClient } from '../redis/index.ts';
import type { DeliveryStreamRecord } from './delivery-stream-record.ts';
import { DELIVERY_GROUP, firehoseKeys } from './keys.ts';
import { CREATE_DELIVERY_STREAM, UPDATE_DELIVERY_STREAM } from './lua-scripts.ts';

interface ScriptClient {
  sgFhCreate(
    meta: string,
    tags: string,
    buffer: string,
    bufferBytes: string,
    checkpoints: string,
    sourceLease: string,
    ...args: string[]
  ): Promise<number>;
  sgFhUpdate(meta: string, id: string, version: string, json: string): Promise<number>;
}

/** Delivery stream metadata and tags in Redis; creation also makes the buffer and its consumer group. */
export class DeliveryStreamRegistry {
  readonly #redis: RedisClient;
  readonly #scripts: ScriptClient;
  readonly #accountId: string;

  constructor(redis: RedisClient, accountId: string) {
    this.#redis = redis;
    this.#accountId = accountId;
    redis.defineCommand('sgFhCreate', { numberOfKeys: 6, lua: CREATE_DELIVERY_STREAM });
    redis.defineCommand('sgFhUpdate', { numberOfKeys: 1, lua: UPDATE_DELIVERY_STREAM });
    this.#scripts = redis as unknown as ScriptClient;
  }

  /** Stores a new delivery stream; ResourceInUseException when the name is taken. */
  async create(stream: DeliveryStreamRecord, tags: Readonly<Record<string, string>>): Promise<void> {
    const name = stream.name;
    const result = await this.#scripts.sgFhCreate(
      firehoseKeys.meta(name),
      firehoseKeys.tags(name),
      firehoseKeys.buffer(name),
      firehoseKeys.bufferBytes(name),
      firehoseKeys.checkpoints(name),
      firehoseKeys.sourceLease(name),
      JSON.stringify(stream),
      DELIVERY_GROUP,
      ...Object.entries(tags).flat(),
    );
    if (result === -1) {
      throw new ServiceError(
        'ResourceInUseException',
        `Firehose ${name} under accountId ${this.#accountId} already exists`,
      );
    }
    await this.#redis.zadd(firehoseKeys.names(), 0, name);
  }

  /** The delivery stream, or undefined. */
  async get(name: string): Promise<DeliveryStreamRecord | undefined> {
    const json = await this.#redis.get(firehoseKeys.meta(name));
    return json ? (JSON.parse(json) as DeliveryStreamRecord) : undefined;
  }

  /** The delivery stream, or ResourceNotFoundException. */
  async require(name: string): Promise<DeliveryStreamRecord> {
    const stream = await this.get(name);
    if (!stream) throw this.notFound(name);
    return stream;
  }

  /** The AWS error for a missing delivery stream. */
  notFound(name: string): ServiceError {
    return new ServiceError(
      'ResourceNotFoundException',
      `Firehose ${name} under account ${this.#accountId} not found.`,
    );
  }

  /**
   * Replaces the metadata if the stream is still `current` (same id) and, when `expectedVersionId` is
   * given, still at that version; ConcurrentModificationException otherwise.
   */
  async replace(
    current: DeliveryStreamRecord,
    next: DeliveryStreamRecord,
    expectedVersionId?: number,
  ): Promise<void> {
    const result = await this.#scripts.sgFhUpdate(
      firehoseKeys.meta(current.name),
      current.id,
      expectedVersionId === undefined ? '' : String(expectedVersionId),
      JSON.stringify(next),
    );
    if (result === -1) throw this.notFound(current.name);
    if (result === -2) {
      throw new ServiceError(
        'ConcurrentModificationException',
        `Firehose ${current.name} version does not match; CurrentDeliveryStreamVersionId ${expectedVersionId} is not the latest version.`,
      );
    }
  }

  /** Removes the delivery stream and everything it buffered. */
  async remove(name: string): Promise<void> {
    await this.#redis.del(
      firehoseKeys.meta(name),
      firehoseKeys.tags(name),
      firehoseKeys.buffer(name),
      firehoseKeys.bufferBytes(name),
      firehoseKeys.checkpoints(name),
      firehoseKeys.sourceLease(name),
    );
    await this.#redis.zrem(firehoseKeys.names(), name);
  }

  /** Names in order, after `afterName`, at most `limit`. */
  listNames(afterName: string | undefined, limit: number): Promise<string[]> {
    const min = afterName === undefined ? '-' : `(${afterName}`;
    return this.#redis.zrangebylex(firehoseKeys.names(), min, '+', 'LIMIT', 0, limit);
  }

  /** Number of delivery streams. */
  count(): Promise<number> {
    return this.#redis.zcard(firehoseKeys.names());
  }

  /** Every tag. */
  getTags(name: string): Promise<Record<string, string>> {
    return this.#redis.hgetall(firehoseKeys.tags(name));
  }

  /** Adds or overwrites tags. */
  async putTags(name: string, tags: Readonly<Record<string, string>>): Promise<void> {
    if (Object.keys(tags).length > 0) await this.#redis.hset(firehoseKeys.tags(name), tags);
  }

  /** Removes tags by key. */
  async removeTags(name: string, keys: readonly string[]): Promise<void> {
    if (keys.length > 0) await this.#redis.hdel(firehoseKeys.tags(name), ...keys);
  }
}

import type { RedisClient } from '../redis/index.ts';
import { kdsKeys } from './keys.ts';
import { ABORT_RESHARD, BEGIN_RESHARD, CREATE_STREAM, FINISH_RESHARD, UPDATE_STREAM } from './lua-scripts.ts';
import { hashToStream, type ShardRecord, type StreamRecord, streamToHash } from './stream-record.ts';

type ScriptClient = RedisClient & {
  sgKdsCreateStream(meta: string, shards: string, tags: string, ...args: string[]): Promise<number>;
  sgKdsUpdateStream(meta: string, id: string, ...fieldValues: string[]): Promise<number>;
  sgKdsBeginReshard(meta: string, id: string, count: string): Promise<number>;
  sgKdsFinishReshard(meta: string, shards: string, id: string, ...shardJson: string[]): Promise<number>;
  sgKdsAbortReshard(meta: string, id: string): Promise<number>;
};

/** A stream with its shard map, read in one round trip. */
export interface StreamView {
  stream: StreamRecord;
  shards: ShardRecord[];
}

/**
 * How long getRecent() reuses a stream's metadata and shard map. Changes made through this registry
 * are seen at once; changes made by other replicas within this time (writers that hit a shard closed
 * meanwhile re-read at once).
 */
const RECENT_MS = 500;

/** Redis persistence of stream metadata, shard maps and tags (the records live in stream-log/). */
export class StreamRegistry {
  readonly #redis: ScriptClient;
  readonly #recent = new Map<string, { view: StreamView; expiresAt: number }>();

  constructor(redis: RedisClient) {
    this.#redis = redis as ScriptClient;
    this.#redis.defineCommand('sgKdsCreateStream', { numberOfKeys: 3, lua: CREATE_STREAM });
    this.#redis.defineCommand('sgKdsUpdateStream', { numberOfKeys: 1, lua: UPDATE_STREAM });
    this.#redis.defineCommand('sgKdsBeginReshard', { numberOfKeys: 1, lua: BEGIN_RESHARD });
    this.#redis.defineCommand('sgKdsFinishReshard', { numberOfKeys: 2, lua: FINISH_RESHARD });
    this.#redis.defineCommand('sgKdsAbortReshard', { numberOfKeys: 1, lua: ABORT_RESHARD });
  }

  /** The shared iterator-signing secret, created by whichever replica starts first. */
  async iteratorSecret(candidate: Buffer): Promise<Buffer> {
    await this.#redis.set(kdsKeys.iteratorSecret(), candidate.toString('base64'), 'NX');
    return Buffer.from((await this.#redis.get(kdsKeys.iteratorSecret())) ?? '', 'base64');
  }

  /** Creates a stream; false when the name is taken. */
  async create(
    stream: StreamRecord,
    shards: readonly ShardRecord[],
    tags: Readonly<Record<string, string>>,
  ): Promise<boolean> {
    const meta = Object.entries(streamToHash(stream)).flat();
    const shardArgs = shards.flatMap((s) => [s.shardId, JSON.stringify(s)]);
    const created = await this.#redis.sgKdsCreateStream(
      kdsKeys.meta(stream.name),
      kdsKeys.shards(stream.name),
      kdsKeys.tags(stream.name),
      String(meta.length / 2),
      String(shards.length),
      ...meta,
      ...shardArgs,
      ...Object.entries(tags).flat(),
    );
    if (created !== 1) return false;
    await this.#redis.zadd(kdsKeys.streams(), 0, stream.name);
    return true;
  }

  /** Like get(), but may answer from a copy at most 500 ms old (the hot path of puts). */
  async getRecent(streamName: string): Promise<StreamView | undefined> {
    const cached = this.#recent.get(streamName);
    if (cached && cached.expiresAt > Date.now()) return cached.view;
    return this.get(streamName);
  }

  /** A stream and its shards (sorted by shard id), or undefined. */
  async get(streamName: string): Promise<StreamView | undefined> {
    const results = await this.#redis
      .pipeline()
      .hgetall(kdsKeys.meta(streamName))
      .hgetall(kdsKeys.shards(streamName))
      .exec();
    const stream = hashToStream((results?.[0]?.[1] ?? {}) as Record<string, string>);
    if (!stream) {
      this.#recent.delete(streamName);
      return undefined;
    }
    const shards = Object.values((results?.[1]?.[1] ?? {}) as Record<string, string>)
      .map((json) => JSON.parse(json) as ShardRecord)
      .sort((a, b) => (a.shardId < b.shardId ? -1 : 1));
    const view = { stream, shards };
    this.#recent.set(streamName, { view, expiresAt: Date.now() + RECENT_MS });
    return view;
  }

  /** Sets metadata fields if the stream still has id `streamId`; false when gone. */
  async update(stream: StreamRecord, fields: Readonly<Record<string, string | number>>): Promise<boolean> {
    this.#recent.delete(stream.name);
    const pairs = Object.entries(fields).flatMap(([k, v]) => [k, String(v)]);
    const updated =
      (await this.#redis.sgKdsUpdateStream(kdsKeys.meta(stream.name), stream.id, ...pairs)) === 1;
    this.#recent.delete(stream.name);
    return updated;
  }

  /**
   * Marks an ACTIVE stream UPDATING and reserves `count` new shard indexes; returns the first one,
   * 'missing' or 'busy' (not ACTIVE).
   */
  async beginReshard(stream: StreamRecord, count: number): Promise<number | 'missing' | 'busy'> {
    const result = await this.#redis.sgKdsBeginReshard(kdsKeys.meta(stream.name), stream.id, String(count));
    return result === -1 ? 'missing' : result === -2 ? 'busy' : result;
  }

  /** Writes closed parents and new children into the shard map and marks the stream ACTIVE again. */
  async finishReshard(stream: StreamRecord, shards: readonly ShardRecord[]): Promise<boolean> {
    const args = shards.flatMap((s) => [s.shardId, JSON.stringify(s)]);
    const finished =
      (await this.#redis.sgKdsFinishReshard(
        kdsKeys.meta(stream.name),
        kdsKeys.shards(stream.name),
        stream.id,
        ...args,
      )) === 1;
    this.#recent.delete(stream.name);
    return finished;
  }

  /** Returns an UPDATING stream to ACTIVE without changing its shards. */
  async abortReshard(stream: StreamRecord): Promise<void> {
    await this.#redis.sgKdsAbortReshard(kdsKeys.meta(stream.name), stream.id);
  }

  /** Removes a stream's metadata, shard map and tags, and its name from the list. */
  async remove(streamName: string): Promise<void> {
    this.#recent.delete(streamName);
    await this.#redis.del(kdsKeys.meta(streamName), kdsKeys.shards(streamName), kdsKeys.tags(streamName));
    await this.#redis.zrem(kdsKeys.streams(), streamName);
  }

  /** Stream names in name order after `afterName`, at most `limit`. */
  listNames(afterName: string | undefined, limit: number): Promise<string[]> {
    return this.#redis.zrangebylex(
      kdsKeys.streams(),
      afterName ? `(${afterName}` : '-',
      '+',
      'LIMIT',
      0,
      limit,
    );
  }

  /** Number of streams. */
  count(): Promise<number> {
    return this.#redis.zcard(kdsKeys.streams());
  }

  /** A stream's tags. */
  getTags(streamName: string): Promise<Record<string, string>> {
    return this.#redis.hgetall(kdsKeys.tags(streamName));
  }

  /** Adds or replaces tags. */
  async putTags(streamName: string, tags: Readonly<Record<string, string>>): Promise<void> {
    if (Object.keys(tags).length > 0) await this.#redis.hset(kdsKeys.tags(streamName), tags);
  }

  /** Removes tags. */
  async removeTags(streamName: string, keys: readonly string[]): Promise<void> {
    if (keys.length > 0) await this.#redis.hdel(kdsKeys.tags(streamName), ...keys);
  }
}

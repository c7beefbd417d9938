import type { RedisClient } from '../redis/index.ts';
import { type LogRef, logKeys } from './keys.ts';
import { APPEND, CLOSE, OPEN } from './lua-scripts.ts';

/** One stored entry: its Redis stream id (`<ms>-<seq>`) and its fields. */
export interface LogEntry {
  id: string;
  fields: Map<string, Buffer>;
}

/** Raised when appending to a closed log (a resharded parent); the caller re-routes. */
export class LogClosedError extends Error {
  override name = 'LogClosedError';
}

type ScriptClient = RedisClient & {
  sgLogAppend(
    log: string,
    state: string,
    minId: string,
    f: number,
    ...args: Array<string | Buffer>
  ): Promise<string[] | number>;
  sgLogClose(log: string, state: string): Promise<string>;
  sgLogOpen(log: string, state: string, floor: string): Promise<number>;
};

/** Parses `<ms>-<seq>` into numbers. */
export function parseEntryId(id: string): { ms: number; seq: number } {
  const dash = id.indexOf('-');
  return { ms: Number(id.slice(0, dash)), seq: Number(id.slice(dash + 1)) };
}

/** Orders two entry ids: negative, zero or positive like a comparator. */
export function compareEntryIds(a: string, b: string): number {
  const x = parseEntryId(a);
  const y = parseEntryId(b);
  return x.ms !== y.ms ? x.ms - y.ms : x.seq - y.seq;
}

/**
 * Append-only logs on Redis Streams, one per shard: batched atomic appends that a closed log refuses,
 * range reads by entry id, trimming by minimum id (retention), and closing with a recorded end.
 */
export class ShardLogs {
  readonly #redis: ScriptClient;

  constructor(redis: RedisClient) {
    this.#redis = redis as ScriptClient;
    this.#redis.defineCommand('sgLogAppend', { numberOfKeys: 2, lua: APPEND });
    this.#redis.defineCommand('sgLogClose', { numberOfKeys: 2, lua: CLOSE });
    this.#redis.defineCommand('sgLogOpen', { numberOfKeys: 2, lua: OPEN });
  }

  /** Creates an empty log whose entry ids will all be greater than `floorId`. */
  async open(ref: LogRef, floorId = '0-0'): Promise<void> {
    await this.#redis.sgLogOpen(logKeys.entries(ref), logKeys.state(ref), floorId);
  }

  /**
   * Appends entries (all with the same field names, in the same order) atomically; returns their ids.
   * `minId` trims older entries (approximately) in the same call. Throws LogClosedError.
   */
  async append(
    ref: LogRef,
    entries: ReadonlyArray<ReadonlyArray<readonly [string, string | Buffer]>>,
    minId?: string,
  ): Promise<string[]> {
    if (entries.length === 0) return [];
    const width = entries[0]?.length ?? 0;
    const args: Array<string | Buffer> = [];
    for (const entry of entries) {
      if (entry.length !== width) throw new Error('every entry of one append must have the same fields');
      for (const [field, value] of entry) args.push(field, value);
    }
    const result = await this.#redis.sgLogAppend(
      logKeys.entries(ref),
      logKeys.state(ref),
      minId ?? '',
      width,
      ...args,
    );
    if (result === -1) throw new LogClosedError(`log ${ref.namespace}/${ref.partition} is closed`);
    return result as string[];
  }

  /** Up to `count` entries from `startId` (inclusive, or exclusive with `(`) to the end. */
  async read(ref: LogRef, startId: string, count: number): Promise<LogEntry[]> {
    const rows = (await this.#redis.xrangeBuffer(
      logKeys.entries(ref),
      startId,
      '+',
      'COUNT',
      count,
    )) as unknown as Array<[Buffer, Buffer[]]>;
    return rows.map(([id, flat]) => {
      const fields = new Map<string, Buffer>();
      for (let i = 0; i + 1 < flat.length; i += 2)
        fields.set((flat[i] as Buffer).toString(), flat[i + 1] as Buffer);
      return { id: id.toString(), fields };
    });
  }

  /** Id of the newest entry, or undefined when the log is empty. */
  async lastEntryId(ref: LogRef): Promise<string | undefined> {
    const rows = (await this.#redis.xrevrange(logKeys.entries(ref), '+', '-', 'COUNT', 1)) as Array<
      [string, string[]]
    >;
    return rows[0]?.[0];
  }

  /** Id of the oldest entry still stored, or undefined when the log is empty. */
  async firstEntryId(ref: LogRef): Promise<string | undefined> {
    const rows = (await this.#redis.xrange(logKeys.entries(ref), '-', '+', 'COUNT', 1)) as Array<
      [string, string[]]
    >;
    return rows[0]?.[0];
  }

  /** Deletes every entry older than `minId` exactly; returns how many. */
  trim(ref: LogRef, minId: string): Promise<number> {
    return this.#redis.xtrim(logKeys.entries(ref), 'MINID', minId);
  }

  /** Closes the log (appends now fail) and returns its last entry id; idempotent. */
  close(ref: LogRef): Promise<string> {
    return this.#redis.sgLogClose(logKeys.entries(ref), logKeys.state(ref));
  }

  /** The state of a log: whether it is closed and, if so, its last entry id. */
  async state(ref: LogRef): Promise<{ closed: boolean; endingId: string | undefined }> {
    const [closed, endingId] = await this.#redis.hmget(logKeys.state(ref), 'closed', 'endingId');
    return { closed: closed === '1', endingId: endingId ?? undefined };
  }

  /** Deletes the log and its state. */
  async destroy(ref: LogRef): Promise<void> {
    await this.#redis.del(logKeys.entries(ref), logKeys.state(ref));
  }

  /**
   * Deletes the log's records but leaves it closed for `tombstoneSeconds`, so a writer still holding
   * an old shard map gets LogClosedError instead of re-creating the log by appending.
   */
  async retire(ref: LogRef, tombstoneSeconds: number): Promise<void> {
    await this.#redis
      .multi()
      .del(logKeys.entries(ref))
      .hset(logKeys.state(ref), 'closed', '1', 'endingId', '0-0')
      .expire(logKeys.state(ref), tombstoneSeconds)
      .exec();
  }
}

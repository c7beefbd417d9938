import type { RedisClient } from '../redis/index.ts';
import { DELIVERY_GROUP, firehoseKeys } from './keys.ts';
import { ACK_RECORDS, APPEND_RECORDS, APPEND_SOURCE_RECORDS } from './lua-scripts.ts';

/** A record as it waits in the buffer (data still sealed when `sealed`). */
export interface BufferedRecord {
  /** Buffer entry id; also the RecordId PutRecord returns is derived from it. */
  entryId: string;
  data: Buffer;
  arrivalMs: number;
  sealed: boolean;
  /** Where a KinesisStreamAsSource record came from (Lambda's kinesisRecordMetadata). */
  kinesis?: KinesisRecordMetadata | undefined;
}

/** A source data stream record's origin. */
export interface KinesisRecordMetadata {
  shardId: string;
  partitionKey: string;
  sequenceNumber: string;
}

/** A record to append. */
export interface IncomingRecord {
  data: Buffer;
  arrivalMs: number;
  sealed: boolean;
}

interface ScriptClient {
  sgFhAppend(buffer: string, bytes: string, ...args: Array<string | Buffer>): Promise<string[] | number>;
  sgFhAppendSource(
    buffer: string,
    checkpoints: string,
    bytes: string,
    lease: string,
    ...args: Array<string | Buffer>
  ): Promise<number>;
  sgFhAck(buffer: string, bytes: string, group: string, size: string, ...ids: string[]): Promise<number>;
}

/** The buffer holds more than its limit: producers must slow down (ServiceUnavailableException). */
export class BufferFullError extends Error {}

/** A source reader lost its lease or read from a checkpoint that has moved: nothing was appended. */
export class SourceFencedError extends Error {
  override name = 'SourceFencedError';
}

type RawEntry = [Buffer, Buffer[]];

// Lua's unpack and Redis' argument lists are bounded: acknowledge in chunks.
const ACK_CHUNK = 1_000;

/**
 * One Redis stream per delivery stream with the consumer group `delivery`: appends are acknowledged to
 * producers once stored; workers read through the group, delete only after delivery, and reclaim the
 * pending entries of a dead worker with XAUTOCLAIM.
 */
export class RecordBuffer {
  readonly #redis: RedisClient;
  readonly #scripts: ScriptClient;
  /** Most bytes one delivery stream's buffer holds before puts are refused. */
  readonly maxBufferBytes: number;

  constructor(redis: RedisClient, options: { maxBufferBytes: number }) {
    this.#redis = redis;
    this.maxBufferBytes = options.maxBufferBytes;
    redis.defineCommand('sgFhAppend', { numberOfKeys: 2, lua: APPEND_RECORDS });
    redis.defineCommand('sgFhAppendSource', { numberOfKeys: 4, lua: APPEND_SOURCE_RECORDS });
    redis.defineCommand('sgFhAck', { numberOfKeys: 2, lua: ACK_RECORDS });
    this.#scripts = redis as unknown as ScriptClient;
  }

  /** Appends records atomically; returns their entry ids in order. Throws BufferFullError. */
  async append(name: string, records: readonly IncomingRecord[]): Promise<string[]> {
    const result = await this.#scripts.sgFhAppend(
      firehoseKeys.buffer(name),
      firehoseKeys.bufferBytes(name),
      String(this.maxBufferBytes),
      String(sizeOf(records)),
      ...flatten(records),
    );
    if (result === -1 || typeof result === 'number') {
      throw new BufferFullError(`the buffer of ${name} holds more than ${this.maxBufferBytes} bytes`);
    }
    return result;
  }

  /** Bytes of the records in the buffer (delivered to a worker or not). */
  async bufferedBytes(name: string): Promise<number> {
    return Number((await this.#redis.get(firehoseKeys.bufferBytes(name))) ?? 0);
  }

  /** Appends records of a source shard and moves its checkpoint in the same step. */
  async appendFromSource(
    name: string,
    shardId: string,
    checkpoint: string,
    records: ReadonlyArray<IncomingRecord & { partitionKey: string; sequenceNumber: string }>,
    fence: { holder: string; readFrom: string | undefined },
  ): Promise<void> {
    const args: Array<string | Buffer> = [];
    for (const r of records)
      args.push(r.data, String(r.arrivalMs), r.sealed ? '1' : '0', r.partitionKey, r.sequenceNumber);
    const result = await this.#scripts.sgFhAppendSource(
      firehoseKeys.buffer(name),
      firehoseKeys.checkpoints(name),
      firehoseKeys.bufferBytes(name),
      firehoseKeys.sourceLease(name),
      shardId,
      checkpoint,
      String(sizeOf(records)),
      fence.holder,
      fence.readFrom ?? '',
      ...args,
    );
    if (result === -1) throw new SourceFencedError(`${name}: the source lease is held by another reader`);
    if (result === -2) throw new SourceFencedError(`${name}: shard ${shardId} was read on by another reader`);
  }

  /** Source checkpoints: shard id -> last buffered sequence number or END. */
  checkpoints(name: string): Promise<Record<string, string>> {
    return this.#redis.hgetall(firehoseKeys.checkpoints(name));
  }

  /** Up to `count` records never delivered to any worker; they become pending for `consumer`. */
  readNew(name: string, consumer: string, count: number): Promise<BufferedRecord[]> {
    return this.#readGroup(name, consumer, count, '>');
  }

  /**
   * Records already pending for `consumer` after `afterId` (what it held before a restart): up to
   * `count` live ones, paging past entries deleted while pending (which are acknowledged, so they
   * leave the pending list). `next` is where to go on from, undefined once the pending list is done.
   */
  async readOwnPending(
    name: string,
    consumer: string,
    afterId: string,
    count: number,
  ): Promise<{ records: BufferedRecord[]; next: string | undefined }> {
    const records: BufferedRecord[] = [];
    let from = afterId;
    while (records.length < count) {
      const want = count - records.length;
      const entries = await this.#readGroupRaw(name, consumer, want, from);
      const deleted = entries.filter(([, fields]) => !fields).map(([id]) => id.toString());
      if (deleted.length > 0) await this.#redis.xack(firehoseKeys.buffer(name), DELIVERY_GROUP, ...deleted);
      records.push(...entries.flatMap(toRecord));
      const last = entries.at(-1);
      if (!last || entries.length < want) return { records, next: undefined };
      from = last[0].toString();
    }
    return { records, next: from };
  }

  async #readGroup(name: string, consumer: string, count: number, from: string): Promise<BufferedRecord[]> {
    return (await this.#readGroupRaw(name, consumer, count, from)).flatMap(toRecord);
  }

  async #readGroupRaw(name: string, consumer: string, count: number, from: string): Promise<RawEntry[]> {
    const reply = (await this.#redis.xreadgroupBuffer(
      'GROUP',
      DELIVERY_GROUP,
      consumer,
      'COUNT',
      count,
      'STREAMS',
      firehoseKeys.buffer(name),
      from,
    )) as unknown as Array<[Buffer, RawEntry[]]> | null;
    return reply?.[0]?.[1] ?? [];
  }

  /**
   * Takes over records pending longer than `minIdleMs` with another (presumably dead) worker, or with
   * this consumer from before a restart: XAUTOCLAIM pages of `pageSize`, following the cursor through
   * the whole pending list (records other workers renewed are skipped, not a wall), until it is done or
   * `maxBytes` were taken.
   */
  async reclaim(
    name: string,
    consumer: string,
    minIdleMs: number,
    pageSize: number,
    maxBytes = Number.POSITIVE_INFINITY,
  ): Promise<BufferedRecord[]> {
    const taken: BufferedRecord[] = [];
    let bytes = 0;
    let cursor = '0-0';
    do {
      const reply = (await this.#redis.callBuffer(
        'XAUTOCLAIM',
        firehoseKeys.buffer(name),
        DELIVERY_GROUP,
        consumer,
        minIdleMs,
        cursor,
        'COUNT',
        pageSize,
      )) as unknown as [Buffer, RawEntry[], Buffer[]];
      cursor = reply[0].toString();
      for (const r of (reply[1] ?? []).flatMap(toRecord)) {
        taken.push(r);
        bytes += r.data.length;
      }
    } while (cursor !== '0-0' && bytes < maxBytes);
    return taken;
  }

  /** Resets the idle time of records this worker still holds, so no other worker reclaims them. */
  async renew(name: string, consumer: string, entryIds: readonly string[]): Promise<void> {
    for (let i = 0; i < entryIds.length; i += ACK_CHUNK) {
      await this.#redis.call(
        'XCLAIM',
        firehoseKeys.buffer(name),
        DELIVERY_GROUP,
        consumer,
        0,
        ...entryIds.slice(i, i + ACK_CHUNK),
        'JUSTID',
      );
    }
  }

  /** Forgets delivered records (XACK + XDEL) and their bytes. */
  async acknowledge(name: string, records: readonly BufferedRecord[]): Promise<void> {
    for (let i = 0; i < records.length; i += ACK_CHUNK) {
      const chunk = records.slice(i, i + ACK_CHUNK);
      await this.#scripts.sgFhAck(
        firehoseKeys.buffer(name),
        firehoseKeys.bufferBytes(name),
        DELIVERY_GROUP,
        String(sizeOf(chunk)),
        ...chunk.map((r) => r.entryId),
      );
    }
  }

  /** Records waiting (delivered to a worker or not). */
  length(name: string): Promise<number> {
    return this.#redis.xlen(firehoseKeys.buffer(name));
  }
}

function sizeOf(records: ReadonlyArray<{ data: Buffer }>): number {
  let bytes = 0;
  for (const r of records) bytes += r.data.length;
  return bytes;
}

function flatten(records: readonly IncomingRecord[]): Array<string | Buffer> {
  const args: Array<string | Buffer> = [];
  for (const r of records) args.push(r.data, String(r.arrivalMs), r.sealed ? '1' : '0');
  return args;
}

/** A stream entry -> record; an entry deleted while pending (nil fields) yields nothing. */
function toRecord([id, flat]: RawEntry): BufferedRecord[] {
  if (!flat) return [];
  const fields = new Map<string, Buffer>();
  for (let i = 0; i + 1 < flat.length; i += 2)
    fields.set((flat[i] as Buffer).toString(), flat[i + 1] as Buffer);
  const shardId = fields.get('ks')?.toString();
  return [
    {
      entryId: id.toString(),
      data: fields.get('d') ?? Buffer.alloc(0),
      arrivalMs: Number(fields.get('t')?.toString() ?? 0),
      sealed: fields.get('e')?.toString() === '1',
      ...(shardId !== undefined
        ? {
            kinesis: {
              shardId,
              partitionKey: fields.get('kp')?.toString() ?? '',
              sequenceNumber: fields.get('kq')?.toString() ?? '',
            },
          }
        : {}),
    },
  ];
}

import { ServiceError } from '../errors/index.ts';
import {
  compareEntryIds,
  LogClosedError,
  type LogRef,
  parseEntryId,
  type ShardLogs,
} from '../stream-log/index.ts';
import { hashKeyOf } from './hash-key.ts';
import { SHARD_LOG_NAMESPACE } from './keys.ts';
import { kmsError } from './kms-errors.ts';
import type { Clock, RecordSealer } from './ports.ts';
import { toEntryId, toSequenceNumber } from './sequence-number.ts';
import type { IteratorPosition, ShardIteratorCodec } from './shard-iterator.ts';
import type { ShardThrottle } from './shard-throttle.ts';
import { childrenOf, openStoredRecord, recordContext, type StoredRecord } from './stored-record.ts';
import type { ShardRecord, StreamRecord } from './stream-record.ts';
import type { StreamRegistry, StreamView } from './stream-registry.ts';

/** One record to put. */
export interface PutInput {
  data: Buffer;
  partitionKey: string;
  explicitHashKey?: bigint | undefined;
}

/** The outcome of one record of a put: where it went, or why it failed (PutRecords keeps going). */
export type PutResult =
  | { shardId: string; sequenceNumber: string; encrypted: boolean }
  | { errorCode: 'InternalFailure' | 'ProvisionedThroughputExceededException'; errorMessage: string };

/** Which position GetShardIterator starts from. */
export type IteratorStart =
  | { type: 'TRIM_HORIZON' | 'LATEST' }
  | { type: 'AT_SEQUENCE_NUMBER' | 'AFTER_SEQUENCE_NUMBER'; sequenceNumber: string }
  | { type: 'AT_TIMESTAMP'; timestampMs: number };

const ITERATOR_TTL_MS = 300_000;
const MAX_GET_BYTES = 10 * 1024 * 1024;
const HOUR_MS = 3_600_000;

/** Writes and reads records: partition-key routing, sequence numbers, iterators, retention, encryption. */
export class RecordIO {
  readonly #registry: StreamRegistry;
  readonly #logs: ShardLogs;
  readonly #iterators: ShardIteratorCodec;
  readonly #sealer: RecordSealer;
  readonly #clock: Clock;
  readonly #accountId: string;
  readonly #throttle: ShardThrottle | undefined;

  constructor(options: {
    registry: StreamRegistry;
    logs: ShardLogs;
    iterators: ShardIteratorCodec;
    sealer: RecordSealer;
    clock: Clock;
    accountId: string;
    /** Per-shard throughput limits; undefined = unlimited (the default). */
    throttle?: ShardThrottle | undefined;
  }) {
    this.#throttle = options.throttle;
    this.#registry = options.registry;
    this.#logs = options.logs;
    this.#iterators = options.iterators;
    this.#sealer = options.sealer;
    this.#clock = options.clock;
    this.#accountId = options.accountId;
  }

  /** PutRecord / PutRecords: routes each record to its open shard and appends per shard atomically. */
  async put(streamName: string, records: readonly PutInput[]): Promise<PutResult[]> {
    let view = await this.#activeStream(streamName);
    const results: PutResult[] = new Array(records.length);
    let pending = records.map((_, i) => i);
    for (let attempt = 0; pending.length > 0; attempt += 1) {
      const stream = view.stream;
      const groups = new Map<ShardRecord, number[]>();
      for (const i of pending) {
        const record = records[i] as PutInput;
        const shard = routeToShard(view.shards, record.explicitHashKey ?? hashKeyOf(record.partitionKey));
        if (!shard)
          throw new ServiceError('InternalFailure', `No open shard covers the hash key of record ${i}.`);
        const bytes = record.data.length + Buffer.byteLength(record.partitionKey);
        if (this.#throttle && !this.#throttle.admitWrite(`${stream.id}/${shard.shardId}`, bytes)) {
          results[i] = {
            errorCode: 'ProvisionedThroughputExceededException',
            errorMessage: `Rate exceeded for shard ${shard.shardId} in stream ${streamName} under account ${this.#accountId}.`,
          };
          continue;
        }
        const group = groups.get(shard);
        if (group) group.push(i);
        else groups.set(shard, [i]);
      }
      const retry: number[] = [];
      const minId = `${this.#horizonMs(stream)}-0`;
      await Promise.all(
        [...groups].map(async ([shard, indexes]) => {
          const entries = await Promise.all(
            indexes.map(async (i) => {
              const record = records[i] as PutInput;
              const data = stream.kmsKeyId
                ? await this.#sealer
                    .seal(record.data, stream.kmsKeyId, recordContext(stream))
                    .catch((error: unknown) => {
                      throw kmsError(error);
                    })
                : record.data;
              return [
                ['d', data],
                ['k', record.partitionKey],
                ['e', stream.kmsKeyId ? '1' : '0'],
              ] as const;
            }),
          );
          try {
            const ids = await this.#logs.append(logRef(stream, shard.shardId), entries, minId);
            indexes.forEach((i, n) => {
              results[i] = {
                shardId: shard.shardId,
                sequenceNumber: toSequenceNumber(ids[n] as string),
                encrypted: stream.kmsKeyId !== undefined,
              };
            });
          } catch (error) {
            if (!(error instanceof LogClosedError)) throw error;
            retry.push(...indexes);
          }
        }),
      );
      pending = retry;
      if (pending.length > 0) {
        if (attempt >= 5) {
          for (const i of pending) {
            results[i] = {
              errorCode: 'InternalFailure',
              errorMessage: 'Internal service failure: the shard map kept changing.',
            };
          }
          break;
        }
        // A parent shard closed under us (resharding): wait for the new shard map, then re-route.
        await new Promise((resolve) => setTimeout(resolve, 10 * 2 ** attempt));
        view = await this.#activeStream(streamName, true);
      }
    }
    return results;
  }

  /** GetShardIterator. */
  async shardIterator(streamName: string, shardId: string, start: IteratorStart): Promise<string> {
    const view = await this.#existingStream(streamName);
    const shard = view.shards.find((s) => s.shardId === shardId);
    if (!shard) {
      throw new ServiceError(
        'ResourceNotFoundException',
        `Shard ${shardId} in stream ${streamName} under account ${this.#accountId} does not exist`,
      );
    }
    const ref = logRef(view.stream, shardId);
    const horizon = this.#horizonMs(view.stream);
    let entryId: string;
    let exclusive = false;
    switch (start.type) {
      case 'TRIM_HORIZON':
        entryId = `${horizon}-0`;
        break;
      case 'LATEST':
        entryId = (await this.#logs.lastEntryId(ref)) ?? '0-0';
        exclusive = true;
        break;
      case 'AT_TIMESTAMP':
        entryId = `${Math.max(horizon, Math.floor(start.timestampMs))}-0`;
        break;
      default: {
        const id = toEntryId(start.sequenceNumber);
        if (id === undefined || BigInt(start.sequenceNumber) < BigInt(shard.startingSequenceNumber)) {
          throw new ServiceError(
            'InvalidArgumentException',
            `StartingSequenceNumber ${start.sequenceNumber} used in GetShardIterator on shard ${shardId} in stream ${streamName} under account ${this.#accountId} is invalid.`,
          );
        }
        entryId = id;
        exclusive = start.type === 'AFTER_SEQUENCE_NUMBER';
      }
    }
    return this.#iterators.encode({
      streamName,
      streamId: view.stream.id,
      shardId,
      entryId,
      exclusive,
      issuedAt: this.#clock.now(),
    });
  }

  /** GetRecords: up to `limit` records and 10 MiB from the iterator's position. */
  async getRecords(iterator: string, limit: number) {
    const position = this.#iterators.decode(iterator);
    if (!position) throw new ServiceError('InvalidArgumentException', 'Invalid ShardIterator.');
    const now = this.#clock.now();
    if (now - position.issuedAt > ITERATOR_TTL_MS) {
      throw new ServiceError(
        'ExpiredIteratorException',
        `Iterator expired. The iterator was created at time ${new Date(position.issuedAt).toUTCString()} while right now it is ${new Date(now).toUTCString()} which is further in the future than the tolerated delay of ${ITERATOR_TTL_MS} milliseconds.`,
      );
    }
    const view = await this.#registry.get(position.streamName);
    if (!view || view.stream.id !== position.streamId) {
      throw new ServiceError(
        'ResourceNotFoundException',
        `Stream ${position.streamName} under account ${this.#accountId} not found.`,
      );
    }
    const shard = view.shards.find((s) => s.shardId === position.shardId);
    if (!shard) throw new ServiceError('InvalidArgumentException', 'Invalid ShardIterator.');
    const ref = logRef(view.stream, shard.shardId);
    const throttleKey = `${view.stream.id}/${shard.shardId}`;
    if (this.#throttle && !this.#throttle.admitRead(throttleKey)) {
      throw new ServiceError(
        'ProvisionedThroughputExceededException',
        `Rate exceeded for Shard - ${shard.shardId} in stream ${position.streamName} under account ${this.#accountId}.`,
      );
    }
    const horizonMs = this.#horizonMs(view.stream);
    let startId = position.exclusive ? `(${position.entryId}` : position.entryId;
    if (parseEntryId(position.entryId).ms < horizonMs) startId = `${horizonMs}-0`;
    const [entries, lastId] = await Promise.all([
      this.#logs.read(ref, startId, limit),
      this.#logs.lastEntryId(ref),
    ]);

    const records: StoredRecord[] = [];
    let bytes = 0;
    let lastReturned = position.entryId;
    let lastExclusive = position.exclusive;
    for (const entry of entries) {
      const data = entry.fields.get('d') ?? Buffer.alloc(0);
      if (records.length > 0 && bytes + data.length > MAX_GET_BYTES) break;
      bytes += data.length;
      lastReturned = entry.id;
      lastExclusive = true;
      if (parseEntryId(entry.id).ms < horizonMs) continue;
      records.push(await openStoredRecord(view.stream, entry, this.#sealer));
    }
    this.#throttle?.chargeRead(throttleKey, bytes);
    const caughtUp = lastId === undefined || compareEntryIds(lastReturned, lastId) >= 0;
    const endingId = shard.endingSequenceNumber ? toEntryId(shard.endingSequenceNumber) : undefined;
    const shardEnded = endingId !== undefined && (caughtUp || compareEntryIds(lastReturned, endingId) >= 0);
    const millisBehindLatest =
      caughtUp || lastId === undefined
        ? 0
        : Math.max(0, parseEntryId(lastId).ms - parseEntryId(lastReturned).ms);
    const next: IteratorPosition = {
      ...position,
      entryId: lastReturned,
      exclusive: lastExclusive,
      issuedAt: now,
    };
    return {
      records,
      nextShardIterator: shardEnded ? undefined : this.#iterators.encode(next),
      millisBehindLatest,
      childShards: shardEnded ? childrenOf(view.shards, shard.shardId) : undefined,
    };
  }

  async #existingStream(streamName: string, fresh = false): Promise<StreamView> {
    const view = fresh ? await this.#registry.get(streamName) : await this.#registry.getRecent(streamName);
    if (!view) {
      throw new ServiceError(
        'ResourceNotFoundException',
        `Stream ${streamName} under account ${this.#accountId} not found.`,
      );
    }
    return view;
  }

  async #activeStream(streamName: string, fresh = false): Promise<StreamView> {
    const view = await this.#existingStream(streamName, fresh);
    if (view.stream.status === 'CREATING') {
      throw new ServiceError(
        'ResourceNotFoundException',
        `Stream ${streamName} under account ${this.#accountId} not found.`,
      );
    }
    return view;
  }

  #horizonMs(stream: StreamRecord): number {
    return Math.max(0, this.#clock.now() - stream.retentionHours * HOUR_MS);
  }
}

/** The shard log of a stream's shard. */
export function logRef(stream: StreamRecord, shardId: string): LogRef {
  return { namespace: SHARD_LOG_NAMESPACE, partition: `${stream.id}/${shardId}` };
}

/** The open shard whose hash-key range contains `hashKey`. */
function routeToShard(shards: readonly ShardRecord[], hashKey: bigint): ShardRecord | undefined {
  return shards.find(
    (s) =>
      s.endingSequenceNumber === undefined &&
      BigInt(s.startingHashKey) <= hashKey &&
      hashKey <= BigInt(s.endingHashKey),
  );
}

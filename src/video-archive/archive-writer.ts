import { Readable } from 'node:stream';
import { ServiceError } from '../errors/index.ts';
import type { Logger } from '../logging/index.ts';
import type { FragmentEvent, InitEvent } from '../media/fmp4/index.ts';
import type { RedisClient } from '../redis/index.ts';
import type { ObjectStore } from '../storage/index.ts';
import {
  type FragmentMetadata,
  formatFragmentNumber,
  fragmentContext,
  fragmentObjectKey,
  initContext,
  initObjectKey,
  metadataToHash,
  streamIdOf,
} from './archive-layout.ts';
import { fragmentKeys } from './keys.ts';
import type { ArchiveSealer, Clock } from './ports.ts';
import type { VideoStreamRegistry } from './stream-registry.ts';
import type { VideoStreamRecord } from './video-stream-record.ts';

/** Defaults of an ArchiveWriter. */
export const ARCHIVE_WRITER_DEFAULTS = {
  /** Fragments (and init segments) held per stream while the store fails; beyond, the oldest is dropped. */
  maxPendingPerStream: 64,
  retryBaseMs: 100,
  retryMaxMs: 5_000,
} as const;

/** Receives an indexed object's plaintext: `key` is the fragment number or `init/<version>`. */
export type IndexedListener = (stream: VideoStreamRecord, key: string, plaintext: Buffer) => void;

/** The event's bytes as a Buffer, without a copy. */
function plaintextOf(event: InitEvent | FragmentEvent): Buffer {
  return Buffer.from(event.bytes.buffer, event.bytes.byteOffset, event.bytes.byteLength);
}

/** A write was dropped from a full queue (the store failed too long) or the writer stopped. */
export class FragmentDroppedError extends Error {
  override name = 'FragmentDroppedError';
}

/** What `write` resolves to: the indexed fragment, an init segment, or nothing persisted (retention 0). */
export type WriteResult =
  | { kind: 'fragment'; fragment: FragmentMetadata }
  | { kind: 'init'; version: string; objectKey: string }
  | { kind: 'not-persisted' };

/** Counters of an ArchiveWriter. */
export interface ArchiveWriterStats {
  fragmentsWritten: number;
  initsWritten: number;
  /** Writes dropped because a stream's queue was full. */
  dropped: number;
  /** Failed attempts that were retried. */
  retries: number;
}

interface PendingWrite {
  stream: VideoStreamRecord;
  event: InitEvent | FragmentEvent;
  producerTimestampMs: number | undefined;
  serverTimestampMs: number;
  resolve(result: WriteResult): void;
  reject(error: Error): void;
  dropped: boolean;
  /** Taken on the first attempt and kept across retries, so numbers follow write order. */
  fragmentNumber?: string;
}

interface StreamQueue {
  pending: PendingWrite[];
  running: boolean;
  /** Producer time origin when the producer gives none: server time minus decode time of the first fragment. */
  producerOriginMs: number | undefined;
}

/**
 * Archives a stream's fMP4 (Fmp4Fragmenter `init` and `fragment` events): seals each object with the
 * stream's KMS key, stores it, then indexes it in Redis; `write` resolves (the fragment is acknowledged)
 * only after both. One write at a time per stream, in order; a failing store is retried with backoff
 * in order, holding at most `maxPendingPerStream` writes, then dropping the oldest (counted and logged;
 * spooling to disk instead is a later step). Streams with DataRetentionInHours 0 persist nothing.
 */
export class ArchiveWriter {
  readonly #redis: RedisClient;
  readonly #store: ObjectStore;
  readonly #sealer: ArchiveSealer;
  readonly #registry: VideoStreamRegistry;
  readonly #clock: Clock;
  readonly #logger: Logger | undefined;
  readonly #onDropped: ((streamName: string) => void) | undefined;
  readonly #onIndexed: IndexedListener | undefined;
  readonly #maxPending: number;
  readonly #retryBaseMs: number;
  readonly #retryMaxMs: number;
  readonly #queues = new Map<string, StreamQueue>();
  readonly #stats: ArchiveWriterStats = { fragmentsWritten: 0, initsWritten: 0, dropped: 0, retries: 0 };
  #stopped = false;

  constructor(options: {
    redis: RedisClient;
    store: ObjectStore;
    sealer: ArchiveSealer;
    registry: VideoStreamRegistry;
    clock: Clock;
    logger?: Logger | undefined;
    /** Called once per dropped write (for a metric). */
    onDropped?: ((streamName: string) => void) | undefined;
    /** Called with the plaintext of each init segment and fragment once indexed (HLS's media cache). */
    onIndexed?: IndexedListener | undefined;
    maxPendingPerStream?: number | undefined;
    retryBaseMs?: number | undefined;
    retryMaxMs?: number | undefined;
  }) {
    this.#redis = options.redis;
    this.#store = options.store;
    this.#sealer = options.sealer;
    this.#registry = options.registry;
    this.#clock = options.clock;
    this.#logger = options.logger;
    this.#onDropped = options.onDropped;
    this.#onIndexed = options.onIndexed;
    this.#maxPending = options.maxPendingPerStream ?? ARCHIVE_WRITER_DEFAULTS.maxPendingPerStream;
    this.#retryBaseMs = options.retryBaseMs ?? ARCHIVE_WRITER_DEFAULTS.retryBaseMs;
    this.#retryMaxMs = options.retryMaxMs ?? ARCHIVE_WRITER_DEFAULTS.retryMaxMs;
  }

  /**
   * Archives one fragmenter event of `streamName`. The server timestamp is taken now; the producer
   * timestamp (epoch ms) defaults to the fragment's decode time after the stream's first fragment.
   */
  async write(
    streamName: string,
    event: InitEvent | FragmentEvent,
    options: { producerTimestampMs?: number | undefined } = {},
  ): Promise<WriteResult> {
    if (this.#stopped) throw new FragmentDroppedError('the archive writer is stopped');
    const stream = await this.#registry.describe({ name: streamName });
    if (stream.status !== 'ACTIVE') {
      throw new ServiceError('ResourceInUseException', `The stream ${stream.name} is being deleted.`);
    }
    if (stream.retentionHours === 0) return { kind: 'not-persisted' };
    const id = streamIdOf(stream);
    let queue = this.#queues.get(id);
    if (!queue) {
      queue = { pending: [], running: false, producerOriginMs: undefined };
      this.#queues.set(id, queue);
    }
    const serverTimestampMs = this.#clock.now();
    let producerTimestampMs = options.producerTimestampMs;
    if (event.type === 'fragment' && producerTimestampMs === undefined) {
      queue.producerOriginMs ??= serverTimestampMs - event.startDecodeTimeMs;
      producerTimestampMs = queue.producerOriginMs + event.startDecodeTimeMs;
    }
    const result = new Promise<WriteResult>((resolve, reject) => {
      queue.pending.push({
        stream,
        event,
        producerTimestampMs,
        serverTimestampMs,
        resolve,
        reject,
        dropped: false,
      });
    });
    while (queue.pending.length > this.#maxPending) {
      const oldest = queue.pending.shift();
      if (oldest) this.#drop(oldest, 'queue full');
    }
    if (!queue.running) void this.#run(queue);
    return result;
  }

  /** Counters since construction. */
  stats(): ArchiveWriterStats {
    return { ...this.#stats };
  }

  /** Drops the in-memory queue of a deleted stream (its pending writes fail). */
  forget(stream: VideoStreamRecord): void {
    const queue = this.#queues.get(streamIdOf(stream));
    if (!queue) return;
    for (const write of queue.pending.splice(0)) this.#drop(write, 'stream deleted', false);
    this.#queues.delete(streamIdOf(stream));
  }

  /** Fails every pending write; idempotent. */
  stop(): void {
    this.#stopped = true;
    for (const queue of this.#queues.values()) {
      for (const write of queue.pending.splice(0)) this.#drop(write, 'writer stopped', false);
    }
  }

  #drop(write: PendingWrite, reason: string, count = true): void {
    write.dropped = true;
    if (count) {
      this.#stats.dropped += 1;
      this.#onDropped?.(write.stream.name);
      this.#logger?.warn(
        { stream: write.stream.name, event: write.event.type, reason },
        'archive write dropped',
      );
    }
    write.reject(new FragmentDroppedError(`archive write dropped: ${reason}`));
  }

  async #run(queue: StreamQueue): Promise<void> {
    queue.running = true;
    try {
      for (let write = queue.pending[0]; write !== undefined; write = queue.pending[0]) {
        const result = await this.#persistWithRetry(write);
        if (queue.pending[0] === write) queue.pending.shift();
        if (result !== undefined) write.resolve(result);
      }
    } finally {
      queue.running = false;
    }
  }

  /** Persists one write, retrying with exponential backoff; undefined when it was dropped meanwhile. */
  async #persistWithRetry(write: PendingWrite): Promise<WriteResult | undefined> {
    const sealed: { parts?: [Buffer, Buffer] } = {};
    for (let attempt = 0; ; attempt += 1) {
      if (write.dropped) return undefined;
      try {
        return await this.#persist(write, sealed);
      } catch (error) {
        if (write.dropped || this.#stopped) return undefined;
        this.#stats.retries += 1;
        const delayMs = Math.min(this.#retryMaxMs, this.#retryBaseMs * 2 ** Math.min(attempt, 16));
        this.#logger?.warn(
          { err: error, stream: write.stream.name, attempt, delayMs },
          'archive write failed; retrying',
        );
        await new Promise((resolve) => setTimeout(resolve, delayMs));
      }
    }
  }

  async #persist(write: PendingWrite, sealed: { parts?: [Buffer, Buffer] }): Promise<WriteResult> {
    const { stream, event } = write;
    const id = streamIdOf(stream);
    if (event.type === 'init') {
      const objectKey = initObjectKey(id, event.version);
      sealed.parts ??= await this.#sealer.sealParts(
        Buffer.from(event.bytes),
        stream.kmsKeyId,
        initContext(stream.arn, event.version),
      );
      await this.#putParts(objectKey, sealed.parts);
      const counter = (await this.#redis.get(fragmentKeys.counter(stream.name, id))) ?? '0';
      await this.#redis
        .multi()
        .hset(fragmentKeys.inits(stream.name, id), event.version, objectKey)
        .zadd(fragmentKeys.initOrder(stream.name, id), 'NX', counter, event.version)
        .exec();
      this.#onIndexed?.(stream, `init/${event.version}`, plaintextOf(event));
      this.#stats.initsWritten += 1;
      return { kind: 'init', version: event.version, objectKey };
    }
    write.fragmentNumber ??= await this.#nextNumber(stream, id);
    const number = write.fragmentNumber;
    const objectKey = fragmentObjectKey(id, write.serverTimestampMs, number);
    sealed.parts ??= await this.#sealer.sealParts(
      Buffer.from(event.bytes),
      stream.kmsKeyId,
      fragmentContext(stream.arn, number),
    );
    await this.#putParts(objectKey, sealed.parts);
    const fragment: FragmentMetadata = {
      fragmentNumber: number,
      sizeBytes: event.byteLength,
      producerTimestampMs: write.producerTimestampMs ?? write.serverTimestampMs,
      serverTimestampMs: write.serverTimestampMs,
      durationMs: event.durationMs,
      initVersion: event.initVersion,
      objectKey,
    };
    const replies = await this.#redis
      .multi()
      .hset(fragmentKeys.fragment(stream.name, id, number), metadataToHash(fragment))
      .zadd(fragmentKeys.byServerTime(stream.name, id), fragment.serverTimestampMs, number)
      .zadd(fragmentKeys.byProducerTime(stream.name, id), fragment.producerTimestampMs, number)
      .publish(fragmentKeys.indexedChannel(stream.name), number)
      .exec();
    const failed = replies?.find(([error]) => error !== null)?.[0];
    if (failed) throw new Error('indexing the fragment failed', { cause: failed });
    this.#stats.fragmentsWritten += 1;
    this.#onIndexed?.(stream, number, plaintextOf(event));
    return { kind: 'fragment', fragment };
  }

  async #nextNumber(stream: VideoStreamRecord, id: string): Promise<string> {
    return formatFragmentNumber(await this.#redis.incr(fragmentKeys.counter(stream.name, id)));
  }

  async #putParts(objectKey: string, parts: [Buffer, Buffer]): Promise<void> {
    const [header, ciphertext] = parts;
    await this.#store.put(objectKey, Readable.from([header, ciphertext]), {
      contentType: 'application/octet-stream',
      size: header.length + ciphertext.length,
    });
  }
}

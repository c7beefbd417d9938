import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { isServiceError, ServiceError } from '../errors/index.ts';
import type { Logger } from '../logging/index.ts';
import type { FragmentEvent, InitEvent } from '../media/fmp4/index.ts';
import type { RedisClient } from '../redis/index.ts';
import type { ObjectStore } from '../storage/index.ts';
import { ArchiveBacklog } from './archive-backlog.ts';
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
import { type ArchiveSpool, type SpoolEntry, SpoolFileError, type SpoolRecord } from './archive-spool.ts';
import { fragmentKeys } from './keys.ts';
import type { ArchiveSealer, Clock } from './ports.ts';
import type { VideoStreamRegistry } from './stream-registry.ts';
import type { VideoStreamRecord } from './video-stream-record.ts';

/** Defaults of an ArchiveWriter. */
export const ARCHIVE_WRITER_DEFAULTS = {
  /** Writes (fragments, init segments) held in memory per stream while the store fails. */
  maxPendingPerStream: 64,
  /** Sealed bytes held in memory per stream while the store fails. */
  maxMemoryBytesPerStream: 16 * 1024 * 1024,
  /** Spool file bytes per stream; past memory plus spool, the oldest writes are dropped. */
  maxSpoolBytesPerStream: 1024 * 1024 * 1024,
  retryBaseMs: 100,
  retryMaxMs: 5_000,
  stopGraceMs: 5_000,
} as const;

/**
 * Receives the plaintext of each accepted init segment and fragment (for HLS's media cache): `key` is
 * the fragment number or `init/<version>`. Called before the write is stored and indexed; readers
 * find the fragment only once it is indexed.
 */
export type AcceptedListener = (stream: VideoStreamRecord, key: string, plaintext: Buffer) => void;

/** The event's bytes as a Buffer, without a copy. */
function plaintextOf(event: InitEvent | FragmentEvent): Buffer {
  return Buffer.from(event.bytes.buffer, event.bytes.byteOffset, event.bytes.byteLength);
}

/** A write was dropped from a full backlog (the store failed too long) or the writer stopped. */
export class FragmentDroppedError extends Error {
  override name = 'FragmentDroppedError';
}

/** What `write` resolves to: the indexed fragment, an init segment, or nothing persisted (retention 0). */
export type WriteResult =
  | { kind: 'fragment'; fragment: FragmentMetadata }
  | { kind: 'init'; version: string; objectKey: string }
  | { kind: 'not-persisted' };

/** A write taken into the backlog (numbered, sealed, in memory or durable in the spool). */
export interface AcceptedWrite {
  /** Settles once stored and indexed (the acknowledgment), or rejects with FragmentDroppedError. */
  persisted: Promise<WriteResult>;
}

/** Counters of an ArchiveWriter. */
export interface ArchiveWriterStats {
  fragmentsWritten: number;
  initsWritten: number;
  /** Writes dropped because a stream's backlog was full (or its spool file unreadable). */
  dropped: number;
  /** Failed attempts that were retried. */
  retries: number;
  /** Writes that went to the disk spool. */
  spooled: number;
  /** Spooled writes found on start (left by a previous process) and queued again. */
  recovered: number;
  /** Writes waiting now, in memory and in the spool. */
  pendingWrites: number;
  /** Sealed bytes waiting in memory now. */
  memoryBytes: number;
  /** Spool file bytes now. */
  spoolBytes: number;
}

interface PendingWrite {
  stream: VideoStreamRecord;
  record: SpoolRecord;
  readonly kind: 'init' | 'fragment';
  readonly location: 'memory' | 'spool';
  /** Sealed bytes (memory) or file bytes (spool). */
  readonly sizeBytes: number;
  /** The sealed envelope [header, ciphertext] while the write is held in memory. */
  parts: [Buffer, Buffer] | undefined;
  /** The spool file of a write held on disk. */
  readonly spooled: SpoolEntry | undefined;
  /** Spool sequence number reserved on acceptance (write order), used if the write is spooled on stop. */
  readonly spoolSequence: number | undefined;
  resolve(result: WriteResult): void;
  reject(error: Error): void;
  /** Out of the backlog without being stored (dropped, stream deleted, writer stopped). */
  dropped: boolean;
}

interface StreamQueue {
  backlog: ArchiveBacklog<PendingWrite>;
  running: boolean;
  drainer: Promise<void> | undefined;
  /** Producer time origin when the producer gives none: server time minus decode time of the first fragment. */
  producerOriginMs: number | undefined;
}

const ignore = () => undefined;

/**
 * Archives a stream's fMP4 (Fmp4Fragmenter `init` and `fragment` events): numbers and seals each
 * object with the stream's KMS key when it is accepted, stores it, then indexes it in Redis; a write
 * is acknowledged (`write` resolves, `persisted` settles) only after both. One store write at a time
 * per stream, in order, retried with backoff while the store fails. The backlog is bounded: past
 * `maxPendingPerStream` writes or `maxMemoryBytesPerStream` in memory, writes go to the disk spool
 * (sealed bytes only); past memory plus `maxSpoolBytesPerStream`, the oldest writes are dropped
 * (counted and logged). Spooled writes survive a restart: `start()` queues them again. Without a
 * spool the memory bounds drop the oldest. Streams with DataRetentionInHours 0 persist nothing.
 */
export class ArchiveWriter {
  readonly #redis: RedisClient;
  readonly #store: ObjectStore;
  readonly #sealer: ArchiveSealer;
  readonly #registry: VideoStreamRegistry;
  readonly #clock: Clock;
  readonly #logger: Logger | undefined;
  readonly #onDropped: ((streamName: string) => void) | undefined;
  readonly #onAccepted: AcceptedListener | undefined;
  readonly #spool: ArchiveSpool | undefined;
  readonly #maxPending: number;
  readonly #maxMemoryBytes: number;
  readonly #maxSpoolBytes: number;
  readonly #retryBaseMs: number;
  readonly #retryMaxMs: number;
  readonly #stopGraceMs: number;
  readonly #queues = new Map<string, StreamQueue>();
  /** Per stream name: settles when the previous accept finished, so accepts run in call order. */
  readonly #turns = new Map<string, Promise<void>>();
  readonly #abort = new AbortController();
  readonly #stats = {
    fragmentsWritten: 0,
    initsWritten: 0,
    dropped: 0,
    retries: 0,
    spooled: 0,
    recovered: 0,
  };
  #state: 'new' | 'started' | 'closing' | 'stopped' = 'new';
  #stopping: Promise<void> | undefined;

  constructor(options: {
    redis: RedisClient;
    store: ObjectStore;
    sealer: ArchiveSealer;
    registry: VideoStreamRegistry;
    clock: Clock;
    logger?: Logger | undefined;
    /** Called once per dropped write (for a metric). */
    onDropped?: ((streamName: string) => void) | undefined;
    /** Called with the plaintext of each accepted init segment and fragment (HLS's media cache). */
    onAccepted?: AcceptedListener | undefined;
    /** Disk spool for the backlog beyond the memory bounds; none = drop beyond them. */
    spool?: ArchiveSpool | undefined;
    maxPendingPerStream?: number | undefined;
    maxMemoryBytesPerStream?: number | undefined;
    maxSpoolBytesPerStream?: number | undefined;
    retryBaseMs?: number | undefined;
    retryMaxMs?: number | undefined;
    /** How long stop() lets the backlog drain before spooling what is left; default 5000 ms. */
    stopGraceMs?: number | undefined;
  }) {
    this.#redis = options.redis;
    this.#store = options.store;
    this.#sealer = options.sealer;
    this.#registry = options.registry;
    this.#clock = options.clock;
    this.#logger = options.logger;
    this.#onDropped = options.onDropped;
    this.#onAccepted = options.onAccepted;
    this.#spool = options.spool;
    this.#maxPending = options.maxPendingPerStream ?? ARCHIVE_WRITER_DEFAULTS.maxPendingPerStream;
    this.#maxMemoryBytes = options.maxMemoryBytesPerStream ?? ARCHIVE_WRITER_DEFAULTS.maxMemoryBytesPerStream;
    this.#maxSpoolBytes = options.maxSpoolBytesPerStream ?? ARCHIVE_WRITER_DEFAULTS.maxSpoolBytesPerStream;
    this.#retryBaseMs = options.retryBaseMs ?? ARCHIVE_WRITER_DEFAULTS.retryBaseMs;
    this.#retryMaxMs = options.retryMaxMs ?? ARCHIVE_WRITER_DEFAULTS.retryMaxMs;
    this.#stopGraceMs = options.stopGraceMs ?? ARCHIVE_WRITER_DEFAULTS.stopGraceMs;
  }

  /**
   * Opens the spool and queues the writes a previous process left in it (those of streams that no
   * longer exist are removed). Resolves before they are drained. Needed only with a spool; once.
   */
  async start(): Promise<void> {
    if (this.#state !== 'new') throw new Error('ArchiveWriter can be started once');
    this.#state = 'started';
    if (this.#spool === undefined) return;
    const recovery = await this.#spool.start();
    for (const { file, reason } of recovery.discarded) {
      this.#logger?.warn({ file, reason }, 'spool file discarded');
    }
    const byStream = new Map<string, SpoolEntry[]>();
    for (const entry of recovery.entries) {
      const list = byStream.get(entry.record.streamId) ?? [];
      list.push(entry);
      byStream.set(entry.record.streamId, list);
    }
    for (const [id, entries] of byStream) {
      const name = entries[0]?.record.streamName ?? '';
      const stream = await this.#registry.describe({ name }).catch((error: unknown) => {
        if (isServiceError(error) && error.code === 'ResourceNotFoundException') return undefined;
        throw error;
      });
      if (stream === undefined || streamIdOf(stream) !== id || stream.status !== 'ACTIVE') {
        this.#logger?.warn({ streamId: id, files: entries.length }, 'spool of a deleted stream removed');
        await this.#spool.removeStream(id);
        continue;
      }
      const queue = this.#queueOf(id);
      for (const entry of entries) {
        this.#push(queue, {
          stream,
          record: entry.record,
          kind: entry.record.kind,
          location: 'spool',
          sizeBytes: entry.sizeBytes,
          parts: undefined,
          spooled: entry,
          spoolSequence: undefined,
          resolve: ignore,
          reject: ignore,
          dropped: false,
        });
      }
      this.#stats.recovered += entries.length;
      this.#logger?.info(
        { stream: name, writes: entries.length },
        'draining writes recovered from the spool',
      );
    }
  }

  /**
   * Archives one fragmenter event of `streamName`; resolves once stored and indexed. The server
   * timestamp is taken on acceptance; the producer timestamp (epoch ms) defaults to the fragment's
   * decode time after the stream's first fragment.
   */
  async write(
    streamName: string,
    event: InitEvent | FragmentEvent,
    options: { producerTimestampMs?: number | undefined } = {},
  ): Promise<WriteResult> {
    return (await this.enqueue(streamName, event, options)).persisted;
  }

  /**
   * Takes one event into the stream's backlog: resolves once it is numbered, sealed and held (in
   * memory, or durable in the spool), which is the backpressure an ingest should wait for; the
   * returned `persisted` is the acknowledgment. Calls for one stream are accepted in call order.
   */
  enqueue(
    streamName: string,
    event: InitEvent | FragmentEvent,
    options: { producerTimestampMs?: number | undefined } = {},
  ): Promise<AcceptedWrite> {
    if (this.#state === 'closing' || this.#state === 'stopped') {
      return Promise.reject(new FragmentDroppedError('the archive writer is stopped'));
    }
    const previous = this.#turns.get(streamName) ?? Promise.resolve();
    const accepted = previous.then(() => this.#accept(streamName, event, options.producerTimestampMs));
    const turn = accepted.then(ignore, ignore);
    this.#turns.set(streamName, turn);
    void turn.then(() => {
      if (this.#turns.get(streamName) === turn) this.#turns.delete(streamName);
    });
    return accepted;
  }

  /** Counters since construction, and the backlog now. */
  stats(): ArchiveWriterStats {
    let pendingWrites = 0;
    let memoryBytes = 0;
    let spoolBytes = 0;
    for (const { backlog } of this.#queues.values()) {
      pendingWrites += backlog.length;
      memoryBytes += backlog.memoryBytes;
      spoolBytes += backlog.spoolBytes;
    }
    return { ...this.#stats, pendingWrites, memoryBytes, spoolBytes };
  }

  /** Drops the backlog of a deleted stream (its pending writes fail, its spool files go). */
  forget(stream: VideoStreamRecord): void {
    const id = streamIdOf(stream);
    const queue = this.#queues.get(id);
    if (queue) {
      for (const write of queue.backlog.removeAll()) this.#drop(write, 'stream deleted', false);
      this.#queues.delete(id);
    }
    this.#spool?.removeStream(id).catch((error: unknown) => {
      this.#logger?.error(
        { err: error, stream: stream.name },
        'removing the spool of a deleted stream failed',
      );
    });
  }

  /**
   * Stops accepting, lets the backlog drain for up to `stopGraceMs`, then moves what is still in
   * memory to the spool (when there is one) and stops: writes not yet stored fail (not acknowledged),
   * spool files stay for the next start. Resolves when every drain loop has returned; idempotent.
   */
  stop(): Promise<void> {
    this.#stopping ??= (async () => {
      this.#state = 'closing';
      const draining = [...this.#queues.values()].flatMap((queue) => (queue.drainer ? [queue.drainer] : []));
      const grace = new AbortController();
      await Promise.race([
        Promise.all(draining),
        sleep(this.#stopGraceMs, undefined, { signal: grace.signal }).catch(ignore),
      ]);
      grace.abort();
      this.#state = 'stopped';
      this.#abort.abort();
      const drainers: Promise<void>[] = [];
      for (const queue of this.#queues.values()) {
        if (queue.drainer) drainers.push(queue.drainer);
        const left = queue.backlog.removeAll();
        await this.#spoolOnStop(left);
        for (const write of left) {
          write.dropped = true;
          write.parts = undefined;
          write.reject(new FragmentDroppedError('archive write dropped: writer stopped'));
        }
      }
      await Promise.all(drainers);
    })();
    return this.#stopping;
  }

  /** Writes the in-memory part of a stopping backlog to the spool, so the next start drains it. */
  async #spoolOnStop(writes: PendingWrite[]): Promise<void> {
    const spool = this.#spool;
    if (spool === undefined) return;
    let spooled = 0;
    for (const write of writes) {
      if (write.parts === undefined) continue;
      try {
        // Under the number reserved when it was accepted: older than the writes spooled since.
        await spool.append(write.record, write.parts, write.spoolSequence);
        spooled += 1;
      } catch (error) {
        this.#logger?.error({ err: error, stream: write.stream.name }, 'spooling on stop failed; write lost');
      }
    }
    if (spooled > 0) {
      this.#logger?.info({ stream: writes[0]?.stream.name, writes: spooled }, 'backlog spooled on stop');
    }
  }

  /** A method, not a field read, so TypeScript does not narrow it across awaits. */
  #isStopped(): boolean {
    return this.#state === 'stopped';
  }

  #queueOf(id: string): StreamQueue {
    let queue = this.#queues.get(id);
    if (!queue) {
      queue = {
        backlog: new ArchiveBacklog({
          maxMemoryWrites: this.#maxPending,
          maxMemoryBytes: this.#maxMemoryBytes,
          maxSpoolBytes: this.#spool === undefined ? undefined : this.#maxSpoolBytes,
        }),
        running: false,
        drainer: undefined,
        producerOriginMs: undefined,
      };
      this.#queues.set(id, queue);
    }
    return queue;
  }

  async #accept(
    streamName: string,
    event: InitEvent | FragmentEvent,
    producerTimestampMs: number | undefined,
  ): Promise<AcceptedWrite> {
    if (this.#spool !== undefined && this.#state === 'new') throw new Error('ArchiveWriter.start() first');
    const stream = await this.#registry.describe({ name: streamName });
    if (stream.status !== 'ACTIVE') {
      throw new ServiceError('ResourceInUseException', `The stream ${stream.name} is being deleted.`);
    }
    if (stream.retentionHours === 0) return { persisted: Promise.resolve({ kind: 'not-persisted' }) };
    const id = streamIdOf(stream);
    const queue = this.#queueOf(id);
    // Accepts of a stream run one at a time in call order, so spool numbers follow write order.
    const spoolSequence = this.#spool?.reserve();
    const serverTimestampMs = this.#clock.now();
    const { record, parts } = await this.#seal(
      stream,
      id,
      queue,
      event,
      serverTimestampMs,
      producerTimestampMs,
    );
    let settle: Pick<PendingWrite, 'resolve' | 'reject'> = { resolve: ignore, reject: ignore };
    const persisted = new Promise<WriteResult>((resolve, reject) => {
      settle = { resolve, reject };
    });
    persisted.catch(ignore); // a caller that only awaits acceptance must not see an unhandled rejection
    const sealedBytes = parts[0].length + parts[1].length;
    let spooled: SpoolEntry | undefined;
    if (this.#spool !== undefined && queue.backlog.placeFor(sealedBytes) === 'spool') {
      try {
        spooled = await this.#spool.append(record, parts, spoolSequence);
        this.#stats.spooled += 1;
      } catch (error) {
        this.#logger?.error(
          { err: error, stream: streamName },
          'spooling failed; holding the write in memory',
        );
      }
    }
    const write: PendingWrite = {
      stream,
      record,
      kind: record.kind,
      location: spooled === undefined ? 'memory' : 'spool',
      sizeBytes: spooled?.sizeBytes ?? sealedBytes,
      parts: spooled === undefined ? parts : undefined,
      spooled,
      spoolSequence,
      ...settle,
      dropped: false,
    };
    if (this.#isStopped() || this.#queues.get(id) !== queue) {
      // Stopped or stream deleted while spooling: a spool file stays for the next start (or goes with the stream).
      write.reject(new FragmentDroppedError('archive write dropped: writer stopped'));
      return { persisted };
    }
    this.#push(queue, write);
    return { persisted };
  }

  /** Numbers (fragments) and seals one event; what indexing will need goes into the record. */
  async #seal(
    stream: VideoStreamRecord,
    id: string,
    queue: StreamQueue,
    event: InitEvent | FragmentEvent,
    serverTimestampMs: number,
    producerTimestampMs: number | undefined,
  ): Promise<{ record: SpoolRecord; parts: [Buffer, Buffer] }> {
    if (event.type === 'init') {
      const context = initContext(stream.arn, event.version);
      const counter = await this.#redis.get(fragmentKeys.counter(stream.name, id));
      this.#onAccepted?.(stream, `init/${event.version}`, plaintextOf(event));
      return {
        record: {
          kind: 'init',
          streamName: stream.name,
          streamId: id,
          version: event.version,
          objectKey: initObjectKey(id, event.version),
          orderScore: Number(counter ?? 0),
        },
        parts: await this.#sealer.sealParts(plaintextOf(event), stream.kmsKeyId, context),
      };
    }
    if (producerTimestampMs === undefined) {
      queue.producerOriginMs ??= serverTimestampMs - event.startDecodeTimeMs;
      producerTimestampMs = queue.producerOriginMs + event.startDecodeTimeMs;
    }
    const number = formatFragmentNumber(await this.#redis.incr(fragmentKeys.counter(stream.name, id)));
    this.#onAccepted?.(stream, number, plaintextOf(event));
    const parts = await this.#sealer.sealParts(
      plaintextOf(event),
      stream.kmsKeyId,
      fragmentContext(stream.arn, number),
    );
    const fragment: FragmentMetadata = {
      fragmentNumber: number,
      sizeBytes: event.byteLength,
      producerTimestampMs,
      serverTimestampMs,
      durationMs: event.durationMs,
      initVersion: event.initVersion,
      objectKey: fragmentObjectKey(id, serverTimestampMs, number),
    };
    return { record: { kind: 'fragment', streamName: stream.name, streamId: id, fragment }, parts };
  }

  /** Appends to the backlog, drops what no longer fits, and makes sure the stream drains. */
  #push(queue: StreamQueue, write: PendingWrite): void {
    for (const dropped of queue.backlog.push(write)) this.#drop(dropped, 'backlog full');
    if (queue.running) return;
    queue.running = true;
    queue.drainer = this.#drain(queue);
  }

  /** Fails a write already taken out of the backlog; deletes its spool file; counts it when `count`. */
  #drop(write: PendingWrite, reason: string, count = true): void {
    write.dropped = true;
    write.parts = undefined;
    const entry = write.spooled;
    if (entry !== undefined && this.#spool !== undefined) {
      this.#spool.remove(entry).catch((error: unknown) => {
        this.#logger?.error({ err: error, file: entry.file }, 'removing a spool file failed');
      });
    }
    if (count) {
      this.#stats.dropped += 1;
      this.#onDropped?.(write.stream.name);
      this.#logger?.warn(
        {
          stream: write.stream.name,
          event: write.record.kind,
          fragmentNumber: write.record.kind === 'fragment' ? write.record.fragment.fragmentNumber : undefined,
          reason,
        },
        'archive write dropped',
      );
    }
    write.reject(new FragmentDroppedError(`archive write dropped: ${reason}`));
  }

  /**
   * Stores the backlog's head until it is empty (or the writer stops). Nobody awaits the drain, so it
   * never rejects: an unexpected failure is logged and the drain resumes after a backoff, the writes
   * still queued.
   */
  async #drain(queue: StreamQueue): Promise<void> {
    try {
      for (let attempt = 0; ; attempt += 1) {
        try {
          await this.#drainBacklog(queue);
          return;
        } catch (error) {
          if (this.#isStopped()) return;
          const delayMs = this.#backoffMs(attempt);
          this.#logger?.error(
            { err: error, backlog: queue.backlog.length, delayMs },
            'archive drain failed; retrying',
          );
          try {
            await sleep(delayMs, undefined, { signal: this.#abort.signal });
          } catch {
            return; // stopped
          }
        }
      }
    } finally {
      queue.running = false;
    }
  }

  async #drainBacklog(queue: StreamQueue): Promise<void> {
    for (let write = queue.backlog.head(); write !== undefined; write = queue.backlog.head()) {
      const result = await this.#persistWithRetry(queue, write);
      if (this.#isStopped()) return;
      if (result === undefined) {
        queue.backlog.remove(write); // dropped meanwhile (already out of the backlog)
        continue;
      }
      const entry = write.spooled;
      if (entry !== undefined && this.#spool !== undefined) {
        // Stored and indexed: the file goes before the write leaves the backlog (a crash in between
        // stores it once more, under the same key and number).
        await this.#spool.remove(entry).catch((error: unknown) => {
          this.#logger?.error({ err: error, file: entry.file }, 'removing a spool file failed');
        });
      }
      queue.backlog.remove(write);
      write.parts = undefined;
      write.resolve(result);
    }
  }

  /** Retry delay in ms after failed attempt number `attempt` (0-based): doubling, capped. */
  #backoffMs(attempt: number): number {
    return Math.min(this.#retryMaxMs, this.#retryBaseMs * 2 ** Math.min(attempt, 16));
  }

  /**
   * Persists one write, retrying with exponential backoff; undefined when it was dropped meanwhile.
   * A spool file that is gone or corrupt drops the write; any other read error (EMFILE, EIO, EACCES)
   * may pass, so the write stays queued and the read is retried like a failed store.
   */
  async #persistWithRetry(queue: StreamQueue, write: PendingWrite): Promise<WriteResult | undefined> {
    for (let attempt = 0; ; attempt += 1) {
      if (write.dropped || this.#isStopped()) return undefined;
      let parts = write.parts;
      let failed = false;
      let failure: unknown;
      if (parts === undefined && write.spooled !== undefined && this.#spool !== undefined) {
        try {
          parts = await this.#spool.read(write.spooled);
        } catch (error) {
          if (error instanceof SpoolFileError || (error as NodeJS.ErrnoException).code === 'ENOENT') {
            if (queue.backlog.remove(write)) {
              this.#drop(write, `spool file unreadable: ${(error as Error).message}`);
            }
            return undefined;
          }
          failed = true;
          failure = error;
        }
      }
      if (!failed) {
        if (parts === undefined) throw new Error('archive write holds neither parts nor a spool file');
        queue.backlog.attempting = write; // the write being stored right now is never dropped
        try {
          return await this.#persist(write, parts);
        } catch (error) {
          failure = error;
        } finally {
          queue.backlog.attempting = undefined;
        }
      }
      if (write.dropped || this.#isStopped()) return undefined;
      this.#stats.retries += 1;
      const delayMs = this.#backoffMs(attempt);
      this.#logger?.warn(
        { err: failure, stream: write.stream.name, attempt, delayMs, backlog: queue.backlog.length },
        'archive write failed; retrying',
      );
      try {
        await sleep(delayMs, undefined, { signal: this.#abort.signal });
      } catch {
        return undefined; // stopped
      }
    }
  }

  async #persist(write: PendingWrite, parts: [Buffer, Buffer]): Promise<WriteResult> {
    const { stream, record } = write;
    if (record.kind === 'init') {
      await this.#putParts(record.objectKey, parts);
      const orderScore =
        record.orderScore ??
        Number((await this.#redis.get(fragmentKeys.counter(stream.name, record.streamId))) ?? 0);
      await this.#redis
        .multi()
        .hset(fragmentKeys.inits(stream.name, record.streamId), record.version, record.objectKey)
        .zadd(fragmentKeys.initOrder(stream.name, record.streamId), 'NX', orderScore, record.version)
        .exec();
      this.#stats.initsWritten += 1;
      return { kind: 'init', version: record.version, objectKey: record.objectKey };
    }
    const { fragment, streamId: id } = record;
    await this.#putParts(fragment.objectKey, parts);
    const replies = await this.#redis
      .multi()
      .hset(fragmentKeys.fragment(stream.name, id, fragment.fragmentNumber), metadataToHash(fragment))
      .zadd(fragmentKeys.byServerTime(stream.name, id), fragment.serverTimestampMs, fragment.fragmentNumber)
      .zadd(
        fragmentKeys.byProducerTime(stream.name, id),
        fragment.producerTimestampMs,
        fragment.fragmentNumber,
      )
      .publish(fragmentKeys.indexedChannel(stream.name), fragment.fragmentNumber)
      .exec();
    const failed = replies?.find(([error]) => error !== null)?.[0];
    if (failed) throw new Error('indexing the fragment failed', { cause: failed });
    this.#stats.fragmentsWritten += 1;
    return { kind: 'fragment', fragment };
  }

  async #putParts(objectKey: string, parts: [Buffer, Buffer]): Promise<void> {
    const [header, ciphertext] = parts;
    await this.#store.put(objectKey, Readable.from([header, ciphertext]), {
      contentType: 'application/octet-stream',
      size: header.length + ciphertext.length,
    });
  }
}

import { type FfmpegExit, type RemuxProcess, spawnRemuxToFmp4 } from '../media/ffmpeg/index.ts';
import { FlvHeaderFlags } from '../media/flv/flv-header-flags.ts';
import { FlvToFmp4 } from '../media/flv/flv-to-fmp4.ts';
import { Fmp4Fragmenter, type FragmenterEvent, type FragmenterOptions } from '../media/fmp4/index.ts';

/** How a source's remuxer ended (ffmpeg's exit; the in-process remuxer always "exits 0"). */
export type SourceExit = Pick<FfmpegExit, 'code' | 'signal' | 'stopped' | 'stderrTail' | 'spawnError'>;

/**
 * Where an ingest session's init segments and fragments come from. events() is read by one consumer,
 * which pulls the next batch only after delivering the previous one (that is the backpressure).
 */
export interface FragmentSource {
  /** The ffmpeg child doing the work, if any. */
  readonly pid: number | undefined;
  /** Feeds input bytes (sources that take input); false when the backlog exceeds its bound. */
  write(chunk: Buffer): boolean;
  /** No more input: the last fragment follows. Idempotent. */
  endInput(): void;
  /** Stops now; undelivered events are dropped. Idempotent. */
  abort(): void;
  /** Batches of events in stream order; ends with the source, throws when it fails. */
  events(): AsyncIterable<FragmenterEvent[]>;
  /** Settles (never rejects) once the source has stopped, after events() ended. */
  exit(): Promise<SourceExit>;
}

/** `ffmpeg -c copy` to fragmented MP4, cut by Fmp4Fragmenter: RTSP cameras, and FLV ffmpeg must remux. */
export class FfmpegFragmentSource implements FragmentSource {
  readonly #ffmpeg: RemuxProcess;
  readonly #abort = new AbortController();
  readonly #fragmenter: FragmenterOptions;
  readonly #maxInputBacklogBytes: number;

  constructor(options: {
    ffmpegPath: string;
    input: { kind: 'url'; url: string; inputArgs: readonly string[] } | { kind: 'pipe'; format: string };
    creationTime: Date;
    fragmenter: FragmenterOptions;
    maxInputBacklogBytes: number;
  }) {
    const { input } = options;
    this.#fragmenter = options.fragmenter;
    this.#maxInputBacklogBytes = options.maxInputBacklogBytes;
    this.#ffmpeg = spawnRemuxToFmp4({
      ffmpegPath: options.ffmpegPath,
      ...(input.kind === 'pipe'
        ? { input: 'pipe', inputFormat: input.format }
        : { input: input.url, extraInputArgs: input.inputArgs }),
      creationTime: options.creationTime,
      signal: this.#abort.signal,
    });
  }

  get pid(): number | undefined {
    return this.#ffmpeg.pid;
  }

  write(chunk: Buffer): boolean {
    const stdin = this.#ffmpeg.stdin;
    if (stdin === null || stdin.writableEnded || stdin.destroyed) return true;
    stdin.write(chunk);
    return stdin.writableLength <= this.#maxInputBacklogBytes;
  }

  endInput(): void {
    const stdin = this.#ffmpeg.stdin;
    if (stdin !== null && !stdin.writableEnded && !stdin.destroyed) stdin.end();
  }

  abort(): void {
    this.#abort.abort();
  }

  async *events(): AsyncIterable<FragmenterEvent[]> {
    const fragmenter = new Fmp4Fragmenter(this.#fragmenter);
    for await (const chunk of this.#ffmpeg.stdout as AsyncIterable<Buffer>) {
      // ffmpeg frag_keyframe writes one moof per GOP, complete when written: deliver it now
      // instead of when the next keyframe's moof arrives.
      yield [...fragmenter.push(chunk), ...fragmenter.flush()];
    }
    yield fragmenter.end();
  }

  exit(): Promise<SourceExit> {
    return this.#ffmpeg.done;
  }
}

/**
 * FLV held for a possible ffmpeg fallback until the first fragment is complete; past it, no fallback.
 * The held tags are the ones the remuxer keeps for that GOP anyway: no extra copy.
 */
const MAX_HELD_BYTES = 32 * 1024 * 1024;

/**
 * An RTMP publish's FLV tags (one per chunk, as node-media-server delivers them), remuxed in process
 * by FlvToFmp4 when they are H.264 + AAC (what OBS and ffmpeg send by default): no child process, no
 * pipe, one copy of the media. Anything else (enhanced-RTMP HEVC/AV1, MP3, audio-only, or input the
 * remuxer rejects) shows in onMetaData or in the first GOP: the remuxer's events are held back until
 * its first fragment is complete, so until then the publish can still be handed, from its first
 * byte, to ffmpeg (an MP3 track has no sequence header and may start after the first keyframe).
 */
export class FlvFragmentSource implements FragmentSource {
  readonly #remuxer: FlvToFmp4;
  readonly #startFallback: () => FfmpegFragmentSource;
  /** Bound of the remuxer's buffered GOP plus the events waiting for the consumer (the one being delivered excluded). */
  readonly #maxBacklogBytes: number;
  readonly #maxHeldBytes: number;
  /** Input kept for a fallback, and the remuxer's events held back, until the first fragment. */
  #held: Buffer[] | undefined = [];
  #heldBytes = 0;
  #heldEvents: FragmenterEvent[] = [];
  #queue: FragmenterEvent[][] = [];
  #queuedBytes = 0;
  #wake: (() => void) | undefined;
  #inputEnded = false;
  #aborted = false;
  #failure: Error | undefined;
  #fallback: { source: FfmpegFragmentSource; flags: FlvHeaderFlags; writable: boolean } | undefined;
  #onFallback: ((reason: string) => void) | undefined;

  constructor(options: {
    ffmpegPath: string;
    creationTime: Date;
    fragmenter: FragmenterOptions;
    maxInputBacklogBytes: number;
    /** Called when the publish goes to ffmpeg, with the reason. */
    onFallback?: (reason: string) => void;
  }) {
    this.#remuxer = new FlvToFmp4({ ...options.fragmenter, creationTime: options.creationTime });
    this.#maxBacklogBytes = options.maxInputBacklogBytes;
    // A fallback replays what was held into ffmpeg's stdin, which has the same bound.
    this.#maxHeldBytes = Math.min(MAX_HELD_BYTES, options.maxInputBacklogBytes);
    this.#onFallback = options.onFallback;
    this.#startFallback = () =>
      new FfmpegFragmentSource({
        ffmpegPath: options.ffmpegPath,
        input: { kind: 'pipe', format: 'flv' },
        creationTime: options.creationTime,
        fragmenter: options.fragmenter,
        maxInputBacklogBytes: options.maxInputBacklogBytes,
      });
  }

  get pid(): number | undefined {
    return this.#fallback?.source.pid;
  }

  write(chunk: Buffer): boolean {
    const fallback = this.#fallback;
    if (fallback) {
      fallback.flags.push(chunk);
      return fallback.writable;
    }
    if (this.#inputEnded || this.#aborted || this.#failure) return true;
    if (this.#held) {
      this.#held.push(chunk);
      this.#heldBytes += chunk.byteLength;
    }
    let events: FragmenterEvent[];
    try {
      events = this.#remuxer.push(chunk);
    } catch (error) {
      // Before the remuxer has committed, ffmpeg gets to try anything it cannot take.
      if (this.#held) return this.#fallBack(error instanceof Error ? error.message : String(error));
      this.#fail(error);
      return true;
    }
    if (this.#held === undefined) {
      this.#enqueue(events);
    } else {
      this.#heldEvents.push(...events);
      if (events.some((event) => event.type === 'fragment') || this.#heldBytes > this.#maxHeldBytes) {
        this.#commit();
      }
    }
    return this.#queuedBytes + this.#remuxer.bufferedBytes <= this.#maxBacklogBytes;
  }

  endInput(): void {
    if (this.#fallback) {
      this.#fallback.source.endInput();
      return;
    }
    if (this.#inputEnded) return;
    this.#inputEnded = true;
    if (!this.#aborted && !this.#failure) {
      try {
        const last = this.#remuxer.end();
        this.#commit();
        this.#enqueue(last);
      } catch (error) {
        this.#fail(error);
      }
    }
    this.#wake?.();
  }

  abort(): void {
    this.#aborted = true;
    this.#fallback?.source.abort();
    this.#wake?.();
  }

  async *events(): AsyncIterable<FragmenterEvent[]> {
    for (;;) {
      if (this.#aborted) return;
      const batch = this.#queue.shift();
      if (batch !== undefined) {
        for (const event of batch)
          if (event.type !== 'truncated') this.#queuedBytes -= event.bytes.byteLength;
        yield batch;
        continue;
      }
      if (this.#fallback) {
        yield* this.#fallback.source.events();
        return;
      }
      if (this.#failure) throw this.#failure;
      if (this.#inputEnded) return;
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
      });
      this.#wake = undefined;
    }
  }

  exit(): Promise<SourceExit> {
    if (this.#fallback) return this.#fallback.source.exit();
    return Promise.resolve({
      code: this.#failure ? 1 : 0,
      signal: null,
      stopped: this.#aborted,
      stderrTail: '',
      spawnError: undefined,
    });
  }

  /** The remuxer owns the publish from here: no fallback, held events go out. */
  #commit(): void {
    this.#held = undefined;
    this.#enqueue(this.#heldEvents);
    this.#heldEvents = [];
  }

  #enqueue(events: FragmenterEvent[]): void {
    if (events.length === 0) return;
    this.#queue.push(events);
    for (const event of events) if (event.type !== 'truncated') this.#queuedBytes += event.bytes.byteLength;
    this.#wake?.();
  }

  #fail(error: unknown): void {
    const message = error instanceof Error ? error.message : String(error);
    this.#failure = new Error(`FLV remux failed: ${message}`, { cause: error });
    this.#wake?.();
  }

  #fallBack(reason: string): boolean {
    const source = this.#startFallback();
    // node-media-server's FLV header declares audio and video whatever the publisher sends; ffmpeg
    // would wait for a missing track, so FlvHeaderFlags declares the real ones.
    const fallback = {
      source,
      writable: true,
      flags: new FlvHeaderFlags((chunk) => {
        fallback.writable = source.write(chunk);
      }),
    };
    this.#fallback = fallback;
    this.#onFallback?.(reason);
    for (const chunk of this.#held ?? []) fallback.flags.push(chunk);
    this.#held = undefined;
    this.#heldEvents = []; // the remuxer's init for a publish it cannot finish
    this.#wake?.();
    return fallback.writable;
  }
}

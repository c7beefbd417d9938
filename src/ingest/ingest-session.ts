import type { Logger } from '../logging/index.ts';
import type { FragmentEvent, FragmenterEvent, FragmenterOptions } from '../media/fmp4/index.ts';
import { FfmpegFragmentSource, FlvFragmentSource, type FragmentSource } from './fragment-source.ts';
import type { FragmentSink } from './ingest-ports.ts';

/**
 * Where a session's media comes from: FLV tags written by the caller (an RTMP publish, remuxed in
 * process, or by ffmpeg for codecs the remuxer does not handle), or a URL ffmpeg opens itself.
 */
export type IngestInput = { kind: 'flv' } | { kind: 'url'; url: string; inputArgs: readonly string[] };

/** Options of one ingest session: source → fMP4 init segments and fragments → FragmentSink. */
export interface IngestSessionOptions {
  streamName: string;
  input: IngestInput;
  ffmpegPath: string;
  sink: FragmentSink;
  logger: Logger;
  fragmenter: FragmenterOptions;
  /** Input bytes (or remuxed fragments) not yet taken beyond which write() reports an overflow. */
  maxInputBacklogBytes: number;
  /** Settles when the stream's previous session has delivered everything; delivery waits for it. */
  after: Promise<unknown>;
  /** Called after each fragment the sink accepted (a watchdog's "good fragment"). */
  onFragment?: (() => void) | undefined;
  /** Applied to ffmpeg's stderr and error messages before they are logged or returned (credentials). */
  redact?: ((text: string) => string) | undefined;
  /** Wall clock (epoch ms); default Date.now. */
  now?: (() => number) | undefined;
}

/** How a session ended. */
export interface IngestOutcome {
  inits: number;
  fragments: number;
  /** Why it failed (ffmpeg error exit, unparseable media, sink rejection), else undefined. */
  failure: Error | undefined;
  /** The remuxer's exit (ffmpeg's, when one ran), for diagnostics. */
  exit: { code: number | null; signal: NodeJS.Signals | null; stopped: boolean; stderrTail: string };
}

/**
 * One ingest session (an RTMP publish, an RTSP pull): the source is remuxed (`-c copy`, or in process
 * for H.264/AAC FLV) to fMP4 init segments and GOP fragments, which the sink receives in order. The
 * source is read only while no accept() is pending, so a slow sink backs up into the source, whose
 * input backlog is bounded by `maxInputBacklogBytes`.
 *
 * Producer timestamps: the source's clock (the fragments' decode times, from FLV or RTP timestamps)
 * is mapped to wall time once, when the first fragment is complete — its first frame is taken to
 * have been captured its duration before that — so fragments keep the source's spacing. Each session
 * writes its start as the movie creation time, so every session gets a new init version.
 */
export class IngestSession {
  /** Settles (never rejects) after the last event was delivered and the source stopped. */
  readonly done: Promise<IngestOutcome>;
  readonly #options: IngestSessionOptions;
  readonly #now: () => number;
  readonly #abort = new AbortController();
  readonly #source: FragmentSource;
  #inits = 0;
  #fragments = 0;
  #lastOutputMs: number;
  /** Epoch ms of decode time 0, fixed by the first fragment. */
  #producerOriginMs: number | undefined;

  constructor(options: IngestSessionOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
    this.#lastOutputMs = this.#now();
    const { input } = options;
    const common = {
      ffmpegPath: options.ffmpegPath,
      creationTime: new Date(this.#lastOutputMs),
      fragmenter: options.fragmenter,
      maxInputBacklogBytes: options.maxInputBacklogBytes,
    };
    this.#source =
      input.kind === 'flv'
        ? new FlvFragmentSource({
            ...common,
            onFallback: (reason) => options.logger.info({ reason }, 'publish remuxed by ffmpeg'),
          })
        : new FfmpegFragmentSource({ ...common, input });
    this.#abort.signal.addEventListener('abort', () => this.#source.abort(), { once: true });
    this.done = this.#run();
  }

  /** Init segments delivered (or being delivered) so far. */
  get inits(): number {
    return this.#inits;
  }

  /** Process id of the ffmpeg child, when one remuxes (for diagnostics). */
  get ffmpegPid(): number | undefined {
    return this.#source.pid;
  }

  /** Wall time (epoch ms) the source last produced output, or the session start. */
  get lastOutputMs(): number {
    return this.#lastOutputMs;
  }

  /** Fragments delivered so far. */
  get fragments(): number {
    return this.#fragments;
  }

  /** Feeds input (FLV tags); returns false when the input backlog exceeds its bound. */
  write(chunk: Buffer): boolean {
    return this.#source.write(chunk);
  }

  /** No more input: the source finishes, and the last fragment is delivered. Idempotent. */
  endInput(): void {
    this.#source.endInput();
  }

  /** Stops the source now; events not yet delivered are dropped. Idempotent. */
  abort(): void {
    this.#abort.abort();
  }

  async #run(): Promise<IngestOutcome> {
    const { logger } = this.#options;
    let failure: Error | undefined;
    try {
      await this.#options.after.catch(() => undefined);
      for await (const events of this.#source.events()) {
        this.#lastOutputMs = this.#now();
        await this.#deliver(events);
      }
    } catch (error) {
      // Once aborted (stop, watchdog), what breaks is a consequence, not the cause.
      if (!this.#abort.signal.aborted) failure = error instanceof Error ? error : new Error(String(error));
      this.abort();
    }
    const sourceExit = await this.#source.exit();
    const redact = this.#options.redact ?? ((text: string) => text);
    const exit = { ...sourceExit, stderrTail: redact(sourceExit.stderrTail) };
    // No cause: loggers print causes, and the original message may carry credentials.
    if (failure !== undefined && this.#options.redact) failure = new Error(redact(failure.message));
    if (failure === undefined && exit.spawnError !== undefined) {
      failure = new Error(`ffmpeg could not start: ${exit.spawnError.message}`, { cause: exit.spawnError });
    } else if (failure === undefined && !exit.stopped && exit.code !== 0) {
      failure = new Error(
        `ffmpeg exited with ${exit.code ?? exit.signal}: ${exit.stderrTail || '(no stderr)'}`,
      );
    }
    if (failure !== undefined) {
      logger.warn({ err: failure, stderrTail: exit.stderrTail }, 'ingest session failed');
    }
    const { code, signal, stopped, stderrTail } = exit;
    return {
      inits: this.#inits,
      fragments: this.#fragments,
      failure,
      exit: { code, signal, stopped, stderrTail },
    };
  }

  #producerTimestampMs(fragment: FragmentEvent): number {
    this.#producerOriginMs ??= this.#now() - fragment.durationMs - fragment.startDecodeTimeMs;
    return Math.round(this.#producerOriginMs + fragment.startDecodeTimeMs);
  }

  /**
   * Waits for an accept() unless the session is aborted first: a sink that cannot finish (storage
   * down, retrying) must not hold up a shutdown or a watchdog restart. The abandoned accept stays with
   * the sink, which completes or drops it; its outcome is only logged.
   */
  async #untilAborted(accepted: Promise<void>): Promise<void> {
    const signal = this.#abort.signal;
    if (signal.aborted) throw new Error('ingest session aborted');
    let onAbort: (() => void) | undefined;
    const aborted = new Promise<never>((_, reject) => {
      onAbort = () => reject(new Error('ingest session aborted while the sink was busy'));
      signal.addEventListener('abort', onAbort, { once: true });
    });
    try {
      await Promise.race([accepted, aborted]);
    } catch (error) {
      if (signal.aborted) {
        accepted.catch((late: unknown) =>
          this.#options.logger.warn({ err: late }, 'abandoned fragment failed'),
        );
      }
      throw error;
    } finally {
      if (onAbort) signal.removeEventListener('abort', onAbort);
    }
  }

  async #deliver(events: FragmenterEvent[]): Promise<void> {
    const { sink, streamName, logger } = this.#options;
    for (const event of events) {
      if (event.type === 'truncated') {
        logger.warn(
          { discardedBytes: event.discardedBytes, boxType: event.boxType },
          'fMP4 output ended mid-box',
        );
        continue;
      }
      if (event.type === 'init') {
        this.#inits += 1;
        await this.#untilAborted(sink.accept(streamName, event, {}));
        continue;
      }
      const producerTimestampMs = this.#producerTimestampMs(event);
      await this.#untilAborted(sink.accept(streamName, event, { producerTimestampMs }));
      this.#fragments += 1;
      this.#options.onFragment?.();
    }
  }
}

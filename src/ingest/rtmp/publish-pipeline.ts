import type { Logger } from '../../logging/index.ts';
import { type RemuxProcess, spawnRemuxToFmp4 } from '../../media/ffmpeg/index.ts';
import { Fmp4Fragmenter, type FragmenterEvent, type FragmenterOptions } from '../../media/fmp4/index.ts';
import type { FragmentSink } from '../ingest-ports.ts';

/** Options of one publish's FLV → ffmpeg → fragmenter → sink pipeline. */
export interface PublishPipelineOptions {
  streamName: string;
  ffmpegPath: string;
  sink: FragmentSink;
  logger: Logger;
  fragmenter: FragmenterOptions;
  /** FLV bytes ffmpeg has not taken yet beyond which write() reports an overflow. */
  maxInputBacklogBytes: number;
  /** Settles when the stream's previous publish has delivered everything; delivery waits for it. */
  after: Promise<unknown>;
}

/** How a publish pipeline ended. */
export interface PublishOutcome {
  inits: number;
  fragments: number;
  /** Why it failed (ffmpeg error exit, unparseable output, sink rejection), else undefined. */
  failure: Error | undefined;
}

/**
 * One publish: FLV tags in, `ffmpeg -c copy` to fMP4, Fmp4Fragmenter, FragmentSink out. ffmpeg's
 * output is read only while no accept() is pending, so a slow sink backs up into ffmpeg and then
 * into the FLV input, which is bounded by `maxInputBacklogBytes`.
 */
export class PublishPipeline {
  /** Settles (never rejects) after the last event was delivered and ffmpeg exited. */
  readonly done: Promise<PublishOutcome>;
  readonly #options: PublishPipelineOptions;
  readonly #abort = new AbortController();
  readonly #ffmpeg: RemuxProcess;
  #inits = 0;
  #fragments = 0;

  constructor(options: PublishPipelineOptions) {
    this.#options = options;
    this.#ffmpeg = spawnRemuxToFmp4({
      ffmpegPath: options.ffmpegPath,
      input: 'pipe',
      inputFormat: 'flv',
      signal: this.#abort.signal,
    });
    this.done = this.#run();
  }

  /** Init segments delivered (or being delivered) so far. */
  get inits(): number {
    return this.#inits;
  }

  /** Process id of the ffmpeg child (for diagnostics). */
  get ffmpegPid(): number | undefined {
    return this.#ffmpeg.pid;
  }

  /** Feeds FLV bytes; returns false when the input backlog exceeds its bound. */
  write(chunk: Buffer): boolean {
    const stdin = this.#ffmpeg.stdin;
    if (stdin === null || stdin.writableEnded || stdin.destroyed) return true;
    stdin.write(chunk);
    return stdin.writableLength <= this.#options.maxInputBacklogBytes;
  }

  /** No more input: ffmpeg finishes, and the last fragment is delivered. Idempotent. */
  endInput(): void {
    const stdin = this.#ffmpeg.stdin;
    if (stdin !== null && !stdin.writableEnded && !stdin.destroyed) stdin.end();
  }

  /** Stops ffmpeg now; events not yet delivered are dropped. Idempotent. */
  abort(): void {
    this.#abort.abort();
  }

  async #run(): Promise<PublishOutcome> {
    const { logger } = this.#options;
    let failure: Error | undefined;
    try {
      await this.#options.after.catch(() => undefined);
      const fragmenter = new Fmp4Fragmenter(this.#options.fragmenter);
      for await (const chunk of this.#ffmpeg.stdout as AsyncIterable<Buffer>) {
        await this.#deliver(fragmenter.push(chunk));
        // ffmpeg frag_keyframe writes one moof per GOP, complete when written: deliver it now
        // instead of when the next keyframe's moof arrives.
        await this.#deliver(fragmenter.flush());
      }
      await this.#deliver(fragmenter.end());
    } catch (error) {
      failure = error instanceof Error ? error : new Error(String(error));
      this.abort();
    }
    const exit = await this.#ffmpeg.done;
    if (failure === undefined && exit.spawnError !== undefined) {
      failure = new Error(`ffmpeg could not start: ${exit.spawnError.message}`, { cause: exit.spawnError });
    } else if (failure === undefined && !exit.stopped && exit.code !== 0) {
      failure = new Error(
        `ffmpeg exited with ${exit.code ?? exit.signal}: ${exit.stderrTail || '(no stderr)'}`,
      );
    }
    if (failure !== undefined) {
      logger.warn({ err: failure, stderrTail: exit.stderrTail }, 'publish pipeline failed');
    }
    return { inits: this.#inits, fragments: this.#fragments, failure };
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
      if (event.type === 'init') this.#inits += 1;
      else this.#fragments += 1;
      await sink.accept(streamName, event);
    }
  }
}

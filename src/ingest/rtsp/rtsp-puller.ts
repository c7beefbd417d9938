import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '../../logging/index.ts';
import type { FragmenterOptions } from '../../media/fmp4/index.ts';
import type { FragmentSink } from '../ingest-ports.ts';
import { IngestSession } from '../ingest-session.ts';
import { RestartBackoff, type RestartBackoffOptions } from './restart-backoff.ts';
import { redactSecrets } from './rtsp-url.ts';

/** What a puller is doing. */
export type RtspPullState = 'CONNECTING' | 'STREAMING' | 'BACKOFF' | 'STOPPED';

/** A puller's status, as DescribeRtspSource reports it. */
export interface RtspPullStatus {
  state: RtspPullState;
  /** Sessions started after the first (restarts by the watchdog). */
  restarts: number;
  /** Fragments archived since the puller started. */
  fragments: number;
  /** Why the last session ended, credentials redacted. */
  lastError: string | undefined;
  lastFragmentMs: number | undefined;
  /** When the next attempt starts (state BACKOFF). */
  nextAttemptMs: number | undefined;
  updatedMs: number;
}

/** Options of one camera's puller. */
export interface RtspPullerOptions {
  streamName: string;
  /** The camera URL, credentials included. */
  url: string;
  /** Strings to scrub from anything logged or reported (the password). */
  secrets: readonly string[];
  transport: 'tcp' | 'udp';
  ffmpegPath: string;
  sink: FragmentSink;
  logger: Logger;
  fragmenter?: FragmenterOptions | undefined;
  backoff?: RestartBackoffOptions | undefined;
  /** No output this long after a (re)start is a failed connection; default 10 000 ms. */
  connectTimeoutMs?: number | undefined;
  /** No output this long once media flowed is a stall; default 15 000 ms (longer than any GOP). */
  stallTimeoutMs?: number | undefined;
  /** Called on every status change. */
  onStatus?: (status: RtspPullStatus) => void;
  /** Called when the watchdog restarts the source. */
  onRestart?: (reason: string) => void;
}

export const RTSP_PULLER_DEFAULTS = { connectTimeoutMs: 10_000, stallTimeoutMs: 15_000 } as const;

/**
 * Pulls one IP camera: `ffmpeg -rtsp_transport tcp -i <url> -c copy` to fMP4, fragments to the sink.
 * A watchdog ends a session that connects or produces nothing within its timeouts; a session that
 * ends for any reason is restarted after an exponential backoff with jitter (about 1 s up to 60 s),
 * which a good fragment resets. Runs until stop().
 */
export class RtspPuller {
  readonly #options: RtspPullerOptions;
  readonly #logger: Logger;
  readonly #backoff: RestartBackoff;
  readonly #stop = new AbortController();
  #status: RtspPullStatus;
  #session: IngestSession | undefined;
  #running: Promise<void> | undefined;

  constructor(options: RtspPullerOptions) {
    this.#options = options;
    this.#logger = options.logger.child({ streamName: options.streamName, component: 'rtsp-puller' });
    this.#backoff = new RestartBackoff(options.backoff);
    this.#status = {
      state: 'CONNECTING',
      restarts: 0,
      fragments: 0,
      lastError: undefined,
      lastFragmentMs: undefined,
      nextAttemptMs: undefined,
      updatedMs: Date.now(),
    };
  }

  get status(): RtspPullStatus {
    return { ...this.#status };
  }

  /** Starts pulling; idempotent. */
  start(): void {
    this.#running ??= this.#loop();
  }

  /** Stops the current session (its last fragment is not awaited) and the loop. Idempotent. */
  async stop(): Promise<void> {
    this.#stop.abort();
    this.#session?.abort();
    await this.#running;
  }

  #update(change: Partial<RtspPullStatus>): void {
    this.#status = { ...this.#status, ...change, updatedMs: Date.now() };
    this.#options.onStatus?.(this.status);
  }

  async #loop(): Promise<void> {
    let previous: Promise<unknown> = Promise.resolve();
    for (let attempt = 0; !this.#stop.signal.aborted; attempt += 1) {
      if (attempt > 0) {
        this.#update({ restarts: this.#status.restarts + 1 });
      }
      this.#update({ state: 'CONNECTING', nextAttemptMs: undefined });
      const reason = await this.#runSession(previous, (done) => {
        previous = done;
      });
      if (this.#stop.signal.aborted) break;
      const delayMs = this.#backoff.next();
      this.#logger.warn({ reason, delayMs, failures: this.#backoff.failures }, 'RTSP source restarting');
      this.#options.onRestart?.(reason);
      this.#update({ state: 'BACKOFF', lastError: reason, nextAttemptMs: Date.now() + delayMs });
      // Woken early by stop(); the abort's rejection just ends the wait.
      await sleep(delayMs, undefined, { signal: this.#stop.signal }).catch(() => undefined);
    }
    this.#update({ state: 'STOPPED', nextAttemptMs: undefined });
  }

  /** Runs one session to its end; resolves why it ended (credentials redacted). */
  async #runSession(after: Promise<unknown>, track: (done: Promise<unknown>) => void): Promise<string> {
    const options = this.#options;
    const connectTimeoutMs = options.connectTimeoutMs ?? RTSP_PULLER_DEFAULTS.connectTimeoutMs;
    const stallTimeoutMs = options.stallTimeoutMs ?? RTSP_PULLER_DEFAULTS.stallTimeoutMs;
    let watchdogReason: string | undefined;
    const session = new IngestSession({
      streamName: options.streamName,
      input: {
        kind: 'url',
        url: options.url,
        // -timeout: socket I/O timeout in µs, so a silent camera also ends ffmpeg by itself.
        inputArgs: ['-rtsp_transport', options.transport, '-timeout', String(stallTimeoutMs * 1000)],
      },
      ffmpegPath: options.ffmpegPath,
      sink: options.sink,
      logger: this.#logger,
      fragmenter: options.fragmenter ?? {},
      maxInputBacklogBytes: 0,
      after,
      redact: (text) => redactSecrets(text, options.secrets),
      onFragment: () => {
        this.#backoff.reset();
        this.#update({
          state: 'STREAMING',
          fragments: this.#status.fragments + 1,
          lastFragmentMs: Date.now(),
        });
      },
    });
    this.#session = session;
    track(session.done);
    const watchdog = setInterval(
      () => {
        const limitMs = session.fragments === 0 ? connectTimeoutMs : stallTimeoutMs;
        const silentMs = Date.now() - session.lastOutputMs;
        if (silentMs > limitMs) {
          watchdogReason ??=
            session.fragments === 0
              ? `no media within ${connectTimeoutMs} ms of connecting`
              : `no media for ${Math.round(silentMs)} ms (stalled)`;
          session.abort();
        }
      },
      Math.min(1000, connectTimeoutMs / 4),
    );
    watchdog.unref();
    try {
      const outcome = await session.done;
      if (watchdogReason !== undefined) return watchdogReason;
      const failure = outcome.failure?.message;
      const why =
        failure ?? `the source ended (ffmpeg exited with ${outcome.exit.code ?? outcome.exit.signal})`;
      return redactSecrets(why, options.secrets).slice(0, 1000);
    } finally {
      clearInterval(watchdog);
      this.#session = undefined;
    }
  }
}

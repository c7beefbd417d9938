/** Delays of a restart watchdog. */
export interface RestartBackoffOptions {
  /** First delay; default 1000 ms. */
  baseMs?: number;
  /** Largest delay; default 60 000 ms. */
  maxMs?: number;
  /** Uniform [0, 1); injected in tests. */
  random?: () => number;
}

export const RESTART_BACKOFF_DEFAULTS = { baseMs: 1000, maxMs: 60_000 } as const;

/**
 * Exponential backoff with ±20 % jitter: the n-th consecutive failure waits about
 * min(maxMs, baseMs·2ⁿ) (never more than maxMs), so restarts of many sources that failed together
 * spread out. reset() after a good fragment starts again from baseMs.
 */
export class RestartBackoff {
  readonly #baseMs: number;
  readonly #maxMs: number;
  readonly #random: () => number;
  #failures = 0;

  constructor(options: RestartBackoffOptions = {}) {
    this.#baseMs = options.baseMs ?? RESTART_BACKOFF_DEFAULTS.baseMs;
    this.#maxMs = options.maxMs ?? RESTART_BACKOFF_DEFAULTS.maxMs;
    this.#random = options.random ?? Math.random;
  }

  /** Consecutive failures since the last reset. */
  get failures(): number {
    return this.#failures;
  }

  /** The delay before the next attempt, in ms; counts one more failure. */
  next(): number {
    const ceilingMs = Math.min(this.#maxMs, this.#baseMs * 2 ** Math.min(this.#failures, 30));
    this.#failures += 1;
    return Math.round(Math.min(this.#maxMs, ceilingMs * (0.8 + 0.4 * this.#random())));
  }

  reset(): void {
    this.#failures = 0;
  }
}

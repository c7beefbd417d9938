import type { Logger } from '../logging/index.ts';
import type { KeyService } from './key-service.ts';

/**
 * Background loop that crypto-shreds keys whose deletion window has ended and performs automatic
 * rotations. Operations also destroy due keys lazily on access, so the loop only bounds how long
 * destroyed material lingers for keys nobody touches.
 */
export class KeyMaintenance {
  readonly #service: KeyService;
  readonly #intervalMs: number;
  readonly #logger: Logger;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;

  constructor(options: { service: KeyService; intervalMs: number; logger: Logger }) {
    this.#service = options.service;
    this.#intervalMs = options.intervalMs;
    this.#logger = options.logger;
  }

  /** Starts the periodic pass; idempotent. */
  start(): void {
    if (this.#timer) return;
    this.#timer = setInterval(() => {
      this.#running ??= this.runOnce()
        .then(() => undefined)
        .catch((error: unknown) => this.#logger.error({ err: error }, 'KMS maintenance pass failed'))
        .finally(() => {
          this.#running = undefined;
        });
    }, this.#intervalMs);
    this.#timer.unref();
  }

  /** One pass: destroy due keys, then rotate due keys. */
  async runOnce(): Promise<{ destroyed: string[]; rotated: string[] }> {
    const destroyed = await this.#service.destroyDueKeys();
    const rotated = await this.#service.rotateDueKeys();
    if (destroyed.length + rotated.length > 0) this.#logger.info({ destroyed, rotated }, 'KMS maintenance');
    return { destroyed, rotated };
  }

  /** Stops the loop and waits for a pass in progress; idempotent. */
  async stop(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#running;
  }
}

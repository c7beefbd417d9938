import type { Logger } from '../logging/index.ts';
import type { ShardLogs } from '../stream-log/index.ts';
import type { Clock } from './ports.ts';
import { logRef } from './record-io.ts';
import type { StreamRegistry } from './stream-registry.ts';

const HOUR_MS = 3_600_000;

/**
 * Trims every shard log to its stream's retention (exact MINID). Appends already trim approximately
 * and reads never serve expired records; the sweeper frees the memory of streams nobody writes to.
 */
export class RetentionSweeper {
  readonly #registry: StreamRegistry;
  readonly #logs: ShardLogs;
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #intervalMs: number;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<unknown> | undefined;

  constructor(options: {
    registry: StreamRegistry;
    logs: ShardLogs;
    clock: Clock;
    logger: Logger;
    intervalMs: number;
  }) {
    this.#registry = options.registry;
    this.#logs = options.logs;
    this.#clock = options.clock;
    this.#logger = options.logger;
    this.#intervalMs = options.intervalMs;
  }

  /** Starts the periodic sweep; idempotent. */
  start(): void {
    if (this.#timer) return;
    this.#timer = setInterval(() => {
      this.#running ??= this.sweepOnce()
        .catch((error: unknown) => this.#logger.error({ err: error }, 'retention sweep failed'))
        .finally(() => {
          this.#running = undefined;
        });
    }, this.#intervalMs);
    this.#timer.unref();
  }

  /** One pass over every stream; returns how many records were trimmed. */
  async sweepOnce(): Promise<number> {
    let trimmed = 0;
    let after: string | undefined;
    for (;;) {
      const names = await this.#registry.listNames(after, 100);
      for (const name of names) {
        const view = await this.#registry.get(name);
        if (!view) continue;
        const minId = `${Math.max(0, this.#clock.now() - view.stream.retentionHours * HOUR_MS)}-0`;
        for (const shard of view.shards)
          trimmed += await this.#logs.trim(logRef(view.stream, shard.shardId), minId);
      }
      if (names.length < 100) return trimmed;
      after = names.at(-1);
    }
  }

  /** Stops the sweep and waits for a pass in progress; idempotent. */
  async stop(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#running;
  }
}

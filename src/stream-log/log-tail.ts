import type { RedisClient } from '../redis/index.ts';
import { type LogRef, logKeys } from './keys.ts';
import type { LogEntry } from './shard-log.ts';

/**
 * Follows one shard log on a connection of its own: `XREAD BLOCK` holds a connection for as long as it
 * waits, so it must never run on the shared client. Closing the tail rejects a pending read at once.
 */
export class LogTail {
  readonly #connection: RedisClient;
  #closed = false;

  /** `connection` becomes the tail's own (e.g. `shared.duplicate()`); close() disconnects it. */
  constructor(connection: RedisClient) {
    this.#connection = connection;
  }

  /**
   * Up to `count` entries with ids greater than `afterId`; when there are none yet, waits up to
   * `blockMs` for the first (0 = do not wait). Resolves with [] on timeout.
   */
  async read(ref: LogRef, afterId: string, count: number, blockMs: number): Promise<LogEntry[]> {
    if (this.#closed) throw new Error('log tail is closed');
    const block = blockMs > 0 ? ['BLOCK', Math.ceil(blockMs)] : [];
    const reply = (await this.#connection.xreadBuffer(
      'COUNT',
      count,
      ...(block as ['BLOCK', number]),
      'STREAMS',
      logKeys.entries(ref),
      afterId,
    )) as Array<[Buffer, Array<[Buffer, Buffer[]]>]> | null;
    const rows = reply?.[0]?.[1] ?? [];
    return rows.map(([id, flat]) => {
      const fields = new Map<string, Buffer>();
      for (let i = 0; i + 1 < flat.length; i += 2)
        fields.set((flat[i] as Buffer).toString(), flat[i + 1] as Buffer);
      return { id: id.toString(), fields };
    });
  }

  /** Disconnects (idempotent); a pending read rejects. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#connection.disconnect();
  }
}

import { parseEntryId } from '../stream-log/index.ts';
import { toEntryId } from './sequence-number.ts';
import type { ShardRecord } from './stream-record.ts';

/** ListShards' ShardFilter, as AWS defines its types. */
export type ShardFilter =
  | { type: 'AFTER_SHARD_ID'; shardId: string }
  | { type: 'AT_TRIM_HORIZON' | 'FROM_TRIM_HORIZON' | 'AT_LATEST' }
  | { type: 'AT_TIMESTAMP' | 'FROM_TIMESTAMP'; timestampMs: number };

/** Arrival time (ms) encoded in a sequence number. */
function msOf(sequenceNumber: string): number {
  const id = toEntryId(sequenceNumber);
  return id === undefined ? 0 : parseEntryId(id).ms;
}

/**
 * The shards a ListShards filter selects. Closed shards whose last record is older than the trim
 * horizon have expired and are never listed; open shards always are (unless AFTER_SHARD_ID skips them).
 * - AT_TRIM_HORIZON: shards open at the horizon; FROM_TRIM_HORIZON (default): every unexpired shard;
 * - AT_LATEST: open shards; AT_TIMESTAMP: shards open at that time; FROM_TIMESTAMP: open at or after it.
 */
export function filterShards(
  shards: readonly ShardRecord[],
  filter: ShardFilter | undefined,
  horizonMs: number,
): ShardRecord[] {
  const unexpired = shards.filter(
    (s) => s.endingSequenceNumber === undefined || msOf(s.endingSequenceNumber) >= horizonMs,
  );
  const openAt = (t: number) => (s: ShardRecord) =>
    msOf(s.startingSequenceNumber) <= t &&
    (s.endingSequenceNumber === undefined || msOf(s.endingSequenceNumber) >= t);
  switch (filter?.type) {
    case undefined:
    case 'FROM_TRIM_HORIZON':
      return unexpired;
    case 'AFTER_SHARD_ID':
      return unexpired.filter((s) => s.shardId > filter.shardId);
    case 'AT_TRIM_HORIZON':
      return unexpired.filter(openAt(horizonMs));
    case 'AT_LATEST':
      return unexpired.filter((s) => s.endingSequenceNumber === undefined);
    case 'AT_TIMESTAMP':
      return unexpired.filter(openAt(filter.timestampMs));
    case 'FROM_TIMESTAMP':
      return unexpired.filter(
        (s) => s.endingSequenceNumber === undefined || msOf(s.endingSequenceNumber) >= filter.timestampMs,
      );
  }
}

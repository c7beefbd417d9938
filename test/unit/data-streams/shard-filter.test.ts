import { describe, expect, it } from 'vitest';
import { filterShards, type ShardRecord } from '../../../src/data-streams/index.ts';
import { toSequenceNumber } from '../../../src/data-streams/sequence-number.ts';

const seq = (ms: number) => toSequenceNumber(`${ms}-0`);
const shard = (id: number, startMs: number, endMs?: number): ShardRecord => ({
  shardId: `shardId-00000000000${id}`,
  startingHashKey: '0',
  endingHashKey: '1',
  startingSequenceNumber: seq(startMs),
  ...(endMs !== undefined ? { endingSequenceNumber: seq(endMs) } : {}),
});

// shard 0: closed long ago (expired); shard 1: open 100-200; shard 2: open 200-; shard 3: open 150-
const shards = [shard(0, 10, 50), shard(1, 100, 200), shard(2, 200), shard(3, 150)];
const ids = (list: ShardRecord[]) => list.map((s) => Number(s.shardId.slice(-1)));

describe('filterShards (ListShards ShardFilter)', () => {
  it('never lists shards that expired before the trim horizon', () => {
    expect(ids(filterShards(shards, undefined, 80))).toEqual([1, 2, 3]);
    expect(ids(filterShards(shards, { type: 'FROM_TRIM_HORIZON' }, 80))).toEqual([1, 2, 3]);
  });

  it('selects by type', () => {
    expect(ids(filterShards(shards, { type: 'AT_LATEST' }, 80))).toEqual([2, 3]);
    expect(ids(filterShards(shards, { type: 'AT_TRIM_HORIZON' }, 120))).toEqual([1]);
    expect(ids(filterShards(shards, { type: 'AT_TIMESTAMP', timestampMs: 160 }, 80))).toEqual([1, 3]);
    expect(ids(filterShards(shards, { type: 'FROM_TIMESTAMP', timestampMs: 190 }, 80))).toEqual([1, 2, 3]);
    expect(ids(filterShards(shards, { type: 'FROM_TIMESTAMP', timestampMs: 201 }, 80))).toEqual([2, 3]);
    expect(ids(filterShards(shards, { type: 'AFTER_SHARD_ID', shardId: 'shardId-000000000001' }, 0))).toEqual(
      [2, 3],
    );
  });
});

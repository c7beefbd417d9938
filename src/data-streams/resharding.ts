import { ServiceError } from '../errors/index.ts';
import type { ShardLogs } from '../stream-log/index.ts';
import { compareEntryIds, parseEntryId } from '../stream-log/index.ts';
import { evenHashRanges, shardIdOf } from './hash-key.ts';
import type { Clock } from './ports.ts';
import { logRef } from './record-io.ts';
import { toSequenceNumber } from './sequence-number.ts';
import type { ShardRecord } from './stream-record.ts';
import type { StreamRegistry, StreamView } from './stream-registry.ts';

interface ChildPlan {
  startingHashKey: bigint;
  endingHashKey: bigint;
  parentShardId: string;
  adjacentParentShardId?: string;
}

/**
 * SplitShard, MergeShards and UpdateShardCount. Every change closes its parent logs first (the append
 * script then refuses them, and writers re-route), opens child logs whose ids start after the parents'
 * last record, and records the lineage in the shard map, so readers that finish a parent before its
 * children see every record once and in order per partition key.
 */
export class Resharding {
  readonly #registry: StreamRegistry;
  readonly #logs: ShardLogs;
  readonly #clock: Clock;
  readonly #accountId: string;

  constructor(options: { registry: StreamRegistry; logs: ShardLogs; clock: Clock; accountId: string }) {
    this.#registry = options.registry;
    this.#logs = options.logs;
    this.#clock = options.clock;
    this.#accountId = options.accountId;
  }

  /** SplitShard: child A gets [start, newStartingHashKey-1], child B [newStartingHashKey, end]. */
  async split(streamName: string, shardId: string, newStartingHashKey: bigint): Promise<void> {
    const view = await this.#view(streamName);
    const parent = this.#openShard(view, shardId);
    const start = BigInt(parent.startingHashKey);
    const end = BigInt(parent.endingHashKey);
    if (!(newStartingHashKey > start + 1n && newStartingHashKey < end)) {
      throw new ServiceError(
        'InvalidArgumentException',
        `NewStartingHashKey ${newStartingHashKey} used in SplitShard() on shard ${shardId} in stream ${streamName} under account ${this.#accountId} is not both greater than one plus the shard's StartingHashKey ${start} and less than the shard's EndingHashKey ${end}.`,
      );
    }
    await this.#reshard(
      view,
      [parent],
      [
        { startingHashKey: start, endingHashKey: newStartingHashKey - 1n, parentShardId: shardId },
        { startingHashKey: newStartingHashKey, endingHashKey: end, parentShardId: shardId },
      ],
    );
  }

  /** MergeShards: two adjacent open shards become one child covering both ranges. */
  async merge(streamName: string, shardToMerge: string, adjacentShardToMerge: string): Promise<void> {
    const view = await this.#view(streamName);
    const a = this.#openShard(view, shardToMerge);
    const b = this.#openShard(view, adjacentShardToMerge);
    const [low, high] = BigInt(a.startingHashKey) < BigInt(b.startingHashKey) ? [a, b] : [b, a];
    if (BigInt(low.endingHashKey) + 1n !== BigInt(high.startingHashKey)) {
      throw new ServiceError(
        'InvalidArgumentException',
        `Shards ${shardToMerge} and ${adjacentShardToMerge} in stream ${streamName} under account ${this.#accountId} are not an adjacent pair of shards eligible for merging`,
      );
    }
    await this.#reshard(
      view,
      [a, b],
      [
        {
          startingHashKey: BigInt(low.startingHashKey),
          endingHashKey: BigInt(high.endingHashKey),
          parentShardId: shardToMerge,
          adjacentParentShardId: adjacentShardToMerge,
        },
      ],
    );
  }

  /**
   * UpdateShardCount with UNIFORM_SCALING: splits open shards at every boundary of the target's even
   * ranges, then merges the pieces inside each target range (short-lived shards, as in AWS).
   */
  async updateShardCount(streamName: string, target: number): Promise<{ current: number }> {
    const view = await this.#view(streamName);
    const current = openShards(view).length;
    if (target > current * 2 || target * 2 < current) {
      throw new ServiceError(
        'LimitExceededException',
        `UpdateShardCount can at most double or halve the open shard count of stream ${streamName} under account ${this.#accountId}: it has ${current}, ${target} was requested.`,
      );
    }
    const targets = evenHashRanges(target);
    for (const range of targets.slice(1)) {
      const boundary = range.startingHashKey;
      const shard = openShards(await this.#view(streamName)).find(
        (s) => BigInt(s.startingHashKey) < boundary && boundary <= BigInt(s.endingHashKey),
      );
      if (!shard) continue;
      const fresh = await this.#view(streamName);
      await this.#reshard(
        fresh,
        [shard],
        [
          {
            startingHashKey: BigInt(shard.startingHashKey),
            endingHashKey: boundary - 1n,
            parentShardId: shard.shardId,
          },
          {
            startingHashKey: boundary,
            endingHashKey: BigInt(shard.endingHashKey),
            parentShardId: shard.shardId,
          },
        ],
      );
    }
    for (const range of targets) {
      for (;;) {
        const fresh = await this.#view(streamName);
        const inside = openShards(fresh).filter(
          (s) =>
            BigInt(s.startingHashKey) >= range.startingHashKey &&
            BigInt(s.endingHashKey) <= range.endingHashKey,
        );
        const [a, b] = inside;
        if (!a || !b) break;
        await this.#reshard(
          fresh,
          [a, b],
          [
            {
              startingHashKey: BigInt(a.startingHashKey),
              endingHashKey: BigInt(b.endingHashKey),
              parentShardId: a.shardId,
              adjacentParentShardId: b.shardId,
            },
          ],
        );
      }
    }
    return { current };
  }

  async #reshard(
    view: StreamView,
    parents: readonly ShardRecord[],
    plans: readonly ChildPlan[],
  ): Promise<void> {
    const { stream } = view;
    const first = await this.#registry.beginReshard(stream, plans.length);
    if (first === 'missing') throw this.#notFound(stream.name);
    if (first === 'busy') {
      throw new ServiceError(
        'ResourceInUseException',
        `Stream ${stream.name} under account ${this.#accountId} not ACTIVE, instead in state UPDATING`,
      );
    }
    const endings = await Promise.all(parents.map((p) => this.#logs.close(logRef(stream, p.shardId))));
    const floor = endings.reduce((max, id) => (compareEntryIds(id, max) > 0 ? id : max), '0-0');
    const closedParents = parents.map((p, i) => {
      const ending = endings[i] ?? '0-0';
      return {
        ...p,
        endingSequenceNumber: ending === '0-0' ? p.startingSequenceNumber : toSequenceNumber(ending),
      };
    });
    const startId = floor === '0-0' ? `${this.#clock.now()}-0` : nextId(floor);
    const children: ShardRecord[] = plans.map((plan, i) => ({
      shardId: shardIdOf(first + i),
      parentShardId: plan.parentShardId,
      ...(plan.adjacentParentShardId ? { adjacentParentShardId: plan.adjacentParentShardId } : {}),
      startingHashKey: plan.startingHashKey.toString(),
      endingHashKey: plan.endingHashKey.toString(),
      startingSequenceNumber: toSequenceNumber(startId),
    }));
    await Promise.all(children.map((c) => this.#logs.open(logRef(stream, c.shardId), floor)));
    if (!(await this.#registry.finishReshard(stream, [...closedParents, ...children])))
      throw this.#notFound(stream.name);
  }

  async #view(streamName: string): Promise<StreamView> {
    const view = await this.#registry.get(streamName);
    if (!view) throw this.#notFound(streamName);
    return view;
  }

  #openShard(view: StreamView, shardId: string): ShardRecord {
    const shard = view.shards.find((s) => s.shardId === shardId);
    if (!shard) {
      throw new ServiceError(
        'ResourceNotFoundException',
        `Could not find shard ${shardId} in stream ${view.stream.name} under account ${this.#accountId}.`,
      );
    }
    if (shard.endingSequenceNumber !== undefined) {
      throw new ServiceError(
        'ResourceInUseException',
        `Shard ${shardId} in stream ${view.stream.name} under account ${this.#accountId} has already been merged or split, and thus is not eligible for merging or splitting.`,
      );
    }
    return shard;
  }

  #notFound(streamName: string): ServiceError {
    return new ServiceError(
      'ResourceNotFoundException',
      `Stream ${streamName} under account ${this.#accountId} not found.`,
    );
  }
}

/** Open shards ordered by hash key. */
function openShards(view: StreamView): ShardRecord[] {
  return view.shards
    .filter((s) => s.endingSequenceNumber === undefined)
    .sort((a, b) => (BigInt(a.startingHashKey) < BigInt(b.startingHashKey) ? -1 : 1));
}

function nextId(id: string): string {
  const { ms, seq } = parseEntryId(id);
  return `${ms}-${seq + 1}`;
}

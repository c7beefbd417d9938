import { randomBytes } from 'node:crypto';
import { ServiceError } from '../errors/index.ts';
import type { ShardLogs } from '../stream-log/index.ts';
import { evenHashRanges, shardIdOf } from './hash-key.ts';
import { kmsError } from './kms-errors.ts';
import type { Clock, KeyChecker } from './ports.ts';
import { logRef } from './record-io.ts';
import { toSequenceNumber } from './sequence-number.ts';
import type { ShardRecord, StreamMode, StreamRecord } from './stream-record.ts';
import type { StreamRegistry, StreamView } from './stream-registry.ts';

/** Retention bounds (hours), as AWS. */
export const RETENTION_HOURS = { min: 24, max: 8760, default: 24 } as const;
/** Shards an ON_DEMAND stream starts with. */
const ON_DEMAND_SHARDS = 4;

/** Stream lifecycle and configuration: create, delete, describe, list, retention, mode, encryption, tags. */
export class StreamAdmin {
  readonly #registry: StreamRegistry;
  readonly #logs: ShardLogs;
  readonly #keys: KeyChecker;
  readonly #clock: Clock;
  readonly #region: string;
  readonly #accountId: string;
  readonly #maxRecordBytes: number;

  constructor(options: {
    registry: StreamRegistry;
    logs: ShardLogs;
    keys: KeyChecker;
    clock: Clock;
    region: string;
    accountId: string;
    maxRecordBytes: number;
  }) {
    this.#registry = options.registry;
    this.#logs = options.logs;
    this.#keys = options.keys;
    this.#clock = options.clock;
    this.#region = options.region;
    this.#accountId = options.accountId;
    this.#maxRecordBytes = options.maxRecordBytes;
  }

  /** The ARN of a stream name. */
  streamArn(streamName: string): string {
    return `arn:aws:kinesis:${this.#region}:${this.#accountId}:stream/${streamName}`;
  }

  /** The stream name of an ARN of this region and account; throws ResourceNotFound otherwise. */
  nameOfArn(arn: string): string {
    const m = /^arn:aws:kinesis:([^:]+):(\d{12}):stream\/([a-zA-Z0-9_.-]{1,128})$/.exec(arn);
    if (!m || m[1] !== this.#region || m[2] !== this.#accountId) {
      throw new ServiceError(
        'ResourceNotFoundException',
        `Stream ${arn} under account ${this.#accountId} not found.`,
      );
    }
    return m[3] as string;
  }

  /** CreateStream: shards split the hash-key space evenly; the logs exist before the stream is listed. */
  async create(input: {
    streamName: string;
    shardCount: number | undefined;
    mode: StreamMode;
    tags: Readonly<Record<string, string>>;
  }): Promise<void> {
    const shardCount = input.mode === 'ON_DEMAND' ? (input.shardCount ?? ON_DEMAND_SHARDS) : input.shardCount;
    if (shardCount === undefined) {
      throw new ServiceError('InvalidArgumentException', 'ShardCount is required for a PROVISIONED stream.');
    }
    const now = this.#clock.now();
    const stream: StreamRecord = {
      name: input.streamName,
      id: randomBytes(8).toString('hex'),
      arn: this.streamArn(input.streamName),
      status: 'ACTIVE',
      mode: input.mode,
      retentionHours: RETENTION_HOURS.default,
      createdAt: now,
      kmsKeyId: undefined,
      nextShardIndex: shardCount,
      maxRecordBytes: this.#maxRecordBytes,
    };
    const startingSequenceNumber = toSequenceNumber(`${now}-0`);
    const shards: ShardRecord[] = evenHashRanges(shardCount).map((range, i) => ({
      shardId: shardIdOf(i),
      startingHashKey: range.startingHashKey.toString(),
      endingHashKey: range.endingHashKey.toString(),
      startingSequenceNumber,
    }));
    await Promise.all(shards.map((shard) => this.#logs.open(logRef(stream, shard.shardId))));
    if (!(await this.#registry.create(stream, shards, input.tags))) {
      await Promise.all(shards.map((shard) => this.#logs.destroy(logRef(stream, shard.shardId))));
      throw new ServiceError(
        'ResourceInUseException',
        `Stream ${input.streamName} under account ${this.#accountId} already exists.`,
      );
    }
  }

  /** DeleteStream: metadata first (so the stream disappears at once), then every shard log. */
  async delete(streamName: string): Promise<void> {
    const view = await this.require(streamName);
    await this.#registry.remove(streamName);
    await Promise.all(
      view.shards.map((shard) => this.#logs.retire(logRef(view.stream, shard.shardId), 3600)),
    );
  }

  /** The stream and its shards, or ResourceNotFoundException in AWS's words. */
  async require(streamName: string): Promise<StreamView> {
    const view = await this.#registry.get(streamName);
    if (!view) {
      throw new ServiceError(
        'ResourceNotFoundException',
        `Stream ${streamName} under account ${this.#accountId} not found.`,
      );
    }
    return view;
  }

  /** The oldest arrival time (ms) a stream still serves. */
  horizonMs(stream: StreamRecord): number {
    return Math.max(0, this.#clock.now() - stream.retentionHours * 3_600_000);
  }

  /** ListStreams: names in order after `afterName`, with summaries. */
  async list(
    afterName: string | undefined,
    limit: number,
  ): Promise<{ views: StreamView[]; hasMore: boolean }> {
    const names = await this.#registry.listNames(afterName, limit + 1);
    const views = (await Promise.all(names.slice(0, limit).map((name) => this.#registry.get(name)))).filter(
      (v): v is StreamView => v !== undefined,
    );
    return { views, hasMore: names.length > limit };
  }

  /** Increase/DecreaseStreamRetentionPeriod with AWS's checks. */
  async setRetention(streamName: string, hours: number, direction: 'increase' | 'decrease'): Promise<void> {
    const { stream } = await this.require(streamName);
    if (direction === 'increase' && hours < stream.retentionHours) {
      throw new ServiceError(
        'InvalidArgumentException',
        `Requested retention period (${hours} hours) for stream ${streamName} can not be shorter than existing retention period (${stream.retentionHours} hours). Use DecreaseRetentionPeriod API.`,
      );
    }
    if (direction === 'decrease' && hours > stream.retentionHours) {
      throw new ServiceError(
        'InvalidArgumentException',
        `Requested retention period (${hours} hours) for stream ${streamName} can not be longer than existing retention period (${stream.retentionHours} hours). Use IncreaseRetentionPeriod API.`,
      );
    }
    await this.#update(stream, { retentionHours: hours });
  }

  /** UpdateStreamMode. */
  async setMode(streamName: string, mode: StreamMode): Promise<void> {
    const { stream } = await this.require(streamName);
    await this.#update(stream, { mode });
  }

  /** StartStreamEncryption: checks the key, then seals every record written from now on. */
  async startEncryption(streamName: string, keyId: string): Promise<void> {
    const { stream } = await this.require(streamName);
    try {
      await this.#keys.checkKey(keyId);
    } catch (error) {
      throw kmsError(error);
    }
    await this.#update(stream, { kmsKeyId: keyId });
  }

  /** StopStreamEncryption: records written from now on are stored in plaintext. */
  async stopEncryption(streamName: string): Promise<void> {
    const { stream } = await this.require(streamName);
    await this.#update(stream, { kmsKeyId: '' });
  }

  /** Adds tags (at most 50 per stream). */
  async addTags(streamName: string, tags: Readonly<Record<string, string>>): Promise<void> {
    await this.require(streamName);
    const existing = await this.#registry.getTags(streamName);
    if (Object.keys({ ...existing, ...tags }).length > 50) {
      throw new ServiceError(
        'InvalidArgumentException',
        `Failed to add tags to stream ${streamName} under account ${this.#accountId} because a given stream cannot have more than 50 tags.`,
      );
    }
    await this.#registry.putTags(streamName, tags);
  }

  /** Removes tags. */
  async removeTags(streamName: string, keys: readonly string[]): Promise<void> {
    await this.require(streamName);
    await this.#registry.removeTags(streamName, keys);
  }

  /** Tags sorted by key. */
  async tags(streamName: string): Promise<Array<{ key: string; value: string }>> {
    await this.require(streamName);
    const tags = await this.#registry.getTags(streamName);
    return Object.keys(tags)
      .sort()
      .map((key) => ({ key, value: tags[key] ?? '' }));
  }

  /** Counts for DescribeLimits. */
  async limits(): Promise<{ openShards: number; onDemandStreams: number }> {
    const { views } = await this.list(undefined, 10_000);
    return {
      openShards: views.reduce(
        (n, v) => n + v.shards.filter((s) => s.endingSequenceNumber === undefined).length,
        0,
      ),
      onDemandStreams: views.filter((v) => v.stream.mode === 'ON_DEMAND').length,
    };
  }

  async #update(stream: StreamRecord, fields: Record<string, string | number>): Promise<void> {
    if (!(await this.#registry.update(stream, fields))) {
      throw new ServiceError(
        'ResourceNotFoundException',
        `Stream ${stream.name} under account ${this.#accountId} not found.`,
      );
    }
  }
}

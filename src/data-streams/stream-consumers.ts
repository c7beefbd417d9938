import { ServiceError } from '../errors/index.ts';
import type { RedisClient } from '../redis/index.ts';
import { consumerKeys } from './consumer-keys.ts';
import { DEREGISTER_CONSUMER, REGISTER_CONSUMER } from './consumer-scripts.ts';
import { kdsKeys } from './keys.ts';
import type { Clock } from './ports.ts';
import type { StreamRegistry, StreamView } from './stream-registry.ts';

/** Lifecycle of an enhanced fan-out consumer, as AWS names it (here ACTIVE from registration on). */
export type ConsumerStatus = 'CREATING' | 'ACTIVE' | 'DELETING';

/** An enhanced fan-out consumer of one stream (times in epoch ms). */
export interface ConsumerRecord {
  name: string;
  /** `arn:aws:kinesis:<region>:<account>:stream/<stream>/consumer/<name>:<creation epoch seconds>`. */
  arn: string;
  status: ConsumerStatus;
  createdAt: number;
  streamName: string;
  streamArn: string;
  /** Id of the stream it was registered with; a re-created stream of the same name has none. */
  streamId: string;
}

/** How a request names a consumer: by ARN, or by stream and consumer name. */
export type ConsumerRef = { consumerArn: string } | { streamName: string; consumerName: string };

/** Consumers per stream (AWS's default quota). */
export const MAX_CONSUMERS_PER_STREAM = 20;

/** What is stored per consumer (the hash field is the name). */
interface StoredConsumer {
  arn: string;
  streamId: string;
  streamArn: string;
  createdAt: number;
}

type ScriptClient = RedisClient & {
  sgKdsRegisterConsumer(meta: string, consumers: string, ...args: string[]): Promise<number>;
  sgKdsDeregisterConsumer(consumers: string, name: string, arn: string): Promise<number>;
};

/** The enhanced fan-out consumer registry: RegisterStreamConsumer, Describe-, List-, Deregister-. */
export class StreamConsumers {
  readonly #redis: ScriptClient;
  readonly #registry: StreamRegistry;
  readonly #clock: Clock;
  readonly #region: string;
  readonly #accountId: string;

  constructor(options: {
    redis: RedisClient;
    registry: StreamRegistry;
    clock: Clock;
    region: string;
    accountId: string;
  }) {
    this.#redis = options.redis as ScriptClient;
    this.#registry = options.registry;
    this.#clock = options.clock;
    this.#region = options.region;
    this.#accountId = options.accountId;
    this.#redis.defineCommand('sgKdsRegisterConsumer', { numberOfKeys: 2, lua: REGISTER_CONSUMER });
    this.#redis.defineCommand('sgKdsDeregisterConsumer', { numberOfKeys: 1, lua: DEREGISTER_CONSUMER });
  }

  /** RegisterStreamConsumer: the consumer is ACTIVE at once. */
  async register(streamName: string, consumerName: string): Promise<ConsumerRecord> {
    const view = await this.#stream(streamName);
    const createdAt = this.#clock.now();
    const stored: StoredConsumer = {
      arn: `${view.stream.arn}/consumer/${consumerName}:${Math.floor(createdAt / 1000)}`,
      streamId: view.stream.id,
      streamArn: view.stream.arn,
      createdAt,
    };
    const code = await this.#redis.sgKdsRegisterConsumer(
      kdsKeys.meta(streamName),
      consumerKeys.consumers(streamName),
      view.stream.id,
      consumerName,
      JSON.stringify(stored),
      String(MAX_CONSUMERS_PER_STREAM),
    );
    if (code === -1) throw this.#streamNotFound(streamName);
    if (code === -2) {
      throw new ServiceError(
        'ResourceInUseException',
        `Consumer ${consumerName} under stream ${streamName} already exists for account ${this.#accountId}.`,
      );
    }
    if (code === -3) {
      throw new ServiceError(
        'LimitExceededException',
        `Stream ${streamName} under account ${this.#accountId} already has the maximum of ${MAX_CONSUMERS_PER_STREAM} consumers.`,
      );
    }
    return toRecord(consumerName, streamName, stored);
  }

  /** DescribeStreamConsumer; ResourceNotFoundException when the consumer or its stream is gone. */
  async describe(ref: ConsumerRef): Promise<ConsumerRecord> {
    const { streamName, consumerName, arn } = this.#resolve(ref);
    const view = await this.#stream(streamName);
    const json = await this.#redis.hget(consumerKeys.consumers(streamName), consumerName);
    const stored = json === null ? undefined : parseStored(json);
    if (!stored || stored.streamId !== view.stream.id || (arn !== undefined && stored.arn !== arn)) {
      throw new ServiceError(
        'ResourceNotFoundException',
        `Consumer ${arn ?? consumerName} under stream ${streamName} not found for account ${this.#accountId}.`,
      );
    }
    return toRecord(consumerName, streamName, stored);
  }

  /** ListStreamConsumers: every consumer of the stream, by name. */
  async list(streamName: string): Promise<ConsumerRecord[]> {
    const view = await this.#stream(streamName);
    const all = await this.#redis.hgetall(consumerKeys.consumers(streamName));
    return Object.entries(all)
      .map(([name, json]) => [name, parseStored(json)] as const)
      .filter((e): e is readonly [string, StoredConsumer] => e[1]?.streamId === view.stream.id)
      .map(([name, stored]) => toRecord(name, streamName, stored))
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /** DeregisterStreamConsumer: removed at once (its subscriptions end within their next heartbeat). */
  async deregister(ref: ConsumerRef): Promise<ConsumerRecord> {
    const consumer = await this.describe(ref);
    await this.#redis.sgKdsDeregisterConsumer(
      consumerKeys.consumers(consumer.streamName),
      consumer.name,
      consumer.arn,
    );
    return consumer;
  }

  /** Number of consumers of a stream (DescribeStreamSummary's ConsumerCount; DeleteStream's check). */
  async count(streamName: string): Promise<number> {
    const view = await this.#registry.get(streamName);
    if (!view) return 0;
    const all = await this.#redis.hvals(consumerKeys.consumers(streamName));
    return all.filter((json) => parseStored(json)?.streamId === view.stream.id).length;
  }

  /** Removes every consumer of a stream (DeleteStream). */
  removeAll(streamName: string): Promise<void> {
    return removeStreamConsumers(this.#redis, streamName);
  }

  /** Stream name, consumer name and (when given) the exact ARN a reference names. */
  #resolve(ref: ConsumerRef): { streamName: string; consumerName: string; arn: string | undefined } {
    if (!('consumerArn' in ref)) return { ...ref, arn: undefined };
    const m =
      /^arn:aws:kinesis:([^:]+):(\d{12}):stream\/([a-zA-Z0-9_.-]{1,128})\/consumer\/([a-zA-Z0-9_.-]{1,128}):(\d+)$/.exec(
        ref.consumerArn,
      );
    if (!m || m[1] !== this.#region || m[2] !== this.#accountId) {
      throw new ServiceError(
        'ResourceNotFoundException',
        `Consumer ${ref.consumerArn} not found for account ${this.#accountId}.`,
      );
    }
    return { streamName: m[3] as string, consumerName: m[4] as string, arn: ref.consumerArn };
  }

  async #stream(streamName: string): Promise<StreamView> {
    const view = await this.#registry.get(streamName);
    if (!view) throw this.#streamNotFound(streamName);
    return view;
  }

  #streamNotFound(streamName: string): ServiceError {
    return new ServiceError(
      'ResourceNotFoundException',
      `Stream ${streamName} under account ${this.#accountId} not found.`,
    );
  }
}

/**
 * Removes every enhanced fan-out consumer of a stream; call it when the stream is deleted. (Consumers
 * left behind are harmless: they carry the old stream id, so a re-created stream never sees them.)
 */
export async function removeStreamConsumers(redis: RedisClient, streamName: string): Promise<void> {
  await redis.del(consumerKeys.consumers(streamName));
}

function parseStored(json: string): StoredConsumer | undefined {
  try {
    const value = JSON.parse(json) as Partial<StoredConsumer>;
    if (typeof value.arn !== 'string' || typeof value.streamId !== 'string') return undefined;
    return {
      arn: value.arn,
      streamId: value.streamId,
      streamArn: value.streamArn ?? '',
      createdAt: Number(value.createdAt ?? 0),
    };
  } catch {
    return undefined;
  }
}

function toRecord(name: string, streamName: string, stored: StoredConsumer): ConsumerRecord {
  return {
    name,
    arn: stored.arn,
    status: 'ACTIVE',
    createdAt: stored.createdAt,
    streamName,
    streamArn: stored.streamArn,
    streamId: stored.streamId,
  };
}

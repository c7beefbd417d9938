import { randomBytes } from 'node:crypto';
import { isServiceError, ServiceError } from '../errors/index.ts';
import type {
  DeliveryDestination,
  DeliveryStreamRecord,
  DeliveryStreamType,
  EncryptionKeyType,
} from './delivery-stream-record.ts';
import { FIREHOSE_DEFAULT_KEY } from './delivery-stream-record.ts';
import type { DeliveryStreamRegistry } from './delivery-stream-registry.ts';
import type { Clock, KeyChecker, SourceStreams } from './ports.ts';

/** AWS's default quota of delivery streams per region. */
export const MAX_DELIVERY_STREAMS = 5_000;

/** CreateDeliveryStream, in model terms. */
export interface CreateDeliveryStream {
  name: string;
  type: DeliveryStreamType;
  source: { streamArn: string; roleArn: string } | undefined;
  encryption: { keyType: EncryptionKeyType; keyArn: string | undefined } | undefined;
  destination: DeliveryDestination;
  tags: Record<string, string>;
}

/** Lifecycle of delivery streams: create, update, delete, encryption; rules Firehose enforces. */
export class DeliveryStreamAdmin {
  readonly #registry: DeliveryStreamRegistry;
  readonly #keys: KeyChecker;
  readonly #source: SourceStreams;
  readonly #clock: Clock;
  readonly #region: string;
  readonly #accountId: string;
  readonly #onCreated: (name: string) => void;

  constructor(options: {
    registry: DeliveryStreamRegistry;
    keys: KeyChecker;
    source: SourceStreams;
    clock: Clock;
    region: string;
    accountId: string;
    /** Called once a delivery stream is ACTIVE (the fleet starts its workers without waiting). */
    onCreated: (name: string) => void;
  }) {
    this.#registry = options.registry;
    this.#keys = options.keys;
    this.#source = options.source;
    this.#clock = options.clock;
    this.#region = options.region;
    this.#accountId = options.accountId;
    this.#onCreated = options.onCreated;
  }

  /** The ARN of a delivery stream name. */
  arnOf(name: string): string {
    return `arn:aws:firehose:${this.#region}:${this.#accountId}:deliverystream/${name}`;
  }

  /** CreateDeliveryStream: CREATING while the buffer is made, then ACTIVE; returns the ARN. */
  async create(input: CreateDeliveryStream): Promise<string> {
    if ((await this.#registry.count()) >= MAX_DELIVERY_STREAMS) {
      throw new ServiceError(
        'LimitExceededException',
        `You have already reached the limit of ${MAX_DELIVERY_STREAMS} delivery streams for account ${this.#accountId}.`,
      );
    }
    let source: DeliveryStreamRecord['source'];
    if (input.type === 'KinesisStreamAsSource') {
      if (!input.source) {
        throw new ServiceError(
          'InvalidArgumentException',
          'KinesisStreamSourceConfiguration is required when DeliveryStreamType is KinesisStreamAsSource.',
        );
      }
      const streamName = input.source.streamArn.match(/^arn:[^:]+:kinesis:[^:]*:[^:]*:stream\/(.+)$/)?.[1];
      if (!streamName || !(await this.#source.shards(streamName))) {
        throw new ServiceError(
          'InvalidArgumentException',
          `Kinesis stream ${input.source.streamArn} does not exist or is not accessible.`,
        );
      }
      if (input.encryption) {
        throw new ServiceError(
          'InvalidArgumentException',
          'DeliveryStreamEncryptionConfigurationInput is not supported for KinesisStreamAsSource delivery streams.',
        );
      }
      source = { ...input.source, streamName };
    }
    if (input.encryption) await this.#checkKey(input.encryption.keyType, input.encryption.keyArn);
    const now = this.#clock.now();
    const record: DeliveryStreamRecord = {
      name: input.name,
      id: randomBytes(8).toString('hex'),
      arn: this.arnOf(input.name),
      type: input.type,
      status: 'CREATING',
      versionId: 1,
      createdAt: now,
      updatedAt: now,
      source,
      encryption: input.encryption
        ? { status: 'ENABLED', keyType: input.encryption.keyType, keyArn: input.encryption.keyArn }
        : { status: 'DISABLED', keyType: undefined, keyArn: undefined },
      destinationId: 'destinationId-000000000001',
      destination: input.destination,
    };
    await this.#registry.create(record, input.tags);
    // The buffer and its consumer group exist once create() returns: the stream can take records.
    await this.#registry.replace(record, { ...record, status: 'ACTIVE' });
    this.#onCreated(input.name);
    return record.arn;
  }

  /** UpdateDestination: replaces the destination if the caller saw the current version. */
  async updateDestination(
    name: string,
    currentVersionId: number,
    destinationId: string,
    update: (current: DeliveryStreamRecord) => DeliveryDestination,
  ): Promise<void> {
    const current = await this.#registry.require(name);
    if (destinationId !== current.destinationId) {
      throw new ServiceError('InvalidArgumentException', `Destination ${destinationId} does not exist.`);
    }
    if (current.versionId !== currentVersionId) {
      throw new ServiceError(
        'ConcurrentModificationException',
        `Firehose ${name} version does not match; CurrentDeliveryStreamVersionId ${currentVersionId} is not the latest version (${current.versionId}).`,
      );
    }
    const destination = update(current);
    await this.#registry.replace(
      current,
      { ...current, destination, versionId: current.versionId + 1, updatedAt: this.#clock.now() },
      currentVersionId,
    );
  }

  /** StartDeliveryStreamEncryption: records put from now on are sealed at rest. */
  async startEncryption(name: string, keyType: EncryptionKeyType, keyArn: string | undefined): Promise<void> {
    const current = await this.#registry.require(name);
    if (current.type === 'KinesisStreamAsSource') {
      throw new ServiceError(
        'InvalidArgumentException',
        `Firehose ${name} has a Kinesis stream as source; encryption is configured on the source stream.`,
      );
    }
    await this.#checkKey(keyType, keyArn);
    await this.#replaceEncryption(name, () => ({ status: 'ENABLED', keyType, keyArn }));
  }

  /** StopDeliveryStreamEncryption: new records are stored in plaintext (sealed ones stay readable). */
  async stopEncryption(name: string): Promise<void> {
    const current = await this.#registry.require(name);
    if (current.type === 'KinesisStreamAsSource') {
      throw new ServiceError(
        'InvalidArgumentException',
        `Firehose ${name} has a Kinesis stream as source; encryption is configured on the source stream.`,
      );
    }
    await this.#replaceEncryption(name, (latest) => ({
      status: 'DISABLED',
      keyType: latest.encryption.keyType,
      keyArn: latest.encryption.keyArn,
    }));
  }

  /**
   * Writes a new encryption setting onto the latest metadata, checked against its VersionId so a
   * concurrent UpdateDestination is not reverted: on a conflict, re-read and try again.
   */
  async #replaceEncryption(
    name: string,
    encryption: (latest: DeliveryStreamRecord) => DeliveryStreamRecord['encryption'],
  ): Promise<void> {
    for (let attempt = 1; ; attempt += 1) {
      const latest = await this.#registry.require(name);
      const next = { ...latest, encryption: encryption(latest), updatedAt: this.#clock.now() };
      try {
        await this.#registry.replace(latest, next, latest.versionId);
        return;
      } catch (error) {
        if (!isServiceError(error) || error.code !== 'ConcurrentModificationException' || attempt >= 5)
          throw error;
      }
    }
  }

  async #checkKey(keyType: EncryptionKeyType, keyArn: string | undefined): Promise<void> {
    if (keyType === 'CUSTOMER_MANAGED_CMK' && keyArn === undefined) {
      throw new ServiceError(
        'InvalidArgumentException',
        'KeyARN is required when KeyType is CUSTOMER_MANAGED_CMK.',
      );
    }
    if (keyType === 'AWS_OWNED_CMK' && keyArn !== undefined) {
      throw new ServiceError(
        'InvalidArgumentException',
        'KeyARN must not be set when KeyType is AWS_OWNED_CMK.',
      );
    }
    try {
      await this.#keys.checkKey(keyArn ?? FIREHOSE_DEFAULT_KEY);
    } catch (error) {
      throw new ServiceError(
        'InvalidKMSResourceException',
        `The KMS key ${keyArn ?? FIREHOSE_DEFAULT_KEY} is not usable: ${error instanceof Error ? error.message : String(error)}`,
        { cause: error },
      );
    }
  }
}

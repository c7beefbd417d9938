import { randomUUID } from 'node:crypto';
import { ServiceError } from '../errors/index.ts';
import type { RedisClient } from '../redis/index.ts';
import { cameraKeys } from './keys.ts';
import type { ArchiveSealer, Clock } from './ports.ts';
import type { VideoStreamRef, VideoStreamRegistry } from './stream-registry.ts';
import type { VideoStreamRecord } from './video-stream-record.ts';

/** An RTSP camera the gateway pulls into a stream. The URL with credentials is only kept sealed. */
export interface CameraSource {
  streamName: string;
  streamArn: string;
  /** Changes whenever the source is put again, so pullers restart with the new settings. */
  sourceId: string;
  /** The URL with its password replaced by `***`. */
  redactedUrl: string;
  transport: 'tcp' | 'udp';
  creationTimeMs: number;
}

/** What a pulling gateway last reported (strings: stored as a Redis hash). */
export type CameraStatus = Readonly<Record<string, string>>;

type LeaseClient = RedisClient & {
  sgKvsCameraLease(lease: string, owner: string, ttlMs: string): Promise<number>;
  sgKvsCameraRelease(lease: string, owner: string): Promise<number>;
};

/**
 * camera-lease-1: take or renew the pull lease of a camera.
 * KEYS[1] lease key; ARGV[1] owner id, ARGV[2] TTL ms. Returns 1 when ARGV[1] holds the lease, else 0.
 */
const CAMERA_LEASE = `
local holder = redis.call('GET', KEYS[1])
if holder == false or holder == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
`;

/** camera-release-1: KEYS[1] lease key; ARGV[1] owner id. Deletes the lease if ARGV[1] holds it; returns 1 then. */
const CAMERA_RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;

/** Encryption context of a sealed camera URL. */
function cameraContext(streamArn: string): Record<string, string> {
  return { 'aws:kinesisvideo:arn': streamArn, object: 'camera-source' };
}

/**
 * RTSP camera sources per stream, in Redis: the camera URL sealed under the stream's KMS key (bound
 * to the stream ARN), a redacted copy to show, a pull lease so one gateway replica pulls each camera,
 * and the puller's status. Callers validate URLs; this stores what it is given.
 */
export class CameraSources {
  readonly #redis: LeaseClient;
  readonly #sealer: ArchiveSealer;
  readonly #registry: VideoStreamRegistry;
  readonly #clock: Clock;

  constructor(options: {
    redis: RedisClient;
    sealer: ArchiveSealer;
    registry: VideoStreamRegistry;
    clock: Clock;
  }) {
    this.#redis = options.redis as LeaseClient;
    this.#sealer = options.sealer;
    this.#registry = options.registry;
    this.#clock = options.clock;
    this.#redis.defineCommand('sgKvsCameraLease', { numberOfKeys: 1, lua: CAMERA_LEASE });
    this.#redis.defineCommand('sgKvsCameraRelease', { numberOfKeys: 1, lua: CAMERA_RELEASE });
  }

  /** Sets (or replaces) the camera of an ACTIVE stream. */
  async put(
    ref: VideoStreamRef,
    source: { url: string; redactedUrl: string; transport: 'tcp' | 'udp' },
  ): Promise<CameraSource> {
    const stream = await this.#activeStream(ref);
    const sealed = await this.#sealer.sealParts(
      Buffer.from(source.url, 'utf8'),
      stream.kmsKeyId,
      cameraContext(stream.arn),
    );
    const record: CameraSource = {
      streamName: stream.name,
      streamArn: stream.arn,
      sourceId: randomUUID(),
      redactedUrl: source.redactedUrl,
      transport: source.transport,
      creationTimeMs: this.#clock.now(),
    };
    await this.#redis
      .multi()
      .del(cameraKeys.source(stream.name), cameraKeys.status(stream.name))
      .hset(cameraKeys.source(stream.name), {
        ...recordToHash(record),
        sealedUrl: Buffer.concat(sealed).toString('base64'),
      })
      .exec();
    await this.#redis.sadd(cameraKeys.all(), stream.name);
    return record;
  }

  /** The camera of a stream, or ResourceNotFoundException. */
  async get(ref: VideoStreamRef): Promise<{ source: CameraSource; status: CameraStatus }> {
    const stream = await this.#registry.describe(ref);
    const [source, status] = await Promise.all([
      this.#redis.hgetall(cameraKeys.source(stream.name)),
      this.#redis.hgetall(cameraKeys.status(stream.name)),
    ]);
    const record = hashToRecord(source);
    if (record === undefined || record.streamArn !== stream.arn) {
      throw new ServiceError('ResourceNotFoundException', `The stream ${stream.name} has no RTSP source.`);
    }
    return { source: record, status };
  }

  /** Removes the camera of a stream (ResourceNotFoundException when it has none). */
  async delete(ref: VideoStreamRef): Promise<void> {
    const { source } = await this.get(ref);
    await this.forget(source.streamName);
  }

  /** Removes whatever camera is stored under a stream name (stream deletion); idempotent. */
  async forget(streamName: string): Promise<void> {
    await this.#redis.del(cameraKeys.source(streamName), cameraKeys.status(streamName));
    await this.#redis.srem(cameraKeys.all(), streamName);
  }

  /** Every stored camera source (entries of deleted or re-created streams are skipped). */
  async list(): Promise<CameraSource[]> {
    const names = await this.#redis.smembers(cameraKeys.all());
    const hashes = await Promise.all(names.map((name) => this.#redis.hgetall(cameraKeys.source(name))));
    return hashes.map(hashToRecord).filter((record): record is CameraSource => record !== undefined);
  }

  /** The camera URL with its credentials. */
  async openUrl(source: CameraSource): Promise<string> {
    const sealed = await this.#redis.hget(cameraKeys.source(source.streamName), 'sealedUrl');
    if (sealed === null) throw new ServiceError('ResourceNotFoundException', 'The RTSP source was removed.');
    const plaintext = await this.#sealer.open(Buffer.from(sealed, 'base64'), cameraContext(source.streamArn));
    return plaintext.toString('utf8');
  }

  /** Takes or renews the pull lease; true when `owner` holds it for the next `ttlMs`. */
  async lease(streamName: string, owner: string, ttlMs: number): Promise<boolean> {
    return (await this.#redis.sgKvsCameraLease(cameraKeys.lease(streamName), owner, String(ttlMs))) === 1;
  }

  /** Gives the lease up if `owner` holds it. */
  async release(streamName: string, owner: string): Promise<void> {
    await this.#redis.sgKvsCameraRelease(cameraKeys.lease(streamName), owner);
  }

  /** Records the puller's status, if the source is still the one being pulled. */
  async reportStatus(source: CameraSource, status: CameraStatus): Promise<void> {
    const current = await this.#redis.hget(cameraKeys.source(source.streamName), 'sourceId');
    if (current !== source.sourceId) return;
    await this.#redis.hset(cameraKeys.status(source.streamName), status);
  }

  async #activeStream(ref: VideoStreamRef): Promise<VideoStreamRecord> {
    const stream = await this.#registry.describe(ref);
    if (stream.status !== 'ACTIVE') {
      throw new ServiceError('ResourceInUseException', `The stream ${stream.name} is not ACTIVE.`);
    }
    return stream;
  }
}

function recordToHash(record: CameraSource): Record<string, string> {
  return {
    streamName: record.streamName,
    streamArn: record.streamArn,
    sourceId: record.sourceId,
    redactedUrl: record.redactedUrl,
    transport: record.transport,
    creationTimeMs: String(record.creationTimeMs),
  };
}

function hashToRecord(hash: Record<string, string>): CameraSource | undefined {
  const { streamName, streamArn, sourceId, redactedUrl, transport, creationTimeMs } = hash;
  if (!streamName || !streamArn || !sourceId || !redactedUrl || !creationTimeMs) return undefined;
  return {
    streamName,
    streamArn,
    sourceId,
    redactedUrl,
    transport: transport === 'udp' ? 'udp' : 'tcp',
    creationTimeMs: Number(creationTimeMs),
  };
}

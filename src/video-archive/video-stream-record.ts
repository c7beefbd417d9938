import { randomInt } from 'node:crypto';

/** Status of a video stream (KVS `Status`); streams are ACTIVE at once and DELETING while deleted. */
export type VideoStreamStatus = 'ACTIVE' | 'DELETING';

/** A video stream's metadata as stored in Redis (field names without AWS casing). */
export interface VideoStreamRecord {
  name: string;
  /** `arn:aws:kinesisvideo:<region>:<account>:stream/<name>/<creation epoch ms>`. */
  arn: string;
  /** Random 20-character token; changes on every update (optimistic concurrency). */
  version: string;
  status: VideoStreamStatus;
  creationTimeMs: number;
  /** 0 = live only (nothing archived). */
  retentionHours: number;
  /** Key id, ARN or alias as given (default `alias/aws/kinesisvideo`). */
  kmsKeyId: string;
  mediaType: string | undefined;
  deviceName: string | undefined;
}

/** The metadata hash of a record (undefined members are left out). */
export function recordToHash(record: VideoStreamRecord): Record<string, string> {
  const hash: Record<string, string> = {
    name: record.name,
    arn: record.arn,
    version: record.version,
    status: record.status,
    creationTimeMs: String(record.creationTimeMs),
    retentionHours: String(record.retentionHours),
    kmsKeyId: record.kmsKeyId,
  };
  if (record.mediaType !== undefined) hash.mediaType = record.mediaType;
  if (record.deviceName !== undefined) hash.deviceName = record.deviceName;
  return hash;
}

/** The record in a metadata hash, or undefined when the hash is empty (no such stream). */
export function hashToRecord(hash: Readonly<Record<string, string>>): VideoStreamRecord | undefined {
  const { name, arn, version, status, creationTimeMs, retentionHours, kmsKeyId } = hash;
  if (
    name === undefined ||
    arn === undefined ||
    version === undefined ||
    creationTimeMs === undefined ||
    retentionHours === undefined ||
    kmsKeyId === undefined
  ) {
    return undefined;
  }
  return {
    name,
    arn,
    version,
    status: status === 'DELETING' ? 'DELETING' : 'ACTIVE',
    creationTimeMs: Number(creationTimeMs),
    retentionHours: Number(retentionHours),
    kmsKeyId,
    mediaType: hash.mediaType,
    deviceName: hash.deviceName,
  };
}

const ARN_PATTERN =
  /^arn:aws[a-z-]*:kinesisvideo:([a-z0-9-]+):(\d{12}):stream\/([a-zA-Z0-9_.-]{1,256})\/(\d+)$/;
const VERSION_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** A stream's ARN: `arn:aws:kinesisvideo:<region>:<account>:stream/<name>/<creation epoch ms>`. */
export function streamArn(region: string, accountId: string, name: string, creationTimeMs: number): string {
  return `arn:aws:kinesisvideo:${region}:${accountId}:stream/${name}/${creationTimeMs}`;
}

/** The parts of a stream ARN, or undefined when `arn` is not one. */
export function parseStreamArn(
  arn: string,
): { region: string; accountId: string; name: string; creationTimeMs: number } | undefined {
  const [, region, accountId, name, creationTimeMs] = ARN_PATTERN.exec(arn) ?? [];
  if (!region || !accountId || !name || !creationTimeMs) return undefined;
  return { region, accountId, name, creationTimeMs: Number(creationTimeMs) };
}

/** A new random 20-character alphanumeric stream version. */
export function newStreamVersion(): string {
  let version = '';
  for (let i = 0; i < 20; i += 1) version += VERSION_ALPHABET[randomInt(VERSION_ALPHABET.length)];
  return version;
}

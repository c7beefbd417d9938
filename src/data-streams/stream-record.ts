/** Lifecycle of a stream, as AWS names it. */
export type StreamStatus = 'CREATING' | 'ACTIVE' | 'UPDATING' | 'DELETING';
/** Capacity mode of a stream. */
export type StreamMode = 'PROVISIONED' | 'ON_DEMAND';

/** A stream's metadata (times in epoch ms). */
export interface StreamRecord {
  name: string;
  /** Random id, part of every shard log key, so a re-created stream never sees old records. */
  id: string;
  arn: string;
  status: StreamStatus;
  mode: StreamMode;
  retentionHours: number;
  createdAt: number;
  /** KMS key reference records are sealed with, or undefined when encryption is off. */
  kmsKeyId: string | undefined;
  nextShardIndex: number;
  maxRecordBytes: number;
}

/** A shard: its hash-key range (decimal strings), lineage and sequence-number range. */
export interface ShardRecord {
  shardId: string;
  parentShardId?: string;
  adjacentParentShardId?: string;
  startingHashKey: string;
  endingHashKey: string;
  startingSequenceNumber: string;
  /** Set once the shard is closed by resharding. */
  endingSequenceNumber?: string;
}

/** StreamRecord -> Redis hash fields. */
export function streamToHash(stream: StreamRecord): Record<string, string> {
  return {
    name: stream.name,
    id: stream.id,
    arn: stream.arn,
    status: stream.status,
    mode: stream.mode,
    retentionHours: String(stream.retentionHours),
    createdAt: String(stream.createdAt),
    kmsKeyId: stream.kmsKeyId ?? '',
    nextShardIndex: String(stream.nextShardIndex),
    maxRecordBytes: String(stream.maxRecordBytes),
  };
}

/** Redis hash fields -> StreamRecord; undefined when the stream does not exist. */
export function hashToStream(hash: Record<string, string>): StreamRecord | undefined {
  if (!hash.name || !hash.id) return undefined;
  return {
    name: hash.name,
    id: hash.id,
    arn: hash.arn ?? '',
    status: (hash.status ?? 'ACTIVE') as StreamStatus,
    mode: (hash.mode ?? 'PROVISIONED') as StreamMode,
    retentionHours: Number(hash.retentionHours ?? 24),
    createdAt: Number(hash.createdAt ?? 0),
    kmsKeyId: hash.kmsKeyId ? hash.kmsKeyId : undefined,
    nextShardIndex: Number(hash.nextShardIndex ?? 0),
    maxRecordBytes: Number(hash.maxRecordBytes ?? 1024 * 1024),
  };
}

import { type LogEntry, parseEntryId } from '../stream-log/index.ts';
import { kmsError } from './kms-errors.ts';
import type { RecordSealer } from './ports.ts';
import { toSequenceNumber } from './sequence-number.ts';
import type { ShardRecord, StreamRecord } from './stream-record.ts';

/** A record as GetRecords and SubscribeToShard return it. */
export interface StoredRecord {
  sequenceNumber: string;
  arrivalMs: number;
  data: Buffer;
  partitionKey: string;
  encrypted: boolean;
}

/** A child shard as GetRecords and SubscribeToShard report it at the end of a closed shard. */
export interface ChildShard {
  shardId: string;
  parentShards: string[];
  startingHashKey: string;
  endingHashKey: string;
}

/** The encryption context every record of a stream is sealed under. */
export function recordContext(stream: StreamRecord): Record<string, string> {
  return { 'aws:kinesis:arn': stream.arn };
}

/** Turns a shard-log entry into a record, opening its envelope when the stream sealed it. */
export async function openStoredRecord(
  stream: StreamRecord,
  entry: LogEntry,
  sealer: RecordSealer,
): Promise<StoredRecord> {
  const data = entry.fields.get('d') ?? Buffer.alloc(0);
  const encrypted = entry.fields.get('e')?.toString() === '1';
  let plaintext = data;
  if (encrypted) {
    try {
      plaintext = await sealer.open(data, recordContext(stream));
    } catch (error) {
      throw kmsError(error);
    }
  }
  return {
    sequenceNumber: toSequenceNumber(entry.id),
    arrivalMs: parseEntryId(entry.id).ms,
    data: plaintext,
    partitionKey: entry.fields.get('k')?.toString() ?? '',
    encrypted,
  };
}

/** The children of a shard (from ParentShardId / AdjacentParentShardId), for ChildShards. */
export function childrenOf(shards: readonly ShardRecord[], parentId: string): ChildShard[] {
  return shards
    .filter((s) => s.parentShardId === parentId || s.adjacentParentShardId === parentId)
    .map((s) => ({
      shardId: s.shardId,
      parentShards: [s.parentShardId, s.adjacentParentShardId].filter((p): p is string => p !== undefined),
      startingHashKey: s.startingHashKey,
      endingHashKey: s.endingHashKey,
    }));
}

import { z } from 'zod';
import type {
  IteratorStart,
  RecordIO,
  Resharding,
  ShardFilter,
  ShardRecord,
  StreamAdmin,
  StreamConsumers,
  StreamView,
} from '../../data-streams/index.ts';
import { filterShards, MAX_HASH_KEY, RETENTION_HOURS } from '../../data-streams/index.ts';
import { ServiceError } from '../../errors/index.ts';
import type { JsonService, OperationHandler } from '../aws/aws-protocol.ts';
import { blob, int, oneOf, parseInput, str } from '../aws/validation.ts';

// Kinesis Data Streams (Kinesis_20131202, awsJson1_1 and CBOR) on the protocol core: validates input at
// the edge, resolves StreamName/StreamARN, calls data-streams/, and shapes output as the SDKs expect.

const streamName = str(1, 128).regex(
  /^[a-zA-Z0-9_.-]+$/,
  'Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+',
);
const streamArn = str(1, 2048);
const shardId = str(1, 128).regex(
  /^[a-zA-Z0-9_.-]+$/,
  'Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+',
);
const partitionKey = str(1, 256);
const sequenceNumber = z
  .string()
  .regex(/^(0|[1-9]\d{0,128})$/, 'Member must satisfy regular expression pattern: 0|([1-9]\\d{0,128})');
const hashKey = z
  .string()
  .regex(/^(0|[1-9]\d{0,38})$/, 'Member must satisfy regular expression pattern: 0|([1-9]\\d{0,38})');
const timestamp = z
  .union([z.number(), z.date()], { message: 'Member must be a timestamp' })
  .transform((v) => (typeof v === 'number' ? v * 1000 : v.getTime()));
const tagKey = str(1, 128);
const tagMap = z.record(tagKey, str(0, 256));
const streamRef = { StreamName: streamName.optional(), StreamARN: streamArn.optional() };
const streamMode = oneOf(['PROVISIONED', 'ON_DEMAND']);

/** Limits of the record API. */
export interface KinesisLimits {
  /** Largest record (data + partition key), 1 MiB by default as in AWS; up to 10 MiB. */
  maxRecordBytes: number;
  /** Largest PutRecords request (sum of data + partition keys). */
  maxPutRecordsBytes: number;
}

/** The Kinesis_20131202 operations, ready to register on the AWS protocol core. */
export function kinesisApi(options: {
  admin: StreamAdmin;
  records: RecordIO;
  resharding: Resharding;
  consumers: StreamConsumers;
  accountId: string;
  limits: KinesisLimits;
  /** More Kinesis operations defined in other files of this folder (enhanced fan-out). */
  extraOperations?: Readonly<Record<string, OperationHandler>>;
}): JsonService {
  const { admin, records, resharding, consumers, accountId, limits } = options;

  const nameOf = (i: { StreamName?: string | undefined; StreamARN?: string | undefined }): string => {
    if (i.StreamARN !== undefined) {
      const fromArn = admin.nameOfArn(i.StreamARN);
      if (i.StreamName !== undefined && i.StreamName !== fromArn) {
        throw new ServiceError(
          'InvalidArgumentException',
          'StreamARN and StreamName refer to different streams.',
        );
      }
      return fromArn;
    }
    if (i.StreamName === undefined)
      throw new ServiceError(
        'InvalidArgumentException',
        'Either StreamName or StreamARN should be provided.',
      );
    return i.StreamName;
  };

  const checkRecordSize = (data: Buffer, key: string) => {
    if (data.length + Buffer.byteLength(key) > limits.maxRecordBytes) {
      throw new ServiceError(
        'ValidationException',
        `1 validation error detected: Value at 'data' failed to satisfy constraint: Member must have length less than or equal to ${limits.maxRecordBytes}`,
      );
    }
  };

  const explicitHashKey = (value: string | undefined): bigint | undefined => {
    if (value === undefined) return undefined;
    const key = BigInt(value);
    if (key > MAX_HASH_KEY) {
      throw new ServiceError(
        'InvalidArgumentException',
        `Invalid ExplicitHashKey. ExplicitHashKey must be in the range: [0, 2^128-1]. Specified value was ${value}`,
      );
    }
    return key;
  };

  // Input schemas are built once per API instance: building zod schemas per request costs ~90 µs.
  const createStreamInput = z.object({
    StreamName: streamName,
    ShardCount: int(1, 10_000).optional(),
    StreamModeDetails: z.object({ StreamMode: streamMode }).optional(),
    Tags: tagMap.optional(),
  });
  const deleteStreamInput = z.object({ ...streamRef, EnforceConsumerDeletion: z.boolean().optional() });
  const describeStreamInput = z.object({
    ...streamRef,
    Limit: int(1, 100).optional(),
    ExclusiveStartShardId: shardId.optional(),
  });
  const describeStreamSummaryInput = z.object(streamRef);
  const listStreamsInput = z.object({
    Limit: int(1, 10_000).optional(),
    ExclusiveStartStreamName: streamName.optional(),
    NextToken: str(1, 1048576).optional(),
  });
  const listShardsInput = z.object({
    ...streamRef,
    NextToken: str(1, 1048576).optional(),
    ExclusiveStartShardId: shardId.optional(),
    MaxResults: int(1, 10_000).optional(),
    StreamCreationTimestamp: timestamp.optional(),
    ShardFilter: z
      .object({
        Type: oneOf([
          'AFTER_SHARD_ID',
          'AT_TRIM_HORIZON',
          'FROM_TRIM_HORIZON',
          'AT_LATEST',
          'AT_TIMESTAMP',
          'FROM_TIMESTAMP',
        ]),
        ShardId: shardId.optional(),
        Timestamp: timestamp.optional(),
      })
      .optional(),
  });
  const putRecordInput = z.object({
    ...streamRef,
    Data: blob({ maxBytes: limits.maxRecordBytes }),
    PartitionKey: partitionKey,
    ExplicitHashKey: hashKey.optional(),
    SequenceNumberForOrdering: sequenceNumber.optional(),
  });
  const putRecordsInput = z.object({
    ...streamRef,
    Records: z
      .array(
        z.object({
          Data: blob({ maxBytes: limits.maxRecordBytes }),
          PartitionKey: partitionKey,
          ExplicitHashKey: hashKey.optional(),
        }),
        { message: 'Member must not be null' },
      )
      .min(1, 'Member must have length greater than or equal to 1')
      .max(500, 'Member must have length less than or equal to 500'),
  });
  const getShardIteratorInput = z.object({
    ...streamRef,
    ShardId: shardId,
    ShardIteratorType: oneOf([
      'AT_SEQUENCE_NUMBER',
      'AFTER_SEQUENCE_NUMBER',
      'TRIM_HORIZON',
      'LATEST',
      'AT_TIMESTAMP',
    ]),
    StartingSequenceNumber: sequenceNumber.optional(),
    Timestamp: timestamp.optional(),
  });
  const getRecordsInput = z.object({
    ShardIterator: str(1, 512),
    Limit: int(1, 10_000).optional(),
    StreamARN: streamArn.optional(),
  });
  const splitShardInput = z.object({ ...streamRef, ShardToSplit: shardId, NewStartingHashKey: hashKey });
  const mergeShardsInput = z.object({ ...streamRef, ShardToMerge: shardId, AdjacentShardToMerge: shardId });
  const updateShardCountInput = z.object({
    ...streamRef,
    TargetShardCount: int(1, 10_000),
    ScalingType: oneOf(['UNIFORM_SCALING']),
  });
  const increaseStreamRetentionPeriodInput = z.object({
    ...streamRef,
    RetentionPeriodHours: int(RETENTION_HOURS.min, RETENTION_HOURS.max),
  });
  const decreaseStreamRetentionPeriodInput = z.object({
    ...streamRef,
    RetentionPeriodHours: int(RETENTION_HOURS.min, RETENTION_HOURS.max),
  });
  const updateStreamModeInput = z.object({
    StreamARN: streamArn,
    StreamModeDetails: z.object({ StreamMode: streamMode }),
  });
  const startStreamEncryptionInput = z.object({
    ...streamRef,
    EncryptionType: oneOf(['KMS']),
    KeyId: str(1, 2048),
  });
  const stopStreamEncryptionInput = z.object({
    ...streamRef,
    EncryptionType: oneOf(['KMS']),
    KeyId: str(1, 2048),
  });
  const addTagsToStreamInput = z.object({ ...streamRef, Tags: tagMap });
  const removeTagsFromStreamInput = z.object({ ...streamRef, TagKeys: z.array(tagKey).min(1).max(50) });
  const listTagsForStreamInput = z.object({
    ...streamRef,
    ExclusiveStartTagKey: tagKey.optional(),
    Limit: int(1, 50).optional(),
  });
  const tagResourceInput = z.object({ ResourceARN: streamArn, Tags: tagMap });
  const untagResourceInput = z.object({ ResourceARN: streamArn, TagKeys: z.array(tagKey).min(1).max(50) });
  const listTagsForResourceInput = z.object({ ResourceARN: streamArn });

  const ops: Record<string, OperationHandler> = {
    CreateStream: async (input) => {
      const i = parseInput(createStreamInput, input);
      await admin.create({
        streamName: i.StreamName,
        shardCount: i.ShardCount,
        mode: i.StreamModeDetails?.StreamMode ?? 'PROVISIONED',
        tags: i.Tags ?? {},
      });
    },
    DeleteStream: async (input) => {
      const i = parseInput(deleteStreamInput, input);
      const name = nameOf(i);
      await admin.require(name);
      if (!i.EnforceConsumerDeletion && (await consumers.count(name)) > 0) {
        throw new ServiceError(
          'ResourceInUseException',
          `Stream ${name} under account ${accountId} has registered consumers; deregister them or set EnforceConsumerDeletion.`,
        );
      }
      await admin.delete(name);
      await consumers.removeAll(name);
    },
    DescribeStream: async (input) => {
      const i = parseInput(describeStreamInput, input);
      const view = await admin.require(nameOf(i));
      const after = i.ExclusiveStartShardId;
      const rest = view.shards.filter((s) => after === undefined || s.shardId > after);
      const page = rest.slice(0, i.Limit ?? 100);
      return {
        StreamDescription: {
          ...streamSummary(view),
          Shards: page.map(shardShape),
          HasMoreShards: rest.length > page.length,
          RetentionPeriodHours: view.stream.retentionHours,
          EnhancedMonitoring: [{ ShardLevelMetrics: [] }],
          ...encryptionShape(view),
        },
      };
    },
    DescribeStreamSummary: async (input) => {
      const view = await admin.require(nameOf(parseInput(describeStreamSummaryInput, input)));
      return {
        StreamDescriptionSummary: {
          ...streamSummary(view),
          RetentionPeriodHours: view.stream.retentionHours,
          EnhancedMonitoring: [{ ShardLevelMetrics: [] }],
          ...encryptionShape(view),
          OpenShardCount: view.shards.filter((s) => s.endingSequenceNumber === undefined).length,
          ConsumerCount: await consumers.count(view.stream.name),
          MaxRecordSizeInKiB: Math.floor(view.stream.maxRecordBytes / 1024),
        },
      };
    },
    ListStreams: async (input) => {
      const i = parseInput(listStreamsInput, input);
      const after =
        i.NextToken !== undefined
          ? decodeToken(i.NextToken, 'ListStreams').after
          : i.ExclusiveStartStreamName;
      const { views, hasMore } = await admin.list(after, i.Limit ?? 100);
      return {
        StreamNames: views.map((v) => v.stream.name),
        HasMoreStreams: hasMore,
        ...(hasMore && views.length > 0
          ? { NextToken: encodeToken('ListStreams', views.at(-1)?.stream.name ?? '') }
          : {}),
        StreamSummaries: views.map(streamSummary),
      };
    },
    ListShards: async (input) => {
      const i = parseInput(listShardsInput, input);
      let name: string;
      let after = i.ExclusiveStartShardId;
      if (i.NextToken !== undefined) {
        if (i.StreamName !== undefined || i.StreamARN !== undefined) {
          throw new ServiceError(
            'InvalidArgumentException',
            'NextToken and StreamName cannot be provided together.',
          );
        }
        const token = decodeToken(i.NextToken, 'ListShards');
        [name, after] = [token.stream ?? '', token.after];
      } else {
        name = nameOf(i);
      }
      const view = await admin.require(name);
      const shards = filterShards(view.shards, shardFilterOf(i.ShardFilter), admin.horizonMs(view.stream));
      const rest = shards.filter((s) => after === undefined || s.shardId > after);
      const page = rest.slice(0, i.MaxResults ?? 1000);
      return {
        Shards: page.map(shardShape),
        ...(rest.length > page.length
          ? { NextToken: encodeToken('ListShards', page.at(-1)?.shardId ?? '', name) }
          : {}),
      };
    },
    PutRecord: async (input) => {
      const i = parseInput(putRecordInput, input, ['Data']);
      checkRecordSize(i.Data, i.PartitionKey);
      const [result] = await records.put(nameOf(i), [
        { data: i.Data, partitionKey: i.PartitionKey, explicitHashKey: explicitHashKey(i.ExplicitHashKey) },
      ]);
      if (!result || 'errorCode' in result) {
        throw new ServiceError(
          result?.errorCode ?? 'InternalFailure',
          result?.errorMessage ?? 'Internal service failure.',
        );
      }
      return {
        ShardId: result.shardId,
        SequenceNumber: result.sequenceNumber,
        EncryptionType: result.encrypted ? 'KMS' : 'NONE',
      };
    },
    PutRecords: async (input) => {
      const i = parseInput(putRecordsInput, input, ['Records']);
      let total = 0;
      for (const r of i.Records) {
        checkRecordSize(r.Data, r.PartitionKey);
        total += r.Data.length + Buffer.byteLength(r.PartitionKey);
      }
      if (total > limits.maxPutRecordsBytes) {
        throw new ServiceError(
          'InvalidArgumentException',
          `Records size exceeds ${limits.maxPutRecordsBytes / 1024 / 1024} MB limit`,
        );
      }
      const results = await records.put(
        nameOf(i),
        i.Records.map((r) => ({
          data: r.Data,
          partitionKey: r.PartitionKey,
          explicitHashKey: explicitHashKey(r.ExplicitHashKey),
        })),
      );
      let failed = 0;
      let encrypted = false;
      const out = results.map((r) => {
        if ('errorCode' in r) {
          failed += 1;
          return { ErrorCode: r.errorCode, ErrorMessage: r.errorMessage };
        }
        encrypted ||= r.encrypted;
        return { SequenceNumber: r.sequenceNumber, ShardId: r.shardId };
      });
      return { FailedRecordCount: failed, Records: out, EncryptionType: encrypted ? 'KMS' : 'NONE' };
    },
    GetShardIterator: async (input) => {
      const i = parseInput(getShardIteratorInput, input);
      let start: IteratorStart;
      switch (i.ShardIteratorType) {
        case 'AT_SEQUENCE_NUMBER':
        case 'AFTER_SEQUENCE_NUMBER':
          if (i.StartingSequenceNumber === undefined) {
            throw new ServiceError(
              'InvalidArgumentException',
              `Must specify StartingSequenceNumber for ${i.ShardIteratorType} type.`,
            );
          }
          start = { type: i.ShardIteratorType, sequenceNumber: i.StartingSequenceNumber };
          break;
        case 'AT_TIMESTAMP':
          if (i.Timestamp === undefined)
            throw new ServiceError(
              'InvalidArgumentException',
              'Must specify timestampInMillis parameter for iterator of type AT_TIMESTAMP.',
            );
          start = { type: 'AT_TIMESTAMP', timestampMs: i.Timestamp };
          break;
        default:
          start = { type: i.ShardIteratorType };
      }
      return { ShardIterator: await records.shardIterator(nameOf(i), i.ShardId, start) };
    },
    GetRecords: async (input) => {
      const i = parseInput(getRecordsInput, input);
      const result = await records.getRecords(i.ShardIterator, i.Limit ?? 10_000);
      return {
        Records: result.records.map((r) => ({
          SequenceNumber: r.sequenceNumber,
          ApproximateArrivalTimestamp: new Date(r.arrivalMs),
          Data: r.data,
          PartitionKey: r.partitionKey,
          ...(r.encrypted ? { EncryptionType: 'KMS' } : {}),
        })),
        ...(result.nextShardIterator !== undefined ? { NextShardIterator: result.nextShardIterator } : {}),
        MillisBehindLatest: result.millisBehindLatest,
        ...(result.childShards !== undefined
          ? {
              ChildShards: result.childShards.map((c) => ({
                ShardId: c.shardId,
                ParentShards: c.parentShards,
                HashKeyRange: { StartingHashKey: c.startingHashKey, EndingHashKey: c.endingHashKey },
              })),
            }
          : {}),
      };
    },
    SplitShard: async (input) => {
      const i = parseInput(splitShardInput, input);
      await resharding.split(nameOf(i), i.ShardToSplit, BigInt(i.NewStartingHashKey));
    },
    MergeShards: async (input) => {
      const i = parseInput(mergeShardsInput, input);
      await resharding.merge(nameOf(i), i.ShardToMerge, i.AdjacentShardToMerge);
    },
    UpdateShardCount: async (input) => {
      const i = parseInput(updateShardCountInput, input);
      const name = nameOf(i);
      const { current } = await resharding.updateShardCount(name, i.TargetShardCount);
      return {
        StreamName: name,
        StreamARN: admin.streamArn(name),
        CurrentShardCount: current,
        TargetShardCount: i.TargetShardCount,
      };
    },
    IncreaseStreamRetentionPeriod: async (input) => {
      const i = parseInput(increaseStreamRetentionPeriodInput, input);
      await admin.setRetention(nameOf(i), i.RetentionPeriodHours, 'increase');
    },
    DecreaseStreamRetentionPeriod: async (input) => {
      const i = parseInput(decreaseStreamRetentionPeriodInput, input);
      await admin.setRetention(nameOf(i), i.RetentionPeriodHours, 'decrease');
    },
    UpdateStreamMode: async (input) => {
      const i = parseInput(updateStreamModeInput, input);
      await admin.setMode(admin.nameOfArn(i.StreamARN), i.StreamModeDetails.StreamMode);
    },
    StartStreamEncryption: async (input) => {
      const i = parseInput(startStreamEncryptionInput, input);
      await admin.startEncryption(nameOf(i), i.KeyId);
    },
    StopStreamEncryption: async (input) => {
      const i = parseInput(stopStreamEncryptionInput, input);
      await admin.stopEncryption(nameOf(i));
    },
    AddTagsToStream: async (input) => {
      const i = parseInput(addTagsToStreamInput, input);
      await admin.addTags(nameOf(i), i.Tags);
    },
    RemoveTagsFromStream: async (input) => {
      const i = parseInput(removeTagsFromStreamInput, input);
      await admin.removeTags(nameOf(i), i.TagKeys);
    },
    ListTagsForStream: async (input) => {
      const i = parseInput(listTagsForStreamInput, input);
      const all = (await admin.tags(nameOf(i))).filter(
        (t) => i.ExclusiveStartTagKey === undefined || t.key > i.ExclusiveStartTagKey,
      );
      const page = all.slice(0, i.Limit ?? 50);
      return {
        Tags: page.map((t) => ({ Key: t.key, Value: t.value })),
        HasMoreTags: all.length > page.length,
      };
    },
    TagResource: async (input) => {
      const i = parseInput(tagResourceInput, input);
      await admin.addTags(admin.nameOfArn(i.ResourceARN), i.Tags);
    },
    UntagResource: async (input) => {
      const i = parseInput(untagResourceInput, input);
      await admin.removeTags(admin.nameOfArn(i.ResourceARN), i.TagKeys);
    },
    ListTagsForResource: async (input) => {
      const i = parseInput(listTagsForResourceInput, input);
      const tags = await admin.tags(admin.nameOfArn(i.ResourceARN));
      return { Tags: tags.map((t) => ({ Key: t.key, Value: t.value })) };
    },
    DescribeLimits: async () => {
      const counts = await admin.limits();
      return {
        ShardLimit: 20_000,
        OpenShardCount: counts.openShards,
        OnDemandStreamCount: counts.onDemandStreams,
        OnDemandStreamCountLimit: 50,
      };
    },
  };
  return {
    targetPrefix: 'Kinesis_20131202',
    signingName: 'kinesis',
    operations: { ...ops, ...options.extraOperations },
  };

  function encodeToken(kind: string, after: string, stream?: string): string {
    return Buffer.from(JSON.stringify({ kind, after, stream, issuedAt: Date.now() })).toString('base64');
  }

  function decodeToken(token: string, kind: string): { after: string; stream?: string } {
    let parsed: { kind?: string; after?: string; stream?: string; issuedAt?: number };
    try {
      parsed = JSON.parse(Buffer.from(token, 'base64').toString('utf8'));
    } catch {
      throw new ServiceError('InvalidArgumentException', 'Invalid NextToken.');
    }
    if (parsed.kind !== kind || typeof parsed.after !== 'string' || typeof parsed.issuedAt !== 'number') {
      throw new ServiceError('InvalidArgumentException', 'Invalid NextToken.');
    }
    if (Date.now() - parsed.issuedAt > 300_000) {
      throw new ServiceError(
        'ExpiredNextTokenException',
        `The timestamp of the NextToken is older than 300 seconds (account ${accountId}).`,
      );
    }
    return { after: parsed.after, ...(parsed.stream !== undefined ? { stream: parsed.stream } : {}) };
  }
}

/** The API's ShardFilter as data-streams/ takes it; a type that needs a ShardId or Timestamp must have it. */
function shardFilterOf(
  filter: { Type: string; ShardId?: string | undefined; Timestamp?: number | undefined } | undefined,
): ShardFilter | undefined {
  if (filter === undefined) return undefined;
  switch (filter.Type) {
    case 'AFTER_SHARD_ID':
      if (filter.ShardId === undefined)
        throw new ServiceError('InvalidArgumentException', 'ShardFilter AFTER_SHARD_ID requires ShardId.');
      return { type: 'AFTER_SHARD_ID', shardId: filter.ShardId };
    case 'AT_TIMESTAMP':
    case 'FROM_TIMESTAMP':
      if (filter.Timestamp === undefined)
        throw new ServiceError('InvalidArgumentException', `ShardFilter ${filter.Type} requires Timestamp.`);
      return { type: filter.Type, timestampMs: filter.Timestamp };
    default:
      return { type: filter.Type as 'AT_TRIM_HORIZON' | 'FROM_TRIM_HORIZON' | 'AT_LATEST' };
  }
}

function streamSummary(view: StreamView) {
  return {
    StreamName: view.stream.name,
    StreamARN: view.stream.arn,
    StreamStatus: view.stream.status,
    StreamModeDetails: { StreamMode: view.stream.mode },
    StreamCreationTimestamp: new Date(view.stream.createdAt),
  };
}

function encryptionShape(view: StreamView) {
  return view.stream.kmsKeyId
    ? { EncryptionType: 'KMS', KeyId: view.stream.kmsKeyId }
    : { EncryptionType: 'NONE' };
}

function shardShape(shard: ShardRecord) {
  return {
    ShardId: shard.shardId,
    ...(shard.parentShardId ? { ParentShardId: shard.parentShardId } : {}),
    ...(shard.adjacentParentShardId ? { AdjacentParentShardId: shard.adjacentParentShardId } : {}),
    HashKeyRange: { StartingHashKey: shard.startingHashKey, EndingHashKey: shard.endingHashKey },
    SequenceNumberRange: {
      StartingSequenceNumber: shard.startingSequenceNumber,
      ...(shard.endingSequenceNumber ? { EndingSequenceNumber: shard.endingSequenceNumber } : {}),
    },
  };
}

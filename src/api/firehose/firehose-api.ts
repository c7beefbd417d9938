import { z } from 'zod';
import { ServiceError } from '../../errors/index.ts';
import type { DeliveryDestination, DeliveryStreamRecord, Firehose } from '../../firehose/index.ts';
import type { JsonService, OperationHandler } from '../aws/aws-protocol.ts';
import { blob, int, oneOf, parseInput, str } from '../aws/validation.ts';
import {
  describeDestination,
  extendedS3DestinationConfiguration,
  fromExtendedS3,
  fromHttpEndpoint,
  httpEndpointDestinationConfiguration,
  mergeDestinationUpdate,
  s3DestinationConfiguration,
} from './destination-shapes.ts';

// Firehose (Firehose_20150804, awsJson1_1) on the protocol core: validates input at the edge, maps AWS
// shapes onto firehose/'s model, and shapes output as @aws-sdk/client-firehose expects.

const deliveryStreamName = str(1, 64).regex(
  /^[a-zA-Z0-9._-]+$/,
  'Member must satisfy regular expression pattern: [a-zA-Z0-9._-]+',
);
const tagKey = str(1, 128);
const tags = z
  .array(z.object({ Key: tagKey, Value: str(0, 256).optional() }))
  .min(1)
  .max(50);
const encryptionInput = z.object({
  KeyARN: str(1, 512).optional(),
  KeyType: oneOf(['AWS_OWNED_CMK', 'CUSTOMER_MANAGED_CMK']),
});
const UNSUPPORTED_DESTINATIONS = [
  'RedshiftDestinationConfiguration',
  'ElasticsearchDestinationConfiguration',
  'AmazonopensearchserviceDestinationConfiguration',
  'SplunkDestinationConfiguration',
  'AmazonOpenSearchServerlessDestinationConfiguration',
  'SnowflakeDestinationConfiguration',
  'IcebergDestinationConfiguration',
];

/** Limits of the record API (AWS's). */
export const FIREHOSE_LIMITS = {
  maxRecordBytes: 1_024_000,
  maxBatchRecords: 500,
  maxBatchBytes: 4 * 1024 * 1024,
} as const;

/** The Firehose_20150804 operations, ready to register on the AWS protocol core. */
export function firehoseApi(options: { firehose: Firehose }): JsonService {
  const { firehose } = options;
  const { admin, registry, ingest } = firehose;

  // Input schemas are built once per API instance.
  const nameInput = z.object({ DeliveryStreamName: deliveryStreamName });
  const createInput = z.object({
    DeliveryStreamName: deliveryStreamName,
    DeliveryStreamType: oneOf([
      'DirectPut',
      'KinesisStreamAsSource',
      'MSKAsSource',
      'DatabaseAsSource',
    ]).optional(),
    KinesisStreamSourceConfiguration: z
      .object({ KinesisStreamARN: str(1, 512), RoleARN: str(1, 512) })
      .optional(),
    DirectPutSourceConfiguration: z.object({ ThroughputHintInMBs: int(1, 100).optional() }).optional(),
    DeliveryStreamEncryptionConfigurationInput: encryptionInput.optional(),
    S3DestinationConfiguration: s3DestinationConfiguration.optional(),
    ExtendedS3DestinationConfiguration: extendedS3DestinationConfiguration.optional(),
    HttpEndpointDestinationConfiguration: httpEndpointDestinationConfiguration.optional(),
    Tags: tags.optional(),
  });
  const describeInput = z.object({
    DeliveryStreamName: deliveryStreamName,
    Limit: int(1, 10_000).optional(),
    ExclusiveStartDestinationId: str(1, 100).optional(),
  });
  const listInput = z.object({
    Limit: int(1, 10_000).optional(),
    DeliveryStreamType: oneOf([
      'DirectPut',
      'KinesisStreamAsSource',
      'MSKAsSource',
      'DatabaseAsSource',
    ]).optional(),
    ExclusiveStartDeliveryStreamName: deliveryStreamName.optional(),
  });
  const deleteInput = z.object({
    DeliveryStreamName: deliveryStreamName,
    AllowForceDelete: z.boolean().optional(),
  });
  const record = z.object({ Data: blob({ maxBytes: FIREHOSE_LIMITS.maxRecordBytes }) });
  const putRecordInput = z.object({ DeliveryStreamName: deliveryStreamName, Record: record });
  const putRecordBatchInput = z.object({
    DeliveryStreamName: deliveryStreamName,
    Records: z
      .array(record, { message: 'Member must not be null' })
      .min(1, 'Member must have length greater than or equal to 1')
      .max(
        FIREHOSE_LIMITS.maxBatchRecords,
        `Member must have length less than or equal to ${FIREHOSE_LIMITS.maxBatchRecords}`,
      ),
  });
  const updateInput = z.object({
    DeliveryStreamName: deliveryStreamName,
    CurrentDeliveryStreamVersionId: str(1, 50).regex(
      /^[0-9]+$/,
      'Member must satisfy regular expression pattern: [0-9]+',
    ),
    DestinationId: str(1, 100),
    S3DestinationUpdate: z.record(z.string(), z.unknown()).optional(),
    ExtendedS3DestinationUpdate: z.record(z.string(), z.unknown()).optional(),
    HttpEndpointDestinationUpdate: z.record(z.string(), z.unknown()).optional(),
  });
  const tagInput = z.object({ DeliveryStreamName: deliveryStreamName, Tags: tags });
  const untagInput = z.object({
    DeliveryStreamName: deliveryStreamName,
    TagKeys: z.array(tagKey).min(1).max(50),
  });
  const listTagsInput = z.object({
    DeliveryStreamName: deliveryStreamName,
    ExclusiveStartTagKey: tagKey.optional(),
    Limit: int(1, 50).optional(),
  });
  const startEncryptionInput = z.object({
    DeliveryStreamName: deliveryStreamName,
    DeliveryStreamEncryptionConfigurationInput: encryptionInput.optional(),
  });

  const ops: Record<string, OperationHandler> = {
    CreateDeliveryStream: async (input) => {
      const i = parseInput(createInput, input);
      const type = i.DeliveryStreamType ?? 'DirectPut';
      if (type !== 'DirectPut' && type !== 'KinesisStreamAsSource') {
        throw new ServiceError(
          'InvalidArgumentException',
          `DeliveryStreamType ${type} is not supported by Streamgate.`,
        );
      }
      const unsupported = UNSUPPORTED_DESTINATIONS.find((d) => input[d] !== undefined);
      if (unsupported)
        throw new ServiceError('InvalidArgumentException', `${unsupported} is not supported by Streamgate.`);
      const given = [
        i.S3DestinationConfiguration,
        i.ExtendedS3DestinationConfiguration,
        i.HttpEndpointDestinationConfiguration,
      ].filter((d) => d !== undefined);
      if (given.length !== 1) {
        throw new ServiceError(
          'InvalidArgumentException',
          'Exactly one destination configuration must be specified.',
        );
      }
      let destination: DeliveryDestination;
      if (i.ExtendedS3DestinationConfiguration)
        destination = fromExtendedS3(i.ExtendedS3DestinationConfiguration, false);
      else if (i.S3DestinationConfiguration) destination = fromExtendedS3(i.S3DestinationConfiguration, true);
      else
        destination = fromHttpEndpoint(
          i.HttpEndpointDestinationConfiguration as NonNullable<
            typeof i.HttpEndpointDestinationConfiguration
          >,
        );
      const encryption = i.DeliveryStreamEncryptionConfigurationInput;
      const arn = await admin.create({
        name: i.DeliveryStreamName,
        type,
        source: i.KinesisStreamSourceConfiguration
          ? {
              streamArn: i.KinesisStreamSourceConfiguration.KinesisStreamARN,
              roleArn: i.KinesisStreamSourceConfiguration.RoleARN,
            }
          : undefined,
        encryption: encryption ? { keyType: encryption.KeyType, keyArn: encryption.KeyARN } : undefined,
        destination,
        tags: Object.fromEntries((i.Tags ?? []).map((t) => [t.Key, t.Value ?? ''])),
      });
      return { DeliveryStreamARN: arn };
    },
    DescribeDeliveryStream: async (input) => {
      const i = parseInput(describeInput, input);
      const stream = await registry.require(i.DeliveryStreamName);
      const destinations =
        i.ExclusiveStartDestinationId === stream.destinationId ? [] : [destinationShape(stream)];
      return {
        DeliveryStreamDescription: {
          DeliveryStreamName: stream.name,
          DeliveryStreamARN: stream.arn,
          DeliveryStreamStatus: stream.status,
          DeliveryStreamEncryptionConfiguration: encryptionShape(stream),
          DeliveryStreamType: stream.type,
          VersionId: String(stream.versionId),
          CreateTimestamp: stream.createdAt / 1000,
          ...(stream.updatedAt !== stream.createdAt ? { LastUpdateTimestamp: stream.updatedAt / 1000 } : {}),
          ...(stream.source
            ? {
                Source: {
                  KinesisStreamSourceDescription: {
                    KinesisStreamARN: stream.source.streamArn,
                    RoleARN: stream.source.roleArn,
                    DeliveryStartTimestamp: stream.createdAt / 1000,
                  },
                },
              }
            : {}),
          Destinations: destinations,
          HasMoreDestinations: false,
        },
      };
    },
    ListDeliveryStreams: async (input) => {
      const i = parseInput(listInput, input);
      const limit = i.Limit ?? 10;
      const names: string[] = [];
      let after = i.ExclusiveStartDeliveryStreamName;
      let more = false;
      // Filtering by type needs the metadata: page through names until the page is full.
      for (;;) {
        const page = await registry.listNames(after, 100);
        for (const name of page) {
          if (i.DeliveryStreamType !== undefined && (await registry.get(name))?.type !== i.DeliveryStreamType)
            continue;
          if (names.length === limit) {
            more = true;
            break;
          }
          names.push(name);
        }
        if (more || page.length < 100) break;
        after = page.at(-1);
      }
      return { DeliveryStreamNames: names, HasMoreDeliveryStreams: more };
    },
    DeleteDeliveryStream: async (input) => {
      const i = parseInput(deleteInput, input);
      await registry.require(i.DeliveryStreamName);
      await registry.remove(i.DeliveryStreamName);
    },
    UpdateDestination: async (input) => {
      const i = parseInput(updateInput, input);
      const updates = [
        i.S3DestinationUpdate && { kind: 'ExtendedS3' as const, members: i.S3DestinationUpdate },
        i.ExtendedS3DestinationUpdate && {
          kind: 'ExtendedS3' as const,
          members: i.ExtendedS3DestinationUpdate,
        },
        i.HttpEndpointDestinationUpdate && {
          kind: 'HttpEndpoint' as const,
          members: i.HttpEndpointDestinationUpdate,
        },
      ].filter((u) => u !== undefined);
      const [update] = updates;
      if (!update || updates.length > 1) {
        throw new ServiceError(
          'InvalidArgumentException',
          'Exactly one destination update must be specified.',
        );
      }
      await admin.updateDestination(
        i.DeliveryStreamName,
        Number(i.CurrentDeliveryStreamVersionId),
        i.DestinationId,
        (current) => mergeDestinationUpdate(current.destination, update),
      );
    },
    PutRecord: async (input) => {
      const i = parseInput(putRecordInput, input);
      const { outcomes, encrypted } = await ingest.put(i.DeliveryStreamName, [i.Record.Data]);
      const outcome = outcomes[0];
      if (!outcome || 'errorCode' in outcome) {
        throw new ServiceError('ServiceUnavailableException', outcome?.errorMessage ?? 'Slow down.');
      }
      return { RecordId: outcome.recordId, Encrypted: encrypted };
    },
    PutRecordBatch: async (input) => {
      const i = parseInput(putRecordBatchInput, input);
      const bytes = i.Records.reduce((n, r) => n + r.Data.length, 0);
      if (bytes > FIREHOSE_LIMITS.maxBatchBytes) {
        throw new ServiceError(
          'InvalidArgumentException',
          `Records size exceeds ${FIREHOSE_LIMITS.maxBatchBytes} bytes limit (was ${bytes} bytes).`,
        );
      }
      const { outcomes, encrypted } = await ingest.put(
        i.DeliveryStreamName,
        i.Records.map((r) => r.Data),
      );
      return {
        FailedPutCount: outcomes.filter((o) => 'errorCode' in o).length,
        Encrypted: encrypted,
        RequestResponses: outcomes.map((o) =>
          'errorCode' in o
            ? { ErrorCode: o.errorCode, ErrorMessage: o.errorMessage }
            : { RecordId: o.recordId },
        ),
      };
    },
    TagDeliveryStream: async (input) => {
      const i = parseInput(tagInput, input);
      await registry.require(i.DeliveryStreamName);
      const current = await registry.getTags(i.DeliveryStreamName);
      const next = new Set([...Object.keys(current), ...i.Tags.map((t) => t.Key)]);
      if (next.size > 50) {
        throw new ServiceError(
          'LimitExceededException',
          `A delivery stream cannot have more than 50 tags (would have ${next.size}).`,
        );
      }
      await registry.putTags(
        i.DeliveryStreamName,
        Object.fromEntries(i.Tags.map((t) => [t.Key, t.Value ?? ''])),
      );
    },
    UntagDeliveryStream: async (input) => {
      const i = parseInput(untagInput, input);
      await registry.require(i.DeliveryStreamName);
      await registry.removeTags(i.DeliveryStreamName, i.TagKeys);
    },
    ListTagsForDeliveryStream: async (input) => {
      const i = parseInput(listTagsInput, input);
      await registry.require(i.DeliveryStreamName);
      const all = Object.entries(await registry.getTags(i.DeliveryStreamName)).sort(([a], [b]) =>
        a < b ? -1 : a > b ? 1 : 0,
      );
      const after = i.ExclusiveStartTagKey;
      const rest = all.filter(([key]) => after === undefined || key > after);
      const page = rest.slice(0, i.Limit ?? 50);
      return { Tags: page.map(([Key, Value]) => ({ Key, Value })), HasMoreTags: rest.length > page.length };
    },
    StartDeliveryStreamEncryption: async (input) => {
      const i = parseInput(startEncryptionInput, input);
      const config = i.DeliveryStreamEncryptionConfigurationInput ?? {
        KeyType: 'AWS_OWNED_CMK' as const,
        KeyARN: undefined,
      };
      await admin.startEncryption(i.DeliveryStreamName, config.KeyType, config.KeyARN);
    },
    StopDeliveryStreamEncryption: async (input) => {
      const i = parseInput(nameInput, input);
      await admin.stopEncryption(i.DeliveryStreamName);
    },
  };

  return { targetPrefix: 'Firehose_20150804', signingName: 'firehose', operations: ops };
}

function destinationShape(stream: DeliveryStreamRecord): Record<string, unknown> {
  return { DestinationId: stream.destinationId, ...describeDestination(stream.destination) };
}

function encryptionShape(stream: DeliveryStreamRecord): Record<string, unknown> {
  const e = stream.encryption;
  return {
    Status: e.status,
    ...(e.keyType ? { KeyType: e.keyType } : {}),
    ...(e.keyArn ? { KeyARN: e.keyArn } : {}),
  };
}

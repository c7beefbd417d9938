import { z } from 'zod';
import { ServiceError } from '../../errors/index.ts';
import {
  checkPrefix,
  type DeliveryDestination,
  evaluatePrefix,
  hasExpressions,
  isTimeZone,
  OBJECT_NAME_BYTES,
  type ObjectDestination,
  objectKeyProblem,
  PartitionQueryError,
  PrefixExpressionError,
  type Processing,
  parsePartitionQuery,
  partitionKeysOf,
} from '../../firehose/index.ts';
import { int, oneOf, str } from '../aws/validation.ts';

// Firehose destination configurations (Firehose_20150804 shapes) <-> the firehose/ model, and the
// destination descriptions DescribeDeliveryStream returns.

const MiB = 1024 * 1024;
const bufferingHints = (maxMB: number) =>
  z.object({ SizeInMBs: int(1, maxMB).optional(), IntervalInSeconds: int(0, 900).optional() });
const processingConfiguration = z.object({
  Enabled: z.boolean().optional(),
  Processors: z
    .array(
      z.object({
        Type: oneOf([
          'RecordDeAggregation',
          'Decompression',
          'CloudWatchLogProcessing',
          'Lambda',
          'MetadataExtraction',
          'AppendDelimiterToRecord',
        ]),
        Parameters: z.array(z.object({ ParameterName: str(1, 64), ParameterValue: str(1, 5120) })).optional(),
      }),
    )
    .optional(),
});
const compressionFormat = oneOf(['UNCOMPRESSED', 'GZIP', 'ZIP', 'Snappy', 'HADOOP_SNAPPY']);
const opaque = z.record(z.string(), z.unknown()).optional();
const s3Fields = {
  RoleARN: str(1, 512),
  BucketARN: str(1, 2048),
  Prefix: str(0, 1024).optional(),
  ErrorOutputPrefix: str(0, 1024).optional(),
  BufferingHints: bufferingHints(128).optional(),
  CompressionFormat: compressionFormat.optional(),
  EncryptionConfiguration: opaque,
  CloudWatchLoggingOptions: opaque,
};

/** S3DestinationConfiguration (also S3BackupConfiguration and an HTTP endpoint's S3Configuration). */
export const s3DestinationConfiguration = z.object(s3Fields);
/** ExtendedS3DestinationConfiguration. */
export const extendedS3DestinationConfiguration = z.object({
  ...s3Fields,
  ProcessingConfiguration: processingConfiguration.optional(),
  S3BackupMode: oneOf(['Disabled', 'Enabled']).optional(),
  S3BackupConfiguration: s3DestinationConfiguration.optional(),
  DataFormatConversionConfiguration: opaque,
  DynamicPartitioningConfiguration: z
    .object({
      Enabled: z.boolean().optional(),
      RetryOptions: z.object({ DurationInSeconds: int(0, 7200).optional() }).optional(),
    })
    .optional(),
  FileExtension: str(0, 128)
    .regex(
      /^$|\.[0-9a-z!\-_.*'()]+$/,
      "Member must satisfy regular expression pattern: ^$|\\.[0-9a-z!\\-_.*'()]+",
    )
    .optional(),
  CustomTimeZone: str(0, 50).optional(),
});
/** HttpEndpointDestinationConfiguration. */
export const httpEndpointDestinationConfiguration = z.object({
  EndpointConfiguration: z.object({
    Url: str(1, 1000).regex(/^https?:\/\//, 'Member must satisfy regular expression pattern: https://.*'),
    Name: str(1, 256).optional(),
    AccessKey: str(0, 4096).optional(),
  }),
  BufferingHints: bufferingHints(64).optional(),
  CloudWatchLoggingOptions: opaque,
  RequestConfiguration: z
    .object({
      ContentEncoding: oneOf(['NONE', 'GZIP']).optional(),
      CommonAttributes: z
        .array(z.object({ AttributeName: str(1, 256), AttributeValue: str(0, 1024) }))
        .max(50)
        .optional(),
    })
    .optional(),
  ProcessingConfiguration: processingConfiguration.optional(),
  RoleARN: str(1, 512).optional(),
  RetryOptions: z.object({ DurationInSeconds: int(0, 7200).optional() }).optional(),
  S3BackupMode: oneOf(['FailedDataOnly', 'AllData']).optional(),
  S3Configuration: s3DestinationConfiguration,
  SecretsManagerConfiguration: opaque,
});

type S3Config = z.output<typeof s3DestinationConfiguration>;
type ExtendedS3Config = z.output<typeof extendedS3DestinationConfiguration>;
type HttpEndpointConfig = z.output<typeof httpEndpointDestinationConfiguration>;

const invalid = (message: string) => new ServiceError('InvalidArgumentException', message);

/** ExtendedS3 / S3 configuration -> model. */
export function fromExtendedS3(config: ExtendedS3Config, legacy: boolean): DeliveryDestination {
  const extensionBytes = Buffer.byteLength(config.FileExtension ?? '');
  const s3 = objectDestination(config, 'Prefix', OBJECT_NAME_BYTES + Math.max(0, extensionBytes - 7));
  const dynamicPartitioning = config.DynamicPartitioningConfiguration?.Enabled === true;
  const timeZone = config.CustomTimeZone || undefined;
  if (timeZone !== undefined && !isTimeZone(timeZone)) {
    throw invalid(`CustomTimeZone ${timeZone} is not a valid time zone.`);
  }
  if (dynamicPartitioning) {
    if (!config.ErrorOutputPrefix) {
      throw invalid('ErrorOutputPrefix cannot be null or empty when dynamic partitioning is enabled.');
    }
    if (config.BufferingHints?.SizeInMBs !== undefined && config.BufferingHints.SizeInMBs < 64) {
      throw invalid('BufferingHints.SizeInMBs must be at least 64 when dynamic partitioning is enabled.');
    }
    if (config.BufferingHints?.SizeInMBs === undefined) s3.buffering.sizeBytes = 128 * MiB;
  } else if (partitionKeysOf(config.Prefix).length > 0) {
    throw invalid('Prefix uses partitionKey expressions but dynamic partitioning is not enabled.');
  }
  if (config.DataFormatConversionConfiguration?.Enabled === true) {
    throw invalid('DataFormatConversionConfiguration is not supported by Streamgate.');
  }
  const backupMode = config.S3BackupMode ?? 'Disabled';
  if (backupMode === 'Enabled' && !config.S3BackupConfiguration) {
    throw invalid('S3BackupConfiguration is required when S3BackupMode is Enabled.');
  }
  return {
    kind: 'ExtendedS3',
    legacy,
    s3: { ...s3, fileExtension: config.FileExtension || undefined, timeZone },
    processing: processingOf(config.ProcessingConfiguration, dynamicPartitioning),
    backupMode,
    backup: config.S3BackupConfiguration
      ? objectDestination(config.S3BackupConfiguration, 'S3BackupPrefix')
      : undefined,
    dynamicPartitioning,
  };
}

/** HttpEndpoint configuration -> model. */
export function fromHttpEndpoint(config: HttpEndpointConfig): DeliveryDestination {
  const hints = config.BufferingHints;
  checkHints(hints);
  return {
    kind: 'HttpEndpoint',
    url: config.EndpointConfiguration.Url,
    endpointName: config.EndpointConfiguration.Name,
    accessKey: config.EndpointConfiguration.AccessKey,
    commonAttributes: Object.fromEntries(
      (config.RequestConfiguration?.CommonAttributes ?? []).map((a) => [a.AttributeName, a.AttributeValue]),
    ),
    contentEncoding: config.RequestConfiguration?.ContentEncoding ?? 'NONE',
    buffering: {
      sizeBytes: (hints?.SizeInMBs ?? 5) * MiB,
      intervalMs: (hints?.IntervalInSeconds ?? 300) * 1000,
    },
    retryDurationMs: (config.RetryOptions?.DurationInSeconds ?? 300) * 1000,
    processing: processingOf(config.ProcessingConfiguration),
    backupMode: config.S3BackupMode ?? 'FailedDataOnly',
    s3: objectDestination(config.S3Configuration, 'S3Configuration.Prefix'),
    roleArn: config.RoleARN,
  };
}

function objectDestination(config: S3Config, what: string, nameBytes = OBJECT_NAME_BYTES): ObjectDestination {
  const bucket = config.BucketARN.match(/^arn:[a-z-]+:s3:::([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])$/)?.[1];
  if (!bucket)
    throw invalid(`BucketARN ${config.BucketARN} is not a valid S3 bucket ARN (arn:aws:s3:::<bucket>).`);
  checkHints(config.BufferingHints);
  try {
    if (config.Prefix) checkPrefix(config.Prefix, 'prefix');
    if (config.ErrorOutputPrefix) checkPrefix(config.ErrorOutputPrefix, 'errorOutputPrefix');
  } catch (error) {
    if (error instanceof PrefixExpressionError) throw invalid(error.message);
    throw error;
  }
  if (hasExpressions(config.Prefix) && !config.ErrorOutputPrefix) {
    throw invalid(`ErrorOutputPrefix cannot be null or empty when ${what} contains expressions.`);
  }
  checkObjectKeys(bucket, config, nameBytes);
  return {
    roleArn: config.RoleARN,
    bucketArn: config.BucketARN,
    bucket,
    prefix: config.Prefix || undefined,
    errorOutputPrefix: config.ErrorOutputPrefix || undefined,
    compression: config.CompressionFormat ?? 'UNCOMPRESSED',
    fileExtension: undefined,
    buffering: {
      sizeBytes: (config.BufferingHints?.SizeInMBs ?? 5) * MiB,
      intervalMs: (config.BufferingHints?.IntervalInSeconds ?? 300) * 1000,
    },
  };
}

/**
 * Refuses a Prefix or ErrorOutputPrefix that makes invalid object keys whatever the records hold: `\\`,
 * control characters, `.`/`..` segments, or so long that no object name fits in 1024 bytes after it.
 * Partition keys stand in as one character; their real values are checked at delivery.
 */
function checkObjectKeys(bucket: string, config: S3Config, nameBytes: number): void {
  const sample = (template: string | undefined, errorOutputType?: string) =>
    evaluatePrefix(template, {
      timestampMs: 0,
      randomString: 'x'.repeat(11),
      errorOutputType,
      partitionKeys: Object.fromEntries(partitionKeysOf(template).map((k) => [k, 'x'])),
    });
  const checks: Array<[string, string]> = [
    ['Prefix', sample(config.Prefix)],
    ['ErrorOutputPrefix', sample(config.ErrorOutputPrefix, 'http-endpoint-failed')],
  ];
  for (const [member, prefix] of checks) {
    const problem = objectKeyProblem(bucket, prefix, nameBytes);
    if (problem !== undefined) {
      throw invalid(
        `${member} makes invalid object keys (${problem}; ${nameBytes} bytes are kept for the object name).`,
      );
    }
  }
}

function checkHints(
  hints: { SizeInMBs?: number | undefined; IntervalInSeconds?: number | undefined } | undefined,
) {
  if (hints && (hints.SizeInMBs === undefined) !== (hints.IntervalInSeconds === undefined)) {
    throw invalid('BufferingHints: SizeInMBs and IntervalInSeconds must be specified together.');
  }
}

function processingOf(
  config: z.output<typeof processingConfiguration> | undefined,
  dynamicPartitioning = false,
): Processing {
  const processors = (config?.Processors ?? []).map((p) => ({
    type: p.Type,
    parameters: Object.fromEntries((p.Parameters ?? []).map((x) => [x.ParameterName, x.ParameterValue])),
  }));
  const enabled = config?.Enabled ?? processors.length > 0;
  for (const p of enabled ? processors : []) {
    if (p.type === 'Lambda' && !/^https?:\/\//.test(p.parameters.LambdaArn ?? '')) {
      throw invalid(
        'Streamgate runs Lambda processors as HTTP endpoints: LambdaArn must be the http(s):// URL of the transform.',
      );
    }
    if (p.type === 'MetadataExtraction') {
      if (!dynamicPartitioning) throw invalid('MetadataExtraction needs dynamic partitioning enabled.');
      try {
        parsePartitionQuery(p.parameters.MetadataExtractionQuery ?? '');
      } catch (error) {
        if (error instanceof PartitionQueryError) throw invalid(error.message);
        throw error;
      }
      continue;
    }
    if (p.type !== 'Lambda' && p.type !== 'AppendDelimiterToRecord') {
      throw invalid(`Processor type ${p.type} is not supported by Streamgate.`);
    }
  }
  return { enabled, processors };
}

/** Model -> the AWS configuration it came from (descriptions, and the base UpdateDestination merges onto). */
export function describeDestination(destination: DeliveryDestination): Record<string, unknown> {
  if (destination.kind === 'ExtendedS3') {
    const s3 = s3Description(destination.s3);
    const extended = {
      ...s3,
      ProcessingConfiguration: processingDescription(destination.processing),
      S3BackupMode: destination.backupMode,
      ...(destination.backup ? { S3BackupDescription: s3Description(destination.backup) } : {}),
      DynamicPartitioningConfiguration: destination.dynamicPartitioning
        ? { Enabled: true, RetryOptions: { DurationInSeconds: 300 } }
        : { Enabled: false },
      ...(destination.s3.fileExtension ? { FileExtension: destination.s3.fileExtension } : {}),
      ...(destination.s3.timeZone ? { CustomTimeZone: destination.s3.timeZone } : {}),
    };
    return { S3DestinationDescription: s3, ExtendedS3DestinationDescription: extended };
  }
  return {
    HttpEndpointDestinationDescription: {
      EndpointConfiguration: {
        Url: destination.url,
        ...(destination.endpointName ? { Name: destination.endpointName } : {}),
      },
      BufferingHints: hintsDescription(destination.buffering),
      CloudWatchLoggingOptions: { Enabled: false },
      RequestConfiguration: {
        ContentEncoding: destination.contentEncoding,
        CommonAttributes: Object.entries(destination.commonAttributes).map(
          ([AttributeName, AttributeValue]) => ({
            AttributeName,
            AttributeValue,
          }),
        ),
      },
      ProcessingConfiguration: processingDescription(destination.processing),
      ...(destination.roleArn ? { RoleARN: destination.roleArn } : {}),
      RetryOptions: { DurationInSeconds: destination.retryDurationMs / 1000 },
      S3BackupMode: destination.backupMode,
      S3DestinationDescription: s3Description(destination.s3),
    },
  };
}

function s3Description(d: ObjectDestination): Record<string, unknown> {
  return {
    RoleARN: d.roleArn,
    BucketARN: d.bucketArn,
    ...(d.prefix !== undefined ? { Prefix: d.prefix } : {}),
    ...(d.errorOutputPrefix !== undefined ? { ErrorOutputPrefix: d.errorOutputPrefix } : {}),
    BufferingHints: hintsDescription(d.buffering),
    CompressionFormat: d.compression,
    EncryptionConfiguration: { NoEncryptionConfig: 'NoEncryption' },
    CloudWatchLoggingOptions: { Enabled: false },
  };
}

function hintsDescription(b: { sizeBytes: number; intervalMs: number }) {
  return { SizeInMBs: Math.round(b.sizeBytes / MiB), IntervalInSeconds: Math.round(b.intervalMs / 1000) };
}

function processingDescription(p: Processing) {
  return {
    Enabled: p.enabled,
    Processors: p.processors.map((x) => ({
      Type: x.type,
      Parameters: Object.entries(x.parameters).map(([ParameterName, ParameterValue]) => ({
        ParameterName,
        ParameterValue,
      })),
    })),
  };
}

/** UpdateDestination: the current configuration with the update's members laid over it (AWS merges). */
export function mergeDestinationUpdate(
  current: DeliveryDestination,
  update: { kind: 'ExtendedS3' | 'HttpEndpoint'; members: Record<string, unknown> },
): DeliveryDestination {
  const base = current.kind === update.kind ? currentConfig(current) : {};
  const merged: Record<string, unknown> = { ...base };
  for (const [name, value] of Object.entries(update.members)) {
    if (name === 'S3BackupUpdate')
      merged.S3BackupConfiguration = { ...(base.S3BackupConfiguration as object), ...(value as object) };
    else if (name === 'S3Update')
      merged.S3Configuration = { ...(base.S3Configuration as object), ...(value as object) };
    else merged[name] = value;
  }
  if (update.kind === 'ExtendedS3') {
    const parsed = extendedS3DestinationConfiguration.safeParse(merged);
    if (!parsed.success)
      throw invalid(`ExtendedS3DestinationUpdate is invalid: ${parsed.error.issues[0]?.message}`);
    return fromExtendedS3(parsed.data, false);
  }
  const parsed = httpEndpointDestinationConfiguration.safeParse(merged);
  if (!parsed.success)
    throw invalid(`HttpEndpointDestinationUpdate is invalid: ${parsed.error.issues[0]?.message}`);
  return fromHttpEndpoint(parsed.data);
}

/**
 * The stored model as the configuration UpdateDestination merges onto. Built from the model, not only
 * from its description: the description leaves out the HTTP endpoint's AccessKey and the dynamic
 * partitioning setting is part of the configuration, so neither may be lost by an update that does
 * not mention them.
 */
function currentConfig(destination: DeliveryDestination): Record<string, unknown> {
  const described = describeDestination(destination);
  if (destination.kind === 'ExtendedS3') {
    const {
      S3BackupDescription,
      DynamicPartitioningConfiguration: _,
      ...rest
    } = described.ExtendedS3DestinationDescription as Record<string, unknown>;
    return {
      ...rest,
      ...(S3BackupDescription ? { S3BackupConfiguration: S3BackupDescription } : {}),
      DynamicPartitioningConfiguration: { Enabled: destination.dynamicPartitioning },
    };
  }
  const { S3DestinationDescription, EndpointConfiguration, ...rest } =
    described.HttpEndpointDestinationDescription as Record<string, unknown>;
  return {
    ...rest,
    EndpointConfiguration: {
      ...(EndpointConfiguration as object),
      ...(destination.accessKey !== undefined ? { AccessKey: destination.accessKey } : {}),
    },
    S3Configuration: S3DestinationDescription,
  };
}

// The model of a delivery stream, in Firehose vocabulary but camelCase; api/firehose maps AWS shapes
// onto it and back. Stored as one JSON document per delivery stream.

/** Lifecycle of a delivery stream, as AWS names it. */
export type DeliveryStreamStatus = 'CREATING' | 'ACTIVE' | 'DELETING';
/** Where records come from. */
export type DeliveryStreamType = 'DirectPut' | 'KinesisStreamAsSource';
/** How delivered objects are compressed. */
export type CompressionFormat = 'UNCOMPRESSED' | 'GZIP' | 'ZIP' | 'Snappy' | 'HADOOP_SNAPPY';
/** Encryption of records at rest in the buffer. */
export type EncryptionStatus = 'ENABLED' | 'DISABLED';
/** Which key encrypts records at rest. */
export type EncryptionKeyType = 'AWS_OWNED_CMK' | 'CUSTOMER_MANAGED_CMK';

/** Whichever comes first flushes the buffer. */
export interface BufferingHints {
  sizeBytes: number;
  intervalMs: number;
}

/** An object-store destination (S3, ExtendedS3, a backup or the S3 side of an HTTP endpoint). */
export interface ObjectDestination {
  roleArn: string;
  bucketArn: string;
  /** The bucket name from `arn:aws:s3:::<bucket>`; the first path segment under `firehose/`. */
  bucket: string;
  prefix: string | undefined;
  errorOutputPrefix: string | undefined;
  compression: CompressionFormat;
  fileExtension: string | undefined;
  /** CustomTimeZone (IANA) of prefixes and object names; UTC when undefined. */
  timeZone?: string | undefined;
  buffering: BufferingHints;
}

/** One record processor (ProcessingConfiguration.Processors[]). */
export interface Processor {
  type: string;
  parameters: Record<string, string>;
}

/** ProcessingConfiguration. */
export interface Processing {
  enabled: boolean;
  processors: Processor[];
}

/** ExtendedS3 (or legacy S3) destination. */
export interface S3DeliveryDestination {
  kind: 'ExtendedS3';
  /** True when created with the deprecated S3DestinationConfiguration. */
  legacy: boolean;
  s3: ObjectDestination;
  processing: Processing;
  backupMode: 'Disabled' | 'Enabled';
  backup: ObjectDestination | undefined;
  /** DynamicPartitioningConfiguration.Enabled. */
  dynamicPartitioning: boolean;
}

/** HTTP endpoint destination with its S3 backup. */
export interface HttpEndpointDeliveryDestination {
  kind: 'HttpEndpoint';
  url: string;
  endpointName: string | undefined;
  accessKey: string | undefined;
  commonAttributes: Record<string, string>;
  contentEncoding: 'NONE' | 'GZIP';
  buffering: BufferingHints;
  retryDurationMs: number;
  processing: Processing;
  backupMode: 'FailedDataOnly' | 'AllData';
  s3: ObjectDestination;
  roleArn: string | undefined;
}

/** The one destination of a delivery stream. */
export type DeliveryDestination = S3DeliveryDestination | HttpEndpointDeliveryDestination;

/** A delivery stream's metadata (times in epoch ms). */
export interface DeliveryStreamRecord {
  name: string;
  /** Random id; a re-created delivery stream never sees the old one's checkpoints. */
  id: string;
  arn: string;
  type: DeliveryStreamType;
  status: DeliveryStreamStatus;
  /** Starts at 1 and increments on every configuration change (UpdateDestination, encryption). */
  versionId: number;
  createdAt: number;
  updatedAt: number;
  source: { streamArn: string; streamName: string; roleArn: string } | undefined;
  encryption: {
    status: EncryptionStatus;
    keyType: EncryptionKeyType | undefined;
    keyArn: string | undefined;
  };
  destinationId: string;
  destination: DeliveryDestination;
}

/** The default key of AWS_OWNED_CMK encryption. */
export const FIREHOSE_DEFAULT_KEY = 'alias/aws/firehose';

/** The buffering of a destination. */
export function bufferingOf(destination: DeliveryDestination): BufferingHints {
  return destination.kind === 'ExtendedS3' ? destination.s3.buffering : destination.buffering;
}

/** The key that seals buffered records, or undefined when encryption is off. */
export function sealingKeyOf(stream: DeliveryStreamRecord): string | undefined {
  if (stream.encryption.status !== 'ENABLED') return undefined;
  return stream.encryption.keyArn ?? FIREHOSE_DEFAULT_KEY;
}

/** The encryption context every buffered record of a delivery stream is sealed under. */
export function recordContext(stream: DeliveryStreamRecord): Record<string, string> {
  return { 'aws:firehose:arn': stream.arn };
}

import { randomBytes } from 'node:crypto';
import type { DeliveryDestination, DeliveryStreamRecord } from '../../src/firehose/index.ts';

/** An uncompressed ExtendedS3 destination, no processing, backup or partitioning. */
export function s3Destination(options: {
  bucket: string;
  buffering: { sizeBytes: number; intervalMs: number };
  prefix?: string | undefined;
}): DeliveryDestination {
  return {
    kind: 'ExtendedS3',
    legacy: false,
    s3: {
      roleArn: 'r',
      bucketArn: `arn:aws:s3:::${options.bucket}`,
      bucket: options.bucket,
      prefix: options.prefix,
      errorOutputPrefix: undefined,
      compression: 'UNCOMPRESSED',
      fileExtension: undefined,
      buffering: options.buffering,
    },
    processing: { enabled: false, processors: [] },
    backupMode: 'Disabled',
    backup: undefined,
    dynamicPartitioning: false,
  };
}

/** An ACTIVE, unencrypted DirectPut delivery stream record named `name`. */
export function directPutRecord(name: string, destination: DeliveryDestination): DeliveryStreamRecord {
  return {
    name,
    id: randomBytes(4).toString('hex'),
    arn: `arn:aws:firehose:us-east-1:000000000000:deliverystream/${name}`,
    type: 'DirectPut',
    status: 'ACTIVE',
    versionId: 1,
    createdAt: 0,
    updatedAt: 0,
    source: undefined,
    encryption: { status: 'DISABLED', keyType: undefined, keyArn: undefined },
    destinationId: 'destinationId-000000000001',
    destination,
  };
}

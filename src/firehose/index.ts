// Firehose: delivery streams that buffer records in Redis (one stream + consumer group each), transform
// them, and deliver batches to the object store or an HTTP endpoint, at least once.
// Imports errors/, logging/, redis/ and storage/; crypto/, kms/ and data-streams/ only through the ports
// app.ts wires. The API lives in api/firehose/.
export { OBJECT_NAME_BYTES, objectKeyProblem, objectStoreKey } from './batch-delivery.ts';
export { compress } from './compression.ts';
export type { FleetTiming } from './delivery-fleet.ts';
export {
  type CreateDeliveryStream,
  DeliveryStreamAdmin,
  MAX_DELIVERY_STREAMS,
} from './delivery-stream-admin.ts';
export type {
  BufferingHints,
  CompressionFormat,
  DeliveryDestination,
  DeliveryStreamRecord,
  DeliveryStreamType,
  EncryptionKeyType,
  HttpEndpointDeliveryDestination,
  ObjectDestination,
  Processing,
  S3DeliveryDestination,
} from './delivery-stream-record.ts';
export { DeliveryStreamRegistry } from './delivery-stream-registry.ts';
export { Firehose, type FirehoseOptions } from './firehose.ts';
export { FirehoseMetrics } from './firehose-metrics.ts';
export { PartitionQueryError, parsePartitionQuery } from './partition-query.ts';
export type { Clock, KeyChecker, RecordSealer, SourceRecord, SourceShard, SourceStreams } from './ports.ts';
export {
  checkPrefix,
  evaluatePrefix,
  formatJavaDate,
  hasExpressions,
  isTimeZone,
  PrefixExpressionError,
  partitionKeysOf,
} from './prefix-expression.ts';
export type { PutOutcome, RecordIngest } from './record-ingest.ts';

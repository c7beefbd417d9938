// Data Streams: Kinesis Data Streams semantics over stream-log/ (Redis Streams): streams and shard maps,
// partition-key routing, sequence numbers, signed shard iterators, retention, encryption through the
// RecordSealer port, enhanced fan-out consumers and their shard subscriptions. Imports errors/, logging/,
// redis/ and stream-log/; the API lives in api/kinesis/.
export { hashKeyOf, MAX_HASH_KEY } from './hash-key.ts';
export type { Clock, KeyChecker, RecordSealer } from './ports.ts';
export {
  type IteratorStart,
  type PutInput,
  type PutResult,
  RecordIO,
} from './record-io.ts';
export { Resharding } from './resharding.ts';
export { RetentionSweeper } from './retention-sweeper.ts';
export { filterShards, type ShardFilter } from './shard-filter.ts';
export { ShardIteratorCodec } from './shard-iterator.ts';
export {
  ShardSubscriptions,
  SUBSCRIPTION_LIMITS,
  type SubscriptionEvent,
  type SubscriptionLimits,
} from './shard-subscription.ts';
export { AWS_SHARD_LIMITS, ShardThrottle } from './shard-throttle.ts';
export type { ChildShard, StoredRecord } from './stored-record.ts';
export { RETENTION_HOURS, StreamAdmin } from './stream-admin.ts';
export {
  type ConsumerRecord,
  type ConsumerRef,
  type ConsumerStatus,
  MAX_CONSUMERS_PER_STREAM,
  removeStreamConsumers,
  StreamConsumers,
} from './stream-consumers.ts';
export type { ShardRecord, StreamMode, StreamRecord, StreamStatus } from './stream-record.ts';
export { StreamRegistry, type StreamView } from './stream-registry.ts';

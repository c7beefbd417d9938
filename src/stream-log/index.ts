// Stream log: append-only shard logs on Redis Streams (atomic batched appends, range reads, retention
// trimming, close with a recorded end). Used by data-streams/ (and later firehose/).
// Imports only redis/ of ours; keys are built only in keys.ts.
export type { LogRef } from './keys.ts';
export { LogTail } from './log-tail.ts';
export { compareEntryIds, LogClosedError, type LogEntry, parseEntryId, ShardLogs } from './shard-log.ts';

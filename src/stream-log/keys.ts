// Redis key names of shard logs. Each log and its state share one hash tag, {<partition>}, so the
// append script (which checks the state, then writes the log) runs in one Redis Cluster slot.

/** Where one shard log lives: `namespace` is the owning module (kds, firehose), `partition` the shard. */
export interface LogRef {
  namespace: string;
  partition: string;
}

/** The Redis keys of one shard log; nothing else builds them. */
export const logKeys = {
  /** Redis stream: the records, in arrival order (entry id = arrival time + sequence). */
  entries: (ref: LogRef) => `${ref.namespace}:{${ref.partition}}:log`,
  /** Hash: `closed` = '1' once the log accepts no more appends, `endingId` = its last entry id. */
  state: (ref: LogRef) => `${ref.namespace}:{${ref.partition}}:state`,
} as const;

// Ports that firehose/ needs from elsewhere; app.ts wires them (to crypto/, kms/, data-streams/).

/** Seals and opens buffered records when a delivery stream is encrypted (crypto/'s Envelope fits). */
export interface RecordSealer {
  seal(plaintext: Buffer, keyRef: string, context: Readonly<Record<string, string>>): Promise<Buffer>;
  open(envelope: Buffer, context: Readonly<Record<string, string>>): Promise<Buffer>;
}

/** Checks that a KMS key exists and is usable, throwing the key service's error otherwise. */
export interface KeyChecker {
  checkKey(keyRef: string): Promise<void>;
}

/** Time source; injected so buffering intervals and timestamps can be tested. */
export interface Clock {
  now(): number;
}

/** A shard of a source data stream with its lineage. */
export interface SourceShard {
  shardId: string;
  parentShardIds: string[];
}

/** A record read from a source data stream. */
export interface SourceRecord {
  sequenceNumber: string;
  partitionKey: string;
  arrivalMs: number;
  data: Buffer;
}

/** Reads a Streamgate data stream for KinesisStreamAsSource (data-streams/ RecordIO fits, via app.ts). */
export interface SourceStreams {
  /** Every shard the stream still has (open and closed), or undefined when the stream does not exist. */
  shards(streamName: string): Promise<SourceShard[] | undefined>;
  /**
   * Up to `limit` records after `afterSequenceNumber` (from the oldest when undefined); `ended` is true
   * once the shard is closed and nothing after the returned records remains.
   */
  read(
    streamName: string,
    shardId: string,
    afterSequenceNumber: string | undefined,
    limit: number,
  ): Promise<{ records: SourceRecord[]; ended: boolean }>;
}

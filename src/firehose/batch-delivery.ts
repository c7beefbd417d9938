import { randomBytes, randomUUID } from 'node:crypto';
import { InvalidObjectKeyError, type ObjectStore, validateObjectKey } from '../storage/index.ts';
import { compress } from './compression.ts';
import {
  type DeliveryStreamRecord,
  type ObjectDestination,
  recordContext,
} from './delivery-stream-record.ts';
import type { FirehoseMetrics } from './firehose-metrics.ts';
import { deliverToHttpEndpoint } from './http-endpoint-delivery.ts';
import type { Clock, RecordSealer } from './ports.ts';
import { evaluatePrefix, extensionOf, objectName, partitionKeysOf } from './prefix-expression.ts';
import type { BufferedRecord } from './record-buffer.ts';
import {
  type FailedRecord,
  type ProcessedRecord,
  processRecords,
  type SourceRecordView,
  type TransformInvoker,
} from './record-processing.ts';

/** Settings of delivery that are not part of a delivery stream's configuration. */
export interface BatchDeliveryOptions {
  store: ObjectStore;
  sealer: RecordSealer;
  clock: Clock;
  metrics: FirehoseMetrics;
  region: string;
  invoke: TransformInvoker;
  /** Backoff base of transform and HTTP endpoint retries. */
  retryBaseMs: number;
}

/** Where Firehose objects live in the gateway's object store: `firehose/<bucket>/<key>`. */
export function objectStoreKey(bucket: string, key: string): string {
  return `firehose/${bucket}/${key}`.replace(/\/{2,}/g, '/');
}

/**
 * Bytes the object name takes after its prefix at most (without a FileExtension): a 64-character
 * stream name, `-<version>-<yyyy-MM-dd-HH-mm-ss>-<uuid>` and `.snappy`.
 */
export const OBJECT_NAME_BYTES = 64 + 1 + 10 + 1 + 19 + 1 + 36 + 7;

/**
 * Why `prefix` followed by an object name of `nameBytes` bytes is no valid key in the object store
 * (a `.`/`..` segment, `\\` or a control character, more than 1024 bytes), or undefined.
 */
export function objectKeyProblem(bucket: string, prefix: string, nameBytes: number): string | undefined {
  const key = objectStoreKey(bucket, prefix + 'x'.repeat(nameBytes));
  try {
    validateObjectKey(key);
    return undefined;
  } catch (error) {
    if (!(error instanceof InvalidObjectKeyError)) throw error;
    return error.message.slice(`invalid object key ${JSON.stringify(key)}: `.length);
  }
}

/**
 * Delivers one buffered batch: opens sealed records, backs up the source when asked, transforms,
 * writes the object (or posts to the HTTP endpoint) and the error output. Throws when any write fails,
 * so the caller keeps the records buffered and retries (at least once; a retry may repeat objects).
 */
export class BatchDelivery {
  readonly #o: BatchDeliveryOptions;

  constructor(options: BatchDeliveryOptions) {
    this.#o = options;
  }

  async deliver(
    stream: DeliveryStreamRecord,
    batch: readonly BufferedRecord[],
    signal: AbortSignal,
  ): Promise<void> {
    if (batch.length === 0) return;
    const records = await Promise.all(batch.map((r) => this.#open(stream, r)));
    const destination = stream.destination;
    const processing = await processRecords(destination.processing, records, {
      invoke: this.#o.invoke,
      now: () => this.#o.clock.now(),
      deliveryStreamArn: stream.arn,
      region: this.#o.region,
      retryBaseMs: this.#o.retryBaseMs,
      signal,
    });
    if (destination.processing.enabled) {
      const label = { delivery_stream: stream.name };
      this.#o.metrics.executeProcessingSuccess.inc({ ...label, outcome: 'ok' }, processing.delivered.length);
      this.#o.metrics.executeProcessingSuccess.inc({ ...label, outcome: 'dropped' }, processing.droppedCount);
      this.#o.metrics.executeProcessingSuccess.inc({ ...label, outcome: 'failed' }, processing.failed.length);
    }
    if (destination.kind === 'ExtendedS3') {
      if (destination.backupMode === 'Enabled' && destination.backup) {
        await this.#writeObject(
          stream,
          destination.backup,
          records.map((r) => r.data),
          records,
        );
      }
      const failed = [...processing.failed];
      const target = destination.s3;
      const nameBytes = Buffer.byteLength(
        objectName({
          streamName: stream.name,
          versionId: stream.versionId,
          timestampMs: 0,
          uuid: randomUUID(),
          extension: target.fileExtension ?? extensionOf(target.compression),
        }),
      );
      const keyProblem = (d: ProcessedRecord, partitionKeys: Record<string, string>) =>
        objectKeyProblem(
          target.bucket,
          evaluatePrefix(target.prefix, {
            timestampMs: d.record.arrivalMs,
            timeZone: target.timeZone,
            randomString: randomString(),
            partitionKeys,
          }),
          nameBytes,
        );
      for (const group of partitionGroups(
        destination.dynamicPartitioning,
        target.prefix,
        processing.delivered,
        failed,
        this.#o.clock.now(),
        keyProblem,
      )) {
        await this.#writeObject(
          stream,
          destination.s3,
          group.records.map((d) => d.data),
          group.records.map((d) => d.record),
          group.partitionKeys,
        );
      }
      await this.#writeErrorsByType(stream, destination.s3, failed);
      return;
    }

    const payload = processing.delivered.map((d) => d.data);
    const label = { delivery_stream: stream.name };
    const httpFailed: FailedRecord[] = [];
    if (payload.length > 0) {
      const outcome = await deliverToHttpEndpoint(destination, payload, {
        sourceArn: stream.arn,
        now: () => this.#o.clock.now(),
        retryBaseMs: this.#o.retryBaseMs,
        attemptTimeoutMs: 180_000,
        signal,
      });
      if (signal.aborted && !outcome.delivered) throw new Error('delivery stopped before it finished');
      this.#o.metrics.deliveryToHttpEndpointSuccess.inc({
        ...label,
        outcome: outcome.delivered ? 'success' : 'failure',
      });
      if (outcome.delivered) {
        this.#o.metrics.deliveryToHttpEndpointRecords.inc(label, payload.length);
      } else {
        const at = this.#o.clock.now();
        for (const d of processing.delivered) {
          httpFailed.push({
            record: { ...d.record, data: d.data },
            errorOutputType: 'http-endpoint-failed',
            attemptsMade: outcome.attemptsMade,
            errorCode: outcome.errorCode,
            errorMessage: outcome.errorMessage,
            attemptEndingMs: at,
            lambdaArn: undefined,
          });
        }
      }
      if (destination.backupMode === 'AllData') {
        await this.#writeObject(
          stream,
          destination.s3,
          payload,
          processing.delivered.map((d) => d.record),
        );
      }
    }
    await this.#writeErrorsByType(stream, destination.s3, [...processing.failed, ...httpFailed]);
  }

  async #open(stream: DeliveryStreamRecord, r: BufferedRecord): Promise<SourceRecordView> {
    const data = r.sealed ? await this.#o.sealer.open(r.data, recordContext(stream)) : r.data;
    return { entryId: r.entryId, data, arrivalMs: r.arrivalMs, kinesis: r.kinesis };
  }

  /** One object of concatenated records under the destination's evaluated Prefix. */
  async #writeObject(
    stream: DeliveryStreamRecord,
    target: ObjectDestination,
    data: readonly Buffer[],
    records: readonly SourceRecordView[],
    partitionKeys?: Record<string, string>,
  ): Promise<void> {
    const oldestMs = oldestArrival(records);
    const prefix = evaluatePrefix(target.prefix, {
      timestampMs: oldestMs,
      timeZone: target.timeZone,
      randomString: randomString(),
      partitionKeys,
    });
    const name = objectName({
      streamName: stream.name,
      versionId: stream.versionId,
      timestampMs: oldestMs,
      timeZone: target.timeZone,
      uuid: randomUUID(),
      extension: target.fileExtension ?? extensionOf(target.compression),
    });
    const raw = Buffer.concat(data);
    const body = await compress(target.compression, raw, name.replace(/\.zip$/, ''));
    const label = { delivery_stream: stream.name };
    try {
      await this.#o.store.put(objectStoreKey(target.bucket, prefix + name), body, {
        // Lets readers order objects delivered within the same second.
        metadata: { 'firehose-first-entry': records[0]?.entryId ?? '' },
      });
    } catch (error) {
      this.#o.metrics.deliveryToS3Success.inc({ ...label, outcome: 'failure' });
      throw new Error(`delivery of ${stream.name} to bucket ${target.bucket} failed`, { cause: error });
    }
    this.#o.metrics.deliveryToS3Success.inc({ ...label, outcome: 'success' });
    this.#o.metrics.deliveryToS3Records.inc(label, data.length);
    this.#o.metrics.deliveryToS3Bytes.inc(label, raw.length);
    this.#o.metrics.deliveryToS3DataFreshness.set(label, (this.#o.clock.now() - oldestMs) / 1000);
  }

  /** The error output of each error output type present. */
  async #writeErrorsByType(
    stream: DeliveryStreamRecord,
    target: ObjectDestination,
    failed: readonly FailedRecord[],
  ): Promise<void> {
    for (const type of new Set(failed.map((f) => f.errorOutputType))) {
      await this.#writeErrors(
        stream,
        target,
        type,
        failed.filter((f) => f.errorOutputType === type),
      );
    }
  }

  /** Failed records as JSON lines under ErrorOutputPrefix (or `<error-output-type>/YYYY/MM/dd/HH/`). */
  async #writeErrors(
    stream: DeliveryStreamRecord,
    target: ObjectDestination,
    errorOutputType: string,
    failed: readonly FailedRecord[],
  ): Promise<void> {
    if (failed.length === 0) return;
    const oldestMs = oldestArrival(failed.map((f) => f.record));
    const prefix = evaluatePrefix(target.errorOutputPrefix, {
      timestampMs: oldestMs,
      timeZone: target.timeZone,
      randomString: randomString(),
      errorOutputType,
    });
    const lines = failed.map(
      (f) =>
        `${JSON.stringify({
          attemptsMade: f.attemptsMade,
          arrivalTimestamp: f.record.arrivalMs,
          errorCode: f.errorCode,
          errorMessage: f.errorMessage,
          attemptEndingTimestamp: f.attemptEndingMs,
          rawData: f.record.data.toString('base64'),
          ...(f.lambdaArn !== undefined ? { lambdaArn: f.lambdaArn } : {}),
        })}\n`,
    );
    const name = objectName({
      streamName: stream.name,
      versionId: stream.versionId,
      timestampMs: oldestMs,
      timeZone: target.timeZone,
      uuid: randomUUID(),
      extension: '',
    });
    await this.#o.store.put(objectStoreKey(target.bucket, prefix + name), Buffer.from(lines.join('')), {
      contentType: 'application/x-ndjson',
    });
    this.#o.metrics.failedRecords.inc(
      { delivery_stream: stream.name, error_output_type: errorOutputType },
      failed.length,
    );
  }
}

const ALPHABET = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';

/** `!{firehose:random-string}`: 11 alphanumeric characters. */
function randomString(): string {
  return [...randomBytes(11)].map((b) => ALPHABET[b % ALPHABET.length]).join('');
}

/**
 * Dynamic partitioning: one group per distinct value of the keys the prefix uses; a record missing
 * one of them, or whose values make the prefix an invalid object key (`..`, `\\`, control characters,
 * too long), fails (partitioning-failed) instead of failing the whole batch again and again. Without
 * it, one group of everything.
 */
function partitionGroups(
  enabled: boolean,
  prefix: string | undefined,
  delivered: readonly ProcessedRecord[],
  failed: FailedRecord[],
  nowMs: number,
  keyProblem: (d: ProcessedRecord, partitionKeys: Record<string, string>) => string | undefined,
): Array<{ records: ProcessedRecord[]; partitionKeys: Record<string, string> | undefined }> {
  if (delivered.length === 0) return [];
  if (!enabled) return [{ records: [...delivered], partitionKeys: undefined }];
  const names = partitionKeysOf(prefix);
  const groups = new Map<string, { records: ProcessedRecord[]; partitionKeys: Record<string, string> }>();
  for (const d of delivered) {
    const missing = names.find((n) => d.partitionKeys?.[n] === undefined);
    if (missing !== undefined) {
      failed.push({
        record: { ...d.record, data: d.data },
        errorOutputType: 'partitioning-failed',
        attemptsMade: 1,
        errorCode: 'DynamicPartitioning.MissingPartitionKey',
        errorMessage: `The record has no partition key ${missing}.`,
        attemptEndingMs: nowMs,
        lambdaArn: undefined,
      });
      continue;
    }
    const keys = Object.fromEntries(names.map((n) => [n, d.partitionKeys?.[n] as string]));
    const id = JSON.stringify(names.map((n) => keys[n]));
    let group = groups.get(id);
    if (group === undefined) {
      const problem = keyProblem(d, keys);
      if (problem !== undefined) {
        failed.push({
          record: { ...d.record, data: d.data },
          errorOutputType: 'partitioning-failed',
          attemptsMade: 1,
          errorCode: 'DynamicPartitioning.InvalidObjectKey',
          errorMessage: `The partition keys of the record make an invalid object key: ${problem}.`,
          attemptEndingMs: nowMs,
          lambdaArn: undefined,
        });
        continue;
      }
      group = { records: [], partitionKeys: keys };
    }
    group.records.push(d);
    groups.set(id, group);
  }
  return [...groups.values()];
}

/** Arrival time of the oldest record (no spread: batches can hold 100,000s of records). */
function oldestArrival(records: readonly SourceRecordView[]): number {
  let oldest = Number.POSITIVE_INFINITY;
  for (const r of records) if (r.arrivalMs < oldest) oldest = r.arrivalMs;
  return oldest;
}

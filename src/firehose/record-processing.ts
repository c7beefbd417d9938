import { randomUUID } from 'node:crypto';
import type { Processing } from './delivery-stream-record.ts';
import { extractPartitionKeys, PartitionQueryError, parsePartitionQuery } from './partition-query.ts';

// Data transformation (https://docs.aws.amazon.com/firehose/latest/dev/data-transformation.html): the
// Lambda processor, here an HTTP endpoint that speaks the Lambda event contract, and
// AppendDelimiterToRecord. Records keep their order; failures carry the error record fields.

/** A buffered record, opened. */
export interface SourceRecordView {
  entryId: string;
  data: Buffer;
  arrivalMs: number;
  /** Set for records read from a data stream (KinesisStreamAsSource). */
  kinesis?: { shardId: string; partitionKey: string; sequenceNumber: string } | undefined;
}

/** A record that failed processing, as the error output writes it. */
export interface FailedRecord {
  record: SourceRecordView;
  /** `!{firehose:error-output-type}`: processing-failed, partitioning-failed, http-endpoint-failed. */
  errorOutputType: string;
  attemptsMade: number;
  errorCode: string;
  errorMessage: string;
  attemptEndingMs: number;
  lambdaArn: string | undefined;
}

/** The outcome of processing one batch. */
export interface ProcessingResult {
  /** Records to deliver (result Ok), in source order, with their new data. */
  delivered: ProcessedRecord[];
  failed: FailedRecord[];
  /** Records the processor dropped. */
  droppedCount: number;
}

/** A record on its way to delivery: its (transformed) data and dynamic partitioning keys. */
export interface ProcessedRecord {
  record: SourceRecordView;
  data: Buffer;
  partitionKeys?: Record<string, string> | undefined;
}

/** Calls a Lambda-style transform: posts the event JSON, returns the parsed response body. */
export type TransformInvoker = (url: string, event: unknown, signal: AbortSignal) => Promise<unknown>;

/** Delivery was stopped (shutdown) before processing finished; the records stay buffered. */
export class ProcessingAbortedError extends Error {}

/** Retry policy of transform invocations. */
export interface ProcessingOptions {
  invoke: TransformInvoker;
  now: () => number;
  deliveryStreamArn: string;
  region: string;
  /** Base of the exponential backoff between retries. */
  retryBaseMs: number;
  signal: AbortSignal;
}

/** The default invoker: POST over fetch, 5 minutes at most (Lambda's limit is 15). */
export const httpTransformInvoker: TransformInvoker = async (url, event, signal) => {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(event),
    signal: AbortSignal.any([signal, AbortSignal.timeout(300_000)]),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`transform endpoint answered ${response.status}: ${text.slice(0, 200)}`);
  return JSON.parse(text) as unknown;
};

/** Runs the enabled processors over a batch, in configuration order. */
export async function processRecords(
  processing: Processing,
  records: readonly SourceRecordView[],
  options: ProcessingOptions,
): Promise<ProcessingResult> {
  let delivered: ProcessedRecord[] = records.map((record) => ({ record, data: record.data }));
  const failed: FailedRecord[] = [];
  let droppedCount = 0;
  if (!processing.enabled) return { delivered, failed, droppedCount };
  for (const processor of processing.processors) {
    if (processor.type === 'Lambda') {
      const url = processor.parameters.LambdaArn ?? '';
      const retries = Number(processor.parameters.NumberOfRetries ?? 3);
      const chunkBytes = Math.round(Number(processor.parameters.BufferSizeInMBs ?? 1) * 1024 * 1024);
      const next: typeof delivered = [];
      for (const chunk of chunksOf(delivered, chunkBytes)) {
        const outcome = await invokeChunk(url, chunk, retries, options);
        next.push(...outcome.delivered);
        failed.push(...outcome.failed);
        droppedCount += outcome.droppedCount;
      }
      delivered = next;
    } else if (processor.type === 'AppendDelimiterToRecord') {
      const delimiter = Buffer.from(unescapeDelimiter(processor.parameters.Delimiter ?? '\\n'));
      delivered = delivered.map((d) => ({ ...d, data: Buffer.concat([d.data, delimiter]) }));
    } else if (processor.type === 'MetadataExtraction') {
      const specs = parsePartitionQuery(processor.parameters.MetadataExtractionQuery ?? '');
      const next: ProcessedRecord[] = [];
      for (const d of delivered) {
        try {
          next.push({ ...d, partitionKeys: { ...d.partitionKeys, ...extractPartitionKeys(d.data, specs) } });
        } catch (error) {
          if (!(error instanceof PartitionQueryError)) throw error;
          failed.push({
            record: { ...d.record, data: d.data },
            errorOutputType: 'partitioning-failed',
            attemptsMade: 1,
            errorCode: 'DynamicPartitioning.MetadataExtractionFailed',
            errorMessage: error.message,
            attemptEndingMs: options.now(),
            lambdaArn: undefined,
          });
        }
      }
      delivered = next;
    }
  }
  return { delivered, failed, droppedCount };
}

type Pending = ProcessedRecord[];

async function invokeChunk(
  url: string,
  chunk: Pending,
  retries: number,
  options: ProcessingOptions,
): Promise<ProcessingResult> {
  const event = {
    invocationId: randomUUID(),
    deliveryStreamArn: options.deliveryStreamArn,
    region: options.region,
    records: chunk.map(({ record, data }) => ({
      recordId: record.entryId,
      approximateArrivalTimestamp: record.arrivalMs,
      data: data.toString('base64'),
      ...(record.kinesis
        ? {
            kinesisRecordMetadata: {
              shardId: record.kinesis.shardId,
              partitionKey: record.kinesis.partitionKey,
              approximateArrivalTimestamp: record.arrivalMs,
              sequenceNumber: record.kinesis.sequenceNumber,
              subsequenceNumber: '',
            },
          }
        : {}),
    })),
  };
  let lastError = '';
  for (let attempt = 1; attempt <= retries + 1; attempt++) {
    try {
      return applyResponse(
        chunk,
        await options.invoke(url, event, options.signal),
        attempt,
        url,
        options.now(),
      );
    } catch (error) {
      lastError = error instanceof Error ? error.message : String(error);
      // Stopping is not the transform's failure: keep the records buffered for the next worker.
      if (options.signal.aborted)
        throw new ProcessingAbortedError('delivery stopped during processing', { cause: error });
      if (attempt <= retries) await sleep(options.retryBaseMs * 2 ** (attempt - 1), options.signal);
    }
  }
  const at = options.now();
  return {
    delivered: [],
    droppedCount: 0,
    failed: chunk.map(({ record }) => ({
      record,
      errorOutputType: 'processing-failed',
      attemptsMade: retries + 1,
      errorCode: 'Lambda.InvokeFailed',
      errorMessage: lastError,
      attemptEndingMs: at,
      lambdaArn: url,
    })),
  };
}

/** Matches the response to the chunk by recordId; anything malformed fails the whole invocation. */
function applyResponse(
  chunk: Pending,
  response: unknown,
  attempt: number,
  url: string,
  at: number,
): ProcessingResult {
  const rows = (response as { records?: unknown })?.records;
  if (!Array.isArray(rows)) throw new Error('transform response has no records array');
  const byId = new Map<string, ResponseRow>();
  for (const row of rows as ResponseRow[]) {
    if (typeof row?.recordId !== 'string') throw new Error('transform response record without recordId');
    if (byId.has(row.recordId)) throw new Error(`Lambda.DuplicatedRecordId ${row.recordId}`);
    byId.set(row.recordId, row);
  }
  const result: ProcessingResult = { delivered: [], failed: [], droppedCount: 0 };
  const fail = (record: SourceRecordView, errorCode: string, errorMessage: string) =>
    result.failed.push({
      record,
      errorOutputType: 'processing-failed',
      attemptsMade: attempt,
      errorCode,
      errorMessage,
      attemptEndingMs: at,
      lambdaArn: url,
    });
  for (const { record } of chunk) {
    const row = byId.get(record.entryId);
    if (!row) fail(record, 'Lambda.MissingRecordId', `recordId ${record.entryId} missing from the response`);
    else if (row.result === 'Dropped') result.droppedCount++;
    else if (row.result === 'ProcessingFailed')
      fail(record, 'Lambda.ProcessingFailed', 'The record was marked ProcessingFailed');
    else if (row.result === 'Ok' && typeof row.data === 'string') {
      const keys = row.metadata?.partitionKeys;
      result.delivered.push({
        record,
        data: Buffer.from(row.data, 'base64'),
        ...(keys && typeof keys === 'object' ? { partitionKeys: stringValues(keys) } : {}),
      });
    } else fail(record, 'Lambda.InvalidResult', `result ${String(row.result)} or data is invalid`);
  }
  return result;
}

interface ResponseRow {
  recordId?: unknown;
  result?: unknown;
  data?: unknown;
  metadata?: { partitionKeys?: unknown };
}

function stringValues(value: object): Record<string, string> {
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, String(v)]));
}

function* chunksOf(records: Pending, maxBytes: number): Generator<Pending> {
  let chunk: Pending = [];
  let bytes = 0;
  for (const r of records) {
    if (chunk.length > 0 && bytes + r.data.length > maxBytes) {
      yield chunk;
      chunk = [];
      bytes = 0;
    }
    chunk.push(r);
    bytes += r.data.length;
  }
  if (chunk.length > 0) yield chunk;
}

function unescapeDelimiter(text: string): string {
  return text.replace(/\\([ntr\\])/g, (_, c: string) => ({ n: '\n', t: '\t', r: '\r', '\\': '\\' })[c] ?? c);
}

/** Resolves after `ms`, or at once when aborted. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

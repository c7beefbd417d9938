import { describe, expect, it } from 'vitest';
import {
  ProcessingAbortedError,
  processRecords,
  type SourceRecordView,
  type TransformInvoker,
} from '../../../src/firehose/record-processing.ts';

const records: SourceRecordView[] = ['a', 'b', 'c'].map((d, i) => ({
  entryId: `1-${i}`,
  data: Buffer.from(d),
  arrivalMs: 1_000 + i,
}));
const lambda = (url = 'http://transform.test/') => ({
  enabled: true,
  processors: [{ type: 'Lambda', parameters: { LambdaArn: url, NumberOfRetries: '2' } }],
});
const options = (invoke: TransformInvoker) => ({
  invoke,
  now: () => 5_000,
  deliveryStreamArn: 'arn:aws:firehose:us-east-1:000000000000:deliverystream/s',
  region: 'us-east-1',
  retryBaseMs: 0,
  signal: new AbortController().signal,
});
type Event = { records: Array<{ recordId: string; data: string }> };

describe('processRecords', () => {
  it('passes records through untouched when processing is off', async () => {
    const result = await processRecords(
      { enabled: false, processors: [] },
      records,
      options(async () => ({})),
    );
    expect(result.delivered.map((d) => d.data.toString())).toEqual(['a', 'b', 'c']);
  });

  it('fails records whose recordId is missing or whose result is unknown, keeps the rest in order', async () => {
    const invoke: TransformInvoker = async (_url, event) => ({
      records: (event as Event).records
        .filter((r) => r.recordId !== '1-1')
        .map((r) => ({ recordId: r.recordId, result: r.recordId === '1-2' ? 'Maybe' : 'Ok', data: r.data })),
    });
    const result = await processRecords(lambda(), records, options(invoke));
    expect(result.delivered.map((d) => d.data.toString())).toEqual(['a']);
    expect(result.failed.map((f) => [f.record.entryId, f.errorCode])).toEqual([
      ['1-1', 'Lambda.MissingRecordId'],
      ['1-2', 'Lambda.InvalidResult'],
    ]);
  });

  it('retries a failing invocation NumberOfRetries times, then fails every record of it', async () => {
    let calls = 0;
    const invoke: TransformInvoker = async () => {
      calls++;
      throw new Error('connection refused');
    };
    const result = await processRecords(lambda(), records, options(invoke));
    expect(calls).toBe(3);
    expect(result.delivered).toEqual([]);
    expect(result.failed).toHaveLength(3);
    expect(result.failed[0]).toMatchObject({
      attemptsMade: 3,
      errorCode: 'Lambda.InvokeFailed',
      errorMessage: 'connection refused',
      attemptEndingMs: 5_000,
      lambdaArn: 'http://transform.test/',
    });
  });

  it('fails no record when delivery stops during a transform: the batch stays buffered', async () => {
    const stop = new AbortController();
    const invoke: TransformInvoker = async () => {
      stop.abort();
      throw new Error('aborted');
    };
    await expect(
      processRecords(lambda(), records, { ...options(invoke), signal: stop.signal }),
    ).rejects.toThrow(ProcessingAbortedError);
  });

  it('treats a duplicated recordId as a failed invocation', async () => {
    let calls = 0;
    const invoke: TransformInvoker = async (_url, event) => {
      calls++;
      const first = (event as Event).records[0];
      return { records: [first, first].map((r) => ({ recordId: r?.recordId, result: 'Ok', data: r?.data })) };
    };
    const result = await processRecords(lambda(), records, options(invoke));
    expect(calls).toBe(3);
    expect(result.failed.every((f) => f.errorMessage.startsWith('Lambda.DuplicatedRecordId'))).toBe(true);
  });

  it('adds kinesisRecordMetadata to the event for records read from a data stream', async () => {
    let event: unknown;
    const fromStream = [
      {
        ...records[0],
        kinesis: { shardId: 'shardId-000000000001', partitionKey: 'pk', sequenceNumber: '4959' },
      },
    ] as SourceRecordView[];
    await processRecords(
      lambda(),
      fromStream,
      options(async (_url, e) => {
        event = e;
        return { records: [] };
      }),
    );
    expect((event as { records: unknown[] }).records[0]).toMatchObject({
      recordId: '1-0',
      approximateArrivalTimestamp: 1_000,
      kinesisRecordMetadata: {
        shardId: 'shardId-000000000001',
        partitionKey: 'pk',
        approximateArrivalTimestamp: 1_000,
        sequenceNumber: '4959',
      },
    });
  });

  it('appends the delimiter after the transform, unescaping \\n', async () => {
    const result = await processRecords(
      { enabled: true, processors: [{ type: 'AppendDelimiterToRecord', parameters: { Delimiter: '\\n' } }] },
      records,
      options(async () => ({})),
    );
    expect(Buffer.concat(result.delivered.map((d) => d.data)).toString()).toBe('a\nb\nc\n');
  });
});

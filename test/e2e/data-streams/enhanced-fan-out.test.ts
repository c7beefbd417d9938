import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import http2 from 'node:http2';
import { performance } from 'node:perf_hooks';
import {
  type _Record,
  CreateStreamCommand,
  DeregisterStreamConsumerCommand,
  DescribeStreamConsumerCommand,
  DescribeStreamSummaryCommand,
  KinesisClient,
  ListShardsCommand,
  ListStreamConsumersCommand,
  PutRecordCommand,
  RegisterStreamConsumerCommand,
  SplitShardCommand,
  type StartingPosition,
  StartStreamEncryptionCommand,
  SubscribeToShardCommand,
  type SubscribeToShardEvent,
} from '@aws-sdk/client-kinesis';
import { EventStreamCodec } from '@smithy/core/event-streams';
import { Hash } from '@smithy/hash-node';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import { decode, encode } from 'cbor-x';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SUBSCRIPTION_CONNECTION_NAME } from '../../../src/data-streams/shard-subscription.ts';
import { type RunningApp, startApp, TEST_KEYS } from '../../support/start-app.ts';

// Enhanced fan-out through the unmodified @aws-sdk/client-kinesis and its default HTTP/2 handler (the
// only transport on which the JS SDK can read SubscribeToShard's event stream).

let offsetMs = 0;
let gateway: RunningApp;
let kinesis: KinesisClient;
const SHARD = 'shardId-000000000000';

beforeAll(async () => {
  gateway = await startApp({ overrides: { clock: { now: () => Date.now() + offsetMs } } });
  kinesis = new KinesisClient({
    endpoint: gateway.endpoint,
    region: 'us-east-1',
    credentials: TEST_KEYS,
    maxAttempts: 1,
  });
});
afterAll(async () => {
  kinesis?.destroy();
  await gateway?.stop();
});

/** A new stream with `shards` shards; its ARN. */
async function newStream(shards = 1): Promise<{ StreamName: string; StreamARN: string }> {
  const StreamName = `efo-${randomBytes(4).toString('hex')}`;
  await kinesis.send(new CreateStreamCommand({ StreamName, ShardCount: shards }));
  const { StreamDescriptionSummary } = await kinesis.send(new DescribeStreamSummaryCommand({ StreamName }));
  return { StreamName, StreamARN: StreamDescriptionSummary?.StreamARN ?? '' };
}

async function register(StreamARN: string, ConsumerName = `app-${randomBytes(3).toString('hex')}`) {
  const { Consumer } = await kinesis.send(new RegisterStreamConsumerCommand({ StreamARN, ConsumerName }));
  return Consumer?.ConsumerARN ?? '';
}

async function put(StreamName: string, data: string, PartitionKey = 'key'): Promise<string> {
  const { SequenceNumber } = await kinesis.send(
    new PutRecordCommand({ StreamName, PartitionKey, Data: Buffer.from(data) }),
  );
  return SequenceNumber ?? '';
}

/** A running SubscribeToShard, drained in the background. */
interface Subscription {
  events: SubscribeToShardEvent[];
  /** Each record with the performance.now() at which its event arrived. */
  records: Array<{ record: _Record; receivedAt: number }>;
  /** Settles when the event stream ends: undefined when it ended normally (or we aborted it). */
  ended: Promise<Error | undefined>;
  close(): Promise<void>;
}

async function subscribe(
  ConsumerARN: string,
  StartingPosition: StartingPosition,
  ShardId = SHARD,
): Promise<Subscription> {
  const controller = new AbortController();
  const output = await kinesis.send(new SubscribeToShardCommand({ ConsumerARN, ShardId, StartingPosition }), {
    abortSignal: controller.signal,
  });
  const events: SubscribeToShardEvent[] = [];
  const records: Subscription['records'] = [];
  const ended = (async (): Promise<Error | undefined> => {
    try {
      for await (const item of output.EventStream ?? []) {
        const event = item.SubscribeToShardEvent;
        if (!event) continue;
        const receivedAt = performance.now();
        events.push(event);
        for (const record of event.Records ?? []) records.push({ record, receivedAt });
      }
      return undefined;
    } catch (error) {
      return controller.signal.aborted ? undefined : (error as Error);
    }
  })();
  return {
    events,
    records,
    ended,
    async close() {
      controller.abort();
      await ended;
    },
  };
}

const text = (r: { record: _Record }) => Buffer.from(r.record.Data ?? []).toString();

/** Redis connections the gateway opened for subscriptions' blocking reads (only this file subscribes). */
async function subscriptionConnections(app: RunningApp): Promise<number> {
  const list = (await app.app.redis.client.call('CLIENT', 'LIST')) as string;
  return list.split('\n').filter((line) => line.includes(`name=${SUBSCRIPTION_CONNECTION_NAME} `)).length;
}

describe('consumer registry', () => {
  it('registers, describes, lists page by page and deregisters consumers', async () => {
    const { StreamName, StreamARN } = await newStream();
    const { Consumer } = await kinesis.send(
      new RegisterStreamConsumerCommand({ StreamARN, ConsumerName: 'billing' }),
    );
    expect(Consumer).toMatchObject({ ConsumerName: 'billing', ConsumerStatus: 'ACTIVE' });
    expect(Consumer?.ConsumerARN).toMatch(
      new RegExp(`^arn:aws:kinesis:us-east-1:000000000000:stream/${StreamName}/consumer/billing:\\d+$`),
    );
    expect(Consumer?.ConsumerCreationTimestamp).toBeInstanceOf(Date);

    const byArn = await kinesis.send(
      new DescribeStreamConsumerCommand({ ConsumerARN: Consumer?.ConsumerARN }),
    );
    const byName = await kinesis.send(
      new DescribeStreamConsumerCommand({ StreamARN, ConsumerName: 'billing' }),
    );
    expect(byArn.ConsumerDescription).toEqual(byName.ConsumerDescription);
    expect(byArn.ConsumerDescription).toMatchObject({
      ConsumerName: 'billing',
      ConsumerARN: Consumer?.ConsumerARN,
      ConsumerStatus: 'ACTIVE',
      StreamARN,
    });

    await register(StreamARN, 'audit');
    await register(StreamARN, 'search');
    const first = await kinesis.send(new ListStreamConsumersCommand({ StreamARN, MaxResults: 2 }));
    expect(first.Consumers?.map((c) => c.ConsumerName)).toEqual(['audit', 'billing']);
    expect(first.NextToken).toBeDefined();
    const second = await kinesis.send(
      new ListStreamConsumersCommand({ StreamARN, NextToken: first.NextToken, MaxResults: 2 }),
    );
    expect(second.Consumers?.map((c) => c.ConsumerName)).toEqual(['search']);
    expect(second.NextToken).toBeUndefined();

    await kinesis.send(new DeregisterStreamConsumerCommand({ ConsumerARN: Consumer?.ConsumerARN }));
    await kinesis.send(new DeregisterStreamConsumerCommand({ StreamARN, ConsumerName: 'audit' }));
    const rest = await kinesis.send(new ListStreamConsumersCommand({ StreamARN }));
    expect(rest.Consumers?.map((c) => c.ConsumerName)).toEqual(['search']);
    const gone = await kinesis
      .send(new DescribeStreamConsumerCommand({ ConsumerARN: Consumer?.ConsumerARN }))
      .catch((e: Error) => e);
    expect((gone as Error).name).toBe('ResourceNotFoundException');
  });

  it('refuses a duplicate, a bad name, an unknown stream and a 21st consumer', async () => {
    const { StreamName, StreamARN } = await newStream();
    await register(StreamARN, 'twice');
    const duplicate = await kinesis
      .send(new RegisterStreamConsumerCommand({ StreamARN, ConsumerName: 'twice' }))
      .catch((e: Error) => e);
    expect(duplicate).toMatchObject({
      name: 'ResourceInUseException',
      message: `Consumer twice under stream ${StreamName} already exists for account 000000000000.`,
    });
    const badName = await kinesis
      .send(new RegisterStreamConsumerCommand({ StreamARN, ConsumerName: 'no spaces' }))
      .catch((e: Error) => e);
    expect((badName as Error).name).toBe('ValidationException');
    const noStream = await kinesis
      .send(
        new RegisterStreamConsumerCommand({
          StreamARN: `${StreamARN}-missing`,
          ConsumerName: 'x',
        }),
      )
      .catch((e: Error) => e);
    expect((noStream as Error).name).toBe('ResourceNotFoundException');

    for (let i = 1; i < 20; i += 1) await register(StreamARN, `c${String(i).padStart(2, '0')}`);
    const over = await kinesis
      .send(new RegisterStreamConsumerCommand({ StreamARN, ConsumerName: 'one-too-many' }))
      .catch((e: Error) => e);
    expect((over as Error).name).toBe('LimitExceededException');
  });

  it('reports unknown consumers as ResourceNotFoundException', async () => {
    const { StreamARN } = await newStream();
    for (const command of [
      new DescribeStreamConsumerCommand({ StreamARN, ConsumerName: 'nobody' }),
      new DescribeStreamConsumerCommand({ ConsumerARN: `${StreamARN}/consumer/nobody:1700000000` }),
      new DeregisterStreamConsumerCommand({ StreamARN, ConsumerName: 'nobody' }),
    ]) {
      const error = await kinesis.send(command as DescribeStreamConsumerCommand).catch((e: Error) => e);
      expect((error as Error).name).toBe('ResourceNotFoundException');
    }
  });
});

describe('SubscribeToShard', () => {
  it('pushes the records already in the shard from TRIM_HORIZON', async () => {
    const { StreamName, StreamARN } = await newStream();
    const ConsumerARN = await register(StreamARN);
    const sequenceNumbers: string[] = [];
    for (const data of ['one', 'two', 'three'])
      sequenceNumbers.push(await put(StreamName, data, `pk-${data}`));

    const sub = await subscribe(ConsumerARN, { Type: 'TRIM_HORIZON' });
    await expect.poll(() => sub.records.length).toBe(3);
    expect(sub.records.map(text)).toEqual(['one', 'two', 'three']);
    const [first] = sub.records;
    expect(first?.record).toMatchObject({ PartitionKey: 'pk-one', SequenceNumber: sequenceNumbers[0] });
    expect(first?.record.ApproximateArrivalTimestamp).toBeInstanceOf(Date);
    const last = sub.events.at(-1);
    expect(last?.ContinuationSequenceNumber).toBe(sequenceNumbers[2]);
    expect(last?.MillisBehindLatest).toBe(0);
    await sub.close();

    // Resuming after the continuation sequence number sends only what came later.
    const resumed = await subscribe(await register(StreamARN), {
      Type: 'AFTER_SEQUENCE_NUMBER',
      SequenceNumber: last?.ContinuationSequenceNumber,
    });
    await put(StreamName, 'four');
    await expect.poll(() => resumed.records.map(text)).toEqual(['four']);
    await resumed.close();
  });

  it('pushes records written after a LATEST subscription as they are written', async ({ annotate }) => {
    const { StreamName, StreamARN } = await newStream();
    await put(StreamName, 'before');
    const ConsumerARN = await register(StreamARN);
    const sub = await subscribe(ConsumerARN, { Type: 'LATEST' });
    // The first event goes out at once, so the subscription is known to be following the shard.
    await expect.poll(() => sub.events.length).toBeGreaterThanOrEqual(1);
    // It waits on a Redis connection of its own, never on the shared client.
    expect(await subscriptionConnections(gateway)).toBeGreaterThanOrEqual(1);

    const latenciesMs: number[] = [];
    for (let i = 0; i < 30; i += 1) {
      const sentAt = performance.now();
      const sequenceNumber = await put(StreamName, `live-${i}`);
      await expect
        .poll(() => sub.records.some((r) => r.record.SequenceNumber === sequenceNumber), { interval: 2 })
        .toBe(true);
      const received = sub.records.find((r) => r.record.SequenceNumber === sequenceNumber);
      latenciesMs.push((received?.receivedAt ?? sentAt) - sentAt);
    }
    expect(sub.records.map(text)).toEqual(Array.from({ length: 30 }, (_, i) => `live-${i}`));
    latenciesMs.sort((a, b) => a - b);
    const p50 = latenciesMs[Math.floor(latenciesMs.length / 2)] ?? 0;
    const p95 = latenciesMs[Math.floor(latenciesMs.length * 0.95)] ?? 0;
    await annotate(
      `EFO put→event latency over 30 records: p50 ${p50.toFixed(1)} ms, p95 ${p95.toFixed(1)} ms`,
    );
    await sub.close();
  });

  it('refuses a second subscription within 5 s; after 5 s the new one takes over', async () => {
    const { StreamARN } = await newStream();
    const ConsumerARN = await register(StreamARN);
    const first = await subscribe(ConsumerARN, { Type: 'LATEST' });
    const refused = await subscribe(ConsumerARN, { Type: 'LATEST' }).catch((e: Error) => e);
    expect((refused as Error).name).toBe('ResourceInUseException');

    offsetMs += 6_000; // 6 s later on the gateway's clock
    const second = await subscribe(ConsumerARN, { Type: 'LATEST' });
    const firstEnd = await first.ended;
    expect(firstEnd?.name).toBe('ResourceInUseException');
    await second.close();
  });

  it('answers unknown shards, consumers and bad positions with plain errors before streaming', async () => {
    const { StreamARN } = await newStream();
    const ConsumerARN = await register(StreamARN);
    const shard = await subscribe(ConsumerARN, { Type: 'LATEST' }, 'shardId-000000000042').catch(
      (e: Error) => e,
    );
    expect((shard as Error).name).toBe('ResourceNotFoundException');
    const consumer = await subscribe(`${StreamARN}/consumer/ghost:1700000000`, { Type: 'LATEST' }).catch(
      (e: Error) => e,
    );
    expect((consumer as Error).name).toBe('ResourceNotFoundException');
    const position = await subscribe(ConsumerARN, { Type: 'AT_SEQUENCE_NUMBER' }).catch((e: Error) => e);
    expect((position as Error).name).toBe('InvalidArgumentException');
  });

  it('sends an event at least every 5 s and ends once its consumer is deregistered', async () => {
    const { StreamARN } = await newStream();
    const ConsumerARN = await register(StreamARN);
    const sub = await subscribe(ConsumerARN, { Type: 'LATEST' });
    await expect.poll(() => sub.events.length, { timeout: 15_000 }).toBeGreaterThanOrEqual(2);
    expect(sub.events.every((e) => (e.Records ?? []).length === 0)).toBe(true);
    await kinesis.send(new DeregisterStreamConsumerCommand({ ConsumerARN }));
    const end = await sub.ended;
    expect(end?.name).toBe('ResourceNotFoundException');
  }, 30_000);

  it('delivers a closed shard to its end, then names its child shards and ends', async () => {
    const { StreamName, StreamARN } = await newStream();
    for (const data of ['a', 'b', 'c']) await put(StreamName, data);
    const mid = (1n << 127n).toString();
    await kinesis.send(new SplitShardCommand({ StreamName, ShardToSplit: SHARD, NewStartingHashKey: mid }));
    await expect
      .poll(async () => ((await kinesis.send(new ListShardsCommand({ StreamName }))).Shards ?? []).length)
      .toBe(3);
    await put(StreamName, 'after-split');

    const sub = await subscribe(await register(StreamARN), { Type: 'TRIM_HORIZON' });
    expect(await sub.ended).toBeUndefined();
    expect(sub.records.map(text)).toEqual(['a', 'b', 'c']);
    const last = sub.events.at(-1);
    expect(last?.ChildShards?.map((c) => c.ShardId).sort()).toEqual([
      'shardId-000000000001',
      'shardId-000000000002',
    ]);
    expect(last?.ChildShards?.[0]?.ParentShards).toEqual([SHARD]);
    expect(last?.ChildShards?.[0]?.HashKeyRange?.StartingHashKey).toBeDefined();
  });

  it('splits a backlog into events of about 2 MiB at most', async () => {
    const { StreamName, StreamARN } = await newStream();
    const recordBytes = 700 * 1024;
    for (let i = 0; i < 5; i += 1) {
      await kinesis.send(
        new PutRecordCommand({ StreamName, PartitionKey: 'big', Data: Buffer.alloc(recordBytes, 65 + i) }),
      );
    }
    const sub = await subscribe(await register(StreamARN), { Type: 'TRIM_HORIZON' });
    await expect.poll(() => sub.records.length).toBe(5);
    expect(sub.records.map((r) => r.record.Data?.[0])).toEqual([65, 66, 67, 68, 69]);
    const withRecords = sub.events.filter((e) => (e.Records ?? []).length > 0);
    expect(withRecords.length).toBeGreaterThanOrEqual(3);
    for (const event of withRecords) {
      const bytes = (event.Records ?? []).reduce((n, r) => n + (r.Data?.length ?? 0), 0);
      expect(bytes).toBeLessThanOrEqual(2 * 1024 * 1024);
    }
    expect(withRecords[0]?.MillisBehindLatest).toBeGreaterThanOrEqual(0);
    await sub.close();
  });

  it('decrypts the records of an encrypted stream', async () => {
    const { StreamName, StreamARN } = await newStream();
    await kinesis.send(
      new StartStreamEncryptionCommand({ StreamName, EncryptionType: 'KMS', KeyId: 'alias/aws/kinesis' }),
    );
    await put(StreamName, 'secret');
    const sub = await subscribe(await register(StreamARN), { Type: 'TRIM_HORIZON' });
    await expect.poll(() => sub.records.length).toBe(1);
    expect(text(sub.records[0] as { record: _Record })).toBe('secret');
    expect(sub.records[0]?.record.EncryptionType).toBe('KMS');
    await sub.close();
  });
});

describe('gateway shutdown', () => {
  it('ends open subscriptions so that stop() does not wait for them', async () => {
    const other = await startApp();
    const client = new KinesisClient({
      endpoint: other.endpoint,
      region: 'us-east-1',
      credentials: TEST_KEYS,
      maxAttempts: 1,
    });
    try {
      const StreamName = `efo-stop-${randomBytes(4).toString('hex')}`;
      await client.send(new CreateStreamCommand({ StreamName, ShardCount: 1 }));
      const { StreamDescriptionSummary } = await client.send(
        new DescribeStreamSummaryCommand({ StreamName }),
      );
      const { Consumer } = await client.send(
        new RegisterStreamConsumerCommand({
          StreamARN: StreamDescriptionSummary?.StreamARN,
          ConsumerName: 'c',
        }),
      );
      const output = await client.send(
        new SubscribeToShardCommand({
          ConsumerARN: Consumer?.ConsumerARN,
          ShardId: SHARD,
          StartingPosition: { Type: 'LATEST' },
        }),
      );
      if (!output.EventStream) throw new Error('SubscribeToShard returned no event stream');
      const iterator = output.EventStream[Symbol.asyncIterator]();
      expect((await iterator.next()).value).toHaveProperty('SubscribeToShardEvent');
      const rest = (async () => {
        for (let next = await iterator.next(); !next.done; next = await iterator.next());
        return 'ended';
      })();
      await other.stop();
      expect(await rest).toBe('ended'); // normally, without an exception: the client subscribes again
    } finally {
      client.destroy();
      await other.stop();
    }
  });
});

describe('SubscribeToShard for CBOR clients (the Java SDK and KCL)', () => {
  it('frames CBOR payloads with the CBOR content type', async () => {
    const { StreamName, StreamARN } = await newStream();
    await put(StreamName, 'cbor-record', 'cbor-key');
    const ConsumerARN = await register(StreamARN);

    const body = Buffer.from(
      encode({ ConsumerARN, ShardId: SHARD, StartingPosition: { Type: 'TRIM_HORIZON' } }),
    );
    const url = new URL(gateway.endpoint);
    const signed = await new SignatureV4({
      service: 'kinesis',
      region: 'us-east-1',
      sha256: Hash.bind(null, 'sha256'),
      credentials: TEST_KEYS,
    }).sign(
      new HttpRequest({
        method: 'POST',
        protocol: url.protocol,
        hostname: url.hostname,
        port: Number(url.port),
        path: '/',
        headers: {
          ':authority': url.host,
          'content-type': 'application/x-amz-cbor-1.1',
          'x-amz-target': 'Kinesis_20131202.SubscribeToShard',
        },
        body,
      }),
    );
    // HTTP/2 with prior knowledge, as the Java SDK's Netty client subscribes.
    const session = http2.connect(gateway.endpoint);
    try {
      const request = session.request({ ...signed.headers, ':method': 'POST', ':path': '/' });
      request.end(body);
      const [headers] = (await once(request, 'response')) as [http2.IncomingHttpHeaders];
      expect(headers[':status']).toBe(200);
      expect(headers['content-type']).toBe('application/vnd.amazon.eventstream');

      const codec = new EventStreamCodec(
        (b: Uint8Array | string) => (typeof b === 'string' ? b : Buffer.from(b).toString()),
        (text: string) => Buffer.from(text),
      );
      const messages: Array<{ headers: Record<string, unknown>; payload: unknown }> = [];
      let pending = Buffer.alloc(0);
      for await (const chunk of request as AsyncIterable<Buffer>) {
        pending = Buffer.concat([pending, chunk]);
        while (pending.length >= 4 && pending.length >= pending.readUInt32BE(0)) {
          const length = pending.readUInt32BE(0);
          const message = codec.decode(pending.subarray(0, length));
          pending = pending.subarray(length);
          const fields = Object.fromEntries(Object.entries(message.headers).map(([k, v]) => [k, v.value]));
          messages.push({ headers: fields, payload: decode(message.body) });
        }
        if (messages.length >= 2) break;
      }
      request.close(http2.constants.NGHTTP2_CANCEL);

      expect(messages[0]?.headers).toMatchObject({
        ':message-type': 'event',
        ':event-type': 'initial-response',
        ':content-type': 'application/x-amz-cbor-1.1',
      });
      expect(messages[1]?.headers).toMatchObject({
        ':message-type': 'event',
        ':event-type': 'SubscribeToShardEvent',
        ':content-type': 'application/x-amz-cbor-1.1',
      });
      const event = messages[1]?.payload as {
        Records: Array<{ Data: Uint8Array; PartitionKey: string; ApproximateArrivalTimestamp: Date }>;
        ContinuationSequenceNumber: string;
      };
      expect(Buffer.from(event.Records[0]?.Data ?? []).toString()).toBe('cbor-record');
      expect(event.Records[0]?.PartitionKey).toBe('cbor-key');
      expect(event.Records[0]?.ApproximateArrivalTimestamp).toBeInstanceOf(Date);
      expect(event.ContinuationSequenceNumber).toMatch(/^\d{56}$/);
    } finally {
      session.destroy();
    }
  });
});

describe('after every subscription above has ended (by the client, the gateway or a takeover)', () => {
  it('has closed the Redis connection of each one', async () => {
    await expect.poll(() => subscriptionConnections(gateway), { timeout: 5_000 }).toBe(0);
  });
});

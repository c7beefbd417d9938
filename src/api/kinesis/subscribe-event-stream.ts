import { Readable } from 'node:stream';
import { EventStreamCodec } from '@smithy/core/event-streams';
import type { SubscriptionEvent } from '../../data-streams/index.ts';
import { isServiceError } from '../../errors/index.ts';
import type { Logger } from '../../logging/index.ts';
import { encodeBody, type WireFormat } from '../aws/codec.ts';

// SubscribeToShard's response body: AWS event-stream messages (application/vnd.amazon.eventstream:
// prelude, typed headers, payload, CRC32s), encoded with the SDKs' own codec.

/** Content type of SubscribeToShard's response. */
export const EVENT_STREAM_CONTENT_TYPE = 'application/vnd.amazon.eventstream';

const codec = new EventStreamCodec(
  (input: Uint8Array | string) =>
    typeof input === 'string'
      ? input
      : Buffer.from(input.buffer, input.byteOffset, input.byteLength).toString(),
  (input: string) => Buffer.from(input, 'utf8'),
);

/** Payload content types per wire format: CBOR clients (the Java SDKs) get CBOR events. */
const PAYLOAD_CONTENT_TYPES: Readonly<Record<WireFormat, string>> = {
  json: 'application/json',
  cbor: 'application/x-amz-cbor-1.1',
};

/**
 * Exception names of SubscribeToShardEventStream differ from the JSON error names in one place: the
 * union member is `InternalFailureException`.
 */
const EXCEPTION_NAMES: Readonly<Record<string, string>> = { InternalFailure: 'InternalFailureException' };

/** One `:message-type=event` message. */
export function eventMessage(eventType: string, payload: unknown, format: WireFormat): Buffer {
  return message(
    {
      ':message-type': { type: 'string', value: 'event' },
      ':event-type': { type: 'string', value: eventType },
      ':content-type': { type: 'string', value: PAYLOAD_CONTENT_TYPES[format] },
    },
    encodeBody(format, payload),
  );
}

/** One `:message-type=exception` message; the client's iterator throws it as a typed error. */
export function exceptionMessage(name: string, text: string, format: WireFormat): Buffer {
  return message(
    {
      ':message-type': { type: 'string', value: 'exception' },
      ':exception-type': { type: 'string', value: EXCEPTION_NAMES[name] ?? name },
      ':content-type': { type: 'string', value: PAYLOAD_CONTENT_TYPES[format] },
    },
    encodeBody(format, { message: text }),
  );
}

/** SubscribeToShardEvent's payload (Kinesis_20131202 shape names). */
export function subscribeToShardEvent(event: SubscriptionEvent) {
  return {
    Records: event.records.map((r) => ({
      SequenceNumber: r.sequenceNumber,
      ApproximateArrivalTimestamp: new Date(r.arrivalMs),
      Data: r.data,
      PartitionKey: r.partitionKey,
      ...(r.encrypted ? { EncryptionType: 'KMS' } : {}),
    })),
    ContinuationSequenceNumber: event.continuationSequenceNumber,
    MillisBehindLatest: event.millisBehindLatest,
    ...(event.childShards !== undefined
      ? {
          ChildShards: event.childShards.map((c) => ({
            ShardId: c.shardId,
            ParentShards: c.parentShards,
            HashKeyRange: { StartingHashKey: c.startingHashKey, EndingHashKey: c.endingHashKey },
          })),
        }
      : {}),
  };
}

/**
 * The response body: `initial-response` at once (the JS SDK's send() resolves on it), then one
 * SubscribeToShardEvent per event; a failure after the start becomes an exception message that ends
 * the stream. Pulled with backpressure; destroying it ends the subscription.
 */
export function subscribeEventStream(
  events: AsyncIterable<SubscriptionEvent>,
  format: WireFormat,
  logger: Logger,
): Readable {
  async function* messages(): AsyncGenerator<Buffer> {
    yield eventMessage('initial-response', {}, format);
    try {
      for await (const event of events) {
        yield eventMessage('SubscribeToShardEvent', subscribeToShardEvent(event), format);
      }
    } catch (error) {
      if (isServiceError(error)) {
        yield exceptionMessage(error.code, error.message, format);
        return;
      }
      logger.error({ err: error }, 'subscription failed');
      yield exceptionMessage(
        'InternalFailure',
        'An internal error occurred; see the gateway log for the request id.',
        format,
      );
    }
  }
  return Readable.from(messages(), { objectMode: false });
}

function message(headers: Parameters<EventStreamCodec['encode']>[0]['headers'], body: Buffer): Buffer {
  const bytes = codec.encode({ headers, body });
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

import { z } from 'zod';
import type {
  ConsumerRecord,
  ConsumerRef,
  IteratorStart,
  ShardSubscriptions,
  StreamAdmin,
  StreamConsumers,
} from '../../data-streams/index.ts';
import { ServiceError } from '../../errors/index.ts';
import { type OperationHandler, StreamingOutput } from '../aws/aws-protocol.ts';
import { int, oneOf, parseInput, str } from '../aws/validation.ts';
import { EVENT_STREAM_CONTENT_TYPE, subscribeEventStream } from './subscribe-event-stream.ts';

// Kinesis enhanced fan-out (Kinesis_20131202): RegisterStreamConsumer, DescribeStreamConsumer,
// ListStreamConsumers, DeregisterStreamConsumer and SubscribeToShard, plugged into kinesisApi() as
// extra operations. Validates at the edge and calls data-streams/.

const namePattern = 'Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+';
const consumerName = str(1, 128).regex(/^[a-zA-Z0-9_.-]+$/, namePattern);
const shardId = str(1, 128).regex(/^[a-zA-Z0-9_.-]+$/, namePattern);
const streamArn = str(1, 2048);
const consumerArn = str(1, 2048).regex(
  /^(arn):aws.*:kinesis:.*:\d{12}:.*stream\/[a-zA-Z0-9_.-]+\/consumer\/[a-zA-Z0-9_.-]+:[0-9]+$/,
  'Member must satisfy regular expression pattern: ^(arn):aws.*:kinesis:.*:\\d{12}:.*stream\\/[a-zA-Z0-9_.-]+\\/consumer\\/[a-zA-Z0-9_.-]+:[0-9]+',
);
const sequenceNumber = z
  .string()
  .regex(/^(0|[1-9]\d{0,128})$/, 'Member must satisfy regular expression pattern: 0|([1-9]\\d{0,128})');
const timestamp = z
  .union([z.number(), z.date()], { message: 'Member must be a timestamp' })
  .transform((v) => (typeof v === 'number' ? v * 1000 : v.getTime()));
const tagMap = z.record(str(1, 128), str(0, 256));
const consumerRefInput = {
  StreamARN: streamArn.optional(),
  ConsumerName: consumerName.optional(),
  ConsumerARN: consumerArn.optional(),
};

/** ListStreamConsumers pages hold at most this many consumers (AWS's cap, whatever MaxResults says). */
const MAX_LIST_RESULTS = 100;
/** ListStreamConsumers NextToken lifetime, as ListShards'. */
const NEXT_TOKEN_TTL_MS = 300_000;

/** The enhanced fan-out operations, for `kinesisApi({ extraOperations })`. */
export function efoOperations(options: {
  admin: StreamAdmin;
  consumers: StreamConsumers;
  subscriptions: ShardSubscriptions;
}): Record<string, OperationHandler> {
  const { admin, consumers, subscriptions } = options;

  const consumerRef = (i: {
    StreamARN?: string | undefined;
    ConsumerName?: string | undefined;
    ConsumerARN?: string | undefined;
  }): ConsumerRef => {
    if (i.ConsumerARN !== undefined) return { consumerArn: i.ConsumerARN };
    if (i.StreamARN !== undefined && i.ConsumerName !== undefined) {
      return { streamName: admin.nameOfArn(i.StreamARN), consumerName: i.ConsumerName };
    }
    throw new ServiceError(
      'InvalidArgumentException',
      'Either ConsumerARN or both ConsumerName and StreamARN must be provided.',
    );
  };

  return {
    RegisterStreamConsumer: async (input) => {
      // Tags are accepted but not stored yet (TagResource on consumer ARNs is not supported either).
      const i = parseInput(
        z.object({ StreamARN: streamArn, ConsumerName: consumerName, Tags: tagMap.optional() }),
        input,
      );
      const consumer = await consumers.register(admin.nameOfArn(i.StreamARN), i.ConsumerName);
      return { Consumer: consumerShape(consumer) };
    },
    DescribeStreamConsumer: async (input) => {
      const consumer = await consumers.describe(consumerRef(parseInput(z.object(consumerRefInput), input)));
      return { ConsumerDescription: { ...consumerShape(consumer), StreamARN: consumer.streamArn } };
    },
    ListStreamConsumers: async (input) => {
      const i = parseInput(
        z.object({
          StreamARN: streamArn,
          NextToken: str(1, 1048576).optional(),
          MaxResults: int(1, 10_000).optional(),
          StreamCreationTimestamp: timestamp.optional(),
        }),
        input,
      );
      const name = admin.nameOfArn(i.StreamARN);
      const after = i.NextToken === undefined ? undefined : decodeToken(i.NextToken, name);
      const rest = (await consumers.list(name)).filter((c) => after === undefined || c.name > after);
      const page = rest.slice(0, Math.min(i.MaxResults ?? MAX_LIST_RESULTS, MAX_LIST_RESULTS));
      const last = page.at(-1);
      return {
        Consumers: page.map(consumerShape),
        ...(rest.length > page.length && last ? { NextToken: encodeToken(name, last.name) } : {}),
      };
    },
    DeregisterStreamConsumer: async (input) => {
      await consumers.deregister(consumerRef(parseInput(z.object(consumerRefInput), input)));
    },
    SubscribeToShard: async (input, context) => {
      const i = parseInput(
        z.object({
          ConsumerARN: consumerArn,
          ShardId: shardId,
          StartingPosition: z.object({
            Type: oneOf([
              'AT_SEQUENCE_NUMBER',
              'AFTER_SEQUENCE_NUMBER',
              'TRIM_HORIZON',
              'LATEST',
              'AT_TIMESTAMP',
            ]),
            SequenceNumber: sequenceNumber.optional(),
            Timestamp: timestamp.optional(),
          }),
        }),
        input,
      );
      const position = i.StartingPosition;
      let start: IteratorStart;
      switch (position.Type) {
        case 'AT_SEQUENCE_NUMBER':
        case 'AFTER_SEQUENCE_NUMBER':
          if (position.SequenceNumber === undefined) {
            throw new ServiceError(
              'InvalidArgumentException',
              `Must specify SequenceNumber for ${position.Type} type.`,
            );
          }
          start = { type: position.Type, sequenceNumber: position.SequenceNumber };
          break;
        case 'AT_TIMESTAMP':
          if (position.Timestamp === undefined) {
            throw new ServiceError(
              'InvalidArgumentException',
              'Must specify Timestamp for AT_TIMESTAMP type.',
            );
          }
          start = { type: 'AT_TIMESTAMP', timestampMs: position.Timestamp };
          break;
        default:
          start = { type: position.Type };
      }
      const events = await subscriptions.open({
        consumerArn: i.ConsumerARN,
        shardId: i.ShardId,
        start,
        signal: context.signal,
      });
      return new StreamingOutput(
        EVENT_STREAM_CONTENT_TYPE,
        subscribeEventStream(events, context.format, context.logger),
      );
    },
  };
}

function consumerShape(consumer: ConsumerRecord) {
  return {
    ConsumerName: consumer.name,
    ConsumerARN: consumer.arn,
    ConsumerStatus: consumer.status,
    ConsumerCreationTimestamp: new Date(consumer.createdAt),
  };
}

function encodeToken(streamName: string, after: string): string {
  return Buffer.from(
    JSON.stringify({ kind: 'ListStreamConsumers', stream: streamName, after, issuedAt: Date.now() }),
  ).toString('base64');
}

/** The consumer name a NextToken continues after; it must belong to the same stream. */
function decodeToken(token: string, streamName: string): string {
  let parsed: { kind?: unknown; stream?: unknown; after?: unknown; issuedAt?: unknown };
  try {
    parsed = JSON.parse(Buffer.from(token, 'base64').toString('utf8'));
  } catch (error) {
    throw new ServiceError('InvalidArgumentException', 'Invalid NextToken.', { cause: error });
  }
  if (
    parsed.kind !== 'ListStreamConsumers' ||
    parsed.stream !== streamName ||
    typeof parsed.after !== 'string' ||
    typeof parsed.issuedAt !== 'number'
  ) {
    throw new ServiceError('InvalidArgumentException', 'Invalid NextToken.');
  }
  if (Date.now() - parsed.issuedAt > NEXT_TOKEN_TTL_MS) {
    throw new ServiceError(
      'ExpiredNextTokenException',
      'The timestamp of the NextToken is older than 300 seconds.',
    );
  }
  return parsed.after;
}

import { z } from 'zod';
import { isServiceError, ServiceError } from '../../errors/index.ts';
import type { VideoStreamRecord, VideoStreamRegistry } from '../../video-archive/index.ts';
import type { OperationContext, OperationHandler, RestJsonService } from '../aws/aws-protocol.ts';
import { int, oneOf, parseInput, str } from '../aws/validation.ts';
import { KVS_ERROR_STATUS } from './kvs-errors.ts';
import { namePattern, streamArn, streamName, streamRef } from './kvs-shapes.ts';

// Kinesis Video Streams control plane (REST-JSON, `POST /<operation>`, SigV4 scope `kinesisvideo`) on the
// protocol core: validates input at the edge, calls video-archive/, shapes output as the SDKs expect.

const deviceName = str(1, 128).regex(/^[a-zA-Z0-9_.-]+$/, namePattern);
const mediaType = str(1, 128).regex(
  /^[\w\-.+]+\/[\w\-.+]+(,[\w\-.+]+\/[\w\-.+]+)*$/,
  'Member must satisfy regular expression pattern: [\\w\\-\\.\\+]+/[\\w\\-\\.\\+]+(,[\\w\\-\\.\\+]+/[\\w\\-\\.\\+]+)*',
);
const version = str(1, 64).regex(
  /^[a-zA-Z0-9]+$/,
  'Member must satisfy regular expression pattern: [a-zA-Z0-9]+',
);
const tagKey = str(1, 128);
const tagValue = str(0, 256);
const tagMap = z.record(tagKey, tagValue);
const tagKeyList = z
  .array(tagKey, { message: 'Member must not be null' })
  .min(1, 'Member must have length greater than or equal to 1')
  .max(50, 'Member must have length less than or equal to 50');
const nextToken = str(0, 512);

/** APIName values of GetDataEndpoint; every data-plane API is served by this gateway itself. */
const DATA_PLANE_APIS = [
  'PUT_MEDIA',
  'GET_MEDIA',
  'LIST_FRAGMENTS',
  'GET_MEDIA_FOR_FRAGMENT_LIST',
  'GET_HLS_STREAMING_SESSION_URL',
  'GET_DASH_STREAMING_SESSION_URL',
  'GET_CLIP',
  'GET_IMAGES',
] as const;

// Built once: building zod schemas per request is costly (see kinesis-api.ts).
const createStreamInput = z.object({
  StreamName: streamName,
  DeviceName: deviceName.optional(),
  MediaType: mediaType.optional(),
  KmsKeyId: str(1, 2048).optional(),
  DataRetentionInHours: int(0, 2_147_483_647).optional(),
  Tags: tagMap.optional(),
});
const describeStreamInput = z.object(streamRef);
const listStreamsInput = z.object({
  MaxResults: int(1, 10_000).optional(),
  NextToken: nextToken.optional(),
  StreamNameCondition: z
    .object({
      ComparisonOperator: oneOf(['BEGINS_WITH']).optional(),
      ComparisonValue: streamName.optional(),
    })
    .optional(),
});
const deleteStreamInput = z.object({ StreamARN: streamArn, CurrentVersion: version.optional() });
const updateStreamInput = z.object({
  ...streamRef,
  CurrentVersion: version,
  DeviceName: deviceName.optional(),
  MediaType: mediaType.optional(),
});
const updateDataRetentionInput = z.object({
  ...streamRef,
  CurrentVersion: version,
  Operation: oneOf(['INCREASE_DATA_RETENTION', 'DECREASE_DATA_RETENTION']),
  DataRetentionChangeInHours: int(1, 2_147_483_647),
});
const getDataEndpointInput = z.object({ ...streamRef, APIName: oneOf(DATA_PLANE_APIS) });
const tagStreamInput = z.object({ ...streamRef, Tags: tagMap });
const untagStreamInput = z.object({ ...streamRef, TagKeyList: tagKeyList });
const listTagsForStreamInput = z.object({ ...streamRef, NextToken: nextToken.optional() });
const tagResourceInput = z.object({
  ResourceARN: streamArn,
  Tags: z
    .array(z.object({ Key: tagKey, Value: tagValue }), { message: 'Member must not be null' })
    .min(1, 'Member must have length greater than or equal to 1')
    .max(50, 'Member must have length less than or equal to 50'),
});
const untagResourceInput = z.object({ ResourceARN: streamArn, TagKeyList: tagKeyList });
const listTagsForResourceInput = z.object({ ResourceARN: streamArn, NextToken: nextToken.optional() });

/**
 * Validates like parseInput, but reports failures as InvalidArgumentException: the KVS model has no
 * ValidationException, so KVS clients can catch a modeled error class.
 */
export function parse<T extends z.ZodType>(schema: T, input: Record<string, unknown>): z.output<T> {
  try {
    return parseInput(schema, input);
  } catch (error) {
    if (isServiceError(error) && error.code === 'ValidationException') {
      throw new ServiceError('InvalidArgumentException', error.message, { cause: error });
    }
    throw error;
  }
}

/** StreamInfo of DescribeStream and ListStreams. */
function streamInfo(stream: VideoStreamRecord) {
  return {
    DeviceName: stream.deviceName,
    StreamName: stream.name,
    StreamARN: stream.arn,
    MediaType: stream.mediaType,
    KmsKeyId: stream.kmsKeyId,
    Version: stream.version,
    Status: stream.status,
    CreationTime: new Date(stream.creationTimeMs),
    DataRetentionInHours: stream.retentionHours,
  };
}

/** ListStreams' opaque NextToken: the last stream name of the page, base64url. */
function encodeToken(lastName: string): string {
  return Buffer.from(lastName, 'utf8').toString('base64url');
}

function decodeToken(token: string | undefined): string | undefined {
  if (token === undefined || token === '') return undefined;
  const name = Buffer.from(token, 'base64url').toString('utf8');
  if (!/^[a-zA-Z0-9_.-]{1,256}$/.test(name)) {
    throw new ServiceError('InvalidArgumentException', 'The NextToken is not valid.');
  }
  return name;
}

/**
 * The gateway's base URL as the client reached it: `publicUrl` when configured, else the scheme
 * (X-Forwarded-Proto, else TLS or not) and the Host / :authority header of the request.
 */
export function baseUrlOf(context: OperationContext, publicUrl: string | undefined, tls: boolean): string {
  if (publicUrl !== undefined) return publicUrl.replace(/\/+$/, '');
  const host = context.headers[':authority'] ?? context.headers.host;
  if (host === undefined || !/^[A-Za-z0-9.\-:[\]]+$/.test(host)) {
    throw new ServiceError('InvalidArgumentException', 'The request has no usable Host header.');
  }
  const forwarded = context.headers['x-forwarded-proto']?.split(',', 1)[0]?.trim().toLowerCase();
  const scheme = forwarded === 'http' || forwarded === 'https' ? forwarded : tls ? 'https' : 'http';
  return `${scheme}://${host}`;
}

/** The Kinesis Video Streams control-plane operations, ready to register on the AWS protocol core. */
export function kinesisVideoApi(options: {
  registry: VideoStreamRegistry;
  /** STREAMGATE_PUBLIC_URL: the base URL GetDataEndpoint returns; undefined = derived per request. */
  publicUrl: string | undefined;
  /** Whether the gateway serves TLS (the scheme of derived URLs). */
  tls: boolean;
}): RestJsonService {
  const { registry, publicUrl, tls } = options;
  const refOf = (i: { StreamName?: string | undefined; StreamARN?: string | undefined }) => ({
    name: i.StreamName,
    arn: i.StreamARN,
  });

  const operations: Record<string, OperationHandler> = {
    '/createStream': async (input) => {
      const i = parse(createStreamInput, input);
      const stream = await registry.create({
        name: i.StreamName,
        deviceName: i.DeviceName,
        mediaType: i.MediaType,
        kmsKeyId: i.KmsKeyId,
        retentionHours: i.DataRetentionInHours ?? 0,
        tags: i.Tags ?? {},
      });
      return { StreamARN: stream.arn };
    },
    '/describeStream': async (input) => {
      const i = parse(describeStreamInput, input);
      return { StreamInfo: streamInfo(await registry.describe(refOf(i))) };
    },
    '/listStreams': async (input) => {
      const i = parse(listStreamsInput, input);
      const { streams, more } = await registry.list({
        limit: i.MaxResults ?? 10_000,
        afterName: decodeToken(i.NextToken),
        prefix: i.StreamNameCondition?.ComparisonValue,
      });
      const last = streams.at(-1);
      return {
        StreamInfoList: streams.map(streamInfo),
        ...(more && last ? { NextToken: encodeToken(last.name) } : {}),
      };
    },
    '/deleteStream': async (input) => {
      const i = parse(deleteStreamInput, input);
      await registry.delete(i.StreamARN, i.CurrentVersion);
      return {};
    },
    '/updateStream': async (input) => {
      const i = parse(updateStreamInput, input);
      await registry.update(refOf(i), i.CurrentVersion, { deviceName: i.DeviceName, mediaType: i.MediaType });
      return {};
    },
    '/updateDataRetention': async (input) => {
      const i = parse(updateDataRetentionInput, input);
      const sign = i.Operation === 'INCREASE_DATA_RETENTION' ? 1 : -1;
      await registry.updateRetention(refOf(i), i.CurrentVersion, sign * i.DataRetentionChangeInHours);
      return {};
    },
    '/getDataEndpoint': async (input, context) => {
      const i = parse(getDataEndpointInput, input);
      await registry.describe(refOf(i));
      return { DataEndpoint: baseUrlOf(context, publicUrl, tls) };
    },
    '/tagStream': async (input) => {
      const i = parse(tagStreamInput, input);
      await registry.tag(refOf(i), i.Tags);
      return {};
    },
    '/untagStream': async (input) => {
      const i = parse(untagStreamInput, input);
      await registry.untag(refOf(i), i.TagKeyList);
      return {};
    },
    '/listTagsForStream': async (input) => {
      const i = parse(listTagsForStreamInput, input);
      return { Tags: await registry.tags(refOf(i)) };
    },
    // The SDK model spells these three paths capitalised.
    '/TagResource': async (input) => {
      const i = parse(tagResourceInput, input);
      await registry.tag({ arn: i.ResourceARN }, Object.fromEntries(i.Tags.map((t) => [t.Key, t.Value])));
      return {};
    },
    '/UntagResource': async (input) => {
      const i = parse(untagResourceInput, input);
      await registry.untag({ arn: i.ResourceARN }, i.TagKeyList);
      return {};
    },
    '/ListTagsForResource': async (input) => {
      const i = parse(listTagsForResourceInput, input);
      return { Tags: await registry.tags({ arn: i.ResourceARN }) };
    },
  };
  return { signingName: 'kinesisvideo', operations, errorStatus: KVS_ERROR_STATUS };
}

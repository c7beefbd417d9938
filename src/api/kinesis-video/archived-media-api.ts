import { z } from 'zod';
import { ServiceError } from '../../errors/index.ts';
import type { ObjectStore } from '../../storage/index.ts';
import {
  type ArchiveSealer,
  type FragmentIndex,
  type FragmentMetadata,
  fragmentListMedia,
  MAX_LIST_FRAGMENTS,
  MAX_MEDIA_FRAGMENTS,
  type VideoStreamRegistry,
} from '../../video-archive/index.ts';
import { type OperationHandler, type RestJsonService, StreamingOutput } from '../aws/aws-protocol.ts';
import { int, oneOf, str } from '../aws/validation.ts';
import { parse } from './kinesis-video-api.ts';

// Kinesis Video Streams archived media (REST-JSON, SigV4 scope `kinesisvideo`): ListFragments and
// GetMediaForFragmentList, served on the endpoint GetDataEndpoint returns (this gateway).

/** Epoch seconds (JSON number, as the SDKs send timestamps) or a Date (CBOR), to epoch ms. */
const timestamp = z
  .union([z.number(), z.date()], { message: 'Member must be a timestamp' })
  .transform((v) => (typeof v === 'number' ? Math.round(v * 1000) : v.getTime()));
const streamRef = {
  StreamName: str(1, 256)
    .regex(/^[a-zA-Z0-9_.-]+$/, 'Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+')
    .optional(),
  StreamARN: str(1, 1024).optional(),
};
const fragmentNumber = str(1, 128).regex(
  /^[0-9]+$/,
  'Member must satisfy regular expression pattern: ^[0-9]+$',
);

const listFragmentsInput = z.object({
  ...streamRef,
  MaxResults: int(1, MAX_LIST_FRAGMENTS).optional(),
  NextToken: str(1, 4096).optional(),
  FragmentSelector: z
    .object({
      FragmentSelectorType: oneOf(['PRODUCER_TIMESTAMP', 'SERVER_TIMESTAMP']),
      TimestampRange: z.object({ StartTimestamp: timestamp, EndTimestamp: timestamp }),
    })
    .optional(),
});
const getMediaForFragmentListInput = z.object({
  ...streamRef,
  Fragments: z
    .array(fragmentNumber, { message: 'Member must not be null' })
    .min(1, 'Member must have length greater than or equal to 1')
    .max(MAX_MEDIA_FRAGMENTS, `Member must have length less than or equal to ${MAX_MEDIA_FRAGMENTS}`),
});

/** A `Fragment` of ListFragments (timestamps as Dates: the codec writes epoch seconds). */
function fragmentOutput(f: FragmentMetadata) {
  return {
    FragmentNumber: f.fragmentNumber,
    FragmentSizeInBytes: f.sizeBytes,
    ProducerTimestamp: new Date(f.producerTimestampMs),
    ServerTimestamp: new Date(f.serverTimestampMs),
    FragmentLengthInMilliseconds: f.durationMs,
  };
}

/** The archived-media operations, ready to register on the AWS protocol core. */
export function archivedMediaApi(options: {
  registry: VideoStreamRegistry;
  index: FragmentIndex;
  store: ObjectStore;
  sealer: ArchiveSealer;
}): RestJsonService {
  const { registry, index } = options;
  const operations: Record<string, OperationHandler> = {
    '/listFragments': async (input) => {
      const i = parse(listFragmentsInput, input);
      const stream = await registry.describe({ name: i.StreamName, arn: i.StreamARN });
      const range = i.FragmentSelector?.TimestampRange;
      if (range && range.StartTimestamp > range.EndTimestamp) {
        throw new ServiceError('InvalidArgumentException', 'StartTimestamp must not be after EndTimestamp.');
      }
      const page = await index.list(stream, {
        type: i.FragmentSelector?.FragmentSelectorType ?? 'SERVER_TIMESTAMP',
        startMs: range?.StartTimestamp,
        endMs: range?.EndTimestamp,
        maxResults: i.MaxResults,
        nextToken: i.NextToken,
      });
      return {
        Fragments: page.fragments.map(fragmentOutput),
        ...(page.nextToken !== undefined ? { NextToken: page.nextToken } : {}),
      };
    },
    '/getMediaForFragmentList': async (input) => {
      const i = parse(getMediaForFragmentListInput, input);
      const stream = await registry.describe({ name: i.StreamName, arn: i.StreamARN });
      const media = await fragmentListMedia(options, stream, i.Fragments);
      return new StreamingOutput('video/mp4', media);
    },
  };
  return { signingName: 'kinesisvideo', operations };
}

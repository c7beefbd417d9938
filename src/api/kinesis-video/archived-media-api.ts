import { z } from 'zod';
import { ServiceError } from '../../errors/index.ts';
import { faststartMp4Args, runFfmpeg, stillImageArgs } from '../../media/ffmpeg/index.ts';
import type { ObjectStore } from '../../storage/index.ts';
import {
  type ArchiveSealer,
  clipMedia,
  type FragmentIndex,
  type FragmentMetadata,
  fragmentListMedia,
  IMAGE_LIMITS,
  MAX_LIST_FRAGMENTS,
  MAX_MEDIA_FRAGMENTS,
  streamImages,
  type VideoStreamRegistry,
} from '../../video-archive/index.ts';
import { type OperationHandler, type RestJsonService, StreamingOutput } from '../aws/aws-protocol.ts';
import { int, oneOf, str } from '../aws/validation.ts';
import { parse } from './kinesis-video-api.ts';
import { KVS_ERROR_STATUS } from './kvs-errors.ts';
import { streamRef, timestamp } from './kvs-shapes.ts';

// Kinesis Video Streams archived media (REST-JSON, SigV4 scope `kinesisvideo`): ListFragments,
// GetMediaForFragmentList, GetClip and GetImages, served on the endpoint GetDataEndpoint returns (this
// gateway). GetClip and GetImages run ffmpeg (media/ffmpeg) over the decrypted fragments.

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

const timestampSelectorType = oneOf(['PRODUCER_TIMESTAMP', 'SERVER_TIMESTAMP']);
const getClipInput = z.object({
  ...streamRef,
  ClipFragmentSelector: z.object(
    {
      FragmentSelectorType: timestampSelectorType,
      TimestampRange: z.object(
        { StartTimestamp: timestamp, EndTimestamp: timestamp },
        { message: 'Member must not be null' },
      ),
    },
    { message: 'Member must not be null' },
  ),
});
const getImagesInput = z.object({
  ...streamRef,
  ImageSelectorType: timestampSelectorType,
  StartTimestamp: timestamp,
  EndTimestamp: timestamp,
  SamplingInterval: int(IMAGE_LIMITS.minSamplingIntervalMs, 2 ** 31 - 1).optional(),
  Format: oneOf(['JPEG', 'PNG']),
  FormatConfig: z
    .object({
      JPEGQuality: str(1, 256)
        .regex(/^(100|[1-9][0-9]?)$/, 'Member must be an integer from 1 to 100')
        .optional(),
    })
    .optional(),
  WidthPixels: int(1, 3840).optional(),
  HeightPixels: int(1, 2160).optional(),
  MaxResults: int(1, 2 ** 31 - 1).optional(),
  NextToken: str(1, 4096)
    .regex(/^[a-zA-Z0-9+/=_-]+$/, 'Member must satisfy regular expression pattern: [a-zA-Z0-9+/=_-]+')
    .optional(),
});
/** GetImages' SamplingInterval when absent (ms) [M: not in the SDK model]. */
const DEFAULT_SAMPLING_INTERVAL_MS = 3000;
/** GetImages' JPEGQuality when absent (AWS documents 80). */
const DEFAULT_JPEG_QUALITY = 80;

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
  /** ffmpeg for GetClip and GetImages; resolved from FFMPEG_PATH or PATH on first use when absent. */
  ffmpegPath?: string | undefined;
}): RestJsonService {
  const { registry, index } = options;
  const ffmpeg = (): string => {
    if (options.ffmpegPath === undefined) {
      throw new ServiceError(
        'ServiceUnavailableException',
        'This gateway has no ffmpeg, which GetClip and GetImages need: install ffmpeg or set FFMPEG_PATH.',
      );
    }
    return options.ffmpegPath;
  };
  /** GetClip, GetImages: a stream that retains nothing has nothing to cut or sample (the AWS error). */
  const requireRetention = (stream: { name: string; retentionHours: number }, operation: string): void => {
    if (stream.retentionHours === 0) {
      throw new ServiceError(
        'NoDataRetentionException',
        `${operation} was requested for a stream that does not retain data (that is, has a DataRetentionInHours of 0): ${stream.name}.`,
      );
    }
  };
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
    '/getClip': async (input, { signal, logger }) => {
      const i = parse(getClipInput, input);
      const stream = await registry.describe({ name: i.StreamName, arn: i.StreamARN });
      requireRetention(stream, 'GetClip');
      const selector = i.ClipFragmentSelector;
      const path = ffmpeg();
      const clip = await clipMedia(
        {
          ...options,
          logger,
          remux: async (fmp4, outputFile) => {
            await runFfmpeg({ ffmpegPath: path, args: faststartMp4Args(outputFile), input: fmp4, signal });
          },
        },
        stream,
        {
          type: selector.FragmentSelectorType,
          startMs: selector.TimestampRange.StartTimestamp,
          endMs: selector.TimestampRange.EndTimestamp,
        },
      );
      return new StreamingOutput('video/mp4', clip);
    },
    '/getImages': async (input, { signal, logger }) => {
      const i = parse(getImagesInput, input);
      if (i.WidthPixels !== undefined && i.HeightPixels === undefined) {
        throw new ServiceError('InvalidArgumentException', 'WidthPixels requires HeightPixels.');
      }
      const stream = await registry.describe({ name: i.StreamName, arn: i.StreamARN });
      requireRetention(stream, 'GetImages');
      const path = ffmpeg();
      const jpegQuality = Number(i.FormatConfig?.JPEGQuality ?? DEFAULT_JPEG_QUALITY);
      const page = await streamImages(
        {
          ...options,
          logger,
          grab: (fmp4, frame) =>
            runFfmpeg({
              ffmpegPath: path,
              input: fmp4,
              signal,
              maxStdoutBytes: 16 * 1024 * 1024,
              args: stillImageArgs({
                format: i.Format,
                jpegQuality,
                widthPixels: i.WidthPixels,
                heightPixels: i.HeightPixels,
                keyframesOnly: frame.keyframesOnly,
                offsetMs: frame.offsetMs,
              }),
            }),
        },
        stream,
        {
          type: i.ImageSelectorType,
          startMs: i.StartTimestamp,
          endMs: i.EndTimestamp,
          samplingIntervalMs: i.SamplingInterval ?? DEFAULT_SAMPLING_INTERVAL_MS,
          maxResults: i.MaxResults ?? IMAGE_LIMITS.maxPageImages,
          nextToken: i.NextToken,
        },
      );
      return {
        Images: page.images.map((image) => ({
          TimeStamp: new Date(image.timestampMs),
          ...(image.error !== undefined ? { Error: image.error } : {}),
          ...(image.content !== undefined ? { ImageContent: image.content.toString('base64') } : {}),
        })),
        ...(page.nextToken !== undefined ? { NextToken: page.nextToken } : {}),
      };
    },
  };
  return { signingName: 'kinesisvideo', operations, errorStatus: KVS_ERROR_STATUS };
}

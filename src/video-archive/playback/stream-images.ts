import { Readable } from 'node:stream';
import { ServiceError } from '../../errors/index.ts';
import type { Logger } from '../../logging/index.ts';
import type { ObjectStore } from '../../storage/index.ts';
import type { FragmentMetadata } from '../archive-layout.ts';
import type { FragmentIndex, FragmentTimestampType } from '../fragment-index.ts';
import type { ArchiveSealer } from '../ports.ts';
import type { VideoStreamRecord } from '../video-stream-record.ts';
import { fragmentListMedia } from './fragment-list-media.ts';

/** GetImages limits (AWS): range ≤ 300 s, SamplingInterval ≥ 200 ms, at most 25 images per page. */
export const IMAGE_LIMITS = {
  maxRangeMs: 300_000,
  minSamplingIntervalMs: 200,
  maxPageImages: 25,
  /** Fragments that start this long before StartTimestamp are still searched for a covering one. */
  lookBehindMs: 60_000,
  /** Fragments decoded at once. */
  concurrency: 4,
} as const;

/** Port: one still image of an fMP4 (init + one fragment) at `offsetMs` from its start; rejects on failure. */
export type FrameGrab = (
  fmp4: Readable,
  frame: { offsetMs: number; keyframesOnly: boolean },
) => Promise<Buffer>;

/** A validated GetImages request; timestamps in epoch ms. */
export interface ImagesRequest {
  type: FragmentTimestampType;
  startMs: number;
  endMs: number;
  samplingIntervalMs: number;
  maxResults: number;
  nextToken?: string | undefined;
}

/** One `Image` of GetImages: the sampling instant, then either the content or why there is none. */
export interface StreamImage {
  timestampMs: number;
  content?: Buffer;
  error?: 'NO_MEDIA' | 'MEDIA_ERROR';
}

/**
 * GetImages: one image per sampling instant `start + k·interval ≤ end`, a page at a time. Each instant
 * takes a frame of the fragment covering it: its keyframe when the interval is at least the
 * fragment (GOP) duration, else the first frame at or after the instant. NO_MEDIA where no fragment
 * covers the instant, MEDIA_ERROR where decoding failed.
 */
export async function streamImages(
  deps: { index: FragmentIndex; store: ObjectStore; sealer: ArchiveSealer; grab: FrameGrab; logger: Logger },
  stream: VideoStreamRecord,
  request: ImagesRequest,
): Promise<{ images: StreamImage[]; nextToken?: string }> {
  const { startMs, endMs, samplingIntervalMs: intervalMs } = request;
  if (endMs < startMs) {
    throw new ServiceError('InvalidArgumentException', 'EndTimestamp must not be before StartTimestamp.');
  }
  if (endMs - startMs > IMAGE_LIMITS.maxRangeMs) {
    throw new ServiceError(
      'InvalidArgumentException',
      'EndTimestamp must be within 300 seconds of StartTimestamp.',
    );
  }
  const total = Math.floor((endMs - startMs) / intervalMs) + 1;
  const first = request.nextToken === undefined ? 0 : decodeToken(request.nextToken, total);
  const pageSize = Math.min(request.maxResults, IMAGE_LIMITS.maxPageImages);
  const instants: number[] = [];
  for (let k = first; k < total && instants.length < pageSize; k++) instants.push(startMs + k * intervalMs);
  const fragments = await coveringFragments(deps.index, stream, request.type, instants);

  const images: StreamImage[] = instants.map((timestampMs) => ({ timestampMs }));
  // Images grouped by the fragment covering them: each fragment is fetched and decrypted once.
  const byFragment = new Map<FragmentMetadata, StreamImage[]>();
  for (const image of images) {
    const fragment = fragments.find((f) => {
      const at = timestampOf(f, request.type);
      return at <= image.timestampMs && image.timestampMs < at + Math.max(f.durationMs, 1);
    });
    if (!fragment) image.error = 'NO_MEDIA';
    else byFragment.set(fragment, [...(byFragment.get(fragment) ?? []), image]);
  }
  const work = [...byFragment].map(([fragment, covered]) => async (): Promise<void> => {
    const media = await fragmentListMedia(deps, stream, [fragment.fragmentNumber]);
    const chunks: Buffer[] = [];
    for await (const chunk of media) chunks.push(chunk as Buffer);
    const fmp4 = Buffer.concat(chunks);
    const keyframesOnly = intervalMs >= fragment.durationMs;
    for (const image of covered) {
      const offsetMs = keyframesOnly ? 0 : image.timestampMs - timestampOf(fragment, request.type);
      try {
        image.content = await deps.grab(Readable.from([fmp4]), { offsetMs, keyframesOnly });
      } catch (error) {
        // Per-image failure is reported in the response (AWS `MEDIA_ERROR`), not as a failed call.
        deps.logger.warn(
          { err: error, stream: stream.name, fragmentNumber: fragment.fragmentNumber, offsetMs },
          'GetImages could not decode an image',
        );
        image.error = 'MEDIA_ERROR';
      }
    }
  });
  await runLimited(work, IMAGE_LIMITS.concurrency);
  const next = first + instants.length;
  return { images, ...(next < total ? { nextToken: encodeToken(next) } : {}) };
}

function timestampOf(f: FragmentMetadata, type: FragmentTimestampType): number {
  return type === 'SERVER_TIMESTAMP' ? f.serverTimestampMs : f.producerTimestampMs;
}

/** Fragments that may cover any of `instants` (those starting up to `lookBehindMs` before the first). */
async function coveringFragments(
  index: FragmentIndex,
  stream: VideoStreamRecord,
  type: FragmentTimestampType,
  instants: readonly number[],
): Promise<FragmentMetadata[]> {
  const firstMs = instants[0];
  const lastMs = instants.at(-1);
  if (firstMs === undefined || lastMs === undefined) return [];
  const fragments: FragmentMetadata[] = [];
  let nextToken: string | undefined;
  do {
    const page = await index.list(stream, {
      type,
      startMs: firstMs - IMAGE_LIMITS.lookBehindMs,
      endMs: lastMs,
      nextToken,
    });
    fragments.push(...page.fragments);
    nextToken = page.nextToken;
  } while (nextToken !== undefined);
  return fragments;
}

async function runLimited(tasks: readonly (() => Promise<void>)[], concurrency: number): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let task = tasks[next++]; task !== undefined; task = tasks[next++]) await task();
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, tasks.length) }, worker));
}

/** The opaque NextToken: base64url of `img:<index of the next sampling instant>`. */
function encodeToken(index: number): string {
  return Buffer.from(`img:${index}`, 'utf8').toString('base64url');
}

function decodeToken(token: string, total: number): number {
  const match = /^img:(\d{1,9})$/.exec(Buffer.from(token, 'base64url').toString('utf8'));
  const index = Number(match?.[1] ?? Number.NaN);
  if (!Number.isInteger(index) || index >= total) {
    throw new ServiceError('InvalidArgumentException', 'The NextToken is not valid.');
  }
  return index;
}

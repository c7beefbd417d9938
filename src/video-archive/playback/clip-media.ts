import { createReadStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { ServiceError } from '../../errors/index.ts';
import type { Logger } from '../../logging/index.ts';
import type { ObjectStore } from '../../storage/index.ts';
import type { FragmentMetadata } from '../archive-layout.ts';
import type { FragmentIndex, FragmentTimestampType } from '../fragment-index.ts';
import type { ArchiveSealer } from '../ports.ts';
import type { VideoStreamRecord } from '../video-stream-record.ts';
import { fragmentListMedia } from './fragment-list-media.ts';

/** GetClip limits (AWS): a range of at most 24 h, at most 200 fragments and 100 MB of media. */
export const CLIP_LIMITS = {
  maxRangeMs: 24 * 60 * 60 * 1000,
  maxFragments: 200,
  maxMediaBytes: 100 * 1024 * 1024,
} as const;

/** Port: remuxes fragmented MP4 (init + fragments) into a plain, faststart MP4 file; rejects on failure. */
export type FaststartRemux = (fmp4: Readable, outputFile: string) => Promise<void>;

/** A GetClip `ClipFragmentSelector`, timestamps in epoch ms (both inclusive). */
export interface ClipSelector {
  type: FragmentTimestampType;
  startMs: number;
  endMs: number;
}

/**
 * GetClip: the fragments that start within the range (at most the first 200 / 100 MB), decrypted and
 * remuxed to a non-fragmented MP4 in a temporary file, returned as a stream that removes the file
 * when it closes. ResourceNotFoundException when the range holds no fragment.
 */
export async function clipMedia(
  deps: {
    index: FragmentIndex;
    store: ObjectStore;
    sealer: ArchiveSealer;
    remux: FaststartRemux;
    logger: Logger;
  },
  stream: VideoStreamRecord,
  selector: ClipSelector,
): Promise<Readable> {
  if (selector.endMs <= selector.startMs) {
    throw new ServiceError('InvalidArgumentException', 'EndTimestamp must be later than StartTimestamp.');
  }
  if (selector.endMs - selector.startMs > CLIP_LIMITS.maxRangeMs) {
    throw new ServiceError(
      'InvalidArgumentException',
      'EndTimestamp must be within 24 hours of StartTimestamp.',
    );
  }
  const page = await deps.index.list(stream, {
    type: selector.type,
    startMs: selector.startMs,
    endMs: selector.endMs,
    maxResults: CLIP_LIMITS.maxFragments,
  });
  const fragments: FragmentMetadata[] = [];
  let mediaBytes = 0;
  for (const fragment of page.fragments) {
    if (fragments.length > 0 && mediaBytes + fragment.sizeBytes > CLIP_LIMITS.maxMediaBytes) break;
    fragments.push(fragment);
    mediaBytes += fragment.sizeBytes;
  }
  if (fragments.length === 0) {
    throw new ServiceError(
      'ResourceNotFoundException',
      `No fragments found in the stream ${stream.name} for the requested time range.`,
    );
  }
  const media = await fragmentListMedia(
    deps,
    stream,
    fragments.map((f) => f.fragmentNumber),
  );
  const dir = await mkdtemp(join(tmpdir(), 'streamgate-clip-'));
  const removeDir = (): Promise<void> => rm(dir, { recursive: true, force: true });
  const file = join(dir, 'clip.mp4');
  try {
    await deps.remux(media, file);
  } catch (error) {
    await removeDir();
    throw new Error(`remuxing the clip of ${stream.name} failed`, { cause: error });
  }
  const clip = createReadStream(file);
  // Removed on end, error or when the client goes away.
  clip.once('close', () => {
    removeDir().catch((error: unknown) => {
      deps.logger.warn({ err: error, dir }, 'removing the temporary clip directory failed');
    });
  });
  return clip;
}

import { Readable } from 'node:stream';
import { ServiceError } from '../../errors/index.ts';
import type { ObjectStore } from '../../storage/index.ts';
import { type FragmentMetadata, fragmentContext, initContext } from '../archive-layout.ts';
import type { FragmentIndex } from '../fragment-index.ts';
import type { ArchiveSealer } from '../ports.ts';
import type { VideoStreamRecord } from '../video-stream-record.ts';

/** Largest number of fragments one GetMediaForFragmentList may name. */
export const MAX_MEDIA_FRAGMENTS = 1000;

/**
 * GetMediaForFragmentList: the decrypted fMP4 of the given fragments, in the order given, each preceded
 * by its init segment whenever that differs from the previous fragment's. Every number is checked
 * before streaming starts (ResourceNotFoundException); objects are fetched and opened one at a time.
 */
export async function fragmentListMedia(
  deps: { index: FragmentIndex; store: ObjectStore; sealer: ArchiveSealer },
  stream: VideoStreamRecord,
  numbers: readonly string[],
): Promise<Readable> {
  const found = await deps.index.get(stream, numbers);
  const fragments: FragmentMetadata[] = [];
  for (const [i, fragment] of found.entries()) {
    if (!fragment) {
      throw new ServiceError(
        'ResourceNotFoundException',
        `The fragment ${numbers[i]} of the stream ${stream.name} does not exist.`,
      );
    }
    fragments.push(fragment);
  }
  const inits = await deps.index.initSegments(stream);
  for (const fragment of fragments) {
    if (inits[fragment.initVersion] === undefined) {
      throw new Error(`init segment ${fragment.initVersion} of ${stream.name} is not indexed`);
    }
  }
  async function* media(): AsyncGenerator<Buffer> {
    let currentInit: string | undefined;
    for (const fragment of fragments) {
      if (fragment.initVersion !== currentInit) {
        const initKey = inits[fragment.initVersion] as string;
        const sealed = await deps.store.getBuffer(initKey);
        yield await deps.sealer.open(sealed, initContext(stream.arn, fragment.initVersion));
        currentInit = fragment.initVersion;
      }
      const sealed = await deps.store.getBuffer(fragment.objectKey);
      yield await deps.sealer.open(sealed, fragmentContext(stream.arn, fragment.fragmentNumber));
    }
  }
  return Readable.from(media(), { objectMode: false });
}

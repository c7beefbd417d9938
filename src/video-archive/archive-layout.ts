import type { VideoStreamRecord } from './video-stream-record.ts';

// The storage layout the archive writer, fragment index, retention sweeper and playback share (as in
// MediaMTX, they share nothing else): object keys, fragment numbers, metadata hashes, encryption contexts.

/** What the index knows about one archived fragment. */
export interface FragmentMetadata {
  /** Decimal string, strictly increasing per stream (see `formatFragmentNumber`). */
  fragmentNumber: string;
  /** Plaintext (media) size in bytes of the fragment's moof+mdat pairs. */
  sizeBytes: number;
  producerTimestampMs: number;
  serverTimestampMs: number;
  durationMs: number;
  /** Version of the init segment needed to decode the fragment. */
  initVersion: string;
  /** Object key of the sealed fragment. */
  objectKey: string;
}

/**
 * A stream's stable id: `<name>-<creation epoch ms>` (from the ARN). A stream deleted and re-created
 * under the same name gets a new id, so it never sees the old stream's objects or index.
 */
export function streamIdOf(stream: Pick<VideoStreamRecord, 'name' | 'creationTimeMs'>): string {
  return `${stream.name}-${stream.creationTimeMs}`;
}

/** Prefix of every object of a stream. */
export function streamObjectPrefix(streamId: string): string {
  return `video/${streamId}/`;
}

/** `video/<stream-id>/init/<version>.mp4` */
export function initObjectKey(streamId: string, version: string): string {
  return `video/${streamId}/init/${version}.mp4`;
}

/** `video/<stream-id>/<yyyy>/<mm>/<dd>/<hh>/<fragment-number>.m4s`, the hour of the server timestamp in UTC. */
export function fragmentObjectKey(
  streamId: string,
  serverTimestampMs: number,
  fragmentNumber: string,
): string {
  const iso = new Date(serverTimestampMs).toISOString(); // yyyy-mm-ddThh:...
  return `video/${streamId}/${iso.slice(0, 4)}/${iso.slice(5, 7)}/${iso.slice(8, 10)}/${iso.slice(11, 13)}/${fragmentNumber}.m4s`;
}

/**
 * The fragment number of a stream's `sequence`-th fragment (a Redis INCR counter, from 1): "9" then
 * the sequence zero-padded to 20 digits, e.g. `900000000000000000042`. Fixed width, so numeric order
 * equals string order (Redis sorted-set members of equal score sort by string), and strictly increasing.
 */
export function formatFragmentNumber(sequence: number): string {
  return `9${String(sequence).padStart(20, '0')}`;
}

/** Whether `value` has the shape of a fragment number of this gateway. */
export function isFragmentNumber(value: string): boolean {
  return /^9\d{20}$/.test(value);
}

/** Encryption context of a sealed fragment. */
export function fragmentContext(streamArn: string, fragmentNumber: string): Record<string, string> {
  return { 'aws:kinesisvideo:arn': streamArn, fragmentNumber };
}

/** Encryption context of a sealed init segment. */
export function initContext(streamArn: string, version: string): Record<string, string> {
  return { 'aws:kinesisvideo:arn': streamArn, object: `init/${version}` };
}

/** The metadata hash of a fragment. */
export function metadataToHash(m: FragmentMetadata): Record<string, string> {
  return {
    number: m.fragmentNumber,
    size: String(m.sizeBytes),
    producerMs: String(m.producerTimestampMs),
    serverMs: String(m.serverTimestampMs),
    durationMs: String(m.durationMs),
    initVersion: m.initVersion,
    objectKey: m.objectKey,
  };
}

/** The metadata in a hash, or undefined when the hash is empty or incomplete. */
export function hashToMetadata(hash: Readonly<Record<string, string>>): FragmentMetadata | undefined {
  const { number, size, producerMs, serverMs, durationMs, initVersion, objectKey } = hash;
  if (!number || !size || !producerMs || !serverMs || !durationMs || !initVersion || !objectKey)
    return undefined;
  return {
    fragmentNumber: number,
    sizeBytes: Number(size),
    producerTimestampMs: Number(producerMs),
    serverTimestampMs: Number(serverMs),
    durationMs: Number(durationMs),
    initVersion,
    objectKey,
  };
}

import type { FragmentMetadata } from '../video-archive/index.ts';
import type { HlsSession } from './session-token.ts';

// Pure HLS playlist rendering (RFC 8216, version 7, fMP4 segments), following the rules KVS uses:
// one segment per fragment, EXT-X-MAP per init version, discontinuities per DiscontinuityMode.

/** What the master playlist says about the stream's media. */
export interface MediaDescription {
  /** RFC 6381 codec strings of every track. */
  codecs: string[];
  width: number | undefined;
  height: number | undefined;
  /** Peak bits per second over recent fragments. */
  bandwidthBps: number;
}

/** A fragment's media sequence number: its fragment number's counter (`9` + 20 digits). */
export function mediaSequenceOf(fragmentNumber: string): number {
  return Number(fragmentNumber.slice(1));
}

/** `getHLSMasterPlaylist.m3u8`: one variant, the media playlist of the same session. */
export function masterPlaylist(token: string, media: MediaDescription): string {
  const attributes = [`BANDWIDTH=${Math.max(1, Math.round(media.bandwidthBps))}`];
  if (media.codecs.length > 0) attributes.push(`CODECS="${media.codecs.join(',')}"`);
  if (media.width !== undefined && media.height !== undefined) {
    attributes.push(`RESOLUTION=${media.width}x${media.height}`);
  }
  return [
    '#EXTM3U',
    '#EXT-X-VERSION:7',
    '#EXT-X-INDEPENDENT-SEGMENTS',
    `#EXT-X-STREAM-INF:${attributes.join(',')}`,
    `getHLSMediaPlaylist.m3u8?SessionToken=${encodeURIComponent(token)}`,
    '',
  ].join('\n');
}

/** Inputs of one media playlist rendering. */
export interface MediaPlaylistInput {
  session: HlsSession;
  token: string;
  /** The window, oldest first. */
  fragments: readonly FragmentMetadata[];
  /** EXT-X-DISCONTINUITY-SEQUENCE of the first fragment (see discontinuitySequence in hls-sessions). */
  discontinuitySequence: number;
  /** ON_DEMAND: the playlist is complete (EXT-X-ENDLIST). */
  ended: boolean;
}

/** A gap (or overlap) between fragments larger than this is a discontinuity in ON_DISCONTINUITY mode. */
const GAP_TOLERANCE_MS = 1000;

/** Whether a discontinuity separates `next` from `previous` in this mode. */
export function isDiscontinuity(
  session: Pick<HlsSession, 'discontinuityMode' | 'timestampType'>,
  previous: FragmentMetadata,
  next: FragmentMetadata,
): boolean {
  if (session.discontinuityMode === 'ALWAYS') return true;
  if (session.discontinuityMode === 'NEVER') return false;
  if (previous.initVersion !== next.initVersion) return true;
  const at = (f: FragmentMetadata) =>
    session.timestampType === 'PRODUCER_TIMESTAMP' ? f.producerTimestampMs : f.serverTimestampMs;
  return Math.abs(at(next) - (at(previous) + previous.durationMs)) > GAP_TOLERANCE_MS;
}

/** `getHLSMediaPlaylist.m3u8`. */
export function mediaPlaylist(input: MediaPlaylistInput): string {
  const { session, fragments } = input;
  const token = encodeURIComponent(input.token);
  const first = fragments[0];
  const lines = [
    '#EXTM3U',
    '#EXT-X-VERSION:7',
    `#EXT-X-TARGETDURATION:${session.targetDurationS}`,
    `#EXT-X-MEDIA-SEQUENCE:${first ? mediaSequenceOf(first.fragmentNumber) : 0}`,
    `#EXT-X-DISCONTINUITY-SEQUENCE:${input.discontinuitySequence}`,
    '#EXT-X-INDEPENDENT-SEGMENTS',
  ];
  if (session.mode === 'ON_DEMAND') lines.push('#EXT-X-PLAYLIST-TYPE:VOD');
  else lines.push(`#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES`);
  let previous: FragmentMetadata | undefined;
  for (const fragment of fragments) {
    if (previous !== undefined && isDiscontinuity(session, previous, fragment)) {
      lines.push('#EXT-X-DISCONTINUITY');
    }
    if (previous === undefined || previous.initVersion !== fragment.initVersion) {
      lines.push(
        `#EXT-X-MAP:URI="getMP4InitFragment.mp4?SessionToken=${token}&InitVersion=${fragment.initVersion}"`,
      );
    }
    if (session.displayTimestamps) {
      const at =
        session.timestampType === 'PRODUCER_TIMESTAMP'
          ? fragment.producerTimestampMs
          : fragment.serverTimestampMs;
      lines.push(`#EXT-X-PROGRAM-DATE-TIME:${new Date(at).toISOString()}`);
    }
    lines.push(`#EXTINF:${(fragment.durationMs / 1000).toFixed(3)},`);
    lines.push(`getMP4MediaFragment.mp4?SessionToken=${token}&FragmentNumber=${fragment.fragmentNumber}`);
    previous = fragment;
  }
  if (input.ended) lines.push('#EXT-X-ENDLIST');
  lines.push('');
  return lines.join('\n');
}

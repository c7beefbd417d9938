import { BoxCursor, type ChildBox, childBoxes, findChild } from './box-view.ts';
import { avcCodecString, esdsInfo, hevcCodecString } from './codec-string.ts';
import { Mp4ParseError } from './mp4-parse-error.ts';

/** Fields every track of an init segment has. */
interface TrackBase {
  trackId: number;
  /** `hdlr` handler_type, e.g. `vide`, `soun`. */
  handler: string;
  /** `mdhd` timescale: ticks per second of this track's decode times and durations. */
  timescale: number;
  /** RFC 6381 codec string (`avc1.64001f`, `mp4a.40.2`); the sample entry type when not derivable. */
  codec: string;
}

/** A track described by the `moov` of an init segment. */
export type InitTrack =
  | (TrackBase & { kind: 'video'; width: number; height: number })
  | (TrackBase & { kind: 'audio'; sampleRateHz: number; channelCount: number })
  | (TrackBase & { kind: 'other' });

/** `trex` defaults (ISO/IEC 14496-12 §8.8.3) that a `tfhd`/`trun` may omit. */
export interface TrackDefaults {
  sampleDurationTicks: number;
  sampleSizeBytes: number;
  sampleFlags: number;
}

/** What the fragmenter needs from a `moov`. */
export interface MovieInfo {
  tracks: InitTrack[];
  defaults: ReadonlyMap<number, TrackDefaults>;
}

/** Parses a complete `moov` box (header included): tracks with codecs, and `mvex/trex` defaults. */
export function parseMoov(moov: Uint8Array): MovieInfo {
  const [root] = childBoxes(moov, 0, moov.byteLength, 'top level');
  if (root === undefined || root.type !== 'moov') throw new Mp4ParseError('malformed', 'expected a moov box');
  const tracks: InitTrack[] = [];
  const defaults = new Map<number, TrackDefaults>();
  for (const child of childBoxes(moov, root.start, root.end, 'moov')) {
    if (child.type === 'trak') tracks.push(parseTrak(moov, child));
    if (child.type !== 'mvex') continue;
    for (const trex of childBoxes(moov, child.start, child.end, 'mvex')) {
      if (trex.type !== 'trex') continue;
      const cursor = new BoxCursor(moov, trex.start, trex.end, 'trex');
      cursor.fullBox();
      const trackId = cursor.u32();
      cursor.skip(4); // default_sample_description_index
      const sampleDurationTicks = cursor.u32();
      const sampleSizeBytes = cursor.u32();
      defaults.set(trackId, { sampleDurationTicks, sampleSizeBytes, sampleFlags: cursor.u32() });
    }
  }
  if (tracks.length === 0) throw new Mp4ParseError('malformed', 'moov has no trak');
  return { tracks, defaults };
}

function required(bytes: Uint8Array, parent: ChildBox, type: string, parentType: string): ChildBox {
  const box = findChild(bytes, parent, type, parentType);
  if (box === undefined) throw new Mp4ParseError('malformed', `'${parentType}' box has no '${type}'`);
  return box;
}

function parseTrak(bytes: Uint8Array, trak: ChildBox): InitTrack {
  const tkhd = new BoxCursor(bytes, ...span(required(bytes, trak, 'tkhd', 'trak')), 'tkhd');
  const { version: tkhdVersion } = tkhd.fullBox();
  tkhd.skip(tkhdVersion === 1 ? 16 : 8); // creation_time, modification_time
  const trackId = tkhd.u32();

  const mdia = required(bytes, trak, 'mdia', 'trak');
  const mdhd = new BoxCursor(bytes, ...span(required(bytes, mdia, 'mdhd', 'mdia')), 'mdhd');
  const { version: mdhdVersion } = mdhd.fullBox();
  mdhd.skip(mdhdVersion === 1 ? 16 : 8);
  const timescale = mdhd.u32();
  if (timescale === 0) throw new Mp4ParseError('malformed', `track ${trackId} has timescale 0`);

  const hdlr = new BoxCursor(bytes, ...span(required(bytes, mdia, 'hdlr', 'mdia')), 'hdlr');
  hdlr.fullBox();
  hdlr.skip(4); // pre_defined
  const handler = String.fromCharCode(hdlr.u8(), hdlr.u8(), hdlr.u8(), hdlr.u8());

  const stbl = required(bytes, required(bytes, mdia, 'minf', 'mdia'), 'stbl', 'minf');
  const stsd = required(bytes, stbl, 'stsd', 'stbl');
  const entries = childBoxes(bytes, stsd.start + 8, stsd.end, 'stsd'); // after FullBox header + entry_count
  const entry = entries[0];
  if (entry === undefined) throw new Mp4ParseError('malformed', `track ${trackId} has no sample entry`);
  const base = { trackId, handler, timescale };

  if (handler === 'vide') {
    // VisualSampleEntry (§12.1.3): 8 bytes SampleEntry, 16 pre_defined/reserved, width, height, then 50 more.
    const visual = new BoxCursor(bytes, ...span(entry), entry.type);
    visual.skip(24);
    const width = visual.u16();
    const height = visual.u16();
    visual.skip(50);
    const children = childBoxes(bytes, visual.offset, entry.end, entry.type);
    const avcC = children.find((child) => child.type === 'avcC');
    const hvcC = children.find((child) => child.type === 'hvcC');
    const codec = avcC
      ? avcCodecString(entry.type, bytes, avcC)
      : hvcC
        ? hevcCodecString(entry.type, bytes, hvcC)
        : entry.type;
    return { ...base, kind: 'video', codec, width, height };
  }
  if (handler === 'soun') {
    // AudioSampleEntry (§12.2.3): 8 SampleEntry, version(2) + 6 reserved, channelcount, samplesize, 4, rate 16.16.
    const audio = new BoxCursor(bytes, ...span(entry), entry.type);
    audio.skip(8);
    const version = audio.u16();
    audio.skip(6);
    let channelCount = audio.u16();
    audio.skip(6);
    let sampleRateHz = audio.u32() >>> 16;
    audio.skip(version === 1 ? 16 : version === 2 ? 36 : 0); // QuickTime sound description v1/v2 extensions
    const children = childBoxes(bytes, audio.offset, entry.end, entry.type);
    const esds = children.find((child) => child.type === 'esds');
    let codec = entry.type === 'Opus' ? 'opus' : entry.type === 'fLaC' ? 'flac' : entry.type;
    if (esds !== undefined) {
      const info = esdsInfo(bytes, esds);
      codec = info.codec;
      sampleRateHz = info.sampleRateHz ?? sampleRateHz;
      channelCount = info.channelCount ?? channelCount;
    }
    return { ...base, kind: 'audio', codec, sampleRateHz, channelCount };
  }
  return { ...base, kind: 'other', codec: entry.type };
}

function span(box: ChildBox): [number, number] {
  return [box.start, box.end];
}

/** The tracks of an init segment as the fragmenter emits it (`ftyp` when present, then `moov`). */
export function describeInitSegment(bytes: Uint8Array): InitTrack[] {
  let boxStart = 0; // top-level boxes are contiguous: each starts where the previous ended
  for (const box of childBoxes(bytes, 0, bytes.byteLength, 'init segment')) {
    if (box.type === 'moov') return parseMoov(bytes.subarray(boxStart, box.end)).tracks;
    boxStart = box.end;
  }
  throw new Mp4ParseError('malformed', 'the init segment has no moov box');
}

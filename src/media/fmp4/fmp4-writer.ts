import type { AacConfig } from '../codecs/aac-config.ts';
import type { AvcConfig } from '../codecs/avc-config.ts';
import { concat } from './box-view.ts';

// Writes fragmented MP4 (ISO/IEC 14496-12): an init segment (ftyp + moov with mvex) for H.264/AAC
// tracks, and moof+mdat fragments. The layout is the one Fmp4Fragmenter reads and ffmpeg's
// `frag_keyframe+empty_moov+default_base_moof` writes: empty sample tables, tfhd default-base-is-moof,
// tfdt version 1, one trun per track with per-sample duration, size, flags (and composition offsets).

/** A track of an init segment. */
export type WriterTrack =
  | { kind: 'video'; trackId: number; timescale: number; avc: AvcConfig }
  | { kind: 'audio'; trackId: number; timescale: number; aac: AacConfig };

/** One sample of a run: its bytes are `data`. */
export interface WriterSample {
  durationTicks: number;
  /** Composition time offset in ticks (video; may be negative). */
  compositionOffsetTicks: number;
  sync: boolean;
  data: Uint8Array;
}

/** One track's samples in a fragment, starting at `baseMediaDecodeTime` ticks. */
export interface WriterRun {
  trackId: number;
  baseMediaDecodeTime: number;
  /** Write composition offsets (video). */
  compositionOffsets: boolean;
  samples: readonly WriterSample[];
}

/** sample_flags (§8.8.3.1): sync = depends on nothing; others = depends on others, non-sync. */
const SYNC_SAMPLE_FLAGS = 0x0200_0000;
const NON_SYNC_SAMPLE_FLAGS = 0x0101_0000;
/** Seconds from 1904-01-01 (MP4 epoch) to 1970-01-01. */
const MP4_EPOCH_OFFSET_S = 2_082_844_800;

function u8(...values: number[]): Uint8Array {
  return Uint8Array.from(values);
}

function u16(value: number): Uint8Array {
  return u8((value >>> 8) & 0xff, value & 0xff);
}

function u32(value: number): Uint8Array {
  return u8((value >>> 24) & 0xff, (value >>> 16) & 0xff, (value >>> 8) & 0xff, value & 0xff);
}

function ascii(text: string): Uint8Array {
  return Uint8Array.from(text, (c) => c.charCodeAt(0));
}

function zeros(n: number): Uint8Array {
  return new Uint8Array(n);
}

function box(type: string, ...payload: Uint8Array[]): Uint8Array {
  const body = concat(payload);
  return concat([u32(8 + body.byteLength), ascii(type), body]);
}

function fullBox(type: string, version: number, flags: number, ...payload: Uint8Array[]): Uint8Array {
  return box(type, u8(version, (flags >>> 16) & 0xff, (flags >>> 8) & 0xff, flags & 0xff), ...payload);
}

/** The unity matrix of mvhd/tkhd. */
const MATRIX = concat([
  u32(0x0001_0000),
  u32(0),
  u32(0),
  u32(0),
  u32(0x0001_0000),
  u32(0),
  u32(0),
  u32(0),
  u32(0x4000_0000),
]);

/** An MPEG-4 descriptor (ISO/IEC 14496-1 §8.3.3): tag, expandable size, payload. */
function descriptor(tag: number, ...payload: Uint8Array[]): Uint8Array {
  const body = concat(payload);
  const size: number[] = [];
  let n = body.byteLength;
  size.unshift(n & 0x7f);
  for (n >>>= 7; n > 0; n >>>= 7) size.unshift((n & 0x7f) | 0x80);
  return concat([u8(tag, ...size), body]);
}

function sampleEntry(track: WriterTrack): Uint8Array {
  const sampleEntryHeader = concat([zeros(6), u16(1)]); // reserved, data_reference_index
  if (track.kind === 'video') {
    const { width, height } = track.avc.sps;
    const compressorName = zeros(32);
    return box(
      'avc1',
      sampleEntryHeader,
      zeros(16), // pre_defined, reserved
      u16(width),
      u16(height),
      u32(0x0048_0000), // 72 dpi
      u32(0x0048_0000),
      u32(0),
      u16(1), // frame_count
      compressorName,
      u16(0x0018), // depth
      u16(0xffff), // pre_defined = -1
      box('avcC', track.avc.record),
      ...pasp(track.avc),
    );
  }
  const { aac } = track;
  const esds = fullBox(
    'esds',
    0,
    0,
    descriptor(
      3, // ES_Descriptor
      u16(track.trackId),
      u8(0),
      descriptor(
        4, // DecoderConfigDescriptor
        u8(0x40, 0x15), // MPEG-4 audio; AudioStream, upStream 0, reserved 1
        u8(0, 0, 0), // bufferSizeDB
        u32(0), // maxBitrate
        u32(0), // avgBitrate
        descriptor(5, aac.record), // DecoderSpecificInfo
      ),
      descriptor(6, u8(0x02)), // SLConfigDescriptor: predefined MP4
    ),
  );
  return box(
    'mp4a',
    sampleEntryHeader,
    zeros(8), // version 0 + reserved
    u16(aac.channelCount),
    u16(16), // samplesize
    u16(0),
    u16(0),
    u32(aac.sampleRateHz < 65_536 ? aac.sampleRateHz * 65_536 : 0), // 16.16; the esds has the real rate
    esds,
  );
}

/** `pasp` (§12.1.4) for non-square pixels, as ffmpeg writes it; nothing for square ones. */
function pasp(avc: AvcConfig): Uint8Array[] {
  const { sarWidth, sarHeight } = avc.sps;
  return sarWidth === sarHeight ? [] : [box('pasp', u32(sarWidth), u32(sarHeight))];
}

function trak(track: WriterTrack, created: number): Uint8Array {
  const video = track.kind === 'video';
  // tkhd carries the display size: the coded width scaled by the sample aspect ratio (16.16 fixed).
  const { width: coded = 0, sarWidth = 1, sarHeight = 1 } = video ? track.avc.sps : {};
  const width = video ? Math.min(65_535, Math.max(1, Math.round((coded * sarWidth) / sarHeight))) : 0;
  const height = video ? track.avc.sps.height : 0;
  const tkhd = fullBox(
    'tkhd',
    0,
    0x000003, // enabled, in movie
    u32(created),
    u32(created),
    u32(track.trackId),
    u32(0),
    u32(0), // duration: unknown (fragmented)
    zeros(8),
    u16(0), // layer
    u16(0), // alternate_group
    u16(video ? 0 : 0x0100), // volume
    u16(0),
    MATRIX,
    u32(width * 65_536),
    u32(height * 65_536),
  );
  const mdhd = fullBox(
    'mdhd',
    0,
    0,
    u32(created),
    u32(created),
    u32(track.timescale),
    u32(0),
    u16(0x55c4),
    u16(0),
  );
  const handler = video ? 'vide' : 'soun';
  const hdlr = fullBox(
    'hdlr',
    0,
    0,
    u32(0),
    ascii(handler),
    zeros(12),
    ascii(video ? 'VideoHandler\0' : 'SoundHandler\0'),
  );
  const mediaHeader = video ? fullBox('vmhd', 0, 1, zeros(8)) : fullBox('smhd', 0, 0, zeros(4));
  const dinf = box('dinf', fullBox('dref', 0, 0, u32(1), fullBox('url ', 0, 1)));
  const stbl = box(
    'stbl',
    fullBox('stsd', 0, 0, u32(1), sampleEntry(track)),
    fullBox('stts', 0, 0, u32(0)),
    fullBox('stsc', 0, 0, u32(0)),
    fullBox('stsz', 0, 0, u32(0), u32(0)),
    fullBox('stco', 0, 0, u32(0)),
  );
  return box('trak', tkhd, box('mdia', mdhd, hdlr, box('minf', mediaHeader, dinf, stbl)));
}

/** ftyp + moov for `tracks`; `creationTime` goes into mvhd/tkhd/mdhd (whole seconds). */
export function writeInitSegment(tracks: readonly WriterTrack[], creationTime: Date): Uint8Array {
  const created = Math.max(0, Math.floor(creationTime.getTime() / 1000) + MP4_EPOCH_OFFSET_S) >>> 0;
  const ftyp = box('ftyp', ascii('isom'), u32(0x200), ascii('isom'), ascii('iso6'), ascii('mp41'));
  const mvhd = fullBox(
    'mvhd',
    0,
    0,
    u32(created),
    u32(created),
    u32(1000), // timescale
    u32(0), // duration
    u32(0x0001_0000), // rate 1.0
    u16(0x0100), // volume 1.0
    zeros(10),
    MATRIX,
    zeros(24), // pre_defined
    u32(Math.max(0, ...tracks.map((track) => track.trackId)) + 1), // next_track_ID
  );
  const mvex = box(
    'mvex',
    ...tracks.map((track) => fullBox('trex', 0, 0, u32(track.trackId), u32(1), u32(0), u32(0), u32(0))),
  );
  return concat([ftyp, box('moov', mvhd, ...tracks.map((track) => trak(track, created)), mvex)]);
}

const MFHD_BYTES = 16;
const TFHD_BYTES = 16;
const TFDT_BYTES = 20;
const TRUN_HEADER_BYTES = 20;

/** One moof (mfhd + a traf per run) and its mdat, in a single buffer; runs' data in order. */
export function writeFragment(sequenceNumber: number, runs: readonly WriterRun[]): Uint8Array {
  const entryBytes = (run: WriterRun) => (run.compositionOffsets ? 16 : 12);
  let moofBytes = 8 + MFHD_BYTES;
  let mdatBytes = 8;
  for (const run of runs) {
    moofBytes += 8 + TFHD_BYTES + TFDT_BYTES + TRUN_HEADER_BYTES + run.samples.length * entryBytes(run);
    for (const sample of run.samples) mdatBytes += sample.data.byteLength;
  }
  const out = Buffer.allocUnsafe(moofBytes + mdatBytes);
  let at = 0;
  const header = (size: number, type: string, versionFlags?: number): void => {
    out.writeUInt32BE(size, at);
    out.write(type, at + 4, 'latin1');
    at += 8;
    if (versionFlags !== undefined) {
      out.writeUInt32BE(versionFlags >>> 0, at);
      at += 4;
    }
  };
  header(moofBytes, 'moof');
  header(MFHD_BYTES, 'mfhd', 0);
  out.writeUInt32BE(sequenceNumber >>> 0, at);
  at += 4;
  let dataOffset = moofBytes + 8;
  for (const run of runs) {
    const trunBytes = TRUN_HEADER_BYTES + run.samples.length * entryBytes(run);
    header(8 + TFHD_BYTES + TFDT_BYTES + trunBytes, 'traf');
    header(TFHD_BYTES, 'tfhd', 0x02_0000); // default-base-is-moof
    out.writeUInt32BE(run.trackId, at);
    at += 4;
    header(TFDT_BYTES, 'tfdt', 0x0100_0000); // version 1: 64-bit time
    out.writeUInt32BE(Math.floor(run.baseMediaDecodeTime / 2 ** 32), at);
    out.writeUInt32BE(run.baseMediaDecodeTime % 2 ** 32, at + 4);
    at += 8;
    const negative = run.samples.some((sample) => sample.compositionOffsetTicks < 0);
    // data-offset, sample-duration, -size, -flags (and -composition-time-offset; version 1 when signed).
    const flags = 0x000001 | 0x000100 | 0x000200 | 0x000400 | (run.compositionOffsets ? 0x000800 : 0);
    header(trunBytes, 'trun', ((negative ? 1 : 0) << 24) | flags);
    out.writeUInt32BE(run.samples.length, at);
    out.writeInt32BE(dataOffset, at + 4);
    at += 8;
    for (const sample of run.samples) {
      out.writeUInt32BE(sample.durationTicks >>> 0, at);
      out.writeUInt32BE(sample.data.byteLength, at + 4);
      out.writeUInt32BE(sample.sync ? SYNC_SAMPLE_FLAGS : NON_SYNC_SAMPLE_FLAGS, at + 8);
      at += 12;
      if (run.compositionOffsets) {
        out.writeInt32BE(sample.compositionOffsetTicks, at);
        at += 4;
      }
      dataOffset += sample.data.byteLength;
    }
  }
  out.writeUInt32BE(mdatBytes, at);
  out.write('mdat', at + 4, 'latin1');
  at += 8;
  for (const run of runs) {
    for (const sample of run.samples) {
      out.set(sample.data, at);
      at += sample.data.byteLength;
    }
  }
  return out;
}

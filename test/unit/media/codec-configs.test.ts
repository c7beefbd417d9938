import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseAacConfig } from '../../../src/media/codecs/aac-config.ts';
import { parseAvcConfig } from '../../../src/media/codecs/avc-config.ts';
import { parseH264Sps } from '../../../src/media/codecs/h264-sps.ts';
import { parseFlvChunk } from '../../../src/media/flv/flv-tag.ts';
import {
  ASC_SAMPLES,
  avcConfigRecord,
  FIXTURE_AVCC_HEX,
  FIXTURE_PPS_HEX,
  fromHex,
  SPS_SAMPLES,
} from '../../support/codec-samples.ts';

// The SPS and AudioSpecificConfig samples are real encoder output (test/support/codec-samples.ts says
// how each was made); the fixture's are read from the committed FLV itself.

const fixtureFlv = new Uint8Array(
  readFileSync(fileURLToPath(new URL('../../../media-fixtures/h264-aac-2s.flv', import.meta.url))),
);

/** The sequence headers of an FLV file: the AVCDecoderConfigurationRecord and AudioSpecificConfig. */
function sequenceHeaders(flv: Uint8Array): { avcC: Uint8Array | undefined; asc: Uint8Array | undefined } {
  let avcC: Uint8Array | undefined;
  let asc: Uint8Array | undefined;
  for (let offset = 13; offset < flv.byteLength; ) {
    const size = ((flv[offset + 1] ?? 0) << 16) | ((flv[offset + 2] ?? 0) << 8) | (flv[offset + 3] ?? 0);
    const tag = parseFlvChunk(flv.subarray(offset, offset + 11 + size + 4));
    if (tag.kind === 'avc' && tag.packetType === 0) avcC ??= Uint8Array.from(tag.data);
    if (tag.kind === 'aac' && tag.packetType === 0) asc ??= Uint8Array.from(tag.data);
    offset += 11 + size + 4;
  }
  return { avcC, asc };
}

/** '0'/'1' characters (spaces ignored) → bytes, zero-padded at the end. */
function bitsToBytes(bits: string): Uint8Array {
  const clean = bits.replaceAll(' ', '');
  const padded = clean.padEnd(Math.ceil(clean.length / 8) * 8, '0');
  return Uint8Array.from(padded.match(/.{8}/g) ?? [], (byte) => Number.parseInt(byte, 2));
}

describe('parseH264Sps on real x264 output', () => {
  it('reads the fixture (Constrained Baseline 320x240) from its FLV sequence header', () => {
    const { avcC } = sequenceHeaders(fixtureFlv);
    expect(avcC && Buffer.from(avcC).toString('hex')).toBe(FIXTURE_AVCC_HEX);
    const config = parseAvcConfig(avcC ?? new Uint8Array());
    expect(config.nalLengthSize).toBe(4);
    expect(config.sps).toEqual({
      profileIdc: 66,
      levelIdc: 30,
      width: 320,
      height: 240,
      sarWidth: 1,
      sarHeight: 1,
    });
    expect(config.record).toEqual(avcC);
  });

  for (const [name, sample] of Object.entries(SPS_SAMPLES)) {
    it(`${name}: ${sample.note} → ${sample.width}x${sample.height}`, () => {
      expect(parseH264Sps(fromHex(sample.hex))).toEqual({
        profileIdc: sample.profileIdc,
        levelIdc: sample.levelIdc,
        width: sample.width,
        height: sample.height,
        // Square pixels: x264 writes no aspect ratio (or 1:1) for these.
        sarWidth: 1,
        sarHeight: 1,
      });
    });
  }

  it('applies the frame cropping: 1080 rows of the 1088 coded, 854 columns of the 864 coded', () => {
    // Same SPS with frame_cropping_flag cleared would give the coded size; check the coded size is the
    // macroblock-aligned one, i.e. the crop really is what removes the 8 rows / 10 columns.
    const hd = parseH264Sps(fromHex(SPS_SAMPLES.high1920x1080.hex));
    expect(hd.height % 16).not.toBe(0);
    expect(Math.ceil(hd.height / 16) * 16 - hd.height).toBe(8);
    const fwvga = parseH264Sps(fromHex(SPS_SAMPLES.main854x480.hex));
    expect(Math.ceil(fwvga.width / 16) * 16 - fwvga.width).toBe(10);
  });

  it('strips emulation prevention bytes (00 00 03) before reading the fields', () => {
    // The fixture SPS with constraint flags and level_idc zeroed: the two zero bytes are followed by an
    // emulation prevention byte, as a writer may insert. The size fields after it read right only if the
    // 03 is removed.
    const sps = fromHex(SPS_SAMPLES.baseline320x240.hex);
    const escaped = Uint8Array.from([0x67, 66, 0, 0, 3, ...sps.subarray(4)]);
    expect(parseH264Sps(escaped)).toEqual({
      profileIdc: 66,
      levelIdc: 0,
      width: 320,
      height: 240,
      sarWidth: 1,
      sarHeight: 1,
    });
  });

  it('parses the SPS inside an AVCDecoderConfigurationRecord built around each sample', () => {
    for (const sample of Object.values(SPS_SAMPLES)) {
      const record = avcConfigRecord(fromHex(sample.hex), fromHex(FIXTURE_PPS_HEX));
      expect(parseAvcConfig(record).sps).toMatchObject({ width: sample.width, height: sample.height });
    }
  });

  it('throws RangeError on malformed SPS input', () => {
    const hd = fromHex(SPS_SAMPLES.high1920x1080.hex);
    const bad: [string, Uint8Array][] = [
      ['empty', new Uint8Array()],
      ['too short', hd.subarray(0, 3)],
      ['not an SPS (a PPS header byte)', fromHex(FIXTURE_PPS_HEX.padEnd(16, '0'))],
      ['cut before the picture size', hd.subarray(0, 6)],
      [
        'all zero bits after the header (oversized Exp-Golomb)',
        Uint8Array.from([0x67, 100, 0, 40, 0, 0, 0, 0, 0, 0]),
      ],
    ];
    for (const [what, nal] of bad) {
      expect(() => parseH264Sps(nal), what).toThrow(RangeError);
    }
    // Baseline: sps_id 0, log2_max_frame_num 0, POC type 2, 1 ref frame, no gaps, then
    // pic_width_in_mbs_minus1 = 2047 (32768 pixels wide), 1 MB high, frame MBs only, direct 8x8,
    // no cropping, no VUI, stop bit.
    const wide = `1 1 011 1 0 ${'0'.repeat(11)}1${'0'.repeat(11)} 1 1 1 0 0 1`;
    const impossible = Uint8Array.from([0x67, 66, 0, 30, ...bitsToBytes(wide)]);
    expect(() => parseH264Sps(impossible)).toThrow(/impossible picture size 32768x16/);
    // pic_width_in_mbs_minus1 = 2^32 - 1: a 32-zero Exp-Golomb prefix
    const oversized = `1 1 011 1 0 ${'0'.repeat(32)}1${'0'.repeat(32)} 1 1 1 0 0 1`;
    expect(() => parseH264Sps(Uint8Array.from([0x67, 66, 0, 30, ...bitsToBytes(oversized)]))).toThrow(
      /oversized Exp-Golomb/,
    );
  });

  it('throws RangeError on malformed AVCDecoderConfigurationRecords', () => {
    const good = fromHex(FIXTURE_AVCC_HEX);
    const variants: [string, Uint8Array][] = [
      ['empty', new Uint8Array()],
      ['configurationVersion 0', Uint8Array.from([0, ...good.subarray(1)])],
      ['NAL length size 3', Uint8Array.from([...good.subarray(0, 4), 0xfe, ...good.subarray(5)])],
      ['no SPS', Uint8Array.from([...good.subarray(0, 5), 0xe0, ...good.subarray(6)])],
      ['SPS length beyond the record', good.subarray(0, 20)],
      ['SPS replaced by a PPS', avcConfigRecord(fromHex('68ce047200000000'), fromHex(FIXTURE_PPS_HEX))],
    ];
    for (const [what, record] of variants) {
      expect(() => parseAvcConfig(record), what).toThrow(RangeError);
    }
  });
});

describe('parseAacConfig', () => {
  it('reads the fixture (LC, 16 kHz mono) from its FLV sequence header', () => {
    const { asc } = sequenceHeaders(fixtureFlv);
    expect(asc && Buffer.from(asc).toString('hex')).toBe(ASC_SAMPLES.lc16kMono);
    expect(parseAacConfig(asc ?? new Uint8Array())).toMatchObject({
      audioObjectType: 2,
      sampleRateHz: 16000,
      channelCount: 1,
      samplesPerFrame: 1024,
    });
  });

  it('reads 48 kHz stereo LC, bare (11 90) and as ffmpeg writes it (with the sync extension)', () => {
    const expected = { audioObjectType: 2, sampleRateHz: 48000, channelCount: 2, samplesPerFrame: 1024 };
    expect(parseAacConfig(Uint8Array.from([0x11, 0x90]))).toMatchObject(expected);
    const ffmpeg = fromHex(ASC_SAMPLES.lc48kStereo);
    expect(parseAacConfig(ffmpeg)).toEqual({ record: ffmpeg, ...expected });
    expect(parseAacConfig(fromHex(ASC_SAMPLES.lc48kMono))).toMatchObject({
      sampleRateHz: 48000,
      channelCount: 1,
    });
  });

  it('reads 44.1 kHz stereo LC', () => {
    expect(parseAacConfig(fromHex(ASC_SAMPLES.lc44k1Stereo))).toMatchObject({
      audioObjectType: 2,
      sampleRateHz: 44100,
      channelCount: 2,
      samplesPerFrame: 1024,
    });
  });

  it('reads the 960-sample frameLengthFlag', () => {
    // 00010 0011 0010 | frameLengthFlag 1 | dependsOnCoreCoder 0 | extensionFlag 0
    expect(parseAacConfig(Uint8Array.from([0x11, 0x94]))).toMatchObject({
      sampleRateHz: 48000,
      samplesPerFrame: 960,
    });
  });

  it('reads an explicit escape-coded sampling frequency (index 15)', () => {
    // AOT 2 | index 15 | 24-bit 48000 | channels 2 | GA flags 000
    const bytes = bitsToBytes(`00010 1111 ${(48000).toString(2).padStart(24, '0')} 0010 000`);
    expect(parseAacConfig(bytes)).toMatchObject({
      sampleRateHz: 48000,
      channelCount: 2,
      samplesPerFrame: 1024,
    });
  });

  it('gives the core rate of explicitly signalled HE-AAC (AOT 5) and HE-AACv2 (AOT 29)', () => {
    // AOT 5 | core index 6 (24 kHz) | channels 2 | extension index 3 (48 kHz) | AOT 2 | GA 000
    const heAac = Uint8Array.from([0x2b, 0x11, 0x88, 0x00]);
    expect(heAac).toEqual(bitsToBytes('00101 0110 0010 0011 00010 000'));
    expect(parseAacConfig(heAac)).toMatchObject({
      audioObjectType: 5,
      sampleRateHz: 24000,
      channelCount: 2,
      samplesPerFrame: 1024,
    });
    // AOT 29 | core index 6 | channels 1 | extension index 3 | AOT 2 | GA 000
    const heAacV2 = bitsToBytes('11101 0110 0001 0011 00010 000');
    expect(parseAacConfig(heAacV2)).toMatchObject({
      audioObjectType: 29,
      sampleRateHz: 24000,
      channelCount: 1,
    });
  });

  it('throws RangeError on malformed AudioSpecificConfigs', () => {
    const bad: [string, Uint8Array][] = [
      ['empty', new Uint8Array()],
      ['one byte', Uint8Array.from([0x11])],
      ['reserved sampling frequency index 13', Uint8Array.from([0x16, 0x90])],
      ['escaped frequency cut short', Uint8Array.from([0x17, 0x80, 0x00])],
      ['escaped frequency of 0 Hz', Uint8Array.from([0x17, 0x80, 0x00, 0x00, 0x10])],
      ['HE-AAC without its core object type', Uint8Array.from([0x2b, 0x11])],
    ];
    for (const [what, asc] of bad) {
      expect(() => parseAacConfig(asc), what).toThrow(RangeError);
    }
  });
});

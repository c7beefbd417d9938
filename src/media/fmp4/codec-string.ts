import { BoxCursor, type ChildBox } from './box-view.ts';
import { Mp4ParseError } from './mp4-parse-error.ts';

// RFC 6381 codec strings from decoder configuration records, without a demuxer dependency.

const hex2 = (value: number): string => value.toString(16).padStart(2, '0');

/** `avc1.PPCCLL` from an AVCDecoderConfigurationRecord (ISO/IEC 14496-15 §5.3.3.1 `avcC`). */
export function avcCodecString(entryType: string, bytes: Uint8Array, avcC: ChildBox): string {
  const cursor = new BoxCursor(bytes, avcC.start, avcC.end, 'avcC');
  cursor.skip(1); // configurationVersion
  const profile = cursor.u8();
  const compatibility = cursor.u8();
  const level = cursor.u8();
  return `${entryType}.${hex2(profile)}${hex2(compatibility)}${hex2(level)}`;
}

/**
 * `hvc1.P.C.TL.CC…` from an HEVCDecoderConfigurationRecord (ISO/IEC 14496-15 §8.3.3.1 `hvcC`, Annex E):
 * profile space + profile idc, bit-reversed compatibility flags, tier + level, constraint bytes
 * without trailing zero bytes.
 */
export function hevcCodecString(entryType: string, bytes: Uint8Array, hvcC: ChildBox): string {
  const cursor = new BoxCursor(bytes, hvcC.start, hvcC.end, 'hvcC');
  cursor.skip(1); // configurationVersion
  const profileByte = cursor.u8();
  const compatibility = cursor.u32();
  const constraints = Array.from({ length: 6 }, () => cursor.u8());
  const level = cursor.u8();
  let reversed = 0;
  for (let bit = 0; bit < 32; bit += 1) reversed = reversed * 2 + ((compatibility >>> bit) & 1);
  while (constraints.length > 0 && constraints.at(-1) === 0) constraints.pop();
  const space = ['', 'A', 'B', 'C'][profileByte >> 6] ?? '';
  const tier = profileByte & 0x20 ? 'H' : 'L';
  const parts = [entryType, `${space}${profileByte & 0x1f}`, reversed.toString(16), `${tier}${level}`];
  return [...parts, ...constraints.map((byte) => byte.toString(16).toUpperCase())].join('.');
}

/** What an `esds` box (ISO/IEC 14496-1 §7.2.6 ES_Descriptor) says about an MPEG-4 audio stream. */
export interface EsdsInfo {
  codec: string;
  /** From the AudioSpecificConfig, when present and the rate is not escaped. */
  sampleRateHz?: number;
  channelCount?: number;
}

const SAMPLING_FREQUENCIES = [
  96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350,
];

/** Codec string `mp4a.OO[.A]` (object type hex, AAC audio object type decimal) plus ASC rate/channels. */
export function esdsInfo(bytes: Uint8Array, esds: ChildBox): EsdsInfo {
  const cursor = new BoxCursor(bytes, esds.start, esds.end, 'esds');
  cursor.fullBox();
  const readDescriptor = (expectedTag: number): number => {
    const tag = cursor.u8();
    if (tag !== expectedTag) {
      throw new Mp4ParseError('malformed', `esds: expected descriptor tag ${expectedTag}, got ${tag}`);
    }
    let length = 0;
    for (let i = 0; i < 4; i += 1) {
      const byte = cursor.u8();
      length = (length << 7) | (byte & 0x7f);
      if ((byte & 0x80) === 0) break;
    }
    return length;
  };
  readDescriptor(0x03); // ES_Descriptor
  cursor.skip(2); // ES_ID
  const esFlags = cursor.u8();
  if (esFlags & 0x80) cursor.skip(2); // dependsOn_ES_ID
  if (esFlags & 0x40) cursor.skip(cursor.u8()); // URL
  if (esFlags & 0x20) cursor.skip(2); // OCR_ES_Id
  readDescriptor(0x04); // DecoderConfigDescriptor
  const objectType = cursor.u8();
  cursor.skip(1 + 3 + 4 + 4); // streamType/upStream, bufferSizeDB, maxBitrate, avgBitrate
  const isAac = objectType === 0x40 || objectType === 0x66 || objectType === 0x67 || objectType === 0x68;
  if (!isAac || cursor.remaining < 2 || cursor.u8() !== 0x05) return { codec: `mp4a.${hex2(objectType)}` };
  cursor.offset -= 1;
  const ascLength = readDescriptor(0x05); // DecoderSpecificInfo = AudioSpecificConfig (ISO/IEC 14496-3)
  if (ascLength < 2) return { codec: `mp4a.${hex2(objectType)}` };
  const bits = new BitReader(cursor, ascLength);
  let audioObjectType = bits.read(5);
  if (audioObjectType === 31) audioObjectType = 32 + bits.read(6);
  const frequencyIndex = bits.read(4);
  const sampleRateHz = frequencyIndex === 15 ? bits.read(24) : SAMPLING_FREQUENCIES[frequencyIndex];
  const channelConfiguration = bits.read(4);
  const info: EsdsInfo = { codec: `mp4a.${hex2(objectType)}.${audioObjectType}` };
  if (sampleRateHz !== undefined) info.sampleRateHz = sampleRateHz;
  if (channelConfiguration >= 1 && channelConfiguration <= 7) {
    info.channelCount = channelConfiguration === 7 ? 8 : channelConfiguration;
  }
  return info;
}

/** MSB-first bit reader over the next `length` bytes of a cursor. */
class BitReader {
  readonly #bytes: number[] = [];
  #bit = 0;

  constructor(cursor: BoxCursor, length: number) {
    for (let i = 0; i < Math.min(length, 8); i += 1) this.#bytes.push(cursor.u8());
  }

  read(count: number): number {
    let value = 0;
    for (let i = 0; i < count; i += 1) {
      const byte = this.#bytes[this.#bit >> 3];
      if (byte === undefined) throw new Mp4ParseError('malformed', 'esds: AudioSpecificConfig is too short');
      value = value * 2 + ((byte >> (7 - (this.#bit & 7))) & 1);
      this.#bit += 1;
    }
    return value;
  }
}

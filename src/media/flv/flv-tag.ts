// FLV tags as node-media-server hands them to a subscriber (video_file_format_spec_v10_1 §E.4): one
// FLV header, then one tag per chunk (11-byte tag header, body, 4-byte PreviousTagSize).

export const FLV_TAG_HEADER_BYTES = 11;
const PREVIOUS_TAG_SIZE_BYTES = 4;
/** FLV TagType values (E.4.1). */
export const FLV_TAG = { audio: 8, video: 9, script: 18 } as const;
/** FLV CodecID of H.264 (E.4.3.1). */
export const FLV_CODEC_AVC = 7;
/** FLV SoundFormat of AAC (E.4.2.1). */
export const FLV_SOUND_AAC = 10;

/** One parsed tag. `data` views the chunk (no copy). */
export type FlvTag =
  | { kind: 'header'; audio: boolean; video: boolean }
  | { kind: 'script'; data: Uint8Array }
  | {
      kind: 'avc';
      /** 0 sequence header (AVCDecoderConfigurationRecord), 1 NAL units, 2 end of sequence. */
      packetType: number;
      keyframe: boolean;
      /** Decode timestamp, ms. */
      dtsMs: number;
      /** Composition time offset, ms (signed). */
      ctsMs: number;
      data: Uint8Array;
    }
  | {
      kind: 'aac';
      /** 0 AudioSpecificConfig, 1 raw frame. */
      packetType: number;
      dtsMs: number;
      data: Uint8Array;
    }
  /** A codec this parser does not remux (enhanced RTMP video, MP3, Speex, ...). */
  | { kind: 'other-video' | 'other-audio'; codec: number }
  /** Tags that carry nothing (empty bodies, unknown tag types, video info/command frames). */
  | { kind: 'ignored' };

/** A chunk that is not a well-formed FLV header or tag. */
export class FlvTagError extends Error {
  override name = 'FlvTagError';
}

/** Parses one chunk: the FLV header (with PreviousTagSize0) or one complete tag. */
export function parseFlvChunk(chunk: Uint8Array): FlvTag {
  if (chunk[0] === 0x46 && chunk[1] === 0x4c && chunk[2] === 0x56) {
    if (chunk.byteLength < 9) throw new FlvTagError('FLV header is truncated');
    const flags = chunk[4] ?? 0;
    return { kind: 'header', audio: (flags & 0x04) !== 0, video: (flags & 0x01) !== 0 };
  }
  if (chunk.byteLength < FLV_TAG_HEADER_BYTES) throw new FlvTagError('FLV tag header is truncated');
  const type = (chunk[0] ?? 0) & 0x1f;
  const size = ((chunk[1] ?? 0) << 16) | ((chunk[2] ?? 0) << 8) | (chunk[3] ?? 0);
  const end = FLV_TAG_HEADER_BYTES + size;
  if (end > chunk.byteLength || chunk.byteLength > end + PREVIOUS_TAG_SIZE_BYTES) {
    throw new FlvTagError(`FLV tag declares ${size} body bytes in a ${chunk.byteLength}-byte chunk`);
  }
  // 24-bit timestamp plus TimestampExtended as the upper 8 bits.
  const dtsMs =
    (((chunk[7] ?? 0) << 24) | ((chunk[4] ?? 0) << 16) | ((chunk[5] ?? 0) << 8) | (chunk[6] ?? 0)) >>> 0;
  const body = chunk.subarray(FLV_TAG_HEADER_BYTES, end);
  if (type === FLV_TAG.script) return { kind: 'script', data: body };
  if (body.byteLength === 0) return { kind: 'ignored' };
  const first = body[0] ?? 0;
  if (type === FLV_TAG.video) {
    // Enhanced RTMP (IsExHeader) is HEVC, AV1, VP9...: not remuxed here.
    if ((first & 0x80) !== 0) return { kind: 'other-video', codec: 0x80 };
    const frameType = first >> 4;
    if (frameType === 5) return { kind: 'ignored' }; // video info/command frame
    const codec = first & 0x0f;
    if (codec !== FLV_CODEC_AVC) return { kind: 'other-video', codec };
    if (body.byteLength < 5) throw new FlvTagError('AVC video tag is shorter than its 5-byte header');
    const packetType = body[1] ?? 0;
    let ctsMs = ((body[2] ?? 0) << 16) | ((body[3] ?? 0) << 8) | (body[4] ?? 0);
    if (ctsMs & 0x800000) ctsMs -= 0x1000000; // SI24
    return { kind: 'avc', packetType, keyframe: frameType === 1, dtsMs, ctsMs, data: body.subarray(5) };
  }
  if (type === FLV_TAG.audio) {
    const format = first >> 4;
    if (format !== FLV_SOUND_AAC) return { kind: 'other-audio', codec: format };
    if (body.byteLength < 2) throw new FlvTagError('AAC audio tag is shorter than its 2-byte header');
    return { kind: 'aac', packetType: body[1] ?? 0, dtsMs, data: body.subarray(2) };
  }
  return { kind: 'ignored' };
}

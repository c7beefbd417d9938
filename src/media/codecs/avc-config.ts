import { type H264SpsInfo, parseH264Sps } from './h264-sps.ts';

/** An AVCDecoderConfigurationRecord (ISO/IEC 14496-15 §5.3.3.1), the body of an `avcC` box. */
export interface AvcConfig {
  /** The record as received. */
  record: Uint8Array;
  /** Bytes of each NAL unit length prefix in samples (1, 2 or 4). */
  nalLengthSize: number;
  sps: H264SpsInfo;
}

/** Parses an AVCDecoderConfigurationRecord; throws RangeError when malformed or without an SPS. */
export function parseAvcConfig(record: Uint8Array): AvcConfig {
  if (record.byteLength < 7 || record[0] !== 1) throw new RangeError('not an AVCDecoderConfigurationRecord');
  const nalLengthSize = ((record[4] ?? 0) & 0x03) + 1;
  if (nalLengthSize === 3) throw new RangeError('AVC NAL length size 3 is not allowed');
  const spsCount = (record[5] ?? 0) & 0x1f;
  if (spsCount === 0) throw new RangeError('AVCDecoderConfigurationRecord has no SPS');
  const spsLength = ((record[6] ?? 0) << 8) | (record[7] ?? 0);
  if (8 + spsLength > record.byteLength) throw new RangeError('AVCDecoderConfigurationRecord is truncated');
  const sps = parseH264Sps(record.subarray(8, 8 + spsLength));
  return { record, nalLengthSize, sps };
}

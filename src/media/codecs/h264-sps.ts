// H.264 sequence parameter set (ITU-T H.264 §7.3.2.1.1): just enough to know the coded picture size.

/** What an SPS says about the picture. */
export interface H264SpsInfo {
  profileIdc: number;
  levelIdc: number;
  width: number;
  height: number;
  /** Sample (pixel) aspect ratio from the VUI; 1:1 when absent or unspecified. */
  sarWidth: number;
  sarHeight: number;
}

/** aspect_ratio_idc 1–16 (Table E-1); 255 is Extended_SAR, read from the stream. */
const SAR_TABLE: readonly (readonly [number, number])[] = [
  [1, 1],
  [1, 1],
  [12, 11],
  [10, 11],
  [16, 11],
  [40, 33],
  [24, 11],
  [20, 11],
  [32, 11],
  [80, 33],
  [18, 11],
  [15, 11],
  [64, 33],
  [160, 99],
  [4, 3],
  [3, 2],
  [2, 1],
];

/** Exp-Golomb bit reader over an RBSP (emulation prevention bytes already removed). */
class BitReader {
  readonly #bytes: Uint8Array;
  #bit = 0;

  constructor(bytes: Uint8Array) {
    this.#bytes = bytes;
  }

  bit(): number {
    const byte = this.#bytes[this.#bit >> 3];
    if (byte === undefined) throw new RangeError('SPS ends early');
    const value = (byte >> (7 - (this.#bit & 7))) & 1;
    this.#bit += 1;
    return value;
  }

  bits(n: number): number {
    let value = 0;
    for (let i = 0; i < n; i += 1) value = value * 2 + this.bit();
    return value;
  }

  /** ue(v). */
  ue(): number {
    let zeros = 0;
    while (this.bit() === 0) {
      zeros += 1;
      if (zeros > 31) throw new RangeError('SPS has an oversized Exp-Golomb code');
    }
    return 2 ** zeros - 1 + this.bits(zeros);
  }

  /** se(v). */
  se(): number {
    const k = this.ue();
    return k % 2 === 1 ? (k + 1) / 2 : -(k / 2);
  }
}

/** Drops emulation prevention bytes (00 00 03 → 00 00). */
function toRbsp(nal: Uint8Array): Uint8Array {
  const out = new Uint8Array(nal.byteLength);
  let length = 0;
  let zeros = 0;
  for (const byte of nal) {
    if (zeros >= 2 && byte === 3) {
      zeros = 0;
      continue;
    }
    zeros = byte === 0 ? zeros + 1 : 0;
    out[length] = byte;
    length += 1;
  }
  return out.subarray(0, length);
}

const HIGH_PROFILES = new Set([100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135]);

function skipScalingList(reader: BitReader, size: number): void {
  let last = 8;
  let next = 8;
  for (let j = 0; j < size; j += 1) {
    if (next !== 0) next = (last + reader.se() + 256) % 256;
    last = next === 0 ? last : next;
  }
}

/** Parses an SPS NAL unit (header byte included). Throws RangeError on a malformed one. */
export function parseH264Sps(nal: Uint8Array): H264SpsInfo {
  if (nal.byteLength < 4 || ((nal[0] ?? 0) & 0x1f) !== 7) throw new RangeError('not an SPS NAL unit');
  const reader = new BitReader(toRbsp(nal.subarray(1)));
  const profileIdc = reader.bits(8);
  reader.bits(8); // constraint flags + reserved
  const levelIdc = reader.bits(8);
  reader.ue(); // seq_parameter_set_id
  let chromaFormatIdc = 1;
  let separateColourPlane = 0;
  if (HIGH_PROFILES.has(profileIdc)) {
    chromaFormatIdc = reader.ue();
    if (chromaFormatIdc === 3) separateColourPlane = reader.bit();
    reader.ue(); // bit_depth_luma_minus8
    reader.ue(); // bit_depth_chroma_minus8
    reader.bit(); // qpprime_y_zero_transform_bypass_flag
    if (reader.bit() === 1) {
      const lists = chromaFormatIdc === 3 ? 12 : 8;
      for (let i = 0; i < lists; i += 1) {
        if (reader.bit() === 1) skipScalingList(reader, i < 6 ? 16 : 64);
      }
    }
  }
  reader.ue(); // log2_max_frame_num_minus4
  const picOrderCntType = reader.ue();
  if (picOrderCntType === 0) {
    reader.ue(); // log2_max_pic_order_cnt_lsb_minus4
  } else if (picOrderCntType === 1) {
    reader.bit(); // delta_pic_order_always_zero_flag
    reader.se(); // offset_for_non_ref_pic
    reader.se(); // offset_for_top_to_bottom_field
    const cycle = reader.ue();
    if (cycle > 255) throw new RangeError('SPS has too many ref frames in its POC cycle');
    for (let i = 0; i < cycle; i += 1) reader.se();
  }
  reader.ue(); // max_num_ref_frames
  reader.bit(); // gaps_in_frame_num_value_allowed_flag
  const widthInMbs = reader.ue() + 1;
  const heightInMapUnits = reader.ue() + 1;
  const frameMbsOnly = reader.bit();
  if (frameMbsOnly === 0) reader.bit(); // mb_adaptive_frame_field_flag
  reader.bit(); // direct_8x8_inference_flag
  let crop = { left: 0, right: 0, top: 0, bottom: 0 };
  if (reader.bit() === 1) {
    crop = { left: reader.ue(), right: reader.ue(), top: reader.ue(), bottom: reader.ue() };
  }
  // Crop units (§7.4.2.1.1, Table 6-1).
  const chromaArrayType = separateColourPlane === 1 ? 0 : chromaFormatIdc;
  const subWidthC = chromaArrayType === 1 || chromaArrayType === 2 ? 2 : 1;
  const subHeightC = chromaArrayType === 1 ? 2 : 1;
  const cropUnitX = chromaArrayType === 0 ? 1 : subWidthC;
  const cropUnitY = (chromaArrayType === 0 ? 1 : subHeightC) * (2 - frameMbsOnly);
  const width = widthInMbs * 16 - cropUnitX * (crop.left + crop.right);
  const height = (2 - frameMbsOnly) * heightInMapUnits * 16 - cropUnitY * (crop.top + crop.bottom);
  if (width <= 0 || height <= 0 || width > 16_384 || height > 16_384) {
    throw new RangeError(`SPS gives an impossible picture size ${width}x${height}`);
  }
  // The VUI (Annex E) starts with the aspect ratio; a stream that ends before it just has none.
  let sar: readonly [number, number] = [1, 1];
  try {
    if (reader.bit() === 1 && reader.bit() === 1) {
      const idc = reader.bits(8);
      sar = idc === 255 ? [reader.bits(16), reader.bits(16)] : (SAR_TABLE[idc] ?? [1, 1]);
    }
  } catch {
    sar = [1, 1];
  }
  const [sarWidth, sarHeight] = sar[0] > 0 && sar[1] > 0 ? sar : [1, 1];
  return { profileIdc, levelIdc, width, height, sarWidth, sarHeight };
}

// Codec configurations captured from real encodes (Debian 12 ffmpeg 5.1, x264 core 164, native AAC),
// for tests that must not run ffmpeg themselves. Each SPS is the first SPS of the AVC sequence header
// ffmpeg wrote to FLV for
//   ffmpeg -f lavfi -i testsrc2=size=WxH:rate=30:duration=0.2 -f lavfi -i sine=sample_rate=R:duration=0.2 \
//     -ac C -c:v libx264 -preset veryfast -pix_fmt PIX [EXTRA] -c:a aac -f flv out.flv
// (ffprobe reported the listed profile, size and pixel format), and each ASC is that file's AAC
// sequence header. The fixture's own come from media-fixtures/h264-aac-2s.flv.

/** A captured SPS NAL unit (header byte included) and what ffprobe said about its stream. */
export interface SpsSample {
  hex: string;
  profileIdc: number;
  levelIdc: number;
  width: number;
  height: number;
  /** How it was made (size, pix_fmt, extra flags) and what is special about it. */
  note: string;
}

export const SPS_SAMPLES = {
  /** media-fixtures/h264-aac-2s.flv: Constrained Baseline (POC type 2), 320x240: 20x15 MBs, no cropping. */
  baseline320x240: {
    hex: '6742c01eda0507ec0440000003004000000783c58ba8',
    profileIdc: 66,
    levelIdc: 30,
    width: 320,
    height: 240,
    note: 'fixture',
  },
  /** High, 1920x1080 yuv420p: coded 1920x1088, frame_crop_bottom_offset 4 (x2 rows). */
  high1920x1080: {
    hex: '67640028acd940780227e5c044000003000400000300f03c60c658',
    profileIdc: 100,
    levelIdc: 40,
    width: 1920,
    height: 1080,
    note: '1920x1080 yuv420p',
  },
  /** Main, 854x480 (-profile:v main): coded 864x480, frame_crop_right_offset 5 (x2 columns). */
  main854x480: {
    hex: '674d401feca06c1ef3780880000003008000001e078c18cb',
    profileIdc: 77,
    levelIdc: 31,
    width: 854,
    height: 480,
    note: '854x480 yuv420p -profile:v main',
  },
  /** High 4:2:2 (chroma_format_idc 2), 1920x1080: vertical crop unit 1, so crop_bottom 8. */
  high422x1920x1080: {
    hex: '677a0028bcd940780227e270110000030001000003003c0f183196',
    profileIdc: 122,
    levelIdc: 40,
    width: 1920,
    height: 1080,
    note: '1920x1080 yuv422p',
  },
  /** High 4:4:4 Predictive (chroma_format_idc 3), 640x360: crop units 1x1, crop_bottom 8. */
  high444x640x360: {
    hex: '67f4001e919b281405ff138088000003000800000301e078b16cb0',
    profileIdc: 244,
    levelIdc: 30,
    width: 640,
    height: 360,
    note: '640x360 yuv444p',
  },
  /** High, interlaced 1920x1080 (frame_mbs_only 0: 34 map units of 32 rows, crop unit 4 rows). */
  highInterlaced1920x1080: {
    hex: '67640028acd94078044fde0220000003002000000783e2c5b2c0',
    profileIdc: 100,
    levelIdc: 40,
    width: 1920,
    height: 1080,
    note: '1920x1080 yuv420p -flags +ildct+ilme -x264-params interlaced=1',
  },
} as const satisfies Record<string, SpsSample>;

/** The fixture's AVCDecoderConfigurationRecord (one SPS, one PPS, 4-byte NAL lengths). */
export const FIXTURE_AVCC_HEX = '0142c01effe100166742c01eda0507ec0440000003004000000783c58ba801000468ce0472';
/** The fixture's PPS NAL unit. */
export const FIXTURE_PPS_HEX = '68ce0472';

/** AudioSpecificConfigs written by ffmpeg's native AAC encoder (LC + the 0x2b7 sync extension). */
export const ASC_SAMPLES = {
  /** Fixture: LC, 16 kHz, mono. */
  lc16kMono: '140856e500',
  lc48kStereo: '119056e500',
  lc44k1Stereo: '121056e500',
  lc48kMono: '118856e500',
} as const;

export function fromHex(hex: string): Uint8Array {
  return Uint8Array.from(Buffer.from(hex, 'hex'));
}

/** An AVCDecoderConfigurationRecord with one SPS and one PPS (4-byte NAL lengths). */
export function avcConfigRecord(sps: Uint8Array, pps: Uint8Array): Uint8Array {
  return Uint8Array.from([
    1,
    sps[1] ?? 0,
    sps[2] ?? 0,
    sps[3] ?? 0,
    0xff, // reserved + lengthSizeMinusOne 3
    0xe1, // reserved + one SPS
    sps.byteLength >> 8,
    sps.byteLength & 0xff,
    ...sps,
    1,
    pps.byteLength >> 8,
    pps.byteLength & 0xff,
    ...pps,
  ]);
}

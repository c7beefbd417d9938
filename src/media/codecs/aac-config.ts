// MPEG-4 AudioSpecificConfig (ISO/IEC 14496-3 §1.6.2.1): rate, channels and frame length of AAC.

const SAMPLING_FREQUENCIES = [
  96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350,
];

/** channelConfiguration → channels (Table 1.19); 0 (in-band PCE) and reserved values count as stereo. */
const CHANNEL_COUNTS = [2, 1, 2, 3, 4, 5, 6, 8];

/** What an AudioSpecificConfig says. */
export interface AacConfig {
  /** The config as received (the `esds` DecoderSpecificInfo). */
  record: Uint8Array;
  audioObjectType: number;
  /** Rate of the core decoder: the timescale of the track, in which each frame lasts `samplesPerFrame`. */
  sampleRateHz: number;
  /** channelConfiguration; 0 means "defined in the stream" (reported as 2). */
  channelCount: number;
  samplesPerFrame: number;
}

/** Parses an AudioSpecificConfig; throws RangeError when it is malformed. */
export function parseAacConfig(record: Uint8Array): AacConfig {
  let bit = 0;
  const bits = (n: number): number => {
    let value = 0;
    for (let i = 0; i < n; i += 1, bit += 1) {
      const byte = record[bit >> 3];
      if (byte === undefined) throw new RangeError('AudioSpecificConfig ends early');
      value = value * 2 + ((byte >> (7 - (bit & 7))) & 1);
    }
    return value;
  };
  let audioObjectType = bits(5);
  if (audioObjectType === 31) audioObjectType = 32 + bits(6);
  const frequencyIndex = bits(4);
  const sampleRateHz = frequencyIndex === 15 ? bits(24) : SAMPLING_FREQUENCIES[frequencyIndex];
  if (sampleRateHz === undefined || sampleRateHz < 1000 || sampleRateHz > 192_000) {
    throw new RangeError(`AudioSpecificConfig has an invalid sampling frequency (index ${frequencyIndex})`);
  }
  const channelConfiguration = bits(4);
  let coreType = audioObjectType;
  if (audioObjectType === 5 || audioObjectType === 29) {
    // Explicit SBR/PS: the extension rate follows, then the core object type.
    if (bits(4) === 15) bits(24);
    coreType = bits(5);
    if (coreType === 31) coreType = 32 + bits(6);
  }
  // GASpecificConfig's frameLengthFlag: 960-sample frames instead of 1024.
  const gaTypes = new Set([1, 2, 3, 4, 6, 7, 17, 19, 20, 21, 22, 23]);
  const samplesPerFrame = gaTypes.has(coreType) && bits(1) === 1 ? 960 : 1024;
  return {
    record,
    audioObjectType,
    sampleRateHz,
    channelCount: CHANNEL_COUNTS[channelConfiguration] ?? 2,
    samplesPerFrame,
  };
}

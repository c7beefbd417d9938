import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

// Checks that the committed clips in media-fixtures/ are what media-fixtures/README.md says they are,
// with Debian's ffprobe (from the ffmpeg package) and a walk over the top-level ISO BMFF boxes.

const execFileAsync = promisify(execFile);
const ffprobePath = process.env.FFPROBE_PATH ?? '/usr/bin/ffprobe';
const fixturesDir = fileURLToPath(new URL('../../media-fixtures/', import.meta.url));

type FixtureExpectation = {
  file: string;
  formatName: string;
  durationSeconds: number;
  video: { codec: string; profile: string; width: number; height: number; frameRate: string };
  keyframeCount: number;
  audio?: { codec: string; profile: string; sampleRateHz: number; channels: number };
  /** Top-level ISO BMFF box types in file order (MP4 files only). */
  topLevelBoxes?: string[];
};

const video = { codec: 'h264', profile: 'Constrained Baseline', width: 320, height: 240, frameRate: '15/1' };
const audio = { codec: 'aac', profile: 'LC', sampleRateHz: 16_000, channels: 1 };

const fixtures: FixtureExpectation[] = [
  {
    file: 'h264-aac-2s.mp4',
    formatName: 'mov,mp4,m4a,3gp,3g2,mj2',
    durationSeconds: 2,
    video,
    keyframeCount: 2,
    audio,
    topLevelBoxes: ['ftyp', 'moov', 'free', 'mdat'],
  },
  { file: 'h264-aac-2s.flv', formatName: 'flv', durationSeconds: 2, video, keyframeCount: 2, audio },
  {
    file: 'h264-2s-fmp4.mp4',
    formatName: 'mov,mp4,m4a,3gp,3g2,mj2',
    durationSeconds: 2,
    video,
    keyframeCount: 2,
    topLevelBoxes: ['ftyp', 'moov', 'moof', 'mdat', 'moof', 'mdat', 'mfra'],
  },
];

type ProbeStream = {
  codec_type?: string;
  codec_name?: string;
  profile?: string;
  width?: number;
  height?: number;
  r_frame_rate?: string;
  sample_rate?: string;
  channels?: number;
};
type ProbeResult = { format?: { format_name?: string; duration?: string }; streams?: ProbeStream[] };

async function ffprobeJson(args: string[]): Promise<unknown> {
  const { stdout } = await execFileAsync(ffprobePath, ['-v', 'error', '-of', 'json', ...args], {
    maxBuffer: 16 * 1024 * 1024,
  });
  return JSON.parse(stdout);
}

async function probe(path: string): Promise<ProbeResult> {
  return (await ffprobeJson(['-show_format', '-show_streams', path])) as ProbeResult;
}

/** Counts video packets flagged as keyframes (K) without decoding. */
async function countKeyframes(path: string): Promise<number> {
  const result = (await ffprobeJson(['-select_streams', 'v:0', '-show_entries', 'packet=flags', path])) as {
    packets?: { flags?: string }[];
  };
  return (result.packets ?? []).filter((packet) => packet.flags?.includes('K')).length;
}

/** Types of the top-level boxes (ISO/IEC 14496-12 §4.2: 32-bit size, type, optional 64-bit largesize). */
function topLevelBoxTypes(bytes: Buffer): string[] {
  const types: string[] = [];
  let offset = 0;
  while (offset < bytes.length) {
    if (offset + 8 > bytes.length) throw new Error(`truncated box header at byte ${offset}`);
    let sizeBytes = bytes.readUInt32BE(offset);
    const type = bytes.toString('latin1', offset + 4, offset + 8);
    if (sizeBytes === 1) {
      if (offset + 16 > bytes.length) throw new Error(`truncated largesize at byte ${offset}`);
      sizeBytes = Number(bytes.readBigUInt64BE(offset + 8));
    } else if (sizeBytes === 0) {
      sizeBytes = bytes.length - offset;
    }
    if (sizeBytes < 8 || offset + sizeBytes > bytes.length) {
      throw new Error(`box '${type}' at byte ${offset} has invalid size ${sizeBytes}`);
    }
    types.push(type);
    offset += sizeBytes;
  }
  return types;
}

describe('media fixtures', () => {
  describe.each(fixtures)('$file', (fixture) => {
    const path = `${fixturesDir}${fixture.file}`;

    it('is small enough to commit', async () => {
      const bytes = await readFile(path);
      expect(bytes.length).toBeGreaterThan(0);
      expect(bytes.length).toBeLessThan(150 * 1024);
    });

    it('has the documented container, streams and duration', async () => {
      const result = await probe(path);
      expect(result.format?.format_name).toBe(fixture.formatName);
      expect(Math.abs(Number(result.format?.duration) - fixture.durationSeconds)).toBeLessThanOrEqual(0.2);

      const streams = result.streams ?? [];
      const videoStreams = streams.filter((stream) => stream.codec_type === 'video');
      const audioStreams = streams.filter((stream) => stream.codec_type === 'audio');
      expect(videoStreams).toHaveLength(1);
      expect(videoStreams[0]).toMatchObject({
        codec_name: fixture.video.codec,
        profile: fixture.video.profile,
        width: fixture.video.width,
        height: fixture.video.height,
        r_frame_rate: fixture.video.frameRate,
      });
      if (fixture.audio) {
        expect(audioStreams).toHaveLength(1);
        expect(audioStreams[0]).toMatchObject({
          codec_name: fixture.audio.codec,
          profile: fixture.audio.profile,
          sample_rate: String(fixture.audio.sampleRateHz),
          channels: fixture.audio.channels,
        });
      } else {
        expect(audioStreams).toHaveLength(0);
      }
    });

    it('has one keyframe per second', async () => {
      expect(await countKeyframes(path)).toBe(fixture.keyframeCount);
    });
  });

  // Only MP4 files get this block; a conditional `it.runIf` would show up as a skipped test, and CI
  // treats skipped tests as failures.
  const mp4Fixtures = fixtures.flatMap((fixture) =>
    fixture.topLevelBoxes ? [{ ...fixture, topLevelBoxes: fixture.topLevelBoxes }] : [],
  );
  describe.each(mp4Fixtures)('$file boxes', (fixture) => {
    it('has the documented top-level boxes, with one moof per keyframe when fragmented', async () => {
      const types = topLevelBoxTypes(await readFile(`${fixturesDir}${fixture.file}`));
      expect(types).toEqual(fixture.topLevelBoxes);
      expect(types.indexOf('moov')).toBeLessThan(types.indexOf('mdat'));
      const moofCount = types.filter((type) => type === 'moof').length;
      expect(moofCount).toBe(fixture.file.includes('fmp4') ? fixture.keyframeCount : 0);
    });
  });
});

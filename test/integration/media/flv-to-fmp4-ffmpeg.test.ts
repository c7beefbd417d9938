import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAvcConfig } from '../../../src/media/codecs/avc-config.ts';
import { parseFlvChunk } from '../../../src/media/flv/flv-tag.ts';
import { FlvToFmp4 } from '../../../src/media/flv/flv-to-fmp4.ts';
import type { FragmentEvent, FragmenterEvent, InitEvent } from '../../../src/media/fmp4/index.ts';
import { flvChunks } from '../../support/flv.ts';

// FlvToFmp4 against ffmpeg itself: a real libx264 Main-profile encode with B-frames (negative and
// positive composition offsets) + AAC 48 kHz stereo is remuxed in process, and ffprobe/ffmpeg judge the
// result against the source FLV and against ffmpeg's own `-c copy` fMP4 remux of the same FLV.

const execFileAsync = promisify(execFile);
const ffmpegPath = process.env.FFMPEG_PATH ?? '/usr/bin/ffmpeg';
const ffprobePath = process.env.FFPROBE_PATH ?? '/usr/bin/ffprobe';

async function ffmpeg(args: string[]): Promise<string> {
  const { stderr } = await execFileAsync(ffmpegPath, ['-hide_banner', '-nostdin', '-y', ...args], {
    maxBuffer: 16 * 1024 * 1024,
  });
  return stderr;
}

interface ProbeStream {
  codec_type: string;
  codec_name: string;
  profile?: string;
  width?: number;
  height?: number;
  sample_rate?: string;
  channels?: number;
  nb_read_frames?: string;
  has_b_frames?: number;
  sample_aspect_ratio?: string;
  display_aspect_ratio?: string;
}

async function probeStreams(file: string): Promise<{ streams: ProbeStream[]; duration: number }> {
  const { stdout } = await execFileAsync(ffprobePath, [
    ...['-v', 'error', '-count_frames', '-of', 'json', '-show_streams', '-show_format', file],
  ]);
  const probe = JSON.parse(stdout) as { streams: ProbeStream[]; format: { duration: string } };
  return { streams: probe.streams, duration: Number(probe.format.duration) };
}

/** Presentation times (s) of a stream's packets, in presentation order. */
async function packetPts(file: string, stream: 'v:0' | 'a:0', field = 'pts_time'): Promise<number[]> {
  const { stdout } = await execFileAsync(
    ffprobePath,
    ['-v', 'error', '-select_streams', stream, '-show_entries', `packet=${field}`, '-of', 'csv=p=0', file],
    { maxBuffer: 16 * 1024 * 1024 },
  );
  return stdout
    .split('\n')
    .map((line) => line.trim().replace(/,$/, ''))
    .filter((line) => line !== '' && line !== 'N/A')
    .map(Number)
    .sort((a, b) => a - b);
}

/** Decode times, sorted. */
function packetDts(file: string, stream: 'v:0' | 'a:0'): Promise<number[]> {
  return packetPts(file, stream, 'dts_time');
}

function remux(flv: Uint8Array): { events: FragmenterEvent[]; dropped: number } {
  const remuxer = new FlvToFmp4({ creationTime: new Date('2024-01-01T00:00:00Z') });
  const events = [...flvChunks(flv).flatMap((chunk) => remuxer.push(chunk)), ...remuxer.end()];
  return { events, dropped: remuxer.dropped };
}

const inits = (events: FragmenterEvent[]) => events.filter((e): e is InitEvent => e.type === 'init');
const fragments = (events: FragmenterEvent[]) =>
  events.filter((e): e is FragmentEvent => e.type === 'fragment');

describe('FlvToFmp4 output checked by ffmpeg', () => {
  let workDir = '';
  const source = () => join(workDir, 'main-bframes.flv');
  const ours = () => join(workDir, 'ours.mp4');
  const theirs = () => join(workDir, 'ffmpeg.mp4');
  let events: FragmenterEvent[] = [];
  let dropped = -1;

  beforeAll(async () => {
    workDir = await mkdtemp(join(tmpdir(), 'flv-to-fmp4-'));
    await ffmpeg([
      ...['-loglevel', 'error'],
      ...['-f', 'lavfi', '-i', 'testsrc2=size=640x360:rate=30:duration=4'],
      ...['-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000:duration=4'],
      ...['-map', '0:v', '-map', '1:a', '-ac', '2'],
      ...['-c:v', 'libx264', '-preset', 'veryfast', '-profile:v', 'main', '-bf', '2', '-pix_fmt', 'yuv420p'],
      ...['-g', '30', '-keyint_min', '30', '-sc_threshold', '0'],
      ...['-c:a', 'aac', '-b:a', '96k', '-f', 'flv', source()],
    ]);
    const flv = new Uint8Array(await readFile(source()));
    ({ events, dropped } = remux(flv));
    const [init] = inits(events);
    await writeFile(
      ours(),
      Buffer.concat([init?.bytes ?? new Uint8Array(), ...fragments(events).map((f) => f.bytes)]),
    );
    await ffmpeg([
      ...['-loglevel', 'error', '-i', source(), '-c', 'copy', '-f', 'mp4'],
      ...['-movflags', 'frag_keyframe+empty_moov+default_base_moof', theirs()],
    ]);
  }, 60_000);

  afterAll(async () => {
    await rm(workDir, { recursive: true, force: true });
  });

  it('the source really has B-frames (composition offsets) and starts with a keyframe', async () => {
    const { streams } = await probeStreams(source());
    const video = streams.find((s) => s.codec_type === 'video');
    expect(video).toMatchObject({ codec_name: 'h264', profile: 'Main', width: 640, height: 360 });
    expect(video?.has_b_frames).toBeGreaterThan(0);
    const flv = new Uint8Array(await readFile(source()));
    const ctsValues = flvChunks(flv)
      .map((chunk) => parseFlvChunk(chunk))
      .flatMap((tag) => (tag.kind === 'avc' && tag.packetType === 1 ? [tag.ctsMs] : []));
    expect(new Set(ctsValues).size).toBeGreaterThan(1);
    // No video is dropped; AAC frames timed before the first keyframe may be.
    expect(dropped).toBeLessThanOrEqual(1);
  });

  it('emits one init and one fragment per 1 s GOP', () => {
    expect(inits(events)).toHaveLength(1);
    const out = fragments(events);
    expect(out).toHaveLength(4);
    expect(out.every((f) => f.startsWithKeyframe)).toBe(true);
    expect(out.map((f) => f.tracks[0]?.sampleCount)).toEqual([30, 30, 30, 30]);
    expect(inits(events)[0]?.tracks.map((t) => t.codec)).toEqual([
      expect.stringMatching(/^avc1\.4d/),
      'mp4a.40.2',
    ]);
  });

  it('ffprobe reads the same codecs, sizes and frame counts as in the source FLV', async () => {
    const [mine, original] = await Promise.all([probeStreams(ours()), probeStreams(source())]);
    const pick = (streams: ProbeStream[], type: string) => streams.find((s) => s.codec_type === type);
    const [v, sourceV] = [pick(mine.streams, 'video'), pick(original.streams, 'video')];
    const [a, sourceA] = [pick(mine.streams, 'audio'), pick(original.streams, 'audio')];
    expect(v).toMatchObject({ codec_name: 'h264', profile: 'Main', width: 640, height: 360 });
    expect(a).toMatchObject({ codec_name: 'aac', sample_rate: '48000', channels: 2 });
    expect(Number(v?.nb_read_frames)).toBe(120);
    expect(v?.nb_read_frames).toBe(sourceV?.nb_read_frames);
    // Every AAC frame of the source, less the ones before the first keyframe.
    expect(Number(a?.nb_read_frames)).toBe(Number(sourceA?.nb_read_frames) - dropped);
    // Within one frame (33 ms) plus one AAC frame (21 ms) of the source.
    expect(Math.abs(mine.duration - original.duration)).toBeLessThan(0.034 + 0.022);
  });

  it('decodes without a single error', async () => {
    const stderr = await ffmpeg(['-v', 'error', '-i', ours(), '-f', 'null', '-']);
    expect(stderr).toBe('');
  });

  it("presents every video frame when ffmpeg's own -c copy remux does (within 1 ms)", async () => {
    const [mine, reference] = await Promise.all([packetPts(ours(), 'v:0'), packetPts(theirs(), 'v:0')]);
    expect(mine).toHaveLength(120);
    expect(reference).toHaveLength(120);
    const [m0 = 0, r0 = 0] = [mine[0], reference[0]];
    const deltas = mine.map((pts, i) => Math.abs(pts - m0 - ((reference[i] ?? Number.NaN) - r0)));
    expect(Math.max(...deltas)).toBeLessThan(0.001);
  });

  it('presents the audio frames 1024 samples apart, starting with the video, as ffmpeg does', async () => {
    const [mine, reference] = await Promise.all([packetPts(ours(), 'a:0'), packetPts(theirs(), 'a:0')]);
    // From the second frame on, exact 1024-sample steps.
    const steps = mine.slice(2).map((pts, i) => pts - (mine[i + 1] ?? 0));
    expect(steps.every((step) => Math.abs(step - 1024 / 48000) < 1e-6)).toBe(true);
    // The first frame is stretched back to the start of the video (AAC priming leaves the first
    // audio timestamp a little after it), as ffmpeg's mp4 muxer moves it to 0: MSE players would
    // otherwise buffer a hole at the start of every session.
    const videoStart = (await packetDts(ours(), 'v:0'))[0] ?? Number.NaN;
    expect(mine[0]).toBeCloseTo(videoStart, 6);
    expect(mine[0]).toBeCloseTo(reference[0] ?? Number.NaN, 3);
    // The same frames at the same times as ffmpeg's remux (which keeps the FLV's millisecond
    // timestamps, so it drifts from exact 1024-sample steps by under 1 ms).
    expect(mine).toHaveLength(reference.length - dropped);
    const sourcePts = await packetPts(source(), 'a:0');
    expect(Math.abs((mine[1] ?? 0) - (sourcePts[dropped + 1] ?? Number.NaN))).toBeLessThan(0.001);
    const deltas = mine.slice(1).map((pts, i) => Math.abs(pts - (reference[i + 1 + dropped] ?? Number.NaN)));
    expect(Math.max(...deltas)).toBeLessThan(0.001);
  });
});

describe('H.264 sequence headers of real encodes at awkward sizes', () => {
  let workDir = '';
  beforeAll(async () => {
    workDir = await mkdtemp(join(tmpdir(), 'flv-sps-'));
  });
  afterAll(async () => {
    await rm(workDir, { recursive: true, force: true });
  });

  const cases = [
    { size: '1920x1080', extra: ['-profile:v', 'high'], profile: 100 },
    { size: '854x480', extra: ['-profile:v', 'main'], profile: 77 },
    { size: '426x240', extra: ['-profile:v', 'baseline'], profile: 66 },
    { size: '1366x768', extra: ['-pix_fmt', 'yuv422p'], profile: 122 },
  ];
  for (const { size, extra, profile } of cases) {
    it(`parses the SPS of a ${size} ${extra.join(' ')} encode to ffprobe's size, and remuxes it`, async () => {
      const file = join(workDir, `${size}.flv`);
      await ffmpeg([
        ...['-loglevel', 'error', '-f', 'lavfi', '-i', `testsrc2=size=${size}:rate=10:duration=0.5`],
        ...['-c:v', 'libx264', '-preset', 'veryfast', '-pix_fmt', 'yuv420p', ...extra, '-f', 'flv', file],
      ]);
      const flv = new Uint8Array(await readFile(file));
      const header = flvChunks(flv)
        .map((chunk) => parseFlvChunk(chunk))
        .find((tag) => tag.kind === 'avc' && tag.packetType === 0);
      const { sps } = parseAvcConfig(Uint8Array.from(header?.kind === 'avc' ? header.data : []));
      const [width, height] = size.split('x').map(Number);
      expect(sps).toMatchObject({ profileIdc: profile, width, height });
      const { streams } = await probeStreams(file);
      expect(streams[0]).toMatchObject({ width, height });
      // This is a video-only publish: no audio track in the init.
      const { events } = remux(flv);
      expect(inits(events)[0]?.tracks).toEqual([expect.objectContaining({ kind: 'video', width, height })]);
    });
  }

  it('keeps the sample aspect ratio of an anamorphic camera (720x576, SAR 16:15): pasp and tkhd width', async () => {
    const file = join(workDir, 'anamorphic.flv');
    await ffmpeg([
      ...['-loglevel', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=720x576:rate=10:duration=0.5'],
      ...['-vf', 'setsar=16/15', '-c:v', 'libx264', '-preset', 'veryfast', '-pix_fmt', 'yuv420p'],
      ...['-f', 'flv', file],
    ]);
    const { events } = remux(new Uint8Array(await readFile(file)));
    const init = inits(events)[0];
    expect(init?.tracks[0]).toMatchObject({ width: 720, height: 576 });
    // The container says it too (players size the picture from tkhd/pasp): tkhd width 768 = 720 × 16/15.
    const bytes = Buffer.from(init?.bytes ?? []);
    const pasp = bytes.indexOf('pasp');
    expect([bytes.readUInt32BE(pasp + 4), bytes.readUInt32BE(pasp + 8)]).toEqual([16, 15]);
    expect(bytes.readUInt32BE(bytes.indexOf('tkhd') + 80) / 65_536).toBe(768);
    const out = join(workDir, 'anamorphic.mp4');
    await writeFile(out, Buffer.concat(events.flatMap((e) => (e.type === 'truncated' ? [] : [e.bytes]))));
    const { streams } = await probeStreams(out);
    // As ffprobe reads the source FLV's SPS, and as a player sizes the picture.
    expect(streams[0]).toMatchObject({
      width: 720,
      height: 576,
      sample_aspect_ratio: '16:15',
      display_aspect_ratio: '4:3',
    });
  });
});

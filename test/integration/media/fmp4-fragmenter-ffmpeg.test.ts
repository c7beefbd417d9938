import { execFile, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  Fmp4Fragmenter,
  type FragmentEvent,
  type FragmenterEvent,
  type InitEvent,
} from '../../../src/media/fmp4/index.ts';

// Feeds live ffmpeg fMP4 output (Debian ffmpeg, libx264 + native AAC) to the fragmenter chunk by chunk
// as it arrives on stdout, then checks the reassembled init + fragments with ffprobe.

const execFileAsync = promisify(execFile);
const ffmpegPath = process.env.FFMPEG_PATH ?? '/usr/bin/ffmpeg';
const ffprobePath = process.env.FFPROBE_PATH ?? '/usr/bin/ffprobe';

/** Runs ffmpeg with a synthetic clip and pushes each stdout chunk into `fragmenter` as it arrives. */
function fragmentFfmpegOutput(
  fragmenter: Fmp4Fragmenter,
  clip: { width: number; height: number; seconds: number; audio: boolean; hevc?: boolean },
): Promise<FragmenterEvent[]> {
  const args = [
    ...['-hide_banner', '-nostdin', '-loglevel', 'error'],
    ...['-f', 'lavfi', '-i', `testsrc2=size=${clip.width}x${clip.height}:rate=30:duration=${clip.seconds}`],
    ...(clip.audio
      ? ['-f', 'lavfi', '-i', `sine=frequency=440:sample_rate=48000:duration=${clip.seconds}`]
      : []),
    ...['-map', '0:v', ...(clip.audio ? ['-map', '1:a', '-c:a', 'aac', '-b:a', '64k'] : [])],
    ...(clip.hevc
      ? ['-c:v', 'libx265', '-tag:v', 'hvc1', '-x265-params', 'log-level=error']
      : ['-c:v', 'libx264', '-preset', 'veryfast']),
    ...['-pix_fmt', 'yuv420p'],
    ...['-g', '60', '-keyint_min', '60', '-sc_threshold', '0'],
    ...['-f', 'mp4', '-movflags', 'frag_keyframe+empty_moov+default_base_moof', 'pipe:1'],
  ];
  return new Promise((resolve, reject) => {
    const child = spawn(ffmpegPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const events: FragmenterEvent[] = [];
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (text: string) => {
      stderr += text;
    });
    child.stdout.on('data', (chunk: Buffer) => {
      try {
        events.push(...fragmenter.push(chunk));
      } catch (error) {
        child.kill('SIGKILL');
        reject(error);
      }
    });
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) resolve(events);
      else reject(new Error(`ffmpeg exited with ${code}: ${stderr}`));
    });
  });
}

const inits = (events: FragmenterEvent[]) => events.filter((e): e is InitEvent => e.type === 'init');
const fragments = (events: FragmenterEvent[]) =>
  events.filter((e): e is FragmentEvent => e.type === 'fragment');

describe('Fmp4Fragmenter on live ffmpeg output', () => {
  let workDir = '';
  beforeAll(async () => {
    workDir = await mkdtemp(join(tmpdir(), 'fmp4-fragmenter-'));
  });
  afterAll(async () => {
    await rm(workDir, { recursive: true, force: true });
  });

  it('cuts 6 s of 640x360 H.264 + AAC (2 s GOP) into 3 fragments that ffprobe accepts', async () => {
    const fragmenter = new Fmp4Fragmenter();
    const events = [
      ...(await fragmentFfmpegOutput(fragmenter, { width: 640, height: 360, seconds: 6, audio: true })),
      ...fragmenter.end(),
    ];
    expect(events.map((e) => e.type)).toEqual(['init', 'fragment', 'fragment', 'fragment']);

    const [init] = inits(events);
    const video = init?.tracks.find((track) => track.kind === 'video');
    const audio = init?.tracks.find((track) => track.kind === 'audio');
    expect(video).toMatchObject({ handler: 'vide', width: 640, height: 360 });
    expect(video?.codec).toMatch(/^avc1\.64[0-9a-f]{4}$/);
    expect(audio).toMatchObject({
      handler: 'soun',
      codec: 'mp4a.40.2',
      sampleRateHz: 48000,
      channelCount: 1,
    });

    const out = fragments(events);
    let expectedStartMs = 0;
    for (const fragment of out) {
      expect(fragment.initVersion).toBe(init?.version);
      expect(fragment.startsWithKeyframe).toBe(true);
      expect(fragment.durationMs).toBeCloseTo(2000, -1);
      expect(fragment.startDecodeTimeMs).toBeCloseTo(expectedStartMs, 3);
      expect(fragment.tracks.map((track) => track.trackId).sort()).toEqual(
        init?.tracks.map((track) => track.trackId).sort(),
      );
      expectedStartMs = fragment.startDecodeTimeMs + fragment.durationMs;
    }
    expect(
      out.map((fragment) => fragment.tracks.find((t) => t.trackId === video?.trackId)?.sampleCount),
    ).toEqual([60, 60, 60]);

    const file = join(workDir, 'reassembled.mp4');
    await writeFile(
      file,
      Buffer.concat([init?.bytes ?? new Uint8Array(), ...out.map((fragment) => fragment.bytes)]),
    );
    const { stdout } = await execFileAsync(ffprobePath, ['-v', 'error', '-of', 'json', '-show_format', file]);
    const probe = JSON.parse(stdout) as { format?: { duration?: string } };
    expect(Number(probe.format?.duration)).toBeGreaterThan(5.8);
    expect(Number(probe.format?.duration)).toBeLessThan(6.2);
  });

  it('emits a second init version when a reconnect changes the resolution', async () => {
    const fragmenter = new Fmp4Fragmenter();
    const first = await fragmentFfmpegOutput(fragmenter, {
      width: 320,
      height: 240,
      seconds: 2,
      audio: false,
    });
    const second = await fragmentFfmpegOutput(fragmenter, {
      width: 640,
      height: 360,
      seconds: 2,
      audio: false,
    });
    const events = [...first, ...second, ...fragmenter.end()];
    const [before, after] = inits(events);
    expect(inits(events)).toHaveLength(2);
    expect(before?.version).not.toBe(after?.version);
    expect(before?.tracks[0]).toMatchObject({ width: 320, height: 240 });
    expect(after?.tracks[0]).toMatchObject({ width: 640, height: 360 });
    expect(fragments(events).map((fragment) => fragment.initVersion)).toEqual([
      before?.version,
      after?.version,
    ]);
    expect(fragments(events).every((fragment) => fragment.startsWithKeyframe)).toBe(true);
  });

  it('derives an RFC 6381 codec string for H.265 (hvcC)', async () => {
    const fragmenter = new Fmp4Fragmenter();
    const clip = { width: 320, height: 240, seconds: 2, audio: false, hevc: true };
    const events = [...(await fragmentFfmpegOutput(fragmenter, clip)), ...fragmenter.end()];
    expect(inits(events)[0]?.tracks[0]?.codec).toMatch(/^hvc1\.1\.6\.L\d+(\.[0-9A-F]{1,2})*$/);
    expect(fragments(events).map((fragment) => Math.round(fragment.durationMs))).toEqual([2000]);
  });
});

import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  FfmpegRunError,
  faststartMp4Args,
  runFfmpeg,
  stillImageArgs,
} from '../../../src/media/ffmpeg/index.ts';

// runFfmpeg with the playback argument builders on real ffmpeg: fMP4 → faststart MP4, still images,
// failures and aborts.

const run = promisify(execFile);
const ffmpegPath = process.env.FFMPEG_PATH ?? '/usr/bin/ffmpeg';

let dir: string;
let fmp4: Buffer;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'run-ffmpeg-'));
  const { stdout } = await run(
    ffmpegPath,
    [
      ...['-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=15'],
      ...['-t', '3', '-c:v', 'libx264', '-g', '15', '-pix_fmt', 'yuv420p'],
      ...['-f', 'mp4', '-movflags', 'frag_keyframe+empty_moov+default_base_moof', 'pipe:1'],
    ],
    { encoding: 'buffer', maxBuffer: 16 * 1024 * 1024 },
  );
  fmp4 = stdout;
});
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('runFfmpeg', () => {
  it('remuxes fragmented MP4 to a faststart MP4 file (moov before mdat, no moof)', async () => {
    const file = join(dir, 'clip.mp4');
    await runFfmpeg({ ffmpegPath, args: faststartMp4Args(file), input: Readable.from([fmp4]) });
    const bytes = await readFile(file);
    const text = bytes.toString('latin1');
    expect(text.indexOf('moov')).toBeLessThan(text.indexOf('mdat'));
    expect(text.includes('moof')).toBe(false);
  });

  it('writes one scaled JPEG at an offset and one PNG keyframe to stdout', async () => {
    const jpeg = await runFfmpeg({
      ffmpegPath,
      input: Readable.from([fmp4]),
      args: stillImageArgs({
        format: 'JPEG',
        jpegQuality: 50,
        widthPixels: 64,
        heightPixels: 48,
        keyframesOnly: false,
        offsetMs: 1500,
      }),
    });
    expect(jpeg.subarray(0, 2)).toEqual(Buffer.from([0xff, 0xd8]));
    expect(jpeg.subarray(-2)).toEqual(Buffer.from([0xff, 0xd9]));
    const png = await runFfmpeg({
      ffmpegPath,
      input: Readable.from([fmp4]),
      args: stillImageArgs({ format: 'PNG', jpegQuality: 80, keyframesOnly: true, offsetMs: 0 }),
    });
    expect(png.readUInt32BE(16)).toBe(320); // IHDR width
    expect(png.readUInt32BE(20)).toBe(240);
  });

  it('rejects with the stderr tail on bad input, and when aborted', async () => {
    const bad = runFfmpeg({
      ffmpegPath,
      input: Readable.from([Buffer.from('not an mp4 at all')]),
      args: stillImageArgs({ format: 'PNG', jpegQuality: 80, keyframesOnly: true, offsetMs: 0 }),
    });
    await expect(bad).rejects.toBeInstanceOf(FfmpegRunError);
    await expect(bad).rejects.toThrow(/ffmpeg exited with/);

    const aborter = new AbortController();
    const never = new Readable({ read() {} });
    const stopped = runFfmpeg({
      ffmpegPath,
      input: never,
      signal: aborter.signal,
      args: stillImageArgs({ format: 'PNG', jpegQuality: 80, keyframesOnly: true, offsetMs: 0 }),
    });
    aborter.abort();
    await expect(stopped).rejects.toThrow(/stopped/);
    expect(never.destroyed).toBe(true);
  });

  it('rejects when the binary cannot be started', async () => {
    await expect(runFfmpeg({ ffmpegPath: join(dir, 'no-such-ffmpeg'), args: ['-version'] })).rejects.toThrow(
      /could not start/,
    );
  });
});

import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Fmp4Fragmenter, type FragmentEvent, type InitEvent } from '../../../src/media/fmp4/index.ts';

const run = promisify(execFile);

/** ~`seconds` of H.264 + AAC test pattern as fragmented MP4 (one moof per 2 s GOP), from Debian ffmpeg. */
export async function makeFmp4(seconds = 6): Promise<Buffer> {
  const { stdout } = await run(
    '/usr/bin/ffmpeg',
    [
      ...['-hide_banner', '-loglevel', 'error'],
      ...['-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=15'],
      ...['-f', 'lavfi', '-i', 'sine', '-t', String(seconds)],
      ...['-c:v', 'libx264', '-g', '30', '-pix_fmt', 'yuv420p', '-c:a', 'aac'],
      ...['-f', 'mp4', '-movflags', 'frag_keyframe+empty_moov+default_base_moof', 'pipe:1'],
    ],
    { encoding: 'buffer', maxBuffer: 64 * 1024 * 1024 },
  );
  return stdout;
}

/** The init and fragment events of `bytes`, fed in 64 KiB chunks. */
export function fragment(bytes: Buffer): (InitEvent | FragmentEvent)[] {
  const fragmenter = new Fmp4Fragmenter();
  const events = [];
  for (let offset = 0; offset < bytes.length; offset += 65_536) {
    events.push(...fragmenter.push(bytes.subarray(offset, offset + 65_536)));
  }
  events.push(...fragmenter.end());
  return events.filter((e): e is InitEvent | FragmentEvent => e.type !== 'truncated');
}

/** ffprobe's view of an MP4: duration in seconds and codec names of its streams. */
export async function probe(
  dir: string,
  bytes: Buffer,
): Promise<{ durationSeconds: number; codecs: string[] }> {
  const file = join(dir, `probe-${Date.now()}-${Math.random().toString(16).slice(2)}.mp4`);
  await writeFile(file, bytes);
  const { stdout } = await run('/usr/bin/ffprobe', [
    ...['-v', 'error', '-show_entries', 'format=duration:stream=codec_name', '-of', 'json', file],
  ]);
  const parsed = JSON.parse(stdout) as { format: { duration: string }; streams: { codec_name: string }[] };
  return { durationSeconds: Number(parsed.format.duration), codecs: parsed.streams.map((s) => s.codec_name) };
}

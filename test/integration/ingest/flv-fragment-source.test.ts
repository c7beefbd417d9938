import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FlvFragmentSource } from '../../../src/ingest/fragment-source.ts';
import type { FragmenterEvent, InitEvent } from '../../../src/media/fmp4/index.ts';
import { flvChunks } from '../../support/flv.ts';

// FlvFragmentSource decides between the in-process remuxer and an ffmpeg child from what the publish
// carries. An MP3 track has no sequence header and ffmpeg writes tags in time order, so the first MP3
// frame can come after the first keyframe; without onMetaData to announce it, only the first GOP
// tells. The decision must still go to ffmpeg with every byte from the first.

const ffmpegPath = process.env.FFMPEG_PATH ?? '/usr/bin/ffmpeg';
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sg-flv-source-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function encodeFlv(name: string, audioArgs: string[]): Promise<Buffer[]> {
  const file = join(dir, name);
  const result = spawnSync(ffmpegPath, [
    ...['-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=15'],
    ...['-f', 'lavfi', '-i', 'sine=sample_rate=44100', '-t', '3', '-c:v', 'libx264', '-g', '15'],
    ...['-pix_fmt', 'yuv420p', '-preset', 'veryfast', ...audioArgs, '-y', file],
  ]);
  expect(result.status, String(result.stderr)).toBe(0);
  return flvChunks(await readFile(file));
}

async function drain(source: FlvFragmentSource, chunks: Buffer[]): Promise<FragmenterEvent[]> {
  for (const chunk of chunks) source.write(chunk);
  source.endInput();
  const events: FragmenterEvent[] = [];
  for await (const batch of source.events()) events.push(...batch);
  return events;
}

function newSource(reasons: string[], maxInputBacklogBytes = 32 * 1024 * 1024): FlvFragmentSource {
  return new FlvFragmentSource({
    ffmpegPath,
    creationTime: new Date(),
    fragmenter: {},
    maxInputBacklogBytes,
    onFallback: (reason) => reasons.push(reason),
  });
}

describe('FlvFragmentSource', () => {
  it('hands an H.264 + MP3 publish without onMetaData to ffmpeg, from its first byte', async () => {
    const chunks = await encodeFlv('mp3.flv', ['-c:a', 'libmp3lame']);
    const withoutMetadata = chunks.filter((chunk) => (chunk[0] ?? 0) !== 18 || chunk.length === 13);
    expect(withoutMetadata.length).toBe(chunks.length - 1);
    // The first MP3 frame comes after the first keyframe: the case metadata would otherwise settle.
    const firstVideo = withoutMetadata.findIndex(
      (c, i) => i > 0 && c[0] === 9 && ((c[11] ?? 0) & 0xf0) === 0x10 && c[12] === 1,
    );
    const firstAudio = withoutMetadata.findIndex((c, i) => i > 0 && c[0] === 8);
    expect(firstVideo).toBeGreaterThan(0);
    expect(firstAudio).toBeGreaterThan(firstVideo);

    const reasons: string[] = [];
    const source = newSource(reasons);
    const events = await drain(source, withoutMetadata);
    expect(reasons).toEqual([expect.stringMatching(/sound format 2/)]);
    const inits = events.filter((e): e is InitEvent => e.type === 'init');
    // One init, ffmpeg's: the remuxer's video-only init was never let out.
    expect(inits.map((init) => init.tracks.map((track) => track.codec.split('.')[0]))).toEqual([
      ['avc1', 'mp4a'],
    ]);
    expect(inits[0]?.tracks[1]?.codec).toBe('mp4a.6b');
    const fragments = events.filter((e) => e.type === 'fragment');
    expect(fragments.length).toBeGreaterThanOrEqual(2);
    expect((await source.exit()).code).toBe(0);
  });

  it('remuxes an H.264 + AAC publish itself: init and fragments, no ffmpeg', async () => {
    const chunks = await encodeFlv('aac.flv', ['-c:a', 'aac']);
    const reasons: string[] = [];
    const source = newSource(reasons);
    const events = await drain(source, chunks);
    expect(reasons).toEqual([]);
    expect(source.pid).toBeUndefined();
    expect(events.map((e) => e.type)).toEqual(['init', 'fragment', 'fragment', 'fragment']);
    expect((events[0] as InitEvent).tracks.map((track) => track.codec)).toEqual([
      expect.stringMatching(/^avc1\./),
      'mp4a.40.2',
    ]);
  });

  it('lets ffmpeg try input the remuxer rejects before its first fragment (a malformed sequence header)', async () => {
    const chunks = await encodeFlv('garbled.flv', ['-c:a', 'aac']);
    const index = chunks.findIndex((c, i) => i > 0 && c[0] === 9 && c[12] === 0);
    const garbled = Buffer.from(chunks[index] ?? []);
    garbled[16] = 0x02; // configurationVersion 2: not an AVCDecoderConfigurationRecord we read
    const reasons: string[] = [];
    const source = newSource(reasons);
    await drain(source, [...chunks.slice(0, index), garbled, ...chunks.slice(index + 1)]);
    expect(reasons).toEqual([expect.stringMatching(/AVCDecoderConfigurationRecord/)]);
    expect(source.pid).toBeGreaterThan(0);
    await source.exit();
  });

  it("reports backpressure while the remuxer's GOP outgrows the backlog bound", async () => {
    const chunks = await encodeFlv('bound.flv', ['-c:a', 'aac']);
    const source = newSource([], 20_000);
    const accepted = chunks.map((chunk) => source.write(chunk));
    expect(accepted.slice(0, 4).every(Boolean)).toBe(true);
    expect(accepted).toContain(false);
    source.abort();
    await source.exit();
  });
});

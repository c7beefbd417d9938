import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../../src/logging/index.ts';
import {
  FfmpegNotFoundError,
  type RemuxProcess,
  resolveFfmpeg,
  spawnRemuxToFmp4,
} from '../../../src/media/ffmpeg/index.ts';
import { Fmp4Fragmenter, type FragmenterEvent } from '../../../src/media/fmp4/index.ts';

// The ffmpeg adapter against Debian's ffmpeg: binary resolution, a pipe-fed FLV → fMP4 remux, bounded
// stderr on failure, and stop() on abort.

const ffmpegPath = process.env.FFMPEG_PATH ?? '/usr/bin/ffmpeg';
const logger = createLogger({ level: 'silent' });
const flvFixture = join(import.meta.dirname, '../../../media-fixtures/h264-aac-2s.flv');
const running = new Set<RemuxProcess>();

afterEach(() => {
  for (const remux of running) remux.stop();
  running.clear();
});

function track(remux: RemuxProcess): RemuxProcess {
  running.add(remux);
  return remux;
}

describe('resolveFfmpeg', () => {
  it('prefers the configured path, else searches PATH, else throws', () => {
    expect(resolveFfmpeg(ffmpegPath, logger)).toBe(ffmpegPath);
    expect(resolveFfmpeg(undefined, logger, '/nonexistent:relative:/usr/bin')).toBe('/usr/bin/ffmpeg');
    expect(() => resolveFfmpeg('/nonexistent/ffmpeg', logger)).toThrow(FfmpegNotFoundError);
    expect(() => resolveFfmpeg(undefined, logger, '/nonexistent')).toThrow(FfmpegNotFoundError);
  });
});

describe('spawnRemuxToFmp4', () => {
  it('remuxes FLV written to stdin into an init segment and fragments', async () => {
    const remux = track(spawnRemuxToFmp4({ ffmpegPath, input: 'pipe', inputFormat: 'flv' }));
    remux.stdin?.end(await readFile(flvFixture));
    const fragmenter = new Fmp4Fragmenter();
    const events: FragmenterEvent[] = [];
    for await (const chunk of remux.stdout as AsyncIterable<Buffer>) events.push(...fragmenter.push(chunk));
    events.push(...fragmenter.end());
    const exit = await remux.done;
    expect(exit).toMatchObject({ code: 0, stopped: false, spawnError: undefined });
    expect(events[0]?.type).toBe('init');
    expect(events.filter((event) => event.type === 'fragment').length).toBeGreaterThan(0);
    expect(events.some((event) => event.type === 'truncated')).toBe(false);
  });

  it('fails with the tail of stderr on input that is not FLV', async () => {
    const remux = track(
      spawnRemuxToFmp4({ ffmpegPath, input: 'pipe', inputFormat: 'flv', maxStderrBytes: 64 }),
    );
    remux.stdin?.end(Buffer.alloc(4096, 0x41));
    remux.stdout.resume();
    const exit = await remux.done;
    expect(exit.code).not.toBe(0);
    expect(exit.stderrTail.length).toBeGreaterThan(0);
    expect(Buffer.byteLength(exit.stderrTail)).toBeLessThanOrEqual(64);
  });

  it('stops the child when the signal aborts', async () => {
    const controller = new AbortController();
    const remux = track(
      spawnRemuxToFmp4({ ffmpegPath, input: 'pipe', inputFormat: 'flv', signal: controller.signal }),
    );
    remux.stdout.resume();
    const started = Date.now();
    controller.abort();
    const exit = await remux.done;
    expect(exit.stopped).toBe(true);
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it('reports a binary that cannot be spawned', async () => {
    const remux = track(spawnRemuxToFmp4({ ffmpegPath: '/nonexistent/ffmpeg', input: 'pipe' }));
    remux.stdout.resume();
    const exit = await remux.done;
    expect(exit.spawnError).toBeInstanceOf(Error);
  });
});

import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';

import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { createServer, type Server, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type FragmentSink,
  type IngestEvent,
  type PublishGate,
  publishToken,
  RtmpIngest,
  verifyPublishToken,
} from '../../../src/ingest/index.ts';
import { createLogger } from '../../../src/logging/index.ts';
import type { FragmentEvent, InitEvent } from '../../../src/media/fmp4/index.ts';
import { RTMP_TYPE, rawRtmpPublish } from '../../support/raw-rtmp-publisher.ts';

// Real ffmpeg publishers against RtmpIngest (node-media-server in process → ffmpeg -c copy → fragmenter).
// The FragmentSink and PublishGate are our own ports, implemented here.

const ffmpegPath = process.env.FFMPEG_PATH ?? '/usr/bin/ffmpeg';
const secret = randomBytes(32);
const logger = createLogger({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });

/** Accepts the streams in `known` whose token verifies. */
class TestGate implements PublishGate {
  readonly #known: Set<string>;
  constructor(known: string[]) {
    this.#known = new Set(known);
  }
  async authorize(streamName: string, token: string): Promise<boolean> {
    return this.#known.has(streamName) && verifyPublishToken(secret, streamName, token);
  }
}

/** Collects events per stream; a slow accept() checks that calls never overlap. */
class CollectingSink implements FragmentSink {
  readonly events = new Map<string, IngestEvent[]>();
  overlapping = 0;
  readonly #pending = new Set<string>();
  async accept(streamName: string, event: IngestEvent): Promise<void> {
    if (this.#pending.has(streamName)) this.overlapping += 1;
    this.#pending.add(streamName);
    await new Promise((resolve) => setTimeout(resolve, 30));
    const list = this.events.get(streamName) ?? [];
    list.push(event);
    this.events.set(streamName, list);
    this.#pending.delete(streamName);
  }
  inits(streamName: string): InitEvent[] {
    return (this.events.get(streamName) ?? []).filter((event): event is InitEvent => event.type === 'init');
  }
  fragments(streamName: string): FragmentEvent[] {
    return (this.events.get(streamName) ?? []).filter(
      (event): event is FragmentEvent => event.type === 'fragment',
    );
  }
  total(): number {
    return [...this.events.values()].reduce((sum, list) => sum + list.length, 0);
  }
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

const children = new Set<ChildProcess>();
const sockets = new Set<Socket>();
const cleanups: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
      process.kill(child.pid, 'SIGKILL');
    }
  }
  children.clear();
  for (const socket of sockets) socket.destroy();
  sockets.clear();
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** Runs ffmpeg with `args`; resolves its exit code. Killed in afterEach if still running. */
function runFfmpeg(args: string[]): Promise<number | null> {
  const child = spawn(ffmpegPath, ['-hide_banner', '-nostdin', '-loglevel', 'error', ...args], {
    stdio: ['ignore', 'ignore', 'ignore'],
  });
  children.add(child);
  return new Promise((resolve) => child.once('close', (code) => resolve(code)));
}

/** Starts an ffmpeg publisher of a `seconds` long 640x360 30 fps H.264 (GOP 60) + AAC test clip. */
function publish(
  port: number,
  streamName: string,
  token: string,
  seconds: number,
  videoCodec: 'libx264' | 'flv1' = 'libx264',
  audioCodec: 'aac' | 'libmp3lame' = 'aac',
  onSpawn?: (child: ChildProcess) => void,
): Promise<number | null> {
  const url = `rtmp://127.0.0.1:${port}/live/${streamName}?key=${token}`;
  const child = spawn(
    ffmpegPath,
    [
      ...['-hide_banner', '-nostdin', '-loglevel', 'error', '-re'],
      ...['-f', 'lavfi', '-i', 'testsrc2=size=640x360:rate=30', '-f', 'lavfi', '-i', 'sine'],
      ...['-t', String(seconds), '-c:v', videoCodec, '-g', '60', '-pix_fmt', 'yuv420p'],
      ...(videoCodec === 'libx264' ? ['-preset', 'veryfast'] : []),
      ...['-c:a', audioCodec, ...(audioCodec === 'libmp3lame' ? ['-ar', '44100'] : []), '-f', 'flv', url],
    ],
    { stdio: ['ignore', 'ignore', 'ignore'] },
  );
  children.add(child);
  onSpawn?.(child);
  return new Promise((resolve) => child.once('close', (code) => resolve(code)));
}

async function startIngest(
  sink: FragmentSink,
  gate: PublishGate,
  extra: { admissionTimeoutMs?: number; mediaStartTimeoutMs?: number; logger?: typeof logger } = {},
): Promise<{ ingest: RtmpIngest; port: number }> {
  const port = await freePort();
  const storeDir = await mkdtemp(join(tmpdir(), 'sg-rtmp-'));
  const ingest = new RtmpIngest({
    host: '127.0.0.1',
    port,
    storeDir,
    ffmpegPath,
    gate,
    sink,
    logger,
    ...extra,
  });
  cleanups.push(async () => {
    await ingest.stop();
    await rm(storeDir, { recursive: true, force: true });
  });
  await ingest.start();
  return { ingest, port };
}

/** A logger at info level whose records (parsed JSON) are kept for the test to look at. */
function recordingLogger(): { logger: typeof logger; records: Record<string, unknown>[] } {
  const records: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (line.trim() !== '') records.push(JSON.parse(line) as Record<string, unknown>);
      }
      callback();
    },
  });
  return { logger: createLogger({ level: 'info', destination }), records };
}

/** Pids of this process's live children running ffmpeg (from /proc/<pid>/stat: comm, ppid). */
async function ffmpegChildren(): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
    const match = /^(\d+) \((.*)\) (\S) (\d+)/.exec(stat);
    if (match && match[2] === 'ffmpeg' && match[3] !== 'Z' && Number(match[4]) === process.pid) {
      pids.push(Number(match[1]));
    }
  }
  return pids;
}

/** Resolves when the server closes `socket`. */
function closed(socket: Socket): Promise<void> {
  return new Promise((resolve) => {
    if (socket.destroyed) resolve();
    socket.once('close', () => resolve());
  });
}

function connect(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = new Socket();
    sockets.add(socket);
    socket.on('error', () => undefined); // a reset by the server is an expected outcome here
    socket.resume(); // discard what the server sends, so that its close is seen
    socket.once('connect', () => resolve(socket));
    socket.connect(port, '127.0.0.1');
    socket.once('error', reject);
  });
}

describe('publish tokens', () => {
  it('verifies its own token only, for the same stream and secret', () => {
    const token = publishToken(secret, 'cam1');
    expect(token).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(verifyPublishToken(secret, 'cam1', token)).toBe(true);
    expect(verifyPublishToken(secret, 'cam2', token)).toBe(false);
    expect(verifyPublishToken(randomBytes(32), 'cam1', token)).toBe(false);
    expect(verifyPublishToken(secret, 'cam1', `${token}x`)).toBe(false);
    expect(verifyPublishToken(secret, 'cam1', '')).toBe(false);
  });
});

describe('RtmpIngest', () => {
  it('delivers one init and every 2 s GOP of a 6 s publish, the last one included', async () => {
    const sink = new CollectingSink();
    const { port } = await startIngest(sink, new TestGate(['cam1']));

    const exitCode = await publish(port, 'cam1', publishToken(secret, 'cam1'), 6);
    expect(exitCode).toBe(0);
    await expect
      .poll(() => sink.fragments('cam1').reduce((sum, f) => sum + f.durationMs, 0), { timeout: 10_000 })
      .toBeGreaterThan(5800);

    const inits = sink.inits('cam1');
    expect(inits).toHaveLength(1);
    expect(inits[0]?.tracks.map((track) => track.codec)).toEqual([
      expect.stringMatching(/^avc1\.64/),
      'mp4a.40.2',
    ]);
    expect(sink.events.get('cam1')?.[0]?.type).toBe('init');
    const fragments = sink.fragments('cam1');
    expect(fragments).toHaveLength(3);
    for (const fragment of fragments) {
      expect(fragment.startsWithKeyframe).toBe(true);
      expect(fragment.initVersion).toBe(inits[0]?.version);
      expect(fragment.durationMs).toBeGreaterThan(1900);
      expect(fragment.durationMs).toBeLessThan(2100);
    }
    const starts = fragments.map((f) => f.startDecodeTimeMs);
    expect(starts).toEqual([...starts].sort((a, b) => a - b));
    expect(sink.overlapping).toBe(0);
  }, 30_000);

  it('delivers a video-only publish while it is live, not only when it ends', async () => {
    // NMS's FLV header declares an audio track every publisher has; ffmpeg would wait for it.
    const sink = new CollectingSink();
    const { port } = await startIngest(sink, new TestGate(['cam1']));
    const url = `rtmp://127.0.0.1:${port}/live/cam1?key=${publishToken(secret, 'cam1')}`;
    const child = spawn(
      ffmpegPath,
      [
        ...['-hide_banner', '-nostdin', '-loglevel', 'error', '-re'],
        ...['-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=25', '-t', '20'],
        ...['-c:v', 'libx264', '-preset', 'ultrafast', '-g', '25', '-pix_fmt', 'yuv420p', '-f', 'flv', url],
      ],
      { stdio: ['ignore', 'ignore', 'ignore'] },
    );
    children.add(child);
    await expect.poll(() => sink.fragments('cam1').length, { timeout: 15_000 }).toBeGreaterThanOrEqual(2);
    expect(child.exitCode).toBeNull(); // still publishing
    expect(sink.inits('cam1')[0]?.tracks.map((track) => track.codec)).toEqual([
      expect.stringMatching(/^avc1\./),
    ]);
  }, 30_000);

  it('treats a reconnect as a fresh publish at once (no 30 s grace window, no replayed GOP)', async () => {
    const sink = new CollectingSink();
    const { ingest, port } = await startIngest(sink, new TestGate(['cam1']));
    const token = publishToken(secret, 'cam1');

    expect(await publish(port, 'cam1', token, 4)).toBe(0);
    expect(await publish(port, 'cam1', token, 4)).toBe(0);
    await expect.poll(() => ingest.activeStreams(), { timeout: 10_000 }).toEqual([]);

    const events = sink.events.get('cam1') ?? [];
    expect(events.map((event) => event.type)).toEqual([
      'init',
      'fragment',
      'fragment',
      'init',
      'fragment',
      'fragment',
    ]);
    expect(sink.fragments('cam1').reduce((sum, f) => sum + f.durationMs, 0)).toBeGreaterThan(7800);
    expect(sink.fragments('cam1').reduce((sum, f) => sum + f.durationMs, 0)).toBeLessThan(8200);
  }, 30_000);

  it('stop() ends a live publish and still delivers the GOP in progress', async () => {
    const sink = new CollectingSink();
    const { ingest, port } = await startIngest(sink, new TestGate(['cam1']));
    const publisher = publish(port, 'cam1', publishToken(secret, 'cam1'), 20);
    await expect.poll(() => sink.fragments('cam1').length, { timeout: 10_000 }).toBeGreaterThan(0);
    const delivered = sink.fragments('cam1').length;
    const started = Date.now();
    await ingest.stop();
    expect(Date.now() - started).toBeLessThan(6000);
    expect(sink.fragments('cam1').length).toBeGreaterThan(delivered);
    expect(await publisher).not.toBe(0);
  }, 30_000);

  it('refuses a wrong token and an unknown stream: the publisher fails, the sink gets nothing', async () => {
    const sink = new CollectingSink();
    const { port } = await startIngest(sink, new TestGate(['cam1']));

    const [wrongToken, unknownStream] = await Promise.all([
      publish(port, 'cam1', publishToken(secret, 'cam2'), 6),
      publish(port, 'cam9', publishToken(secret, 'cam9'), 6),
    ]);
    expect(wrongToken).not.toBe(0);
    expect(unknownStream).not.toBe(0);
    expect(sink.total()).toBe(0);
  }, 30_000);

  it('closes garbage and idle connections while another publisher keeps going', async () => {
    const sink = new CollectingSink();
    const { port } = await startIngest(sink, new TestGate(['cam1']), { admissionTimeoutMs: 1500 });

    const publisher = publish(port, 'cam1', publishToken(secret, 'cam1'), 6);
    const garbage = await connect(port);
    garbage.write(randomBytes(8000));
    const idle = await connect(port);
    const player = runFfmpeg(['-i', `rtmp://127.0.0.1:${port}/live/cam1`, '-t', '1', '-f', 'null', '-']);
    const started = Date.now();
    await Promise.all([closed(garbage), closed(idle)]);
    expect(Date.now() - started).toBeLessThan(5000);
    expect(await player).not.toBe(0); // playback over RTMP is refused

    expect(await publisher).toBe(0);
    await expect
      .poll(() => sink.fragments('cam1').reduce((sum, f) => sum + f.durationMs, 0), { timeout: 10_000 })
      .toBeGreaterThan(5800);
    expect(sink.inits('cam1')).toHaveLength(1);
  }, 30_000);

  it('drops a connection whose chunk headers claim huge messages on many chunk streams', async () => {
    const { port } = await startIngest(new CollectingSink(), new TestGate([]));
    const socket = await connect(port);
    const parts = [Buffer.from([3]), randomBytes(1536), randomBytes(1536)]; // C0, C1, C2
    for (let cid = 3; cid < 64; cid += 1) {
      // fmt 0 header: timestamp 0, message length 0xffffff (16 MiB), type 9 (video), stream id 0
      parts.push(Buffer.from([cid, 0, 0, 0, 0xff, 0xff, 0xff, 9, 0, 0, 0, 0]), randomBytes(128));
    }
    const started = Date.now();
    socket.write(Buffer.concat(parts));
    await closed(socket);
    expect(Date.now() - started).toBeLessThan(3000); // by the parser caps, not the 10 s admission timeout
  });

  it('closes a publisher whose media cannot be remuxed to fMP4, without disturbing another stream', async () => {
    const sink = new CollectingSink();
    const { port } = await startIngest(sink, new TestGate(['cam1', 'cam2']));

    const started = Date.now();
    // Sorenson H.263 (FLV codec 2) has no MP4 mapping: the remuxing ffmpeg fails, the session is closed.
    const [bad, good] = await Promise.all([
      publish(port, 'cam2', publishToken(secret, 'cam2'), 20, 'flv1'),
      publish(port, 'cam1', publishToken(secret, 'cam1'), 6),
    ]);
    expect(bad).not.toBe(0);
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(good).toBe(0);
    await expect
      .poll(() => sink.fragments('cam1').reduce((sum, f) => sum + f.durationMs, 0), { timeout: 10_000 })
      .toBeGreaterThan(5800);
    expect(sink.events.get('cam2')).toBeUndefined();
  }, 30_000);

  it('closes an admitted publisher whose media gives no init segment before the media-start deadline', async () => {
    const sink = new CollectingSink();
    const { port } = await startIngest(sink, new TestGate(['cam1']), { mediaStartTimeoutMs: 2_000 });
    const publisher = await rawRtmpPublish({
      port,
      app: 'live',
      streamName: 'cam1',
      token: publishToken(secret, 'cam1'),
    });
    sockets.add(publisher.socket);
    // A garbage AVC sequence header, then garbage frames, as long as the connection is open.
    let timestampMs = 0;
    const timer = setInterval(() => {
      publisher.send(
        RTMP_TYPE.video,
        timestampMs,
        Buffer.concat([Buffer.from([0x17, 0, 0, 0, 0]), randomBytes(40)]),
      );
      publisher.send(
        RTMP_TYPE.video,
        timestampMs,
        Buffer.concat([Buffer.from([0x17, 1, 0, 0, 0]), randomBytes(900)]),
      );
      timestampMs += 40;
    }, 40);
    try {
      await publisher.closed;
    } finally {
      clearInterval(timer);
    }
    expect(sink.total()).toBe(0);
  }, 30_000);

  it('closes the publisher when the sink rejects a fragment', async () => {
    const sink = new CollectingSink();
    const failing: FragmentSink = {
      accept: async (streamName, event) => {
        if (event.type === 'fragment') throw new Error('object store unavailable');
        await sink.accept(streamName, event);
      },
    };
    const { port } = await startIngest(failing, new TestGate(['cam1']));
    const started = Date.now();
    expect(await publish(port, 'cam1', publishToken(secret, 'cam1'), 20)).not.toBe(0);
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(sink.inits('cam1')).toHaveLength(1);
  }, 30_000);

  it('remuxes an H.264 + AAC publish in process: avc1 + mp4a.40.2, no ffmpeg child', async () => {
    const sink = new CollectingSink();
    const { logger: recording, records } = recordingLogger();
    const { port } = await startIngest(sink, new TestGate(['cam1']), { logger: recording });
    const publishers = new Set<number>();
    const publisher = publish(port, 'cam1', publishToken(secret, 'cam1'), 4, 'libx264', 'aac', (child) => {
      if (child.pid !== undefined) publishers.add(child.pid);
    });
    // While the publish runs, the only ffmpeg children of this process are the publisher itself.
    const seen = new Set<number>();
    let running = true;
    const watching = (async () => {
      while (running) {
        for (const pid of await ffmpegChildren()) seen.add(pid);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    })();
    expect(await publisher).toBe(0);
    await expect
      .poll(() => sink.fragments('cam1').reduce((sum, f) => sum + f.durationMs, 0), { timeout: 10_000 })
      .toBeGreaterThan(3800);
    running = false;
    await watching;
    expect(publishers.size).toBe(1);
    expect([...seen].filter((pid) => !publishers.has(pid))).toEqual([]);
    expect(records.some((record) => record.msg === 'publish remuxed by ffmpeg')).toBe(false);

    const inits = sink.inits('cam1');
    expect(inits).toHaveLength(1);
    expect(inits[0]?.tracks.map((track) => track.codec)).toEqual([
      expect.stringMatching(/^avc1\.[0-9a-f]{6}$/),
      'mp4a.40.2',
    ]);
    // The in-process remuxer's layout: video at 90 kHz, audio at its sample rate.
    expect(inits[0]?.tracks.map((track) => track.timescale)).toEqual([90_000, 44_100]);
    const fragments = sink.fragments('cam1');
    expect(fragments).toHaveLength(2);
    expect(fragments.every((f) => f.startsWithKeyframe && f.initVersion === inits[0]?.version)).toBe(true);
  }, 30_000);

  it('hands an H.264 + MP3 publish to ffmpeg, which archives it with its MP3 track', async () => {
    const sink = new CollectingSink();
    const { logger: recording, records } = recordingLogger();
    const { port } = await startIngest(sink, new TestGate(['cam1']), { logger: recording });
    const publishers = new Set<number>();
    const publisher = publish(
      port,
      'cam1',
      publishToken(secret, 'cam1'),
      4,
      'libx264',
      'libmp3lame',
      (child) => {
        if (child.pid !== undefined) publishers.add(child.pid);
      },
    );
    // The fallback is a real ffmpeg child of this process, besides the publisher.
    await expect
      .poll(async () => (await ffmpegChildren()).filter((pid) => !publishers.has(pid)).length, {
        timeout: 10_000,
      })
      .toBe(1);
    expect(await publisher).toBe(0);
    await expect
      .poll(() => sink.fragments('cam1').reduce((sum, f) => sum + f.durationMs, 0), { timeout: 10_000 })
      .toBeGreaterThan(3800);
    const fallback = records.find((record) => record.msg === 'publish remuxed by ffmpeg');
    expect(String(fallback?.reason)).toMatch(/sound format 2/);

    const inits = sink.inits('cam1');
    expect(inits).toHaveLength(1);
    expect(inits[0]?.tracks).toEqual([
      expect.objectContaining({
        kind: 'video',
        codec: expect.stringMatching(/^avc1\./),
        width: 640,
        height: 360,
      }),
      expect.objectContaining({ kind: 'audio', codec: 'mp4a.6b', sampleRateHz: 44_100 }),
    ]);
    const fragments = sink.fragments('cam1');
    expect(fragments).toHaveLength(2);
    expect(fragments.every((f) => f.startsWithKeyframe && f.initVersion === inits[0]?.version)).toBe(true);
    expect(
      fragments.every((f) => f.tracks.some((track) => track.trackId === inits[0]?.tracks[1]?.trackId)),
    ).toBe(true);
  }, 30_000);

  it('refuses to start on a taken port instead of exiting the process', async () => {
    const blocker: Server = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise<void>((resolve) => blocker.close(() => resolve())));
    const address = blocker.address();
    if (address === null || typeof address === 'string') throw new Error('no port');
    const storeDir = await mkdtemp(join(tmpdir(), 'sg-rtmp-'));
    cleanups.push(() => rm(storeDir, { recursive: true, force: true }));
    const ingest = new RtmpIngest({
      host: '127.0.0.1',
      port: address.port,
      storeDir,
      ffmpegPath,
      gate: new TestGate([]),
      sink: new CollectingSink(),
      logger,
    });
    await expect(ingest.start()).rejects.toThrow(/EADDRINUSE/);
    await ingest.stop();
  });
});

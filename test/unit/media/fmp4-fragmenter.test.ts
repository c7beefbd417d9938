import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  Fmp4Fragmenter,
  type FragmentEvent,
  type FragmenterEvent,
  type FragmenterOptions,
  type InitEvent,
  Mp4ParseError,
} from '../../../src/media/fmp4/index.ts';

// The fixture is H.264 Constrained Baseline 320x240, 15 fps, GOP 15, 2 s, no audio, muxed by ffmpeg with
// frag_keyframe+empty_moov+default_base_moof: ftyp moov moof mdat moof mdat mfra (media-fixtures/README.md).
const fixture = new Uint8Array(
  readFileSync(fileURLToPath(new URL('../../../media-fixtures/h264-2s-fmp4.mp4', import.meta.url))),
);

/** Seeded PRNG (mulberry32) so every split is reproducible. */
function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function feed(chunks: Uint8Array[], options?: FragmenterOptions): FragmenterEvent[] {
  const fragmenter = new Fmp4Fragmenter(options);
  const events = chunks.flatMap((chunk) => fragmenter.push(chunk));
  return [...events, ...fragmenter.end()];
}

/** Events with their bytes replaced by a sha256, for deep comparison. */
function comparable(events: FragmenterEvent[]): unknown[] {
  return events.map((event) =>
    event.type === 'truncated'
      ? event
      : { ...event, bytes: createHash('sha256').update(event.bytes).digest('hex') },
  );
}

function splitAt(bytes: Uint8Array, random: () => number, maxChunk: number): Uint8Array[] {
  const chunks: Uint8Array[] = [];
  for (let offset = 0; offset < bytes.byteLength; ) {
    const size = 1 + Math.floor(random() * maxChunk);
    chunks.push(bytes.subarray(offset, offset + size));
    offset += size;
  }
  return chunks;
}

const inits = (events: FragmenterEvent[]) => events.filter((e): e is InitEvent => e.type === 'init');
const fragments = (events: FragmenterEvent[]) =>
  events.filter((e): e is FragmentEvent => e.type === 'fragment');

function box(type: string, ...payloads: Uint8Array[]): Uint8Array {
  const size = 8 + payloads.reduce((sum, p) => sum + p.byteLength, 0);
  const out = new Uint8Array(size);
  new DataView(out.buffer).setUint32(0, size);
  out.set(new TextEncoder().encode(type), 4);
  let offset = 8;
  for (const p of payloads) {
    out.set(p, offset);
    offset += p.byteLength;
  }
  return out;
}

function concat(parts: Uint8Array[]): Uint8Array {
  return new Uint8Array(Buffer.concat(parts));
}

function u32s(...values: number[]): Uint8Array {
  const out = new Uint8Array(values.length * 4);
  values.forEach((value, i) => {
    new DataView(out.buffer).setUint32(i * 4, value);
  });
  return out;
}

/** A moof+mdat for track 1 with `samples` samples of `durationTicks` each, the first one sync or not. */
function pair(sequence: number, baseTicks: number, samples: number, durationTicks: number, key: boolean) {
  const flags = (i: number) => (i === 0 && key ? 0x02000000 : 0x01010000);
  const entries = Array.from({ length: samples }, (_, i) => [durationTicks, 10, flags(i)]).flat();
  const moof = box(
    'moof',
    box('mfhd', u32s(0, sequence)),
    box(
      'traf',
      box('tfhd', u32s(0x020000, 1)),
      box('tfdt', u32s(0x01000000, 0, baseTicks)),
      box('trun', u32s(0x000701, samples, 0, ...entries)),
    ),
  );
  return [moof, box('mdat', new Uint8Array(samples * 10))];
}

describe('Fmp4Fragmenter on the committed fixture', () => {
  const events = feed([fixture]);

  it('emits one init with the H.264 track', () => {
    expect(events.map((e) => e.type)).toEqual(['init', 'fragment', 'fragment']);
    const [init] = inits(events);
    expect(init?.version).toMatch(/^[0-9a-f]{16}$/);
    expect(init?.tracks).toEqual([
      {
        trackId: 1,
        handler: 'vide',
        kind: 'video',
        timescale: 15360,
        codec: 'avc1.42c01e',
        width: 320,
        height: 240,
      },
    ]);
    expect(init?.bytes.byteLength).toBeGreaterThan(0);
    expect(fixture.subarray(0, init?.bytes.byteLength)).toEqual(init?.bytes);
  });

  it('emits two contiguous 1 s fragments, each starting on a keyframe', () => {
    const [init] = inits(events);
    const [first, second] = fragments(events);
    for (const fragment of [first, second]) {
      expect(fragment?.initVersion).toBe(init?.version);
      expect(fragment?.startsWithKeyframe).toBe(true);
      expect(fragment?.durationMs).toBeCloseTo(1000, 0);
      expect(fragment?.sampleCount).toBe(15);
      expect(fragment?.byteLength).toBe(fragment?.bytes.byteLength);
    }
    expect(first?.startDecodeTimeMs).toBe(0);
    expect(second?.startDecodeTimeMs).toBeCloseTo(
      (first?.startDecodeTimeMs ?? 0) + (first?.durationMs ?? 0),
      6,
    );
    const [a, b] = [first?.tracks[0], second?.tracks[0]];
    expect(b?.baseMediaDecodeTime).toBe((a?.baseMediaDecodeTime ?? -1) + (a?.durationTicks ?? 0));
  });

  it('keeps every byte of the moof+mdat pairs (init + fragments + mfra = the file)', () => {
    const total = events.reduce((sum, e) => sum + (e.type === 'truncated' ? 0 : e.bytes.byteLength), 0);
    const mfraBytes = new DataView(fixture.buffer, fixture.byteOffset + fixture.byteLength - 4).getUint32(0);
    expect(total + mfraBytes).toBe(fixture.byteLength);
  });

  it('gives the same events for 50 random splits and for 1-byte chunks', () => {
    const expected = comparable(events);
    const random = prng(0x5eed);
    for (let run = 0; run < 50; run += 1) {
      const maxChunk = [7, 64, 1000, 20_000][run % 4] ?? 64;
      expect(comparable(feed(splitAt(fixture, random, maxChunk)))).toEqual(expected);
    }
    const bytes = Array.from({ length: fixture.byteLength }, (_, i) => fixture.subarray(i, i + 1));
    expect(comparable(feed(bytes))).toEqual(expected);
  });

  it('emits a new init version when a different moov arrives mid-stream', () => {
    const twice = feed([fixture, fixture]);
    expect(inits(twice).map((e) => e.version)).toEqual([
      inits(events)[0]?.version,
      inits(events)[0]?.version,
    ]);
    expect(fragments(twice)).toHaveLength(4);
    // Another moov (a changed byte in mvhd's creation time area is enough for a new content hash).
    const changed = fixture.slice();
    const moovAt = new DataView(changed.buffer).getUint32(0); // ftyp size
    const at = moovAt + 8 + 8 + 4; // a byte of mvhd's creation_time
    changed[at] = (changed[at] ?? 0) ^ 0xff;
    const mixed = feed([fixture, changed]);
    const versions = inits(mixed).map((e) => e.version);
    expect(new Set(versions).size).toBe(2);
    expect(fragments(mixed).map((f) => f.initVersion)).toEqual([
      versions[0],
      versions[0],
      versions[1],
      versions[1],
    ]);
  });
});

describe('Fmp4Fragmenter grouping and caps', () => {
  const init = fixture.subarray(0, inits(feed([fixture]))[0]?.bytes.byteLength);
  const ticksPerSecond = 15360;

  it('groups non-keyframe moof+mdat pairs with the GOP they continue', () => {
    const chunks = [
      init,
      ...pair(1, 0, 5, 1024, true),
      ...pair(2, 5120, 5, 1024, false),
      ...pair(3, 10240, 5, 1024, false),
      ...pair(4, 15360, 5, 1024, true),
    ];
    const out = fragments(feed(chunks));
    expect(out.map((f) => [f.sequenceNumber, f.sampleCount, f.startsWithKeyframe])).toEqual([
      [1, 15, true],
      [4, 5, true],
    ]);
    expect(out[0]?.durationMs).toBeCloseTo(1000, 6);
    expect(out[1]?.startDecodeTimeMs).toBeCloseTo(1000, 6);
  });

  it('cuts a GOP longer than the duration cap at a moof boundary and flags the continuation', () => {
    const chunks: Uint8Array[] = [init];
    for (let i = 0; i < 8; i += 1)
      chunks.push(...pair(i + 1, i * 2 * ticksPerSecond, 2, ticksPerSecond, i === 0));
    const out = fragments(feed(chunks, { maxFragmentDurationMs: 10_000 }));
    expect(out.map((f) => [f.durationMs, f.startsWithKeyframe])).toEqual([
      [10_000, true],
      [6_000, false],
    ]);
    expect(out[1]?.startDecodeTimeMs).toBe(10_000);
  });

  it('flush() emits the open fragment without waiting for the next keyframe', () => {
    const fragmenter = new Fmp4Fragmenter();
    expect(fragmenter.push(init).map((e) => e.type)).toEqual(['init']);
    expect(fragmenter.push(concat(pair(1, 0, 15, 1024, true)))).toEqual([]);
    const flushed = fragments(fragmenter.flush());
    expect(flushed.map((f) => [f.sampleCount, f.durationMs, f.startsWithKeyframe])).toEqual([
      [15, 1000, true],
    ]);
    expect(fragmenter.flush()).toEqual([]);
    expect(fragments(fragmenter.push(concat(pair(2, 15360, 15, 1024, true))))).toEqual([]);
    expect(fragments(fragmenter.end()).map((f) => f.startDecodeTimeMs)).toEqual([1000]);
  });

  it('cuts at the byte cap', () => {
    const chunks: Uint8Array[] = [init];
    for (let i = 0; i < 4; i += 1) chunks.push(...pair(i + 1, i * 1024, 1, 1024, i === 0));
    const size = (chunks[1]?.byteLength ?? 0) + (chunks[2]?.byteLength ?? 0);
    const out = fragments(feed(chunks, { maxFragmentBytes: size * 2 }));
    expect(out.map((f) => [f.byteLength, f.startsWithKeyframe])).toEqual([
      [size * 2, true],
      [size * 2, false],
    ]);
  });
});

describe('Fmp4Fragmenter on hostile input', () => {
  it('reports a truncated stream: complete fragments first, then the discarded bytes', () => {
    const cut = fixture.byteLength - 500; // inside the second mdat
    const fragmenter = new Fmp4Fragmenter();
    const events = [...fragmenter.push(fixture.subarray(0, cut)), ...fragmenter.end()];
    expect(events.map((e) => e.type)).toEqual(['init', 'fragment', 'truncated']);
    const truncated = events.at(-1);
    expect(truncated).toMatchObject({ type: 'truncated', boxType: 'mdat' });
    const [first] = fragments(events);
    const initBytes = inits(events)[0]?.bytes.byteLength ?? 0;
    expect(truncated?.type === 'truncated' && truncated.discardedBytes).toBe(
      cut - initBytes - (first?.byteLength ?? 0),
    );
    expect(fragmenter.end()).toEqual([]);
    expect(() => fragmenter.push(new Uint8Array(1))).toThrow(/push after end/);
  });

  it('rejects a box with size 3', () => {
    const fragmenter = new Fmp4Fragmenter();
    const bad = box('ftyp');
    new DataView(bad.buffer).setUint32(0, 3);
    expect(() => fragmenter.push(bad)).toThrow(Mp4ParseError);
    expect(() => fragmenter.push(fixture)).toThrow(/size 3/); // failed for good
  });

  it('rejects a box claiming 1 GiB before buffering it', () => {
    const header = box('mdat');
    new DataView(header.buffer).setUint32(0, 1024 * 1024 * 1024);
    const error = catchError(() => new Fmp4Fragmenter().push(header));
    expect(error).toBeInstanceOf(Mp4ParseError);
    expect(error).toMatchObject({ reason: 'box-too-large', streamOffset: 0 });
  });

  it('rejects a 64-bit largesize above the limit', () => {
    const header = new Uint8Array(16);
    const view = new DataView(header.buffer);
    view.setUint32(0, 1);
    header.set(new TextEncoder().encode('mdat'), 4);
    view.setBigUint64(8, 2n ** 40n);
    expect(catchError(() => new Fmp4Fragmenter().push(header))).toMatchObject({ reason: 'box-too-large' });
  });

  it('rejects random garbage as an unknown box', () => {
    const random = prng(42);
    const garbage = Uint8Array.from({ length: 4096 }, () => Math.floor(random() * 256));
    const error = catchError(() => new Fmp4Fragmenter().push(garbage));
    expect(error).toBeInstanceOf(Mp4ParseError);
    expect((error as Mp4ParseError).message).toMatch(/box/);
  });

  it('rejects garbage after valid fragments, and a moof before any moov', () => {
    const tail = new TextEncoder().encode('\u0000\u0000\u0000\u0010junkjunkjunk');
    const events = feed([fixture]);
    const boundary = (inits(events)[0]?.bytes.byteLength ?? 0) + (fragments(events)[0]?.byteLength ?? 0);
    const error = catchError(() => feed([fixture.subarray(0, boundary), tail]));
    expect(error).toMatchObject({ reason: 'unknown-box', streamOffset: boundary });
    expect((error as Error).message).toContain("'junk'");
    const moofOnly = pair(1, 0, 1, 1, true)[0] ?? new Uint8Array();
    expect(catchError(() => feed([moofOnly]))).toMatchObject({ reason: 'unexpected-box' });
  });

  it('rejects a malformed moov child as malformed, not as a crash', () => {
    const ftypSize = new DataView(fixture.buffer, fixture.byteOffset).getUint32(0);
    const broken = fixture.slice();
    new DataView(broken.buffer).setUint32(ftypSize + 8, 0x7fffffff); // first child of moov overruns it
    expect(catchError(() => feed([broken]))).toMatchObject({
      name: 'Mp4ParseError',
      reason: 'malformed',
      streamOffset: ftypSize,
    });
  });
});

function catchError(work: () => unknown): unknown {
  try {
    work();
  } catch (error) {
    return error;
  }
  throw new Error('expected an error');
}

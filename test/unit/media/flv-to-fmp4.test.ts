import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { FlvTagError, parseFlvChunk } from '../../../src/media/flv/flv-tag.ts';
import { FlvToFmp4, type FlvToFmp4Options, UnsupportedFlvMedia } from '../../../src/media/flv/flv-to-fmp4.ts';
import {
  Fmp4Fragmenter,
  type FragmentEvent,
  type FragmenterEvent,
  type InitEvent,
  Mp4ParseError,
} from '../../../src/media/fmp4/index.ts';
import {
  ASC_SAMPLES,
  avcConfigRecord,
  FIXTURE_PPS_HEX,
  fromHex,
  SPS_SAMPLES,
} from '../../support/codec-samples.ts';
import { flvChunks } from '../../support/flv.ts';

// The fixture is H.264 Constrained Baseline 320x240 15 fps (GOP 15: keyframes at 64 ms and 1064 ms in
// its FLV) + AAC-LC 16 kHz mono, 2 s (media-fixtures/README.md). node-media-server hands a subscriber
// the FLV header, then one tag per chunk; flvChunks() cuts the file the same way.

const fixture = new Uint8Array(
  readFileSync(fileURLToPath(new URL('../../../media-fixtures/h264-aac-2s.flv', import.meta.url))),
);
const creationTime = new Date('2024-01-02T03:04:05Z');

const chunks: Uint8Array[] = flvChunks(fixture);

/** One FLV tag chunk: 11-byte header, body, PreviousTagSize. */
function flvTag(type: number, dtsMs: number, body: Uint8Array): Uint8Array {
  const out = Buffer.alloc(11 + body.byteLength + 4);
  out[0] = type;
  out.writeUIntBE(body.byteLength, 1, 3);
  out.writeUIntBE(dtsMs & 0xffffff, 4, 3);
  out[7] = (dtsMs >>> 24) & 0xff;
  out.set(body, 11);
  out.writeUInt32BE(11 + body.byteLength, 11 + body.byteLength);
  return new Uint8Array(out);
}

/** A copy of a tag chunk with another timestamp. */
function retimed(chunk: Uint8Array, dtsMs: number): Uint8Array {
  const copy = Buffer.from(chunk);
  copy.writeUIntBE(dtsMs & 0xffffff, 4, 3);
  copy[7] = (dtsMs >>> 24) & 0xff;
  return new Uint8Array(copy);
}

function dtsOf(chunk: Uint8Array): number {
  return (((chunk[7] ?? 0) << 24) | ((chunk[4] ?? 0) << 16) | ((chunk[5] ?? 0) << 8) | (chunk[6] ?? 0)) >>> 0;
}

const isVideoFrame = (chunk: Uint8Array) => {
  const tag = parseFlvChunk(chunk);
  return tag.kind === 'avc' && tag.packetType === 1;
};
const isKeyframe = (chunk: Uint8Array) => {
  const tag = parseFlvChunk(chunk);
  return tag.kind === 'avc' && tag.packetType === 1 && tag.keyframe;
};

function remux(input: Uint8Array[], options: Partial<FlvToFmp4Options> = {}) {
  const remuxer = new FlvToFmp4({ creationTime, ...options });
  const events = [...input.flatMap((chunk) => remuxer.push(chunk)), ...remuxer.end()];
  return { remuxer, events };
}

/** What remuxing `input` to its end throws, if anything. */
function errorOf(input: Uint8Array[]): unknown {
  const remuxer = new FlvToFmp4({ creationTime });
  try {
    for (const chunk of input) remuxer.push(chunk);
    remuxer.end();
  } catch (error) {
    return error;
  }
  return undefined;
}

const inits = (events: FragmenterEvent[]) => events.filter((e): e is InitEvent => e.type === 'init');
const fragments = (events: FragmenterEvent[]) =>
  events.filter((e): e is FragmentEvent => e.type === 'fragment');

/** Events with their bytes replaced by a sha256, for deep comparison. */
function comparable(events: FragmenterEvent[]): unknown[] {
  return events.map((event) =>
    event.type === 'truncated'
      ? event
      : { ...event, bytes: createHash('sha256').update(event.bytes).digest('hex') },
  );
}

/** Feeds every event's bytes, concatenated, to an Fmp4Fragmenter. */
function refragment(events: FragmenterEvent[], options = {}): FragmenterEvent[] {
  const fragmenter = new Fmp4Fragmenter(options);
  const stream = Buffer.concat(events.flatMap((event) => (event.type === 'truncated' ? [] : [event.bytes])));
  return [...fragmenter.push(stream), ...fragmenter.end()];
}

/** Seeded PRNG (mulberry32) so every fuzz case is reproducible. */
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

const VIDEO = 9;
const AUDIO = 8;
const SCRIPT = 18;

describe('FlvToFmp4 on the committed fixture', () => {
  const { remuxer, events } = remux(chunks);

  it('gives one init (H.264 + AAC) and one fragment per GOP', () => {
    expect(events.map((event) => event.type)).toEqual(['init', 'fragment', 'fragment']);
    const [init] = inits(events);
    expect(init?.version).toMatch(/^[0-9a-f]{16}$/);
    expect(init?.tracks).toEqual([
      {
        trackId: 1,
        handler: 'vide',
        kind: 'video',
        timescale: 90000,
        codec: 'avc1.42c01e',
        width: 320,
        height: 240,
      },
      {
        trackId: 2,
        handler: 'soun',
        kind: 'audio',
        timescale: 16000,
        codec: 'mp4a.40.2',
        sampleRateHz: 16000,
        channelCount: 1,
      },
    ]);
    const out = fragments(events);
    expect(out.map((f) => f.startsWithKeyframe)).toEqual([true, true]);
    expect(out.map((f) => f.sequenceNumber)).toEqual([1, 2]);
    expect(out.map((f) => f.tracks.find((t) => t.trackId === 1)?.sampleCount)).toEqual([15, 15]);
    // Keyframes at 64 and 1064 ms; the first fragment ends where the second starts.
    expect(out.map((f) => f.startDecodeTimeMs)).toEqual([64, 1064]);
    expect(out[0]?.durationMs).toBe(1000);
    expect(out.every((f) => f.initVersion === init?.version)).toBe(true);
    // Only the audio frame at 0 ms precedes the first keyframe.
    expect(remuxer.dropped).toBe(1);
    expect(remuxer.started).toBe(true);
  });

  it('emits exactly what Fmp4Fragmenter reads back from its own bytes', () => {
    const back = refragment(events);
    expect(comparable(back)).toEqual(comparable(events));
    // Spelled out, since comparable() compares whole objects: the fields the sink relies on.
    for (const [mine, theirs] of fragments(events).map((f, i) => [f, fragments(back)[i]] as const)) {
      expect(theirs).toMatchObject({
        initVersion: mine.initVersion,
        sequenceNumber: mine.sequenceNumber,
        startDecodeTimeMs: mine.startDecodeTimeMs,
        durationMs: mine.durationMs,
        startsWithKeyframe: mine.startsWithKeyframe,
        sampleCount: mine.sampleCount,
        tracks: mine.tracks,
      });
    }
  });

  it('keeps the audio contiguous in whole AAC frames across fragments', () => {
    const audio = fragments(events).map((f) => f.tracks.find((t) => t.trackId === 2));
    expect(audio.every((t) => t !== undefined && t.durationTicks === t.sampleCount * 1024)).toBe(true);
    expect(audio[0]?.baseMediaDecodeTime).toBe(64 * 16); // the first kept frame's timestamp at 16 kHz
    expect(audio[1]?.baseMediaDecodeTime).toBe(
      (audio[0]?.baseMediaDecodeTime ?? 0) + (audio[0]?.durationTicks ?? 0),
    );
  });

  it('gives the same events however often it is run (content-hashed init version)', () => {
    expect(comparable(remux(chunks).events)).toEqual(comparable(events));
    const later = remux(chunks, { creationTime: new Date('2025-01-01T00:00:00Z') }).events;
    expect(inits(later)[0]?.version).not.toBe(inits(events)[0]?.version);
  });
});

describe('FlvToFmp4 fragment caps', () => {
  it('cuts continuation fragments at maxFragmentDurationMs, with contiguous decode times', () => {
    const { events } = remux(chunks, { maxFragmentDurationMs: 300 });
    const out = fragments(events);
    expect(out.length).toBeGreaterThanOrEqual(6);
    // Exactly the two GOP starts begin with a keyframe; the rest are continuations.
    expect(out.filter((f) => f.startsWithKeyframe).map((f) => f.startDecodeTimeMs)).toEqual([64, 1064]);
    expect(out.filter((f) => !f.startsWithKeyframe).length).toBe(out.length - 2);
    for (let i = 1; i < out.length; i += 1) {
      const previous = out[i - 1];
      const video = out[i]?.tracks.find((t) => t.trackId === 1);
      const previousVideo = previous?.tracks.find((t) => t.trackId === 1);
      expect(video?.baseMediaDecodeTime).toBe(
        (previousVideo?.baseMediaDecodeTime ?? 0) + (previousVideo?.durationTicks ?? 0),
      );
      expect(out[i]?.sequenceNumber).toBe((previous?.sequenceNumber ?? 0) + 1);
    }
    // The cap is checked before each frame is added: at most one frame (67 ms) beyond it.
    for (const fragment of out) expect(fragment.durationMs).toBeLessThanOrEqual(300 + 67);
    expect(out.reduce((sum, f) => sum + (f.tracks.find((t) => t.trackId === 1)?.sampleCount ?? 0), 0)).toBe(
      30,
    );
    // Read back with the same caps, the fragmenter sees the same starts; without caps, one per GOP.
    const back = refragment(events, { maxFragmentDurationMs: 300 });
    expect(fragments(back).map((f) => [f.startDecodeTimeMs, f.startsWithKeyframe])).toEqual(
      out.map((f) => [f.startDecodeTimeMs, f.startsWithKeyframe]),
    );
    const perGop = fragments(refragment(events));
    expect(perGop.map((f) => f.tracks.find((t) => t.trackId === 1)?.sampleCount)).toEqual([15, 15]);
    expect(perGop.map((f) => f.startsWithKeyframe)).toEqual([true, true]);
  });

  it('cuts continuation fragments at maxFragmentBytes', () => {
    const { events } = remux(chunks, { maxFragmentBytes: 6000 });
    const out = fragments(events);
    expect(out.length).toBeGreaterThan(2);
    expect(out.filter((f) => f.startsWithKeyframe)).toHaveLength(2);
    expect(out.filter((f) => !f.startsWithKeyframe).length).toBeGreaterThan(0);
    const starts = out.map((f) => f.startDecodeTimeMs);
    expect(starts).toEqual([...starts].sort((a, b) => a - b));
    const end = (out.at(-1)?.startDecodeTimeMs ?? 0) + (out.at(-1)?.durationMs ?? 0);
    expect(end).toBeCloseTo(
      remux(chunks)
        .events.filter((e) => e.type === 'fragment')
        .reduce((s, f) => s + (f as FragmentEvent).durationMs, 64),
      6,
    );
  });
});

describe('FlvToFmp4 codec configuration changes', () => {
  const avcHeaderIndex = chunks.findIndex((c) => {
    const tag = parseFlvChunk(c);
    return tag.kind === 'avc' && tag.packetType === 0;
  });
  const aacHeaderIndex = chunks.findIndex((c) => {
    const tag = parseFlvChunk(c);
    return tag.kind === 'aac' && tag.packetType === 0;
  });
  const secondKeyframe = chunks.findIndex(
    (c, i) => i > avcHeaderIndex + 1 && isKeyframe(c) && dtsOf(c) > 500,
  );
  const avcHeader = chunks[avcHeaderIndex] ?? new Uint8Array();
  const aacHeader = chunks[aacHeaderIndex] ?? new Uint8Array();

  /** The fixture with `inserted` placed `before` chunks before the second keyframe. */
  function withInserted(inserted: Uint8Array[], before = 3): Uint8Array[] {
    const at = secondKeyframe - before;
    return [...chunks.slice(0, at), ...inserted, ...chunks.slice(at)];
  }

  it('ignores identical sequence headers sent again mid-GOP', () => {
    const at = dtsOf(chunks[secondKeyframe - 3] ?? new Uint8Array());
    const { events } = remux(withInserted([retimed(avcHeader, at), retimed(aacHeader, at)]));
    // Byte-identical to the stream without them: no new init, same fragments.
    expect(comparable(events)).toEqual(comparable(remux(chunks).events));
  });

  it('emits a new init version at the next keyframe for a different AVC sequence header', () => {
    // The SPS of a real 1920x1080 High profile encode, in place of the fixture's.
    const record = avcConfigRecord(fromHex(SPS_SAMPLES.high1920x1080.hex), fromHex(FIXTURE_PPS_HEX));
    const body = Uint8Array.from([0x17, 0, 0, 0, 0, ...record]);
    const at = dtsOf(chunks[secondKeyframe - 3] ?? new Uint8Array());
    const { events, remuxer } = remux(withInserted([flvTag(VIDEO, at, body)]));
    expect(events.map((e) => e.type)).toEqual(['init', 'fragment', 'init', 'fragment']);
    const [first, second] = inits(events);
    expect(second?.version).not.toBe(first?.version);
    expect(second?.tracks[0]).toMatchObject({ codec: 'avc1.640028', width: 1920, height: 1080 });
    expect(second?.tracks[1]).toEqual(first?.tracks[1]); // the audio track is unchanged
    const [before, after] = fragments(events);
    expect(before?.initVersion).toBe(first?.version);
    // The frames between the new header and the keyframe still belong to the old GOP.
    expect(before?.tracks[0]?.sampleCount).toBe(15);
    expect(after).toMatchObject({
      initVersion: second?.version,
      startsWithKeyframe: true,
      startDecodeTimeMs: 1064,
    });
    expect(after?.tracks[0]?.sampleCount).toBe(15);
    expect(remuxer.dropped).toBe(1);
    // Read back, the fragmenter agrees on both inits and which fragment needs which.
    expect(comparable(refragment(events))).toEqual(comparable(events));
  });

  it('emits a new init version at the next keyframe for a different AAC config', () => {
    const at = dtsOf(chunks[secondKeyframe - 3] ?? new Uint8Array());
    const body = Uint8Array.from([0xaf, 0, ...fromHex(ASC_SAMPLES.lc48kStereo)]);
    const { events } = remux(withInserted([flvTag(AUDIO, at, body)]));
    expect(events.map((e) => e.type)).toEqual(['init', 'fragment', 'init', 'fragment']);
    const [, second] = inits(events);
    expect(second?.tracks[1]).toMatchObject({ timescale: 48000, sampleRateHz: 48000, channelCount: 2 });
    const [, after] = fragments(events);
    expect(after?.initVersion).toBe(second?.version);
    expect(after?.tracks.find((t) => t.trackId === 2)?.timescale).toBe(48000);
  });
});

describe('FlvToFmp4 on media it does not remux', () => {
  const [header, script, avcHeader] = chunks;
  const head = [header ?? new Uint8Array(), script ?? new Uint8Array(), avcHeader ?? new Uint8Array()];

  it('throws UnsupportedFlvMedia for Sorenson H.263 (codec id 2) video', () => {
    const error = errorOf([...head.slice(0, 2), flvTag(VIDEO, 0, Uint8Array.from([0x12, 0, 0, 0x84, 0]))]);
    expect(error).toBeInstanceOf(UnsupportedFlvMedia);
    expect(String(error)).toMatch(/codec 2/);
  });

  it('throws UnsupportedFlvMedia for enhanced-RTMP video (IsExHeader, e.g. HEVC)', () => {
    // IsExHeader | keyframe | PacketTypeSequenceStart, FourCC hvc1
    const body = Uint8Array.from([0x90, ...Buffer.from('hvc1'), 1, 2, 3]);
    expect(errorOf([...head.slice(0, 2), flvTag(VIDEO, 0, body)])).toBeInstanceOf(UnsupportedFlvMedia);
  });

  it('throws UnsupportedFlvMedia for MP3 audio (SoundFormat 2), even next to H.264', () => {
    const mp3 = flvTag(AUDIO, 0, Uint8Array.from([0x2f, 0xff, 0xfb, 0x90, 0x64]));
    expect(errorOf([...head, mp3])).toBeInstanceOf(UnsupportedFlvMedia);
  });

  it('throws UnsupportedFlvMedia for an audio-only publish announced by onMetaData', () => {
    // onMetaData { audiocodecid: 10 } — no videocodecid
    const amf = Buffer.concat([
      Buffer.from([0x02, 0, 10]),
      Buffer.from('onMetaData'),
      Buffer.from([0x08, 0, 0, 0, 1, 0, 12]),
      Buffer.from('audiocodecid'),
      Buffer.from([0x00, 0x40, 0x24, 0, 0, 0, 0, 0, 0, 0, 0, 9]),
    ]);
    const aac = (dtsMs: number) => flvTag(AUDIO, dtsMs, Uint8Array.from([0xaf, 1, 0x21, 0x10, 0x04]));
    const input = [
      header ?? new Uint8Array(),
      flvTag(SCRIPT, 0, amf),
      flvTag(AUDIO, 0, Uint8Array.from([0xaf, 0, 0x11, 0x90])),
      aac(0),
      aac(21),
    ];
    const remuxer = new FlvToFmp4({ creationTime });
    remuxer.push(input[0] ?? new Uint8Array());
    remuxer.push(input[1] ?? new Uint8Array());
    remuxer.push(input[2] ?? new Uint8Array());
    expect(() => remuxer.push(input[3] ?? new Uint8Array())).toThrow(UnsupportedFlvMedia);
    expect(remuxer.started).toBe(false);
  });

  it('throws UnsupportedFlvMedia once too many audio frames came without any video', () => {
    const input = [
      header ?? new Uint8Array(),
      flvTag(AUDIO, 0, Uint8Array.from([0xaf, 0, 0x11, 0x90])),
      ...Array.from({ length: 5 }, (_, i) => flvTag(AUDIO, i * 21, Uint8Array.from([0xaf, 1, 0x21]))),
    ];
    expect(errorOf(input)).toBeUndefined(); // the default allows 100
    const remuxer = new FlvToFmp4({ creationTime, maxAudioFramesBeforeVideo: 3 });
    expect(() => {
      for (const chunk of input) remuxer.push(chunk);
    }).toThrow(UnsupportedFlvMedia);
  });

  it('throws UnsupportedFlvMedia at an onMetaData naming MP3 or Sorenson, before any init', () => {
    // ffmpeg interleaves by time: an H.264 keyframe at 0 ms may precede the first MP3 tag, and MP3 has
    // no sequence header. Only onMetaData tells before the init that ffmpeg must take the publish.
    for (const [key, codec] of [
      ['audiocodecid', 2],
      ['videocodecid', 2],
    ] as const) {
      const script = Buffer.from(chunks[1] ?? new Uint8Array());
      const at = script.indexOf(key);
      expect(at).toBeGreaterThan(0);
      script.writeDoubleBE(codec, at + key.length + 1);
      const remuxer = new FlvToFmp4({ creationTime });
      remuxer.push(chunks[0] ?? new Uint8Array());
      expect(() => remuxer.push(new Uint8Array(script)), key).toThrow(UnsupportedFlvMedia);
      expect(remuxer.started).toBe(false);
    }
  });

  it("does not mistake the fixture's onMetaData (which names videocodecid) for audio-only", () => {
    expect(errorOf(chunks)).toBeUndefined();
  });
});

describe('FlvToFmp4 on hostile input', () => {
  const videoFrame = chunks.find(isVideoFrame) ?? new Uint8Array();

  it('rejects truncated chunks with FlvTagError', () => {
    expect(errorOf([fixture.subarray(0, 5)])).toBeInstanceOf(FlvTagError); // FLV header
    expect(errorOf([videoFrame.subarray(0, 10)])).toBeInstanceOf(FlvTagError); // tag header
    expect(errorOf([videoFrame.subarray(0, videoFrame.byteLength - 100)])).toBeInstanceOf(FlvTagError); // body
    expect(errorOf([flvTag(VIDEO, 0, Uint8Array.from([0x17, 1, 0]))])).toBeInstanceOf(FlvTagError); // AVC header
    expect(errorOf([flvTag(AUDIO, 0, Uint8Array.from([0xaf]))])).toBeInstanceOf(FlvTagError); // AAC header
  });

  it('rejects a tag whose declared size exceeds (or falls short of) its chunk', () => {
    const oversized = Buffer.from(videoFrame);
    oversized.writeUIntBE(0xffffff, 1, 3);
    const error = errorOf([new Uint8Array(oversized)]);
    expect(error).toBeInstanceOf(FlvTagError);
    expect(String(error)).toMatch(/declares 16777215 body bytes/);
    const trailing = Buffer.concat([videoFrame, Buffer.alloc(16)]);
    expect(errorOf([new Uint8Array(trailing)])).toBeInstanceOf(FlvTagError);
  });

  it('rejects garbage AVC and AAC sequence headers with RangeError', () => {
    const garbage = [
      Uint8Array.from([0x17, 0, 0, 0, 0, 0x02, 0x42, 0xc0, 0x1e, 0xff, 0xe1, 0, 4, 0x67]), // version 2
      Uint8Array.from([0x17, 0, 0, 0, 0, 0x01, 0x42, 0xc0, 0x1e, 0xff, 0xe1, 0, 200, 0x67, 0x42]), // SPS cut
      Uint8Array.from([0x17, 0, 0, 0, 0, 0x01, 0x42, 0xc0, 0x1e, 0xff, 0xe1, 0, 4, 0x68, 1, 2, 3]), // a PPS
      Uint8Array.from([0x17, 0, 0, 0, 0, ...prngBytes(7, 60)]),
    ];
    for (const body of garbage) expect(errorOf([flvTag(VIDEO, 0, body)])).toBeInstanceOf(RangeError);
    expect(errorOf([flvTag(AUDIO, 0, Uint8Array.from([0xaf, 0, 0x16]))])).toBeInstanceOf(RangeError);
    expect(errorOf([flvTag(AUDIO, 0, Uint8Array.from([0xaf, 0, 0x17, 0x80]))])).toBeInstanceOf(RangeError);
  });

  it('drops H.264 frames that come before any sequence header, and starts at the first keyframe after it', () => {
    const [header, ...tags] = chunks;
    const frames = tags.filter(isVideoFrame);
    const { remuxer, events } = remux([header ?? new Uint8Array(), ...frames.slice(0, 3), ...tags]);
    expect(remuxer.dropped).toBeGreaterThanOrEqual(3);
    expect(comparable(events.filter((e) => e.type !== 'init'))).toEqual(
      comparable(remux(chunks).events.filter((e) => e.type !== 'init')),
    );
  });

  it('rejects H.264 frames whose NAL unit lengths run past the frame with FlvTagError', () => {
    const index = chunks.findIndex(isKeyframe);
    const broken = Uint8Array.from(chunks[index] ?? []);
    // The first NAL unit length (4 bytes after the 11-byte tag header and 5-byte AVC header) claims 1 MB.
    broken.set([0x00, 0x10, 0x00, 0x00], 16);
    const error = errorOf([...chunks.slice(0, index), broken]);
    expect(error).toBeInstanceOf(FlvTagError);
    expect(String(error)).toMatch(/NAL unit length past the end/);
  });

  it('fails only with FlvTagError, RangeError or UnsupportedFlvMedia on mutated fixture tags (seeded fuzz)', () => {
    const random = prng(0x5eed);
    const pick = (n: number) => Math.floor(random() * n);
    const outcomes = new Map<string, number>();
    const started = performance.now();
    const iterations = 3000;
    for (let iteration = 0; iteration < iterations; iteration += 1) {
      const input = chunks.map((chunk) => chunk);
      const mutations = 1 + pick(4);
      for (let m = 0; m < mutations; m += 1) {
        const index = pick(input.length);
        const chunk = Buffer.from(input[index] ?? new Uint8Array());
        switch (pick(7)) {
          case 0: // flip bytes of the tag header or the codec header bytes
            for (let k = 0; k < 1 + pick(3); k += 1) chunk[pick(Math.min(chunk.length, 20))] = pick(256);
            input[index] = new Uint8Array(chunk);
            break;
          case 1: // flip bytes anywhere
            for (let k = 0; k < 1 + pick(8); k += 1) chunk[pick(chunk.length)] = pick(256);
            input[index] = new Uint8Array(chunk);
            break;
          case 2: // truncate
            input[index] = new Uint8Array(chunk.subarray(0, pick(chunk.length)));
            break;
          case 3: // timestamp anywhere in 32 bits
            input[index] = retimed(chunk, Math.floor(random() * 2 ** 32));
            break;
          case 4: // duplicate
            input.splice(index, 0, new Uint8Array(chunk));
            break;
          case 5: // drop
            input.splice(index, 1);
            break;
          default: // swap with a neighbour
            input[index] = input[(index + 1) % input.length] ?? new Uint8Array();
            input[(index + 1) % input.length] = new Uint8Array(chunk);
        }
      }
      const remuxer = new FlvToFmp4({ creationTime, maxFragmentDurationMs: 1 + pick(3000) });
      const events: FragmenterEvent[] = [];
      let outcome = 'ok';
      try {
        for (const chunk of input) events.push(...remuxer.push(chunk));
        events.push(...remuxer.end());
      } catch (error) {
        const expected =
          error instanceof FlvTagError ||
          error instanceof UnsupportedFlvMedia ||
          // Ours, not one of node's (a Buffer write out of range has a code: ERR_OUT_OF_RANGE).
          (error instanceof RangeError && !('code' in error));
        if (!expected) {
          throw new Error(`iteration ${iteration}: unexpected ${String(error)}`, { cause: error });
        }
        outcome = (error as Error).name;
      }
      outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
      // Whatever it emitted, up to the failure, is fMP4 the fragmenter reads.
      try {
        refragment(events);
      } catch (error) {
        if (error instanceof Mp4ParseError)
          throw new Error(`iteration ${iteration}: unreadable output: ${error.message}`);
        throw error;
      }
    }
    const elapsedMs = performance.now() - started;
    expect(elapsedMs).toBeLessThan(20_000);
    // The mutations reach every outcome: not all rejected at the first byte, not all accepted.
    expect(outcomes.get('ok') ?? 0).toBeGreaterThan(iterations / 10);
    expect(outcomes.get('FlvTagError') ?? 0).toBeGreaterThan(0);
    expect(outcomes.get('RangeError') ?? 0).toBeGreaterThan(0);
    expect(outcomes.get('UnsupportedFlvMedia') ?? 0).toBeGreaterThan(0);
  });
});

describe('FlvToFmp4 timestamp jumps', () => {
  it('cuts the fragment at a video timestamp step over 5 s and restarts the timeline there', () => {
    // From the 6th video frame of the first GOP on, every tag is 10 s later.
    const frames = chunks
      .map((chunk, index) => ({ chunk, index }))
      .filter(({ chunk }) => isVideoFrame(chunk));
    const jumpAt = frames[5]?.index ?? 0;
    const jumpDts = dtsOf(chunks[jumpAt] ?? new Uint8Array()) + 10_000;
    const input = chunks.map((chunk, index) =>
      index >= jumpAt ? retimed(chunk, dtsOf(chunk) + 10_000) : chunk,
    );
    const { events } = remux(input);
    expect(events.map((e) => e.type)).toEqual(['init', 'fragment', 'fragment', 'fragment']);
    const [cut, continuation, nextGop] = fragments(events);
    expect(cut).toMatchObject({ startDecodeTimeMs: 64, startsWithKeyframe: true });
    expect(cut?.tracks[0]?.sampleCount).toBe(5);
    // The frame before the jump keeps the previous frame's duration, not 10 s.
    expect(cut?.durationMs).toBeLessThan(5 * 67 + 1);
    expect(continuation).toMatchObject({ startDecodeTimeMs: jumpDts, startsWithKeyframe: false });
    expect(continuation?.tracks[0]?.sampleCount).toBe(10);
    expect(nextGop).toMatchObject({ startDecodeTimeMs: 11_064, startsWithKeyframe: true });
    // Audio after the gap is restarted at its own timestamps.
    const audioAfter = [continuation, nextGop].map((f) => f?.tracks.find((t) => t.trackId === 2));
    expect(audioAfter[1]?.baseMediaDecodeTime).toBeGreaterThan(11_000 * 16 - 2048);
    // Read back, the fragmenter (which cuts only at keyframes) keeps the jump in the moofs' tfdt.
    const back = fragments(refragment(events));
    expect(back.map((f) => [f.startDecodeTimeMs, f.tracks[0]?.sampleCount])).toEqual([
      [64, 15],
      [11_064, 15],
    ]);
  });

  it('does not cut at a step of 5 s or less', () => {
    const frames = chunks
      .map((chunk, index) => ({ chunk, index }))
      .filter(({ chunk }) => isVideoFrame(chunk));
    const jumpAt = frames[5]?.index ?? 0;
    const input = chunks.map((chunk, index) =>
      index >= jumpAt ? retimed(chunk, dtsOf(chunk) + 4_000) : chunk,
    );
    const out = fragments(remux(input).events);
    expect(out).toHaveLength(2);
    expect(out[0]?.tracks[0]?.sampleCount).toBe(15);
  });
});

function prngBytes(seed: number, length: number): number[] {
  const random = prng(seed);
  return Array.from({ length }, () => Math.floor(random() * 256));
}

describe('FlvToFmp4 on clocks that misbehave', () => {
  const [header, script, ...rest] = chunks;
  const configs = rest.filter((chunk) => {
    const tag = parseFlvChunk(chunk);
    return (tag.kind === 'avc' || tag.kind === 'aac') && tag.packetType === 0;
  });
  const media = rest.filter((chunk) => !configs.includes(chunk));
  const PERIOD_MS = 2112; // 33 AAC frames of 64 ms; the fixture's media spans ~2.06 s
  /** The fixture's media `loops` times back to back, each timestamp through `clock(ms, index)`. */
  function looped(loops: number, clock: (ms: number, index: number) => number): Uint8Array[] {
    const out = [header ?? new Uint8Array(), script ?? new Uint8Array(), ...configs];
    let index = 0;
    for (let loop = 0; loop < loops; loop += 1) {
      for (const chunk of media) {
        out.push(retimed(chunk, clock(dtsOf(chunk) + loop * PERIOD_MS, index) >>> 0));
        index += 1;
      }
    }
    return out;
  }
  /** Every track's runs, in order, never go back and never overlap. */
  function expectMonotonic(events: FragmenterEvent[]): void {
    for (const trackId of [1, 2]) {
      let end = Number.NEGATIVE_INFINITY;
      for (const fragment of fragments(events)) {
        const track = fragment.tracks.find((t) => t.trackId === trackId);
        if (track === undefined) continue;
        expect(track.baseMediaDecodeTime).toBeGreaterThanOrEqual(end);
        end = track.baseMediaDecodeTime + track.durationTicks;
      }
    }
  }
  const audioSeconds = (events: FragmenterEvent[]) =>
    fragments(events)
      .flatMap((f) => f.tracks.filter((t) => t.trackId === 2))
      .reduce((sum, t) => sum + t.durationTicks / t.timescale, 0);

  it('unwraps the 32-bit millisecond clock: audio keeps flowing, times keep rising', () => {
    const start = 2 ** 32 - 5_000; // wraps about 5 s in
    const { events } = remux(looped(6, (ms) => start + ms));
    expectMonotonic(events);
    const out = fragments(events);
    expect(out.length).toBeGreaterThanOrEqual(11);
    // Every fragment but possibly the last carries its share of audio.
    for (const fragment of out.slice(0, -1)) expect(fragment.tracks.map((t) => t.trackId)).toEqual([1, 2]);
    expect(out.at(-2)?.startDecodeTimeMs).toBeGreaterThan(start + 9_000);
  });

  it('carries on from the last frame when the publisher clock is reset, and after a gap later', () => {
    // 3 loops at +100 s, then the clock restarts at 0, then a 6 s silence.
    const input = looped(6, (ms, index) => {
      const loop = Math.floor(index / media.length);
      if (loop < 3) return ms + 100_000;
      return loop < 5 ? ms - 3 * PERIOD_MS : ms - 3 * PERIOD_MS + 6_000;
    });
    const { events } = remux(input);
    expectMonotonic(events);
    const out = fragments(events);
    // The reset shifted the timeline so it follows on; the gap later still shows as a gap.
    const starts = out.map((f) => f.startDecodeTimeMs);
    expect(Math.max(...starts)).toBeGreaterThan(100_000 + 6 * PERIOD_MS);
    expect(audioSeconds(events)).toBeGreaterThan(6 * 2 - 1);
  });

  it('does not drift when some frames are stamped a little early', () => {
    let video = 0;
    const input = looped(5, (ms, index) => {
      const chunk = media[index % media.length] ?? new Uint8Array();
      if (!isVideoFrame(chunk) || isKeyframe(chunk)) return ms;
      video += 1;
      return video % 5 === 0 ? ms - 100 : ms; // before the frame it follows
    });
    const { events } = remux(input);
    expectMonotonic(events);
    // The last GOP starts where it does with the honest clock (it was ~1 s late after 5 loops when
    // each early frame's step back was added to the timeline instead of given back).
    const lastStart = (list: FragmenterEvent[]) => fragments(list).at(-1)?.startDecodeTimeMs ?? 0;
    const honest = lastStart(remux(looped(5, (ms) => ms)).events);
    expect(honest).toBeGreaterThan(4 * PERIOD_MS);
    expect(Math.abs(lastStart(events) - honest)).toBeLessThan(1);
  });

  it('keeps audio within two frames of the clock when the publisher clock runs 1 % slow', () => {
    const { events, remuxer } = remux(looped(10, (ms) => Math.round(ms * 0.99)));
    expectMonotonic(events);
    const out = fragments(events);
    const last = out.at(-1);
    const audio = last?.tracks.find((t) => t.trackId === 2);
    const videoEnd = (last?.startDecodeTimeMs ?? 0) + (last?.durationMs ?? 0);
    const audioEnd = (((audio?.baseMediaDecodeTime ?? 0) + (audio?.durationTicks ?? 0)) * 1000) / 16_000;
    expect(Math.abs(audioEnd - videoEnd)).toBeLessThan(2 * 64 + 70);
    expect(remuxer.dropped).toBeGreaterThan(1); // frames dropped to let the clock catch up
  });

  it('ends the publish when audio keeps coming with no video for twice the duration cap', () => {
    const input = looped(4, (ms) => ms).filter((chunk, index) => {
      const loop = Math.floor((index - 2 - configs.length) / media.length);
      return loop < 1 || !isVideoFrame(chunk); // video only in the first loop
    });
    const error = (() => {
      const remuxer = new FlvToFmp4({ creationTime, maxFragmentDurationMs: 2_000 });
      try {
        for (const chunk of input) remuxer.push(chunk);
      } catch (caught) {
        return caught;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(FlvTagError);
    expect(String(error)).toMatch(/audio kept coming without video/);
  });

  it('counts audio in the size cap', () => {
    const { events } = remux(
      looped(3, (ms) => ms),
      { maxFragmentBytes: 6_000 },
    );
    const out = fragments(events);
    expect(out.length).toBeGreaterThan(6);
    // Over the cap by at most the moof, never by a frame's worth of audio on top.
    for (const fragment of out) expect(fragment.byteLength).toBeLessThan(6_000 + 1_200);
  });

  it('ignores an empty sequence header mid-stream', () => {
    const emptyAvc = flvTag(VIDEO, 1_000, Uint8Array.from([0x17, 0, 0, 0, 0]));
    const emptyAac = flvTag(AUDIO, 1_000, Uint8Array.from([0xaf, 0]));
    const middle = Math.floor(chunks.length / 2);
    const { events } = remux([...chunks.slice(0, middle), emptyAvc, emptyAac, ...chunks.slice(middle)]);
    expect(comparable(events)).toEqual(comparable(remux(chunks).events));
  });

  it('leaves AAC object types other than Main/LC/LTP/HE to ffmpeg (AAC-LD: 512-sample frames)', () => {
    // AOT 23 (ER AAC LD), 48 kHz, stereo.
    const ld = flvTag(AUDIO, 0, Uint8Array.from([0xaf, 0, 0xb9, 0x90, 0x00]));
    expect(errorOf([header ?? new Uint8Array(), ld])).toBeInstanceOf(UnsupportedFlvMedia);
  });

  it('keeps an audio-only onMetaData in mind across later script tags', () => {
    const amfString = (text: string) => [0x02, 0, text.length, ...Buffer.from(text)];
    const metadata = flvTag(
      SCRIPT,
      0,
      Uint8Array.from([...amfString('onMetaData'), 0x08, 0, 0, 0, 0, 0, 0, 9]),
    );
    const cuePoint = flvTag(SCRIPT, 0, Uint8Array.from([...amfString('onCuePoint'), 0x05]));
    const aacConfig = configs.find((chunk) => parseFlvChunk(chunk).kind === 'aac');
    const aacFrame = media.find((chunk) => parseFlvChunk(chunk).kind === 'aac');
    const error = errorOf([
      header ?? new Uint8Array(),
      metadata,
      cuePoint,
      aacConfig ?? new Uint8Array(),
      aacFrame ?? new Uint8Array(),
    ]);
    expect(error).toBeInstanceOf(UnsupportedFlvMedia);
  });
});

import { describe, expect, it } from 'vitest';
import { FlvHeaderFlags } from '../../../src/media/flv/flv-header-flags.ts';

// NMS's FLV subscription stream, one header or tag per chunk, with the header declaring audio + video.

const header = () => Buffer.from([0x46, 0x4c, 0x56, 0x01, 0x05, 0, 0, 0, 0x09, 0, 0, 0, 0]);

/** An FLV tag (11-byte tag header, body, PreviousTagSize). */
function tag(type: number, body: number[] | Buffer): Buffer {
  const payload = Buffer.from(body);
  const head = Buffer.alloc(11);
  head.writeUInt8(type, 0);
  head.writeUIntBE(payload.length, 1, 3);
  const previous = Buffer.alloc(4);
  previous.writeUInt32BE(11 + payload.length);
  return Buffer.concat([head, payload, previous]);
}

const metadata = (...keys: string[]) => tag(18, Buffer.from(`onMetaData ${keys.join(' ')}`, 'latin1'));
const avcSequenceHeader = tag(9, [0x17, 0x00, 0, 0, 0, 1, 0x64]);
const avcKeyframe = tag(9, [0x17, 0x01, 0, 0, 0, 0, 0, 0, 1, 0x65]);
const aacSequenceHeader = tag(8, [0xaf, 0x00, 0x12, 0x10]);
const aacFrame = tag(8, [0xaf, 0x01, 1, 2, 3]);

function run(chunks: Buffer[]): Buffer[] {
  const out: Buffer[] = [];
  const flags = new FlvHeaderFlags((chunk) => out.push(chunk));
  for (const chunk of chunks) flags.push(chunk);
  return out;
}

describe('FlvHeaderFlags', () => {
  it('declares video only for a publisher without audio, and holds nothing back after the first frame', () => {
    const input = [header(), metadata('width', 'videocodecid'), avcSequenceHeader, avcKeyframe];
    const out = run(input);
    expect(out).toHaveLength(input.length);
    expect(out[0]?.[4]).toBe(0x01);
    expect(out.slice(1)).toEqual(input.slice(1));
  });

  it('holds chunks until the first media frame', () => {
    const out: Buffer[] = [];
    const flags = new FlvHeaderFlags((chunk) => out.push(chunk));
    flags.push(header());
    flags.push(metadata('videocodecid', 'audiocodecid'));
    flags.push(avcSequenceHeader);
    flags.push(aacSequenceHeader);
    expect(out).toEqual([]);
    flags.push(aacFrame);
    expect(out).toHaveLength(5);
    expect(out[0]?.[4]).toBe(0x05);
    flags.push(avcKeyframe);
    expect(out.at(-1)).toEqual(avcKeyframe);
  });

  it('declares audio from onMetaData even when the first frame is video', () => {
    const out = run([header(), metadata('videocodecid', 'audiocodecid'), avcSequenceHeader, avcKeyframe]);
    expect(out[0]?.[4]).toBe(0x05);
  });

  it('declares audio only for an audio-only publisher', () => {
    const out = run([header(), metadata('audiocodecid'), aacSequenceHeader, aacFrame]);
    expect(out[0]?.[4]).toBe(0x04);
  });

  it('treats an enhanced-RTMP sequence start as a header and a coded frame as a frame', () => {
    const out = run([
      header(),
      tag(9, [0x90, 0x68, 0x76, 0x63, 0x31]),
      tag(9, [0x91, 0x68, 0x76, 0x63, 0x31]),
    ]);
    expect(out).toHaveLength(3);
    expect(out[0]?.[4]).toBe(0x01);
  });

  it('passes a stream that does not start with an FLV header through untouched', () => {
    const input = [avcKeyframe, header()];
    expect(run(input)).toEqual(input);
  });

  it('sends the header as it came after 64 tags without a media frame', () => {
    const input = [header(), ...Array.from({ length: 65 }, () => metadata())];
    const out = run(input);
    expect(out).toHaveLength(input.length);
    expect(out[0]?.[4]).toBe(0x05);
  });
});

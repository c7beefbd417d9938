import { randomBytes } from 'node:crypto';
import { crc32, gunzipSync, inflateRawSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { compress } from '../../../src/firehose/index.ts';
import { crc32c } from '../../../src/firehose/snappy.ts';
import { snappyDecodeBlock, snappyDecodeFramed } from './snappy-reader.ts';

const json = Buffer.from(
  Array.from(
    { length: 5_000 },
    (_, i) => `${JSON.stringify({ id: i, name: `user-${i % 37}`, ok: i % 3 === 0 })}\n`,
  ).join(''),
);
const samples: Record<string, Buffer> = {
  empty: Buffer.alloc(0),
  tiny: Buffer.from('abc'),
  json,
  random: randomBytes(200_000),
  runs: Buffer.alloc(150_000, 'a'),
};

describe('compress', () => {
  it('GZIP round-trips', async () => {
    for (const data of Object.values(samples))
      expect(gunzipSync(await compress('GZIP', data, 'x'))).toEqual(data);
  });

  it('Snappy writes the framing format with masked CRC-32C per chunk of at most 64 KiB', async () => {
    for (const data of Object.values(samples)) {
      const framed = await compress('Snappy', data, 'x');
      const { data: decoded, checksums } = snappyDecodeFramed(framed);
      expect(decoded).toEqual(data);
      expect(checksums).toHaveLength(Math.ceil(data.length / 65_536));
      const first = data.subarray(0, 65_536);
      if (data.length > 0) {
        const crc = crc32c(first);
        expect(checksums[0]).toBe((((crc >>> 15) | (crc << 17)) + 0xa282ead8) >>> 0);
      }
    }
    expect((await compress('Snappy', json, 'x')).length).toBeLessThan(json.length / 3);
  });

  it('HADOOP_SNAPPY writes big-endian block and chunk lengths around raw Snappy', async () => {
    for (const data of Object.values(samples)) {
      const stream = await compress('HADOOP_SNAPPY', data, 'x');
      const parts: Buffer[] = [];
      let pos = 0;
      while (pos < stream.length) {
        const rawLength = stream.readUInt32BE(pos);
        const chunkLength = stream.readUInt32BE(pos + 4);
        const block = snappyDecodeBlock(stream.subarray(pos + 8, pos + 8 + chunkLength));
        expect(block.length).toBe(rawLength);
        parts.push(block);
        pos += 8 + chunkLength;
      }
      expect(Buffer.concat(parts)).toEqual(data);
    }
  });

  it('ZIP holds one deflated entry with the right CRC and sizes', async () => {
    const zip = await compress('ZIP', json, 'stream-1-2026-01-01-00-00-00-uuid');
    expect(zip.readUInt32LE(0)).toBe(0x04034b50);
    const nameLength = zip.readUInt16LE(26);
    const compressedSize = zip.readUInt32LE(18);
    expect(zip.subarray(30, 30 + nameLength).toString()).toBe('stream-1-2026-01-01-00-00-00-uuid');
    expect(zip.readUInt32LE(22)).toBe(json.length);
    const data = inflateRawSync(zip.subarray(30 + nameLength, 30 + nameLength + compressedSize));
    expect(data).toEqual(json);
    expect(zip.readUInt32LE(14)).toBe(crc32(json) >>> 0);
    const end = zip.subarray(zip.length - 22);
    expect(end.readUInt32LE(0)).toBe(0x06054b50);
    expect(zip.readUInt32LE(end.readUInt32LE(16))).toBe(0x02014b50);
  });

  it('UNCOMPRESSED is the bytes as they are', async () => {
    expect(await compress('UNCOMPRESSED', json, 'x')).toBe(json);
  });
});

describe('crc32c', () => {
  it('matches the RFC 3720 check value', () => {
    expect(crc32c(Buffer.from('123456789'))).toBe(0xe3069283);
  });
});

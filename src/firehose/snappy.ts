// Snappy compression, pure TypeScript: the raw block format
// (https://github.com/google/snappy/blob/main/format_description.txt), the framing format Firehose's
// `Snappy` writes (framing_format.txt) and Hadoop's block stream (`HADOOP_SNAPPY`).

const BLOCK_BYTES = 65_536;
const HASH_BITS = 14;
const MIN_MATCH = 4;

/** Raw Snappy block of `input`: varint length, then literals and copies (offsets < 64 KiB). */
export function snappyCompressBlock(input: Buffer): Buffer {
  const out: Buffer[] = [varint(input.length)];
  for (let start = 0; start < input.length; start += BLOCK_BYTES) {
    out.push(compressFragment(input.subarray(start, Math.min(input.length, start + BLOCK_BYTES))));
  }
  return Buffer.concat(out);
}

/** The Snappy framing format: stream identifier, then compressed chunks with masked CRC-32C. */
export function snappyFrame(input: Buffer): Buffer {
  const out: Buffer[] = [Buffer.from([0xff, 0x06, 0x00, 0x00, 0x73, 0x4e, 0x61, 0x50, 0x70, 0x59])];
  for (let start = 0; start < input.length; start += BLOCK_BYTES) {
    const chunk = input.subarray(start, Math.min(input.length, start + BLOCK_BYTES));
    const compressed = snappyCompressBlock(chunk);
    const header = Buffer.alloc(8);
    const length = compressed.length + 4;
    header[0] = 0x00;
    header.writeUIntLE(length, 1, 3);
    header.writeUInt32LE(maskedCrc32c(chunk), 4);
    out.push(header, compressed);
  }
  return Buffer.concat(out);
}

/** Hadoop's SnappyCodec stream: per block, big-endian raw length, then big-endian chunk length + chunk. */
export function hadoopSnappy(input: Buffer, blockBytes = 256 * 1024): Buffer {
  const out: Buffer[] = [];
  for (let start = 0; start < input.length; start += blockBytes) {
    const block = input.subarray(start, Math.min(input.length, start + blockBytes));
    const compressed = snappyCompressBlock(block);
    const header = Buffer.alloc(8);
    header.writeUInt32BE(block.length, 0);
    header.writeUInt32BE(compressed.length, 4);
    out.push(header, compressed);
  }
  return Buffer.concat(out);
}

/** Greedy LZ77 over one ≤64 KiB fragment with a 4-byte hash table. */
function compressFragment(input: Buffer): Buffer {
  // Worst case (all literals): the bytes plus a 3-byte tag per 64 KiB; copies are never longer.
  const out = new FragmentWriter(input.length + 16);
  const table = new Int32Array(1 << HASH_BITS).fill(-1);
  let literalStart = 0;
  let i = 0;
  const limit = input.length - MIN_MATCH;
  while (i <= limit) {
    const word = input.readUInt32LE(i);
    const h = Math.imul(word, 0x1e35a7bd) >>> (32 - HASH_BITS);
    const candidate = table[h] ?? -1;
    table[h] = i;
    if (candidate >= 0 && input.readUInt32LE(candidate) === word) {
      let length = MIN_MATCH;
      while (i + length < input.length && input[candidate + length] === input[i + length]) length++;
      out.literal(input, literalStart, i);
      out.copy(i - candidate, length);
      i += length;
      literalStart = i;
    } else {
      i++;
    }
  }
  out.literal(input, literalStart, input.length);
  return out.result();
}

/** Appends Snappy elements to a preallocated buffer. */
class FragmentWriter {
  readonly #out: Buffer;
  #pos = 0;

  constructor(capacity: number) {
    this.#out = Buffer.allocUnsafe(capacity);
  }

  literal(input: Buffer, start: number, end: number): void {
    const length = end - start;
    if (length === 0) return;
    const n = length - 1;
    const out = this.#out;
    if (n < 60) out[this.#pos++] = n << 2;
    else if (n < 0x100) {
      out[this.#pos++] = 60 << 2;
      out[this.#pos++] = n;
    } else {
      out[this.#pos++] = 61 << 2;
      out.writeUInt16LE(n, this.#pos);
      this.#pos += 2;
    }
    this.#pos += input.copy(out, this.#pos, start, end);
  }

  copy(offset: number, length: number): void {
    const out = this.#out;
    let rest = length;
    while (rest > 0) {
      // Keep at least 4 bytes for a final copy: copies carry 1..64 bytes, short ones 4..11.
      let n = Math.min(rest, 64);
      if (rest - n > 0 && rest - n < 4) n = rest - 4;
      if (n >= 4 && n <= 11 && offset < 2048) {
        out[this.#pos++] = 0x01 | ((n - 4) << 2) | ((offset >> 8) << 5);
        out[this.#pos++] = offset & 0xff;
      } else {
        out[this.#pos++] = 0x02 | ((n - 1) << 2);
        out.writeUInt16LE(offset, this.#pos);
        this.#pos += 2;
      }
      rest -= n;
    }
  }

  result(): Buffer {
    return this.#out.subarray(0, this.#pos);
  }
}

function varint(value: number): Buffer {
  const bytes: number[] = [];
  let v = value;
  while (v >= 0x80) {
    bytes.push((v & 0x7f) | 0x80);
    v = Math.floor(v / 128);
  }
  bytes.push(v);
  return Buffer.from(bytes);
}

const CRC32C_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** CRC-32C (Castagnoli). */
export function crc32c(data: Buffer): number {
  let crc = 0xffffffff;
  for (const byte of data) crc = (CRC32C_TABLE[(crc ^ byte) & 0xff] as number) ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

/** The framing format's masked checksum. */
function maskedCrc32c(data: Buffer): number {
  const crc = crc32c(data);
  return (((crc >>> 15) | (crc << 17)) + 0xa282ead8) >>> 0;
}

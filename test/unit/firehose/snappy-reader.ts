// A Snappy decoder written from format_description.txt for the tests only: it checks what the encoder
// emits without trusting the encoder's own code.

/** Decodes one raw Snappy block. */
export function snappyDecodeBlock(input: Buffer): Buffer {
  let pos = 0;
  let length = 0;
  let shift = 0;
  for (;;) {
    const byte = input[pos++] as number;
    length += (byte & 0x7f) * 2 ** shift;
    shift += 7;
    if (byte < 0x80) break;
  }
  const out = Buffer.alloc(length);
  let o = 0;
  while (pos < input.length) {
    const tag = input[pos++] as number;
    const type = tag & 3;
    if (type === 0) {
      let n = tag >> 2;
      if (n >= 60) {
        const bytes = n - 59;
        n = input.readUIntLE(pos, bytes);
        pos += bytes;
      }
      n += 1;
      input.copy(out, o, pos, pos + n);
      pos += n;
      o += n;
      continue;
    }
    let len: number;
    let offset: number;
    if (type === 1) {
      len = ((tag >> 2) & 7) + 4;
      offset = ((tag >> 5) << 8) | (input[pos++] as number);
    } else if (type === 2) {
      len = (tag >> 2) + 1;
      offset = input.readUInt16LE(pos);
      pos += 2;
    } else {
      len = (tag >> 2) + 1;
      offset = input.readUInt32LE(pos);
      pos += 4;
    }
    if (offset === 0 || offset > o) throw new Error(`bad copy offset ${offset} at output ${o}`);
    for (let i = 0; i < len; i++, o++) out[o] = out[o - offset] as number;
  }
  if (o !== length) throw new Error(`decoded ${o} bytes, header said ${length}`);
  return out;
}

/** Decodes the framing format (compressed and uncompressed chunks), checking the stream identifier. */
export function snappyDecodeFramed(input: Buffer): { data: Buffer; checksums: number[] } {
  if (!input.subarray(0, 10).equals(Buffer.from([0xff, 6, 0, 0, 0x73, 0x4e, 0x61, 0x50, 0x70, 0x59]))) {
    throw new Error('missing stream identifier');
  }
  const parts: Buffer[] = [];
  const checksums: number[] = [];
  let pos = 10;
  while (pos < input.length) {
    const type = input[pos] as number;
    const length = input.readUIntLE(pos + 1, 3);
    const body = input.subarray(pos + 4, pos + 4 + length);
    if (type === 0x00) {
      checksums.push(body.readUInt32LE(0));
      parts.push(snappyDecodeBlock(body.subarray(4)));
    } else if (type === 0x01) {
      checksums.push(body.readUInt32LE(0));
      parts.push(body.subarray(4));
    } else throw new Error(`unexpected chunk type ${type}`);
    pos += 4 + length;
  }
  return { data: Buffer.concat(parts), checksums };
}

import { Mp4ParseError } from './mp4-parse-error.ts';

/** One box inside an in-memory buffer (ISO/IEC 14496-12 §4.2): payload spans [start, end). */
export interface ChildBox {
  type: string;
  /** Offset of the payload (after the size/type/largesize header) in the parent buffer. */
  start: number;
  end: number;
}

/** Four ASCII bytes as a box type. */
export function fourCc(bytes: Uint8Array, offset: number): string {
  return String.fromCharCode(
    bytes[offset] ?? 0,
    bytes[offset + 1] ?? 0,
    bytes[offset + 2] ?? 0,
    bytes[offset + 3] ?? 0,
  );
}

/** Bounds-checked big-endian reads over [start, end) of a buffer; overruns throw Mp4ParseError. */
export class BoxCursor {
  readonly #view: DataView;
  readonly #end: number;
  readonly #what: string;
  offset: number;

  constructor(bytes: Uint8Array, start: number, end: number, what: string) {
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.offset = start;
    this.#end = end;
    this.#what = what;
  }

  get remaining(): number {
    return this.#end - this.offset;
  }

  #need(n: number): number {
    if (this.offset + n > this.#end) {
      throw new Mp4ParseError('malformed', `'${this.#what}' box is too short`);
    }
    const at = this.offset;
    this.offset += n;
    return at;
  }

  skip(n: number): void {
    this.#need(n);
  }
  u8(): number {
    return this.#view.getUint8(this.#need(1));
  }
  u16(): number {
    return this.#view.getUint16(this.#need(2));
  }
  u32(): number {
    return this.#view.getUint32(this.#need(4));
  }
  /** A 64-bit unsigned value; above Number.MAX_SAFE_INTEGER is rejected. */
  u64(): number {
    const value = this.#view.getBigUint64(this.#need(8));
    if (value > BigInt(Number.MAX_SAFE_INTEGER)) {
      throw new Mp4ParseError('unsupported', `'${this.#what}' holds a 64-bit value above 2^53`);
    }
    return Number(value);
  }
  /** FullBox header: version (8 bits) and flags (24 bits). */
  fullBox(): { version: number; flags: number } {
    const word = this.u32();
    return { version: word >>> 24, flags: word & 0xffffff };
  }
}

/** The boxes directly inside [start, end) of a buffer; a child overrunning its parent throws. */
export function childBoxes(bytes: Uint8Array, start: number, end: number, parent: string): ChildBox[] {
  const boxes: ChildBox[] = [];
  let offset = start;
  while (offset < end) {
    const cursor = new BoxCursor(bytes, offset, end, parent);
    let size = cursor.u32();
    const type = fourCc(bytes, cursor.offset);
    cursor.skip(4);
    if (size === 1) size = cursor.u64();
    else if (size === 0) size = end - offset;
    const payloadStart = cursor.offset;
    if (size < payloadStart - offset || offset + size > end) {
      throw new Mp4ParseError('malformed', `'${type}' box inside '${parent}' has invalid size ${size}`);
    }
    boxes.push({ type, start: payloadStart, end: offset + size });
    offset += size;
  }
  return boxes;
}

/** The first child of the given type, or undefined. */
export function findChild(
  bytes: Uint8Array,
  box: ChildBox,
  type: string,
  parent: string,
): ChildBox | undefined {
  return childBoxes(bytes, box.start, box.end, parent).find((child) => child.type === type);
}

/** The parts copied into one new buffer. */
export function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.byteLength, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.byteLength;
  }
  return out;
}

import { fourCc } from './box-view.ts';
import { Mp4ParseError } from './mp4-parse-error.ts';

/** Top-level box types accepted in a fragmented MP4 stream (ISO/IEC 14496-12); anything else is garbage. */
export const TOP_LEVEL_BOX_TYPES: ReadonlySet<string> = new Set([
  'ftyp',
  'styp',
  'moov',
  'moof',
  'mdat',
  'mfra',
  'free',
  'skip',
  'wide',
  'sidx',
  'ssix',
  'emsg',
  'prft',
  'uuid',
  'meta',
  'pdin',
]);

/** One complete top-level box: its own copy of the bytes, header included. */
export interface TopLevelBox {
  type: string;
  /** Absolute offset of the box in the pushed stream. */
  streamOffset: number;
  bytes: Uint8Array;
}

interface PendingHeader {
  type: string;
  size: number;
}

/**
 * Splits a growing byte stream into top-level boxes. Chunks are queued, not concatenated, and each
 * byte is copied once (into its box), so the work is linear whatever the chunking. A header is
 * validated as soon as it is complete, so a box larger than `maxBoxBytes` is refused before buffering.
 */
export class BoxReader {
  readonly #maxBoxBytes: number;
  readonly #chunks: Uint8Array[] = [];
  /** Read position inside #chunks[0]. */
  #head = 0;
  #buffered = 0;
  #streamOffset = 0;
  #pending: PendingHeader | undefined;

  constructor(maxBoxBytes: number) {
    this.#maxBoxBytes = maxBoxBytes;
  }

  /** Bytes pushed but not yet returned as a box. */
  get bufferedBytes(): number {
    return this.#buffered;
  }

  /** Type of the box whose bytes are buffered, when its header is complete. */
  get pendingType(): string | undefined {
    return this.#pending?.type;
  }

  push(chunk: Uint8Array): void {
    if (chunk.byteLength === 0) return;
    this.#chunks.push(chunk);
    this.#buffered += chunk.byteLength;
  }

  /** The next complete box, or undefined until more bytes arrive. Throws Mp4ParseError on a bad header. */
  next(): TopLevelBox | undefined {
    if (this.#pending === undefined) {
      if (this.#buffered < 8) return undefined;
      const header = this.#peek(8);
      const size32 = new DataView(header.buffer).getUint32(0);
      const type = fourCc(header, 4);
      let size = size32;
      if (size32 === 1) {
        if (this.#buffered < 16) return undefined;
        const large = new DataView(this.#peek(16).buffer).getBigUint64(8);
        size = large > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(large);
        if (size < 16) this.#fail('box-too-small', `'${printable(type)}' box has largesize ${size} (< 16)`);
      } else if (size32 === 0) {
        this.#fail(
          'unsupported',
          `'${printable(type)}' box has size 0 (to end of file), which a stream cannot use`,
        );
      } else if (size32 < 8) {
        this.#fail('box-too-small', `box '${printable(type)}' has size ${size32} (< 8)`);
      }
      if (!TOP_LEVEL_BOX_TYPES.has(type)) {
        this.#fail('unknown-box', `unknown top-level box '${printable(type)}' (size ${size})`);
      }
      if (size > this.#maxBoxBytes) {
        this.#fail('box-too-large', `'${type}' box claims ${size} bytes (limit ${this.#maxBoxBytes})`);
      }
      this.#pending = { type, size };
    }
    const { type, size } = this.#pending;
    if (this.#buffered < size) return undefined;
    const box: TopLevelBox = { type, streamOffset: this.#streamOffset, bytes: this.#take(size) };
    this.#pending = undefined;
    this.#streamOffset += size;
    return box;
  }

  #fail(reason: 'box-too-small' | 'box-too-large' | 'unknown-box' | 'unsupported', message: string): never {
    throw new Mp4ParseError(reason, message, this.#streamOffset);
  }

  #peek(n: number): Uint8Array {
    const out = new Uint8Array(n);
    this.#copy(out, false);
    return out;
  }

  #take(n: number): Uint8Array {
    const out = new Uint8Array(n);
    this.#copy(out, true);
    this.#buffered -= n;
    return out;
  }

  /** Fills `out` from the queue head; when `consume`, drops what was copied. */
  #copy(out: Uint8Array, consume: boolean): void {
    let written = 0;
    let index = 0;
    let head = this.#head;
    while (written < out.byteLength) {
      const chunk = this.#chunks[index];
      if (chunk === undefined) throw new Error('BoxReader: queue shorter than its byte count');
      const n = Math.min(chunk.byteLength - head, out.byteLength - written);
      out.set(chunk.subarray(head, head + n), written);
      written += n;
      head += n;
      if (head === chunk.byteLength) {
        index += 1;
        head = 0;
      }
    }
    if (consume) {
      this.#chunks.splice(0, index);
      this.#head = head;
    }
  }
}

/** A box type for an error message: printable ASCII as is, anything else as hex. */
function printable(type: string): string {
  return /^[\x20-\x7e]{4}$/.test(type)
    ? type
    : `0x${[...type].map((c) => c.charCodeAt(0).toString(16).padStart(2, '0')).join('')}`;
}

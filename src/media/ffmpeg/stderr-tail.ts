/** Keeps only the last `maxBytes` bytes written to it: bounded capture of a child's stderr. */
export class StderrTail {
  readonly #maxBytes: number;
  #chunks: Buffer[] = [];
  #bytes = 0;

  constructor(maxBytes = 8 * 1024) {
    this.#maxBytes = maxBytes;
  }

  /** Appends `chunk`, dropping the oldest bytes beyond the limit. */
  push(chunk: Buffer): void {
    const kept =
      chunk.byteLength > this.#maxBytes ? chunk.subarray(chunk.byteLength - this.#maxBytes) : chunk;
    this.#chunks.push(kept);
    this.#bytes += kept.byteLength;
    while (this.#bytes > this.#maxBytes) {
      const first = this.#chunks[0];
      if (first === undefined) break;
      const excess = this.#bytes - this.#maxBytes;
      if (first.byteLength <= excess) {
        this.#chunks.shift();
        this.#bytes -= first.byteLength;
      } else {
        this.#chunks[0] = first.subarray(excess);
        this.#bytes -= excess;
      }
    }
  }

  /** The retained bytes as UTF-8 text, trimmed. */
  text(): string {
    return Buffer.concat(this.#chunks).toString('utf8').trim();
  }
}

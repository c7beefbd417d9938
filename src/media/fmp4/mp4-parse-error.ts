/** Why a byte stream was rejected as fragmented MP4. */
export type Mp4ParseErrorReason =
  | 'box-too-small'
  | 'box-too-large'
  | 'unknown-box'
  | 'malformed'
  | 'unexpected-box'
  | 'unsupported';

/** A malformed or unsupported fMP4 stream; the fragmenter that threw it is failed for good. */
export class Mp4ParseError extends Error {
  override name = 'Mp4ParseError';
  readonly reason: Mp4ParseErrorReason;
  /** Absolute byte offset in the pushed stream of the offending box, when known. */
  readonly streamOffset: number | undefined;

  constructor(reason: Mp4ParseErrorReason, message: string, streamOffset?: number, options?: ErrorOptions) {
    super(streamOffset === undefined ? message : `${message} (at stream byte ${streamOffset})`, options);
    this.reason = reason;
    this.streamOffset = streamOffset;
  }
}

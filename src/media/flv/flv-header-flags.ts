// node-media-server 4.4.3 starts every FLV subscription with a header that declares audio AND
// video (`Flv.createHeader(true, true)` in broadcast_server.js). ffmpeg's FLV demuxer then waits for
// the declared audio track, so for a video-only publisher the remux writes nothing until the publish
// ends (or until its probe size is used up). FlvHeaderFlags holds the header back until the first
// media frame and sets the flags to the tracks the publisher really has.

import { FLV_CODEC_AVC, FLV_SOUND_AAC, FLV_TAG, FLV_TAG_HEADER_BYTES } from './flv-tag.ts';

const FLV_HEADER_BYTES = 13; // 9-byte header + PreviousTagSize0
const FLAG_AUDIO = 0x04;
const FLAG_VIDEO = 0x01;
/** Tags held before the first media frame beyond which the header is sent as it came. */
const MAX_HELD_TAGS = 64;

/**
 * Rewrites the type flags of an FLV header stream delivered one header or tag per chunk (as NMS's
 * FLV sessions deliver it): chunks are held until the first audio or video frame that is not a
 * sequence header, then the header goes out with flags for the tracks seen so far or named in
 * onMetaData (`audiocodecid`, `videocodecid`), followed by the held chunks. Pure: bytes in, bytes out.
 */
export class FlvHeaderFlags {
  readonly #onData: (chunk: Buffer) => void;
  #header: Buffer | undefined;
  #held: Buffer[] = [];
  #released = false;
  #audio = false;
  #video = false;

  constructor(onData: (chunk: Buffer) => void) {
    this.#onData = onData;
  }

  /** Takes the next chunk: the FLV header first, then one tag per chunk. */
  push(chunk: Buffer): void {
    if (this.#released) {
      this.#onData(chunk);
    } else if (this.#header === undefined) {
      if (chunk.length === FLV_HEADER_BYTES && chunk.subarray(0, 3).toString('latin1') === 'FLV') {
        this.#header = Buffer.from(chunk);
      } else {
        this.#release(); // not the expected shape: pass everything through untouched
        this.#onData(chunk);
      }
    } else {
      this.#held.push(chunk);
      if (this.#isFirstFrame(chunk) || this.#held.length > MAX_HELD_TAGS) this.#release();
    }
  }

  #isFirstFrame(tag: Buffer): boolean {
    const type = (tag[0] ?? 0) & 0x1f;
    const body = tag.subarray(FLV_TAG_HEADER_BYTES);
    if (type === FLV_TAG.script) {
      if (body.includes('audiocodecid')) this.#audio = true;
      if (body.includes('videocodecid')) this.#video = true;
      return false;
    }
    if (type === FLV_TAG.audio) {
      this.#audio = true;
      const aacSequenceHeader = (body[0] ?? 0) >> 4 === FLV_SOUND_AAC && body[1] === 0;
      return !aacSequenceHeader;
    }
    if (type === FLV_TAG.video) {
      this.#video = true;
      const first = body[0] ?? 0;
      const exHeader = (first & 0x80) !== 0; // enhanced RTMP: PacketType in the low nibble, 0 = sequence start
      const sequenceHeader = exHeader
        ? (first & 0x0f) === 0
        : (first & 0x0f) === FLV_CODEC_AVC && body[1] === 0;
      return !sequenceHeader;
    }
    return false;
  }

  #release(): void {
    this.#released = true;
    const header = this.#header;
    if (header !== undefined) {
      if (this.#audio || this.#video) {
        header[4] = (this.#audio ? FLAG_AUDIO : 0) | (this.#video ? FLAG_VIDEO : 0);
      }
      this.#onData(header);
    }
    for (const chunk of this.#held.splice(0)) this.#onData(chunk);
  }
}

import { createHash } from 'node:crypto';
import { type AacConfig, parseAacConfig } from '../codecs/aac-config.ts';
import { type AvcConfig, parseAvcConfig } from '../codecs/avc-config.ts';
import {
  type WriterRun,
  type WriterSample,
  type WriterTrack,
  writeFragment,
  writeInitSegment,
} from '../fmp4/fmp4-writer.ts';
import {
  FRAGMENTER_DEFAULTS,
  type FragmentEvent,
  type FragmenterEvent,
  type FragmenterOptions,
  type FragmentTrack,
} from '../fmp4/fragmenter-events.ts';
import { describeInitSegment } from '../fmp4/init-segment.ts';
import { FLV_CODEC_AVC, FLV_SOUND_AAC, FlvTagError, parseFlvChunk } from './flv-tag.ts';

/** The publish carries a codec this remuxer does not handle; ffmpeg has to (see FlvSource). */
export class UnsupportedFlvMedia extends Error {
  override name = 'UnsupportedFlvMedia';
}

/** Options of FlvToFmp4: the fragment caps, and the session start written into the init segment. */
export interface FlvToFmp4Options extends FragmenterOptions {
  creationTime: Date;
  /** Audio frames before any video beyond which the publish counts as audio-only (unsupported). */
  maxAudioFramesBeforeVideo?: number;
}

const VIDEO_TRACK_ID = 1;
const AUDIO_TRACK_ID = 2;
const VIDEO_TIMESCALE = 90_000;
const TICKS_PER_MS = VIDEO_TIMESCALE / 1000;
/** Duration given to a last video frame whose successor never came (one frame at 30 fps). */
const FALLBACK_FRAME_MS = 33;
/** AAC Main, LC, LTP and HE-AAC v1/v2: 1024-sample frames (960 when signalled). Others go to ffmpeg. */
const REMUXED_AUDIO_OBJECT_TYPES: ReadonlySet<number> = new Set([1, 2, 4, 5, 29]);
/** A video timestamp step longer than this is a gap: the fragment is cut and the next starts there. */
const TIMESTAMP_JUMP_MS = 5000;
/** An audio timestamp this far ahead of the running sample count restarts the count (a gap). */
const AUDIO_GAP_MS = 100;

interface PendingVideo {
  /** On the session timeline, in 90 kHz ticks. */
  decodeTime: number;
  ctsMs: number;
  keyframe: boolean;
  data: Uint8Array;
}

interface AudioSample extends WriterSample {
  /** In the track's timescale (the AAC sample rate). */
  decodeTime: number;
}

/**
 * Remuxes an H.264 + AAC FLV tag stream (as node-media-server delivers it) straight to the events
 * Fmp4Fragmenter produces from ffmpeg's fMP4: an init segment per codec configuration (versioned by
 * content hash; `creationTime` makes each session's distinct) and one fragment per GOP (cut at the
 * next keyframe, or by the duration/size caps as a continuation). Pure and synchronous.
 *
 * Timelines: FLV timestamps are unwrapped (32-bit ms) and mapped onto one session timeline that
 * never goes backwards: a clock reset shifts the mapping so the next frame follows the last, a
 * forward step over 5 s is a gap (the fragment is cut, the next starts there). Video decode times are
 * the mapped timestamps in 90 kHz ticks, clamped to increase (each frame lasts until the next); audio
 * is counted in whole AAC frames (1024 or 960 samples) in its sample rate, restarted after a gap, and
 * a frame is dropped when the count runs two frames ahead of the clock (publisher clock skew).
 * Media before the first keyframe cannot be decoded and is dropped; audio that keeps coming while
 * video has stopped for 2× the duration cap ends the publish (it could never be cut into fragments).
 * A codec other than H.264/AAC, or a publish without video, throws UnsupportedFlvMedia; malformed
 * tags, codec configurations and NAL unit framing throw FlvTagError or RangeError.
 */
export class FlvToFmp4 {
  readonly #maxDurationTicks: number;
  readonly #maxBytes: number;
  readonly #maxAudioFramesBeforeVideo: number;
  readonly #creationTime: Date;
  #avc: AvcConfig | undefined;
  #aac: AacConfig | undefined;
  /** Set when the configurations differ from the last init segment: a new one goes out at the next keyframe. */
  #configChanged = false;
  #init: { version: string; video: AvcConfig; audio: AacConfig | undefined } | undefined;
  #metadataSaysNoVideo = false;
  #audioFramesBeforeVideo = 0;
  #sequenceNumber = 0;
  /** Dropped frames: before the first keyframe, or of a track not in the current init. */
  dropped = 0;

  // The fragment being assembled.
  #video: WriterSample[] = [];
  #videoStart = 0;
  #videoNext = 0;
  #videoBytes = 0;
  #startsWithKeyframe = false;
  #pending: PendingVideo | undefined;
  #lastVideoDurationTicks = FALLBACK_FRAME_MS * TICKS_PER_MS;
  #audio: AudioSample[] = [];
  #audioBytes = 0;
  #audioNext: number | undefined;
  /** Session time (ticks) of the keyframe the audio track's current init started at. */
  #audioStartTicks = 0;
  // FLV time → session time: the last raw timestamp, whole 2^32 ms wraps, and the reset shift.
  #lastRawMs: number | undefined;
  #wrapMs = 0;
  #shiftMs = 0;

  constructor(options: FlvToFmp4Options) {
    this.#maxDurationTicks =
      (options.maxFragmentDurationMs ?? FRAGMENTER_DEFAULTS.maxFragmentDurationMs) * TICKS_PER_MS;
    this.#maxBytes = options.maxFragmentBytes ?? FRAGMENTER_DEFAULTS.maxFragmentBytes;
    this.#maxAudioFramesBeforeVideo = options.maxAudioFramesBeforeVideo ?? 100;
    this.#creationTime = options.creationTime;
  }

  /** Media held for the fragment being assembled (video and audio). */
  get bufferedBytes(): number {
    return this.#videoBytes + (this.#pending?.data.byteLength ?? 0) + this.#audioBytes;
  }

  /** True once an init segment went out: from then on this remuxer owns the publish. */
  get started(): boolean {
    return this.#init !== undefined;
  }

  /** Takes one chunk (the FLV header or one tag); returns the events it completes. */
  push(chunk: Uint8Array): FragmenterEvent[] {
    const tag = parseFlvChunk(chunk);
    const events: FragmenterEvent[] = [];
    switch (tag.kind) {
      case 'script':
        // onMetaData of an audio-only publisher names no video codec.
        if (this.#init === undefined) {
          const text = Buffer.from(tag.data.buffer, tag.data.byteOffset, tag.data.byteLength);
          if (!text.includes('onMetaData')) break; // cue points, onTextData...
          this.#metadataSaysNoVideo = !text.includes('videocodecid');
          // A publisher's first audio tag may come after the first keyframe (ffmpeg interleaves by
          // time, and MP3 has no sequence header to come first): the codecs onMetaData names are
          // known before any init, while the publish can still go to ffmpeg.
          const audioCodec = metadataNumber(text, 'audiocodecid');
          if (audioCodec !== undefined && audioCodec !== FLV_SOUND_AAC) {
            throw new UnsupportedFlvMedia(`FLV sound format ${audioCodec} (onMetaData) is not AAC`);
          }
          const videoCodec = metadataNumber(text, 'videocodecid');
          if (videoCodec !== undefined && videoCodec !== FLV_CODEC_AVC) {
            throw new UnsupportedFlvMedia(`FLV video codec ${videoCodec} (onMetaData) is not H.264`);
          }
        }
        break;
      case 'other-video':
        throw new UnsupportedFlvMedia(`FLV video codec ${tag.codec} is not H.264`);
      case 'other-audio':
        throw new UnsupportedFlvMedia(`FLV sound format ${tag.codec} is not AAC`);
      case 'avc':
        this.#onVideo(tag, events);
        break;
      case 'aac':
        this.#onAudio(tag);
        break;
      default:
        break;
    }
    return events;
  }

  /** The publish ended: the last fragment, its final frame lasting as long as the one before. */
  end(): FragmenterEvent[] {
    const events: FragmenterEvent[] = [];
    if (this.#pending) this.#appendPending(this.#lastVideoDurationTicks);
    this.#cut(Number.POSITIVE_INFINITY, events);
    return events;
  }

  #onVideo(
    tag: { packetType: number; keyframe: boolean; dtsMs: number; ctsMs: number; data: Uint8Array },
    events: FragmenterEvent[],
  ): void {
    if (tag.packetType === 0) {
      if (tag.data.byteLength === 0) return; // an empty sequence header says nothing
      const avc = parseAvcConfig(Uint8Array.from(tag.data));
      if (!this.#avc || !sameBytes(this.#avc.record, avc.record)) {
        this.#avc = avc;
        this.#configChanged = this.#init !== undefined;
      }
      return;
    }
    if (tag.packetType !== 1 || tag.data.byteLength === 0) return; // end of sequence, empty frames
    if (this.#avc === undefined) {
      this.dropped += 1; // undecodable until the sequence header comes
      return;
    }
    checkNalFraming(tag.data, this.#avc.nalLengthSize);
    let decodeTime = this.#sessionMs(tag.dtsMs) * TICKS_PER_MS;
    let jump = false;
    const pending = this.#pending;
    if (pending) {
      const jumpTicks = TIMESTAMP_JUMP_MS * TICKS_PER_MS;
      if (decodeTime - pending.decodeTime > jumpTicks) {
        // A long silence (or a clock jump) is a gap in the timeline, not one frame lasting that long.
        jump = true;
      } else if (pending.decodeTime - decodeTime > jumpTicks) {
        // The publisher's clock was reset: the session timeline carries on from the last frame.
        const followOn = pending.decodeTime + this.#lastVideoDurationTicks;
        this.#shiftMs += (followOn - decodeTime) / TICKS_PER_MS;
        decodeTime = followOn;
      }
      // Small steps back (jitter) are clamped; later frames resync to their own timestamps.
      decodeTime = Math.max(decodeTime, pending.decodeTime + 1);
      this.#appendPending(jump ? this.#lastVideoDurationTicks : decodeTime - pending.decodeTime);
    }
    const cap =
      this.#video.length > 0 &&
      (this.#videoNext - this.#videoStart >= this.#maxDurationTicks ||
        this.#videoBytes + this.#audioBytes + tag.data.byteLength > this.#maxBytes);
    if (tag.keyframe || cap || jump) this.#cut(decodeTime, events);
    if (tag.keyframe && (this.#init === undefined || this.#configChanged)) this.#emitInit(decodeTime, events);
    if (this.#init === undefined) {
      this.dropped += 1;
      return;
    }
    if (this.#video.length === 0) this.#startsWithKeyframe = tag.keyframe;
    this.#pending = { decodeTime, ctsMs: tag.ctsMs, keyframe: tag.keyframe, data: tag.data };
  }

  /** An FLV timestamp on the session timeline (ms): unwrapped past 2^32 ms, shifted after resets. */
  #sessionMs(rawMs: number): number {
    const last = this.#lastRawMs;
    if (last !== undefined && rawMs - last < -(2 ** 31)) this.#wrapMs += 2 ** 32;
    else if (last !== undefined && rawMs - last > 2 ** 31) this.#wrapMs -= 2 ** 32; // a late tag from before a wrap
    this.#lastRawMs = rawMs;
    return rawMs + this.#wrapMs + this.#shiftMs;
  }

  #onAudio(tag: { packetType: number; dtsMs: number; data: Uint8Array }): void {
    if (tag.packetType === 0) {
      if (tag.data.byteLength === 0) return;
      const aac = parseAacConfig(Uint8Array.from(tag.data));
      if (!REMUXED_AUDIO_OBJECT_TYPES.has(aac.audioObjectType)) {
        throw new UnsupportedFlvMedia(`AAC audio object type ${aac.audioObjectType} is not remuxed here`);
      }
      if (!this.#aac || !sameBytes(this.#aac.record, aac.record)) {
        this.#aac = aac;
        this.#configChanged = this.#init !== undefined;
      }
      return;
    }
    if (tag.data.byteLength === 0) return;
    if (this.#init === undefined) {
      this.dropped += 1;
      this.#audioFramesBeforeVideo += this.#avc === undefined ? 1 : 0;
      if (
        this.#avc === undefined &&
        (this.#metadataSaysNoVideo || this.#audioFramesBeforeVideo > this.#maxAudioFramesBeforeVideo)
      ) {
        throw new UnsupportedFlvMedia('the publish has no H.264 video');
      }
      return;
    }
    const aac = this.#init.audio;
    if (aac === undefined) {
      this.dropped += 1; // audio whose config came after the init: kept from the next init on
      return;
    }
    const rate = aac.sampleRateHz;
    const at = Math.round((this.#sessionMs(tag.dtsMs) * rate) / 1000);
    let decodeTime = this.#audioNext ?? at;
    let durationTicks = aac.samplesPerFrame;
    if (this.#audioNext === undefined) {
      // The track's first frame: encoders start audio a little after the first video frame (AAC
      // priming). It is stretched back to the video's start, as ffmpeg's mp4 muxer does, so the
      // audio and video ranges a player buffers begin together: a hole there stalls MSE players
      // at every session boundary.
      const videoStart = Math.round((this.#audioStartTicks * rate) / VIDEO_TIMESCALE);
      if (at > videoStart && at - videoStart < rate) {
        decodeTime = videoStart;
        durationTicks += at - videoStart;
      }
    } else if (at - this.#audioNext > (AUDIO_GAP_MS * rate) / 1000) {
      decodeTime = at; // a gap in the audio: the count restarts at the frame's timestamp
    } else if (this.#audioNext - at > 2 * aac.samplesPerFrame) {
      this.dropped += 1; // the count runs ahead of the publisher's clock: let the clock catch up
      return;
    }
    this.#audio.push({ decodeTime, durationTicks, compositionOffsetTicks: 0, sync: true, data: tag.data });
    this.#audioBytes += tag.data.byteLength;
    this.#audioNext = decodeTime + durationTicks;
    const queuedTicks = this.#audioNext - (this.#audio[0]?.decodeTime ?? this.#audioNext);
    if (
      (queuedTicks * VIDEO_TIMESCALE) / rate > 2 * this.#maxDurationTicks ||
      this.#audioBytes > this.#maxBytes
    ) {
      throw new FlvTagError(
        `audio kept coming without video for over ${(2 * this.#maxDurationTicks) / VIDEO_TIMESCALE} s`,
      );
    }
  }

  #appendPending(durationTicks: number): void {
    const pending = this.#pending;
    if (pending === undefined) return;
    this.#pending = undefined;
    this.#lastVideoDurationTicks = durationTicks;
    if (this.#video.length === 0) this.#videoStart = pending.decodeTime;
    this.#video.push({
      durationTicks,
      compositionOffsetTicks: pending.ctsMs * TICKS_PER_MS,
      sync: pending.keyframe,
      data: pending.data,
    });
    this.#videoNext = pending.decodeTime + durationTicks;
    this.#videoBytes += pending.data.byteLength;
  }

  #emitInit(decodeTime: number, events: FragmenterEvent[]): void {
    const video = this.#avc;
    if (video === undefined) return;
    const audio = this.#aac;
    const tracks: WriterTrack[] = [
      { kind: 'video', trackId: VIDEO_TRACK_ID, timescale: VIDEO_TIMESCALE, avc: video },
    ];
    if (audio)
      tracks.push({ kind: 'audio', trackId: AUDIO_TRACK_ID, timescale: audio.sampleRateHz, aac: audio });
    const bytes = writeInitSegment(tracks, this.#creationTime);
    const version = createHash('sha256').update(bytes).digest('hex').slice(0, 16);
    if (this.#init?.audio !== audio) {
      // Queued frames were coded for the previous configuration.
      this.dropped += this.#audio.length;
      this.#audio = [];
      this.#audioBytes = 0;
      this.#audioNext = undefined;
      this.#audioStartTicks = decodeTime;
    }
    this.#init = { version, video, audio };
    this.#configChanged = false;
    events.push({ type: 'init', version, bytes, tracks: describeInitSegment(bytes) });
  }

  /** Emits the open fragment with the audio that starts before `beforeTicks` (90 kHz). */
  #cut(beforeTicks: number, events: FragmenterEvent[]): void {
    const init = this.#init;
    if (init === undefined || this.#video.length === 0) return;
    const rate = init.audio?.sampleRateHz ?? 1;
    let audioCount = 0;
    while (
      audioCount < this.#audio.length &&
      ((this.#audio[audioCount]?.decodeTime ?? 0) * VIDEO_TIMESCALE) / rate < beforeTicks
    ) {
      audioCount += 1;
    }
    const audio = this.#audio.splice(0, audioCount);
    for (const sample of audio) this.#audioBytes -= sample.data.byteLength;
    const video = this.#video;
    const videoRun: WriterRun = {
      trackId: VIDEO_TRACK_ID,
      baseMediaDecodeTime: this.#videoStart,
      compositionOffsets: true,
      samples: video,
    };
    const runs = [videoRun];
    const tracks: FragmentTrack[] = [
      {
        trackId: VIDEO_TRACK_ID,
        timescale: VIDEO_TIMESCALE,
        baseMediaDecodeTime: this.#videoStart,
        durationTicks: this.#videoNext - this.#videoStart,
        sampleCount: video.length,
      },
    ];
    const first = audio[0];
    if (first !== undefined && init.audio !== undefined) {
      runs.push({
        trackId: AUDIO_TRACK_ID,
        baseMediaDecodeTime: first.decodeTime,
        compositionOffsets: false,
        samples: audio,
      });
      tracks.push({
        trackId: AUDIO_TRACK_ID,
        timescale: init.audio.sampleRateHz,
        baseMediaDecodeTime: first.decodeTime,
        durationTicks: audio.reduce((sum, sample) => sum + sample.durationTicks, 0),
        sampleCount: audio.length,
      });
    }
    this.#sequenceNumber += 1;
    const bytes = writeFragment(this.#sequenceNumber, runs);
    const event: FragmentEvent = {
      type: 'fragment',
      initVersion: init.version,
      bytes,
      byteLength: bytes.byteLength,
      sequenceNumber: this.#sequenceNumber,
      startDecodeTimeMs: this.#videoStart / TICKS_PER_MS,
      durationMs: (this.#videoNext - this.#videoStart) / TICKS_PER_MS,
      startsWithKeyframe: this.#startsWithKeyframe,
      sampleCount: video.length + audio.length,
      tracks,
    };
    events.push(event);
    this.#video = [];
    this.#videoBytes = 0;
  }
}

/** A sample is NAL units, each behind a big-endian length: the lengths must add up to the sample. */
function checkNalFraming(sample: Uint8Array, lengthSize: number): void {
  let at = 0;
  while (at < sample.byteLength) {
    if (at + lengthSize > sample.byteLength)
      throw new FlvTagError('H.264 frame ends inside a NAL unit length');
    let length = 0;
    for (let i = 0; i < lengthSize; i += 1) length = length * 256 + (sample[at + i] ?? 0);
    at += lengthSize + length;
    if (at > sample.byteLength) {
      throw new FlvTagError('H.264 frame has a NAL unit length past the end of the frame');
    }
  }
}

/** A number property of an AMF0 onMetaData body: the key, then marker 0x00 and a big-endian double. */
function metadataNumber(body: Buffer, key: string): number | undefined {
  const at = body.indexOf(key);
  if (at < 0) return undefined;
  const marker = at + key.length;
  if (body[marker] !== 0x00 || marker + 9 > body.byteLength) return undefined;
  return body.readDoubleBE(marker + 1);
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.byteLength === b.byteLength && Buffer.compare(a, b) === 0;
}

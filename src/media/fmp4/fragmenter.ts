import { createHash } from 'node:crypto';
import { BoxReader, type TopLevelBox } from './box-reader.ts';
import { concat } from './box-view.ts';
import { FRAGMENTER_DEFAULTS, type FragmenterEvent, type FragmenterOptions } from './fragmenter-events.ts';
import { type MovieInfo, parseMoov } from './init-segment.ts';
import { isSyncSample, type MoofInfo, parseMoof } from './moof.ts';
import { Mp4ParseError } from './mp4-parse-error.ts';
import { OpenFragment } from './open-fragment.ts';

interface CurrentInit {
  version: string;
  movie: MovieInfo;
  timescales: ReadonlyMap<number, number>;
  /** First video track, else first track: its keyframes start fragments and its times are the fragment's. */
  primaryTrackId: number;
}

/**
 * Cuts a fragmented MP4 byte stream (ffmpeg `-movflags frag_keyframe+empty_moov+default_base_moof`)
 * into init segments and per-GOP fragments. Pure and synchronous: the events depend only on the bytes,
 * never on how they were chunked. A fragment is emitted when the next keyframe moof (or a new init,
 * an mfra, or end()) shows it is complete. Any Mp4ParseError fails the fragmenter for good: push and
 * end rethrow it, and events completed within the failing push are not returned.
 */
export class Fmp4Fragmenter {
  readonly #maxDurationMs: number;
  readonly #maxBytes: number;
  readonly #reader: BoxReader;
  #failed: Mp4ParseError | undefined;
  #ended = false;
  #ftyp: Uint8Array | undefined;
  #init: CurrentInit | undefined;
  #moof: { box: TopLevelBox; info: MoofInfo } | undefined;
  #open: OpenFragment | undefined;
  /** Per track: where its next run starts, in ticks (used when a traf has no tfdt). */
  readonly #nextDecodeTime = new Map<number, number>();

  constructor(options: FragmenterOptions = {}) {
    this.#maxDurationMs = options.maxFragmentDurationMs ?? FRAGMENTER_DEFAULTS.maxFragmentDurationMs;
    this.#maxBytes = options.maxFragmentBytes ?? FRAGMENTER_DEFAULTS.maxFragmentBytes;
    this.#reader = new BoxReader(options.maxBoxBytes ?? FRAGMENTER_DEFAULTS.maxBoxBytes);
  }

  /** Feeds the next bytes of the stream; returns the events they complete. */
  push(chunk: Uint8Array): FragmenterEvent[] {
    this.#check();
    if (this.#ended) throw new Error('Fmp4Fragmenter: push after end');
    const events: FragmenterEvent[] = [];
    this.#guard(() => {
      this.#reader.push(chunk);
      for (let box = this.#reader.next(); box !== undefined; box = this.#reader.next()) {
        try {
          this.#onBox(box, events);
        } catch (error) {
          if (!(error instanceof Mp4ParseError) || error.streamOffset !== undefined) throw error;
          const where = `in the '${box.type}' box`;
          throw new Mp4ParseError(error.reason, `${error.message} ${where}`, box.streamOffset, {
            cause: error,
          });
        }
      }
    });
    return events;
  }

  /**
   * Emits the open fragment now instead of at the next keyframe moof: for an adapter that knows its
   * muxer writes one moof per GOP (ffmpeg frag_keyframe), or after an idle timeout. The events then
   * also depend on when flush() is called.
   */
  flush(): FragmenterEvent[] {
    this.#check();
    const events: FragmenterEvent[] = [];
    this.#flush(events);
    return events;
  }

  /** Ends the stream: emits the last fragment, then a `truncated` event if an incomplete box remains. */
  end(): FragmenterEvent[] {
    this.#check();
    if (this.#ended) return [];
    this.#ended = true;
    const events: FragmenterEvent[] = [];
    this.#flush(events);
    const dangling = (this.#moof?.box.bytes.byteLength ?? 0) + (this.#ftyp?.byteLength ?? 0);
    const discardedBytes = this.#reader.bufferedBytes + dangling;
    if (discardedBytes > 0) {
      const boxType = this.#reader.pendingType ?? (this.#moof ? 'moof' : this.#ftyp ? 'ftyp' : undefined);
      events.push({ type: 'truncated', discardedBytes, boxType });
    }
    this.#moof = undefined;
    this.#ftyp = undefined;
    return events;
  }

  #check(): void {
    if (this.#failed) throw this.#failed;
  }

  #guard(work: () => void): void {
    try {
      work();
    } catch (error) {
      this.#failed =
        error instanceof Mp4ParseError
          ? error
          : new Mp4ParseError('malformed', String(error), undefined, { cause: error });
      throw this.#failed;
    }
  }

  #onBox(box: TopLevelBox, events: FragmenterEvent[]): void {
    const fail = (message: string): never => {
      throw new Mp4ParseError('unexpected-box', message, box.streamOffset);
    };
    if (this.#moof && box.type !== 'mdat' && box.type !== 'free' && box.type !== 'skip') {
      fail(`'moof' followed by '${box.type}' instead of 'mdat'`);
    }
    if (this.#ftyp && box.type !== 'moov' && box.type !== 'free' && box.type !== 'skip') {
      fail(`'ftyp' followed by '${box.type}' instead of 'moov'`);
    }
    switch (box.type) {
      case 'ftyp':
        this.#flush(events);
        this.#ftyp = box.bytes;
        return;
      case 'moov':
        this.#flush(events);
        this.#onMoov(box.bytes, events);
        return;
      case 'moof': {
        const init = this.#init ?? fail("'moof' before any 'moov'");
        this.#moof = { box, info: parseMoof(box.bytes, init.movie.defaults) };
        return;
      }
      case 'mdat': {
        const moof = this.#moof ?? fail("'mdat' without a preceding 'moof'");
        this.#onPair(moof.box.bytes, moof.info, box.bytes, events);
        this.#moof = undefined;
        return;
      }
      case 'mfra':
        this.#flush(events);
        return;
      default: // free, skip, sidx, styp, emsg, prft, ...: not part of fragments
        return;
    }
  }

  #onMoov(moov: Uint8Array, events: FragmenterEvent[]): void {
    const movie = parseMoov(moov);
    const bytes = concat(this.#ftyp ? [this.#ftyp, moov] : [moov]);
    this.#ftyp = undefined;
    const version = createHash('sha256').update(bytes).digest('hex').slice(0, 16);
    const primary = movie.tracks.find((track) => track.kind === 'video') ?? movie.tracks[0];
    const timescales = new Map(movie.tracks.map((track) => [track.trackId, track.timescale]));
    this.#init = { version, movie, timescales, primaryTrackId: primary?.trackId ?? 0 };
    this.#nextDecodeTime.clear();
    events.push({ type: 'init', version, bytes, tracks: movie.tracks });
  }

  #onPair(moof: Uint8Array, info: MoofInfo, mdat: Uint8Array, events: FragmenterEvent[]): void {
    const init = this.#init;
    if (init === undefined) return;
    const primary = info.runs.find((run) => run.trackId === init.primaryTrackId);
    const startsWithKeyframe =
      primary?.firstSampleFlags !== undefined && isSyncSample(primary.firstSampleFlags);
    const durationMs = primary
      ? (primary.durationTicks * 1000) / (init.timescales.get(primary.trackId) ?? 1)
      : 0;
    const open = this.#open;
    if (
      open &&
      (startsWithKeyframe ||
        open.durationMs + durationMs > this.#maxDurationMs ||
        open.byteLength + moof.byteLength + mdat.byteLength > this.#maxBytes)
    ) {
      this.#flush(events);
    }
    const fragment = this.#open ?? new OpenFragment(info.sequenceNumber, startsWithKeyframe);
    this.#open = fragment;
    fragment.addPair(moof, mdat, durationMs);
    for (const run of info.runs) {
      const timescale = init.timescales.get(run.trackId);
      if (timescale === undefined)
        throw new Mp4ParseError('malformed', `'traf' for unknown track ${run.trackId}`);
      const start = run.baseMediaDecodeTime ?? this.#nextDecodeTime.get(run.trackId) ?? 0;
      this.#nextDecodeTime.set(run.trackId, start + run.durationTicks);
      const { trackId, durationTicks, sampleCount } = run;
      fragment.addRun({ trackId, baseMediaDecodeTime: start, durationTicks, sampleCount }, timescale);
    }
  }

  #flush(events: FragmenterEvent[]): void {
    if (this.#open === undefined || this.#init === undefined) return;
    events.push(this.#open.toEvent(this.#init.version, this.#init.primaryTrackId));
    this.#open = undefined;
  }
}

import { concat } from './box-view.ts';
import type { FragmentEvent, FragmentTrack } from './fragmenter-events.ts';

/** The moof+mdat pairs of the fragment being assembled, with per-track decode times and totals. */
export class OpenFragment {
  readonly sequenceNumber: number;
  readonly startsWithKeyframe: boolean;
  byteLength = 0;
  /** Duration of the primary track so far, in milliseconds (for the duration cap). */
  durationMs = 0;
  readonly #parts: Uint8Array[] = [];
  readonly #tracks = new Map<number, FragmentTrack>();

  constructor(sequenceNumber: number, startsWithKeyframe: boolean) {
    this.sequenceNumber = sequenceNumber;
    this.startsWithKeyframe = startsWithKeyframe;
  }

  /** Appends one moof+mdat pair (`durationMs` of the primary track in it). */
  addPair(moof: Uint8Array, mdat: Uint8Array, durationMs: number): void {
    this.#parts.push(moof, mdat);
    this.byteLength += moof.byteLength + mdat.byteLength;
    this.durationMs += durationMs;
  }

  /** Adds one track's run from the last pair; the first run of a track fixes its start. */
  addRun(run: Omit<FragmentTrack, 'timescale'>, timescale: number): void {
    const track = this.#tracks.get(run.trackId);
    if (track === undefined) {
      this.#tracks.set(run.trackId, { ...run, timescale });
    } else {
      track.durationTicks += run.durationTicks;
      track.sampleCount += run.sampleCount;
    }
  }

  /** The fragment event; times come from `primaryTrackId`, else the first track in the fragment. */
  toEvent(initVersion: string, primaryTrackId: number): FragmentEvent {
    const tracks = [...this.#tracks.values()];
    const primary = this.#tracks.get(primaryTrackId) ?? tracks[0];
    const bytes = concat(this.#parts);
    return {
      type: 'fragment',
      initVersion,
      bytes,
      byteLength: bytes.byteLength,
      sequenceNumber: this.sequenceNumber,
      startDecodeTimeMs: primary ? (primary.baseMediaDecodeTime * 1000) / primary.timescale : 0,
      durationMs: primary ? (primary.durationTicks * 1000) / primary.timescale : 0,
      startsWithKeyframe: this.startsWithKeyframe,
      sampleCount: tracks.reduce((sum, track) => sum + track.sampleCount, 0),
      tracks,
    };
  }
}

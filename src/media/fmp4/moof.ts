import { BoxCursor, type ChildBox, childBoxes } from './box-view.ts';
import type { TrackDefaults } from './init-segment.ts';
import { Mp4ParseError } from './mp4-parse-error.ts';

/** One track's run of samples in a `moof` (all its `traf`s summed). */
export interface TrackRun {
  trackId: number;
  /** `tfdt` baseMediaDecodeTime in track ticks; undefined when the traf has no tfdt. */
  baseMediaDecodeTime: number | undefined;
  /** Sum of the sample durations in track ticks (trun, else tfhd, else trex defaults). */
  durationTicks: number;
  sampleCount: number;
  /** Flags of the first sample (ISO/IEC 14496-12 §8.8.3.1), undefined when the run is empty. */
  firstSampleFlags: number | undefined;
}

/** What the fragmenter needs from a `moof`. */
export interface MoofInfo {
  /** `mfhd` sequence_number. */
  sequenceNumber: number;
  runs: TrackRun[];
}

/** A sync (random access) sample: sample_depends_on == 2 (I picture) or sample_is_non_sync_sample clear. */
export function isSyncSample(sampleFlags: number): boolean {
  return ((sampleFlags >>> 24) & 0x3) === 2 || ((sampleFlags >>> 16) & 0x1) === 0;
}

const NO_DEFAULTS: TrackDefaults = { sampleDurationTicks: 0, sampleSizeBytes: 0, sampleFlags: 0 };

/** Parses a complete `moof` box (header included), with the `trex` defaults of its init segment. */
export function parseMoof(moof: Uint8Array, defaults: ReadonlyMap<number, TrackDefaults>): MoofInfo {
  const [root] = childBoxes(moof, 0, moof.byteLength, 'top level');
  if (root === undefined || root.type !== 'moof') throw new Mp4ParseError('malformed', 'expected a moof box');
  let sequenceNumber = 0;
  const runs = new Map<number, TrackRun>();
  for (const child of childBoxes(moof, root.start, root.end, 'moof')) {
    if (child.type === 'mfhd') {
      const mfhd = new BoxCursor(moof, child.start, child.end, 'mfhd');
      mfhd.fullBox();
      sequenceNumber = mfhd.u32();
    } else if (child.type === 'traf') {
      const run = parseTraf(moof, child, defaults);
      const previous = runs.get(run.trackId);
      if (previous === undefined) {
        runs.set(run.trackId, run);
      } else {
        previous.durationTicks += run.durationTicks;
        previous.sampleCount += run.sampleCount;
        previous.firstSampleFlags ??= run.firstSampleFlags;
        previous.baseMediaDecodeTime ??= run.baseMediaDecodeTime;
      }
    }
  }
  return { sequenceNumber, runs: [...runs.values()] };
}

function parseTraf(
  bytes: Uint8Array,
  traf: ChildBox,
  defaults: ReadonlyMap<number, TrackDefaults>,
): TrackRun {
  const children = childBoxes(bytes, traf.start, traf.end, 'traf');
  const tfhdBox = children.find((child) => child.type === 'tfhd');
  if (tfhdBox === undefined) throw new Mp4ParseError('malformed', "'traf' box has no 'tfhd'");
  const tfhd = new BoxCursor(bytes, tfhdBox.start, tfhdBox.end, 'tfhd');
  const { flags: tfhdFlags } = tfhd.fullBox();
  const trackId = tfhd.u32();
  const trex = defaults.get(trackId) ?? NO_DEFAULTS;
  if (tfhdFlags & 0x01) tfhd.skip(8); // base_data_offset
  if (tfhdFlags & 0x02) tfhd.skip(4); // sample_description_index
  const defaultDuration = tfhdFlags & 0x08 ? tfhd.u32() : trex.sampleDurationTicks;
  if (tfhdFlags & 0x10) tfhd.skip(4); // default_sample_size
  const defaultFlags = tfhdFlags & 0x20 ? tfhd.u32() : trex.sampleFlags;

  const run: TrackRun = {
    trackId,
    baseMediaDecodeTime: undefined,
    durationTicks: 0,
    sampleCount: 0,
    firstSampleFlags: undefined,
  };
  for (const child of children) {
    if (child.type === 'tfdt') {
      const tfdt = new BoxCursor(bytes, child.start, child.end, 'tfdt');
      run.baseMediaDecodeTime = tfdt.fullBox().version === 1 ? tfdt.u64() : tfdt.u32();
    } else if (child.type === 'trun') {
      addTrun(bytes, child, run, defaultDuration, defaultFlags);
    }
  }
  return run;
}

/** Adds one `trun` (§8.8.8) to a run: sample count, durations and the first sample's flags. */
function addTrun(
  bytes: Uint8Array,
  box: ChildBox,
  run: TrackRun,
  defaultDuration: number,
  defaultFlags: number,
) {
  const trun = new BoxCursor(bytes, box.start, box.end, 'trun');
  const { flags } = trun.fullBox();
  const sampleCount = trun.u32();
  if (flags & 0x01) trun.skip(4); // data_offset
  const firstSampleFlags = flags & 0x04 ? trun.u32() : undefined;
  const hasDuration = (flags & 0x100) !== 0;
  const hasSize = (flags & 0x200) !== 0;
  const hasFlags = (flags & 0x400) !== 0;
  const hasCtsOffset = (flags & 0x800) !== 0;
  const perSampleBytes =
    4 * (Number(hasDuration) + Number(hasSize) + Number(hasFlags) + Number(hasCtsOffset));
  if (sampleCount * perSampleBytes > trun.remaining) {
    throw new Mp4ParseError('malformed', `'trun' claims ${sampleCount} samples but is too short`);
  }
  if (perSampleBytes === 0) {
    // No per-sample fields: every sample takes the defaults (and sample_count is not bounded by the box size).
    run.durationTicks += sampleCount * defaultDuration;
    if (sampleCount > 0 && run.sampleCount === 0) run.firstSampleFlags = firstSampleFlags ?? defaultFlags;
    run.sampleCount += sampleCount;
    return;
  }
  for (let i = 0; i < sampleCount; i += 1) {
    run.durationTicks += hasDuration ? trun.u32() : defaultDuration;
    if (hasSize) trun.skip(4);
    const sampleFlags = hasFlags ? trun.u32() : defaultFlags;
    if (hasCtsOffset) trun.skip(4);
    if (i === 0 && run.sampleCount === 0) run.firstSampleFlags = firstSampleFlags ?? sampleFlags;
  }
  run.sampleCount += sampleCount;
}

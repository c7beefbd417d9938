import type { InitTrack } from './init-segment.ts';

/** A new init segment (ftyp+moov); fragments after it reference its `version`. */
export interface InitEvent {
  type: 'init';
  /** Content hash: first 16 hex chars of the sha256 of `bytes`. Identical bytes give the same version. */
  version: string;
  /** The ftyp (when present) and moov boxes, as received. */
  bytes: Uint8Array;
  tracks: InitTrack[];
}

/** One track's share of a fragment. */
export interface FragmentTrack {
  trackId: number;
  timescale: number;
  /** `tfdt` of the track's first run in the fragment (else the end of its previous fragment), in ticks. */
  baseMediaDecodeTime: number;
  /** Sum of the track's sample durations in the fragment, in ticks. */
  durationTicks: number;
  sampleCount: number;
}

/** One fragment: a GOP as one or more moof+mdat pairs, capped by duration and size. */
export interface FragmentEvent {
  type: 'fragment';
  /** Version of the init segment needed to decode `bytes`. */
  initVersion: string;
  /** The moof+mdat pairs, concatenated as received. */
  bytes: Uint8Array;
  byteLength: number;
  /** `mfhd` sequence_number of the first moof. */
  sequenceNumber: number;
  /** Decode time of the primary track (first video track, else first track) in milliseconds. */
  startDecodeTimeMs: number;
  /** Duration of the primary track in milliseconds. */
  durationMs: number;
  /** The primary track's first sample is a sync sample; false for a continuation cut by the caps. */
  startsWithKeyframe: boolean;
  /** Samples of all tracks. */
  sampleCount: number;
  tracks: FragmentTrack[];
}

/**
 * end() found an incomplete box (or a moof without its mdat): those bytes are discarded. Everything
 * complete before them has already been emitted.
 */
export interface TruncatedEvent {
  type: 'truncated';
  discardedBytes: number;
  /** Type of the incomplete box, when its header was complete. */
  boxType: string | undefined;
}

/** What Fmp4Fragmenter.push/end return, in stream order. */
export type FragmenterEvent = InitEvent | FragmentEvent | TruncatedEvent;

/** Limits of a Fmp4Fragmenter; the defaults follow KVS fragments (10 s, 50 MB) and bound buffering. */
export interface FragmenterOptions {
  maxFragmentDurationMs?: number;
  maxFragmentBytes?: number;
  /** A top-level box claiming more is rejected before it is buffered. */
  maxBoxBytes?: number;
}

export const FRAGMENTER_DEFAULTS = {
  maxFragmentDurationMs: 10_000,
  maxFragmentBytes: 50_000_000,
  maxBoxBytes: 64 * 1024 * 1024,
} as const satisfies Required<FragmenterOptions>;

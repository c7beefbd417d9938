import type { FragmentEvent, InitEvent } from '../media/fmp4/index.ts';

/** What an ingest delivers: init segments and per-GOP fragments (truncated tails are logged, not sent). */
export type IngestEvent = InitEvent | FragmentEvent;

/** Decides whether a publisher may publish to a stream (the app checks the stream exists and the token). */
export interface PublishGate {
  /** Resolves true to accept; false (or a rejection) refuses the publisher. */
  authorize(streamName: string, token: string): Promise<boolean>;
}

/**
 * Receives a stream's init segments and fragments. Called in stream order, one call at a time per
 * stream: the ingest reads no more media for that stream until the returned promise settles. A
 * rejection ends the publish.
 */
export interface FragmentSink {
  accept(streamName: string, event: IngestEvent, timing: IngestTiming): Promise<void>;
}

/** What the ingest knows of an event's time. */
export interface IngestTiming {
  /** Fragments: the source's timestamp of the first frame mapped to wall time (epoch ms). */
  producerTimestampMs?: number | undefined;
}

import type { Readable, Writable } from 'node:stream';
import { type FfmpegExit, spawnFfmpeg } from './spawn-ffmpeg.ts';

export type { FfmpegExit };

/** How a remux child is started. */
export interface RemuxOptions {
  ffmpegPath: string;
  /** `'pipe'`: the input is written to `stdin`; otherwise a URL or file ffmpeg opens itself. */
  input: 'pipe' | string;
  /** ffmpeg demuxer name for `-f` before `-i` (e.g. `flv`); probed when absent. */
  inputFormat?: string;
  /** Options placed before `-i` (e.g. `['-rtsp_transport', 'tcp']`). */
  extraInputArgs?: readonly string[];
  /**
   * Written as the movie's creation time (`mvhd`, whole seconds): each ingest session passes its start,
   * so a new session yields a new init segment (and init version) even when the codecs are unchanged.
   */
  creationTime?: Date;
  /** Aborting stops the child (SIGTERM, then SIGKILL after `killGraceMs`). */
  signal?: AbortSignal;
  /** Time between SIGTERM and SIGKILL; default 2000 ms. */
  killGraceMs?: number;
  /** Bytes of stderr kept for error messages; default 8 KiB. */
  maxStderrBytes?: number;
}

/** A running `ffmpeg -c copy` remux to fragmented MP4. */
export interface RemuxProcess {
  pid: number | undefined;
  /** Input bytes when `input` is `'pipe'`, else null. End it to let ffmpeg finish. */
  stdin: Writable | null;
  /** Fragmented MP4 (ftyp+moov, then moof+mdat per keyframe); read it or ffmpeg blocks. */
  stdout: Readable;
  /** Resolves (never rejects) when the child has exited and its streams are closed. */
  done: Promise<FfmpegExit>;
  /** Ends the child: SIGTERM now, SIGKILL after the grace period. Idempotent. */
  stop(): void;
}

/** The fMP4 flags: one moof per keyframe, an empty moov up front, moof-relative data offsets. */
const FMP4_MOVFLAGS = 'frag_keyframe+empty_moov+default_base_moof';

/** The argument list of a remux (exported for diagnostics and tests). */
export function remuxArgs(
  options: Pick<RemuxOptions, 'input' | 'inputFormat' | 'extraInputArgs' | 'creationTime'>,
): string[] {
  const fromPipe = options.input === 'pipe';
  const creationTime = options.creationTime;
  return [
    ...['-hide_banner', '-nostats', '-loglevel', 'warning'],
    ...(fromPipe ? [] : ['-nostdin']),
    ...(options.extraInputArgs ?? []),
    ...(options.inputFormat === undefined ? [] : ['-f', options.inputFormat]),
    ...['-i', fromPipe ? 'pipe:0' : options.input],
    ...['-c', 'copy'],
    ...(creationTime === undefined ? [] : ['-metadata', `creation_time=${creationTime.toISOString()}`]),
    ...['-f', 'mp4', '-movflags', FMP4_MOVFLAGS, 'pipe:1'],
  ];
}

/** Spawns `ffmpeg … -i <input> -c copy -f mp4 -movflags frag_keyframe+empty_moov+default_base_moof pipe:1`. */
export function spawnRemuxToFmp4(options: RemuxOptions): RemuxProcess {
  return spawnFfmpeg({
    ffmpegPath: options.ffmpegPath,
    args: remuxArgs(options),
    stdin: options.input === 'pipe',
    signal: options.signal,
    killGraceMs: options.killGraceMs,
    maxStderrBytes: options.maxStderrBytes,
  });
}

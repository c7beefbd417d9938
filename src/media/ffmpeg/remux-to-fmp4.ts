import { spawn } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import { StderrTail } from './stderr-tail.ts';

/** How a remux child is started. */
export interface RemuxOptions {
  ffmpegPath: string;
  /** `'pipe'`: the input is written to `stdin`; otherwise a URL or file ffmpeg opens itself. */
  input: 'pipe' | string;
  /** ffmpeg demuxer name for `-f` before `-i` (e.g. `flv`); probed when absent. */
  inputFormat?: string;
  /** Options placed before `-i` (e.g. `['-rtsp_transport', 'tcp']`). */
  extraInputArgs?: readonly string[];
  /** Aborting stops the child (SIGTERM, then SIGKILL after `killGraceMs`). */
  signal?: AbortSignal;
  /** Time between SIGTERM and SIGKILL; default 2000 ms. */
  killGraceMs?: number;
  /** Bytes of stderr kept for error messages; default 8 KiB. */
  maxStderrBytes?: number;
}

/** How a remux child ended. */
export interface FfmpegExit {
  /** Exit code, or null when it was ended by a signal. */
  code: number | null;
  signal: NodeJS.Signals | null;
  /** stop() was called or the signal aborted before the child exited. */
  stopped: boolean;
  /** The child could not be started (e.g. ENOENT), else undefined. */
  spawnError: Error | undefined;
  /** Writing to stdin failed (typically EPIPE after the child died), else undefined. */
  stdinError: Error | undefined;
  /** The last bytes of stderr. */
  stderrTail: string;
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
export function remuxArgs(options: Pick<RemuxOptions, 'input' | 'inputFormat' | 'extraInputArgs'>): string[] {
  const fromPipe = options.input === 'pipe';
  return [
    ...['-hide_banner', '-nostats', '-loglevel', 'warning'],
    ...(fromPipe ? [] : ['-nostdin']),
    ...(options.extraInputArgs ?? []),
    ...(options.inputFormat === undefined ? [] : ['-f', options.inputFormat]),
    ...['-i', fromPipe ? 'pipe:0' : options.input],
    ...['-c', 'copy', '-f', 'mp4', '-movflags', FMP4_MOVFLAGS, 'pipe:1'],
  ];
}

/** Spawns `ffmpeg … -i <input> -c copy -f mp4 -movflags frag_keyframe+empty_moov+default_base_moof pipe:1`. */
export function spawnRemuxToFmp4(options: RemuxOptions): RemuxProcess {
  const fromPipe = options.input === 'pipe';
  const killGraceMs = options.killGraceMs ?? 2000;
  const stderr = new StderrTail(options.maxStderrBytes ?? 8 * 1024);
  const child = spawn(options.ffmpegPath, remuxArgs(options), {
    stdio: [fromPipe ? 'pipe' : 'ignore', 'pipe', 'pipe'],
  });
  let stopped = false;
  let exited = false;
  let spawnError: Error | undefined;
  let stdinError: Error | undefined;
  let killTimer: NodeJS.Timeout | undefined;

  const { stdout, stderr: stderrStream } = child;
  if (stdout === null || stderrStream === null) throw new Error('ffmpeg spawned without stdout/stderr pipes');
  stderrStream.on('data', (chunk: Buffer) => stderr.push(chunk));
  // EPIPE after the child died: recorded in the exit info, which carries the real cause.
  child.stdin?.on('error', (error) => {
    stdinError ??= error;
  });

  const stop = (): void => {
    if (stopped || exited) return;
    stopped = true;
    child.stdin?.destroy();
    child.kill('SIGTERM');
    killTimer = setTimeout(() => {
      if (!exited) child.kill('SIGKILL');
    }, killGraceMs);
    killTimer.unref();
  };
  const onAbort = (): void => stop();
  if (options.signal?.aborted) queueMicrotask(stop);
  else options.signal?.addEventListener('abort', onAbort, { once: true });

  const done = new Promise<FfmpegExit>((resolve) => {
    child.once('error', (error) => {
      spawnError ??= error;
      // A failed spawn emits 'close' too, except on some platforms; settle here as well.
      if (child.pid === undefined) finish(null, null);
    });
    child.once('close', (code, signal) => finish(code, signal));
    function finish(code: number | null, signal: NodeJS.Signals | null): void {
      if (exited) return;
      exited = true;
      if (killTimer !== undefined) clearTimeout(killTimer);
      options.signal?.removeEventListener('abort', onAbort);
      resolve({ code, signal, stopped, spawnError, stdinError, stderrTail: stderr.text() });
    }
  });

  return { pid: child.pid, stdin: child.stdin, stdout, done, stop };
}

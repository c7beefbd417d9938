import { spawn } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import { StderrTail } from './stderr-tail.ts';

/** How an ffmpeg child is started. */
export interface SpawnFfmpegOptions {
  ffmpegPath: string;
  /** The full argument list (after the binary). */
  args: readonly string[];
  /** Whether the child reads stdin (`-i pipe:0`); otherwise stdin is ignored. */
  stdin: boolean;
  /** Aborting stops the child (SIGTERM, then SIGKILL after `killGraceMs`). */
  signal?: AbortSignal | undefined;
  /** Time between SIGTERM and SIGKILL; default 2000 ms. */
  killGraceMs?: number | undefined;
  /** Bytes of stderr kept for error messages; default 8 KiB. */
  maxStderrBytes?: number | undefined;
}

/** How an ffmpeg child ended. */
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

/** A running ffmpeg child. */
export interface FfmpegProcess {
  pid: number | undefined;
  /** The child's stdin when `stdin` was asked for, else null. */
  stdin: Writable | null;
  /** The child's stdout; read it or ffmpeg blocks. */
  stdout: Readable;
  /** Resolves (never rejects) when the child has exited and its streams are closed. */
  done: Promise<FfmpegExit>;
  /** Ends the child: SIGTERM now, SIGKILL after the grace period. Idempotent. */
  stop(): void;
}

/** The one spawn of ffmpeg: bounded stderr tail, abort via signal, SIGTERM then SIGKILL, exit never rejects. */
export function spawnFfmpeg(options: SpawnFfmpegOptions): FfmpegProcess {
  const killGraceMs = options.killGraceMs ?? 2000;
  const stderr = new StderrTail(options.maxStderrBytes ?? 8 * 1024);
  const child = spawn(options.ffmpegPath, options.args, {
    stdio: [options.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'],
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

import { spawn } from 'node:child_process';
import type { Readable } from 'node:stream';
import { StderrTail } from './stderr-tail.ts';

/** How a one-shot ffmpeg run is started. */
export interface RunFfmpegOptions {
  ffmpegPath: string;
  /** The full argument list (after the binary). */
  args: readonly string[];
  /** Bytes written to ffmpeg's stdin (`-i pipe:0`); stdin is ignored when absent. */
  input?: Readable;
  /** Aborting stops the child (SIGTERM, then SIGKILL after `killGraceMs`). */
  signal?: AbortSignal;
  /** Time between SIGTERM and SIGKILL; default 2000 ms. */
  killGraceMs?: number;
  /** Bytes of stderr kept for error messages; default 8 KiB. */
  maxStderrBytes?: number;
  /** Largest stdout kept; more fails the run. Default 32 MiB. */
  maxStdoutBytes?: number;
}

/** ffmpeg could not start, was stopped, or exited non-zero; the message carries the stderr tail. */
export class FfmpegRunError extends Error {
  override readonly name = 'FfmpegRunError';
}

/**
 * Runs ffmpeg to completion and resolves with its stdout (bounded), or rejects with FfmpegRunError.
 * `input` is piped to stdin; ffmpeg closing stdin early (e.g. `-frames:v 1`) is not an error, and the
 * input is destroyed when the child exits.
 */
export function runFfmpeg(options: RunFfmpegOptions): Promise<Buffer> {
  const killGraceMs = options.killGraceMs ?? 2000;
  const maxStdoutBytes = options.maxStdoutBytes ?? 32 * 1024 * 1024;
  const stderr = new StderrTail(options.maxStderrBytes ?? 8 * 1024);
  const { input } = options;
  const child = spawn(options.ffmpegPath, options.args, {
    stdio: [input ? 'pipe' : 'ignore', 'pipe', 'pipe'],
  });
  const out: Buffer[] = [];
  let outBytes = 0;
  let stopped = false;
  let exited = false;
  let failure: Error | undefined;
  let killTimer: NodeJS.Timeout | undefined;

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

  child.stderr?.on('data', (chunk: Buffer) => stderr.push(chunk));
  child.stdout?.on('data', (chunk: Buffer) => {
    outBytes += chunk.byteLength;
    if (outBytes > maxStdoutBytes) {
      failure ??= new FfmpegRunError(`ffmpeg wrote more than ${maxStdoutBytes} bytes to stdout`);
      stop();
      return;
    }
    out.push(chunk);
  });
  if (input && child.stdin) {
    // EPIPE once ffmpeg has read what it needs: the exit status tells whether the run succeeded.
    child.stdin.on('error', () => input.unpipe(child.stdin ?? undefined));
    input.once('error', (error) => {
      failure ??= new FfmpegRunError('reading the ffmpeg input failed', { cause: error });
      stop();
    });
    input.pipe(child.stdin);
  }

  return new Promise<Buffer>((resolve, reject) => {
    child.once('error', (error) => {
      failure ??= new FfmpegRunError(`ffmpeg could not start: ${error.message}`, { cause: error });
      if (child.pid === undefined) finish(null, null);
    });
    child.once('close', (code, signal) => finish(code, signal));
    function finish(code: number | null, signal: NodeJS.Signals | null): void {
      if (exited) return;
      exited = true;
      if (killTimer !== undefined) clearTimeout(killTimer);
      options.signal?.removeEventListener('abort', onAbort);
      input?.destroy();
      if (failure) reject(failure);
      else if (stopped) reject(new FfmpegRunError('ffmpeg was stopped'));
      else if (code !== 0) {
        reject(new FfmpegRunError(`ffmpeg exited with ${code ?? signal}: ${stderr.text() || '(no stderr)'}`));
      } else resolve(Buffer.concat(out));
    }
  });
}

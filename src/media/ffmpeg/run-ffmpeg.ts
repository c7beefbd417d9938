import type { Readable } from 'node:stream';
import { spawnFfmpeg } from './spawn-ffmpeg.ts';

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
export async function runFfmpeg(options: RunFfmpegOptions): Promise<Buffer> {
  const maxStdoutBytes = options.maxStdoutBytes ?? 32 * 1024 * 1024;
  const { input } = options;
  const child = spawnFfmpeg({
    ffmpegPath: options.ffmpegPath,
    args: options.args,
    stdin: input !== undefined,
    signal: options.signal,
    killGraceMs: options.killGraceMs,
    maxStderrBytes: options.maxStderrBytes,
  });
  const out: Buffer[] = [];
  let outBytes = 0;
  let failure: Error | undefined;

  child.stdout.on('data', (chunk: Buffer) => {
    outBytes += chunk.byteLength;
    if (outBytes > maxStdoutBytes) {
      failure ??= new FfmpegRunError(`ffmpeg wrote more than ${maxStdoutBytes} bytes to stdout`);
      child.stop();
      return;
    }
    out.push(chunk);
  });
  const stdin = child.stdin;
  if (input && stdin) {
    // EPIPE once ffmpeg has read what it needs: the exit status tells whether the run succeeded.
    stdin.on('error', () => input.unpipe(stdin));
    input.once('error', (error) => {
      failure ??= new FfmpegRunError('reading the ffmpeg input failed', { cause: error });
      child.stop();
    });
    input.pipe(stdin);
  }

  const exit = await child.done;
  input?.destroy();
  if (exit.spawnError) {
    throw new FfmpegRunError(`ffmpeg could not start: ${exit.spawnError.message}`, {
      cause: exit.spawnError,
    });
  }
  if (failure) throw failure;
  if (exit.stopped) throw new FfmpegRunError('ffmpeg was stopped');
  if (exit.code !== 0) {
    throw new FfmpegRunError(
      `ffmpeg exited with ${exit.code ?? exit.signal}: ${exit.stderrTail || '(no stderr)'}`,
    );
  }
  return Buffer.concat(out);
}

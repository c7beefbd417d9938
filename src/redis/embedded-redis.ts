import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdir } from 'node:fs/promises';
import { createServer } from 'node:net';
import { resolve } from 'node:path';

/** Options of a private redis-server child process. */
export interface EmbeddedRedisOptions {
  /** Working directory: AOF files and the log live here. */
  dir: string;
  /** AOF persistence (on for the embedded default, off for throwaway test servers). */
  appendOnly: boolean;
  /** redis-server binary; default `redis-server` on PATH. */
  binary?: string;
  /** Port to bind on 127.0.0.1; default a free port. */
  port?: number;
}

/** A redis-server child bound to 127.0.0.1, started and stopped by this process. */
export class EmbeddedRedis {
  readonly #options: EmbeddedRedisOptions;
  #child: ChildProcess | undefined;
  #port = 0;

  constructor(options: EmbeddedRedisOptions) {
    this.#options = options;
  }

  /** `redis://127.0.0.1:<port>` once started. */
  get url(): string {
    return `redis://127.0.0.1:${this.#port}`;
  }

  /** PID of the child, for operators and tests that must kill it. */
  get pid(): number | undefined {
    return this.#child?.pid;
  }

  /** Spawns redis-server and resolves once it accepts connections. */
  async start(): Promise<void> {
    if (this.#child) return;
    const dir = resolve(this.#options.dir);
    await mkdir(dir, { recursive: true });
    this.#port = this.#options.port ?? (await freePort());
    const args = [
      '--port',
      String(this.#port),
      '--bind',
      '127.0.0.1',
      '--dir',
      dir,
      '--save',
      '',
      '--appendonly',
      this.#options.appendOnly ? 'yes' : 'no',
      '--daemonize',
      'no',
      '--protected-mode',
      'yes',
      '--logfile',
      '',
    ];
    const child = spawn(this.#options.binary ?? 'redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.#child = child;
    let output = '';
    const collect = (chunk: Buffer) => {
      output = (output + chunk.toString('utf8')).slice(-4096);
    };
    child.stdout?.on('data', collect);
    child.stderr?.on('data', collect);
    try {
      await new Promise<void>((ready, fail) => {
        const onData = () => {
          if (output.includes('Ready to accept connections')) done(undefined);
        };
        const onExit = (code: number | null) =>
          done(new Error(`redis-server exited with code ${code}: ${output.trim()}`));
        const onError = (error: Error) =>
          done(new Error(`cannot run redis-server: ${error.message}`, { cause: error }));
        const done = (error: Error | undefined) => {
          child.stdout?.off('data', onData);
          child.off('exit', onExit);
          child.off('error', onError);
          if (error) fail(error);
          else ready();
        };
        child.stdout?.on('data', onData);
        child.once('exit', onExit);
        child.once('error', onError);
      });
    } catch (error) {
      this.#child = undefined;
      throw error;
    }
    // Keep draining output so the child never blocks on a full pipe.
    child.stdout?.resume();
    child.stderr?.resume();
  }

  /** Stops the child (SIGTERM makes redis flush the AOF first); idempotent. */
  async stop(): Promise<void> {
    const child = this.#child;
    this.#child = undefined;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
  }
}

/** Asks the kernel for a free TCP port on 127.0.0.1. */
async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  server.close();
  if (address === null || typeof address === 'string') throw new Error('no TCP address');
  return address.port;
}

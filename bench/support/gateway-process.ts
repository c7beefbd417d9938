// Shared by the benchmarks: the gateway as a child process (as `streamgate serve` runs it) on a free
// HTTP port with its own private redis-server and data dir, and small process helpers.
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EmbeddedRedis } from '../../src/redis/index.ts';

const REPO_ROOT = join(import.meta.dirname, '..', '..');

/** A running gateway child and its private Redis. */
export interface GatewayProcess {
  child: ChildProcess;
  port: number;
  endpoint: string;
  pids: { gateway: number | undefined; redis: number | undefined };
  /** The private Redis the gateway uses. */
  redisUrl: string;
  /** SIGTERM the gateway, stop Redis, remove the temp dirs. */
  stop(): Promise<void>;
}

/** Starts the gateway with SigV4 `keys`, a private Redis, a random KMS root key and RTMP off unless `env` says otherwise. */
export async function startGatewayProcess(options: {
  keys: { accessKeyId: string; secretAccessKey: string };
  env?: Record<string, string>;
}): Promise<GatewayProcess> {
  const dataDir = await mkdtemp(join(tmpdir(), 'streamgate-bench-'));
  const redisDir = await mkdtemp(join(tmpdir(), 'streamgate-bench-redis-'));
  const redis = new EmbeddedRedis({ dir: redisDir, appendOnly: false });
  let child: ChildProcess | undefined;
  const stop = async () => {
    if (child) await stopChild(child);
    await redis.stop();
    await rm(dataDir, { recursive: true, force: true });
    await rm(redisDir, { recursive: true, force: true });
  };
  try {
    await redis.start();
    // BENCH_GATEWAY_NODE_ARGS (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof") profiles the gateway under load.
    const nodeArgs = (process.env.BENCH_GATEWAY_NODE_ARGS ?? '').split(' ').filter(Boolean);
    child = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', 'src/cli.ts', 'serve'], {
      cwd: REPO_ROOT,
      env: {
        PATH: process.env.PATH,
        STREAMGATE_HOST: '127.0.0.1',
        STREAMGATE_HTTP_PORT: '0',
        STREAMGATE_RTMP_PORT: 'off',
        STREAMGATE_DATA_DIR: dataDir,
        STREAMGATE_REDIS_URL: redis.url,
        STREAMGATE_ACCESS_KEYS: `${options.keys.accessKeyId}:${options.keys.secretAccessKey}`,
        STREAMGATE_KMS_ROOT_KEY: randomBytes(32).toString('base64'),
        STREAMGATE_LOG_LEVEL: 'info',
        ...options.env,
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const port = await portFromLog(child, /"httpPort":(\d+)/, 'streamgate');
    return {
      child,
      port,
      endpoint: `http://127.0.0.1:${port}`,
      pids: { gateway: child.pid, redis: redis.pid },
      redisUrl: redis.url,
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** Waits for a child to log its port (first capture group of `pattern`), then keeps draining its stdout. */
export async function portFromLog(child: ChildProcess, pattern: RegExp, name: string): Promise<number> {
  let out = '';
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} did not log its port within 30 s`)), 30_000);
    child.stdout?.on('data', (chunk) => {
      out += chunk;
      const m = pattern.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited with ${code}`));
    });
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
  child.stdout?.removeAllListeners('data');
  child.stdout?.resume(); // keep draining its log so it never blocks on a full pipe
  return port;
}

/** Ends a child we started: `signal` (default SIGTERM), SIGKILL after 10 s. */
export async function stopChild(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

/** A free TCP port on 127.0.0.1 (bound, then released). */
export async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

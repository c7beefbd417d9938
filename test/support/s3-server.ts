import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';

/** Connection facts of a running S3 protocol server, as provided to tests through `inject('s3')`. */
export interface S3ServerInfo {
  endpoint: string;
  port: number;
  accessKey: string;
  secretKey: string;
  region: string;
  bucket: string;
}

/** A running @20minutes/s3rver child process with its own data directory. */
export interface S3Server {
  info: S3ServerInfo;
  /** Stops the server process but keeps its data directory (an outage); resolves once it exited. */
  suspend(): Promise<void>;
  /** Starts the server again on the same port and data directory after suspend(). */
  resume(): Promise<void>;
  /** Stops the server and removes its data directory; idempotent. */
  stop(): Promise<void>;
}

const ACCESS_KEY = 'streamgate-test-access';
const SECRET_KEY = 'streamgate-test-secret';
const REGION = 'us-east-1';
const BUCKET = 'streamgate-test';

// The package has no "exports" map, so its internal account registry can be required by path.
const require = createRequire(import.meta.url);
const S3RVER_MAIN = require.resolve('@20minutes/s3rver');
const S3RVER_ACCOUNT = require.resolve('@20minutes/s3rver/lib/models/account.js');

// Runs in the child. s3rver has no credentials option: keys live in the module-level account registry,
// so we register ours and revoke the built-in S3RVER/S3RVER pair. Only `require('s3rver')` is the server
// class (its `.default` is Koa's Application).
const CHILD_PROGRAM = `
const config = JSON.parse(process.env.S3RVER_CHILD_CONFIG);
const S3rver = require(config.main);
const { DUMMY_ACCOUNT } = require(config.account);
DUMMY_ACCOUNT.revokeAccessKey('S3RVER');
DUMMY_ACCOUNT.createKeyPair(config.accessKey, config.secretKey);
const server = new S3rver({
  address: '127.0.0.1',
  port: config.port,
  silent: true,
  directory: config.directory,
  configureBuckets: [{ name: config.bucket, configs: [] }],
});
server.run().then(
  (address) => process.send({ type: 'ready', port: address.port }),
  (error) => { console.error(error); process.exit(1); },
);
// Also on disconnect: if the test runner dies, the child must not outlive it or leave its data behind.
const shutdown = () =>
  server.close().finally(() => {
    require('node:fs').rmSync(config.directory, { recursive: true, force: true });
    process.exit(0);
  });
// 'suspend' keeps the data directory, for outage tests that resume on the same port and data.
const suspend = () => server.close().finally(() => process.exit(0));
process.on('message', (message) => {
  if (message === 'stop') shutdown();
  if (message === 'suspend') suspend();
});
process.on('disconnect', shutdown);
`;

/**
 * Starts @20minutes/s3rver 4.x on 127.0.0.1 and an ephemeral port, in a fresh temporary directory, with
 * SigV4 verification and the test bucket created.
 *
 * It runs in a child process started with `--openssl-legacy-provider`: s3rver encrypts ListObjectsV2
 * continuation tokens with DES, which OpenSSL 3 only offers through the legacy provider, so without it
 * every truncated listing answers 500. The child also keeps s3rver's synchronous directory walks off the
 * test runner's event loop.
 */
export async function startS3Server(): Promise<S3Server> {
  const directory = await mkdtemp(path.join(tmpdir(), 'streamgate-s3rver-'));
  let running: RunningChild;
  try {
    running = await spawnS3rver(directory, 0);
  } catch (error) {
    await rm(directory, { recursive: true, force: true });
    throw error;
  }
  const { port } = running;
  let stopping: Promise<void> | undefined;
  return {
    info: {
      endpoint: `http://127.0.0.1:${port}`,
      port,
      accessKey: ACCESS_KEY,
      secretKey: SECRET_KEY,
      region: REGION,
      bucket: BUCKET,
    },
    async suspend() {
      await running.end('suspend');
    },
    async resume() {
      if (!running.exited()) throw new Error('s3rver is running; suspend() it first');
      running = await spawnS3rver(directory, port);
    },
    stop() {
      stopping ??= (async () => {
        await running.end('stop');
        await rm(directory, { recursive: true, force: true });
      })();
      return stopping;
    },
  };
}

interface RunningChild {
  port: number;
  exited(): boolean;
  /** Asks the child to stop ('stop' also removes the directory), waits for its exit; idempotent. */
  end(message: 'stop' | 'suspend'): Promise<void>;
}

/** Starts the s3rver child on `port` (0 = ephemeral) over `directory`; resolves once it listens. */
async function spawnS3rver(directory: string, port: number): Promise<RunningChild> {
  const child = spawn(process.execPath, ['--openssl-legacy-provider', '-e', CHILD_PROGRAM], {
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    env: {
      ...process.env,
      S3RVER_CHILD_CONFIG: JSON.stringify({
        main: S3RVER_MAIN,
        account: S3RVER_ACCOUNT,
        directory,
        port,
        bucket: BUCKET,
        accessKey: ACCESS_KEY,
        secretKey: SECRET_KEY,
      }),
    },
  });
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-16_384);
  });
  const exited = once(child, 'exit');
  const hasExited = () => child.exitCode !== null || child.signalCode !== null;
  try {
    const listening = await new Promise<number>((resolve, reject) => {
      child.on('message', (message: { type?: string; port?: number }) => {
        if (message.type === 'ready' && typeof message.port === 'number') resolve(message.port);
      });
      child.once('error', reject);
      child.once('exit', (code, signal) => {
        reject(new Error(`s3rver exited before it was ready (code ${code}, signal ${signal}): ${stderr}`));
      });
    });
    return {
      port: listening,
      exited: hasExited,
      async end(message) {
        if (!hasExited()) {
          child.send(message);
          await exited;
        }
      },
    };
  } catch (error) {
    if (!hasExited() && child.pid !== undefined) {
      process.kill(child.pid);
      await exited;
    }
    throw error;
  }
}

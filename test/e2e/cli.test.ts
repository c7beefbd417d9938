import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../support/free-port.ts';
import { startPrivateRedis } from '../support/private-redis.ts';

const repoRoot = join(import.meta.dirname, '..', '..');
const bin = join(repoRoot, 'bin', 'streamgate.js');
const children: ChildProcess[] = [];
const dirs: string[] = [];
const cleanups: Array<() => Promise<void>> = [];

afterAll(async () => {
  for (const cleanup of cleanups) await cleanup();
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

/** A free TCP port on 127.0.0.1 (bound, then released). */
describe('the streamgate command', () => {
  it('prints usage and the configuration table for --help', async () => {
    const { stdout } = await promisify(execFile)(process.execPath, [bin, '--help'], { cwd: repoRoot });
    expect(stdout).toContain('streamgate serve');
    for (const name of [
      'STREAMGATE_HTTP_PORT',
      'STREAMGATE_REDIS_URL',
      'STREAMGATE_ACCESS_KEYS',
      'FFMPEG_PATH',
    ]) {
      expect(stdout).toContain(name);
    }
  });

  it('prints the RTMP publish URL with the token the gateway will accept', async () => {
    const { stdout } = await promisify(execFile)(process.execPath, [bin, 'publish-url', 'cam1'], {
      cwd: repoRoot,
      env: {
        PATH: process.env.PATH,
        STREAMGATE_PUBLISH_SECRET: 'cli-test-publish-secret-0123',
        STREAMGATE_RTMP_PORT: '1936',
      },
    });
    const { publishToken } = await import('../../src/ingest/index.ts');
    expect(stdout.trim()).toBe(
      `rtmp://localhost:1936/live/cam1?key=${publishToken('cli-test-publish-secret-0123', 'cam1')}`,
    );
  });

  it('rejects a bad variable with an error that names it, exit code 2', async () => {
    const run = promisify(execFile)(process.execPath, [bin, 'serve'], {
      cwd: repoRoot,
      env: { PATH: process.env.PATH, STREAMGATE_HTTP_PORT: 'http' },
    });
    await expect(run).rejects.toMatchObject({
      code: 2,
      stderr: expect.stringContaining('STREAMGATE_HTTP_PORT'),
    });
  });

  it('serves /readyz = 200 on defaults, generating its keys, and stops cleanly on SIGTERM', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'streamgate-cli-'));
    dirs.push(dataDir);
    // A fresh Redis of its own (the embedded-Redis path is covered in test/integration/redis), a free
    // port and a private data dir; no S3, no access keys, no KMS root key: all defaults.
    const redis = await startPrivateRedis();
    cleanups.push(() => redis.stop());
    const child = spawn(process.execPath, [bin, 'serve'], {
      cwd: repoRoot,
      env: {
        PATH: process.env.PATH,
        STREAMGATE_HOST: '127.0.0.1',
        STREAMGATE_HTTP_PORT: '0',
        STREAMGATE_DATA_DIR: dataDir,
        STREAMGATE_REDIS_URL: redis.url,
        STREAMGATE_RTMP_PORT: String(await freePort()),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(child);
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (chunk) => {
      stdout += chunk;
    });
    child.stderr?.on('data', (chunk) => {
      stderr += chunk;
    });
    await expect
      .poll(() => /"httpPort":(\d+)/.exec(stdout)?.[1], { timeout: 45_000, interval: 100 })
      .toBeDefined();
    const port = Number(/"httpPort":(\d+)/.exec(stdout)?.[1]);

    const response = await fetch(`http://127.0.0.1:${port}/readyz`);
    expect(response.status).toBe(200);

    // The generated SigV4 pair is shown once on stderr, stored 0600, and never logged.
    const keys = JSON.parse(await readFile(join(dataDir, 'access-keys.json'), 'utf8')) as {
      secretAccessKey: string;
    };
    expect(stderr).toContain(keys.secretAccessKey);
    expect(stdout).not.toContain(keys.secretAccessKey);
    expect((await stat(join(dataDir, 'access-keys.json'))).mode & 0o777).toBe(0o600);
    expect((await stat(join(dataDir, 'kms-root.key'))).mode & 0o777).toBe(0o600);

    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    const [code] = await exited;
    expect(code).toBe(0);
    expect(stdout).toContain('streamgate stopped');
  });
});

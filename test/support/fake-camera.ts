import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';

const SCRIPT = fileURLToPath(new URL('./fake-camera.py', import.meta.url));

/** A running GStreamer fake IP camera (see fake-camera.py). */
export interface FakeCamera {
  /** `rtsp://127.0.0.1:<port>/cam` */
  url: string;
  port: number;
  /** SIGKILLs the camera, as a power cut would; resolves when it is gone. */
  kill(): Promise<void>;
}

/** Starts the fake camera on `port`; resolves once it listens (rejects if it exits first). */
export async function startFakeCamera(port: number): Promise<FakeCamera> {
  const child: ChildProcess = spawn('/usr/bin/python3', [SCRIPT, String(port)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`fake camera did not start in 15 s: ${stderr}`)), 15_000);
    child.stdout?.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('ready')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`fake camera exited with ${code}: ${stderr}`));
    });
  });
  return {
    url: `rtsp://127.0.0.1:${port}/cam`,
    port,
    async kill() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, 'exit');
      child.kill('SIGKILL');
      await exited;
    },
  };
}

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inject } from 'vitest';
import { type App, type AppOverrides, createApp } from '../../src/app.ts';
import { type Config, loadConfig } from '../../src/config/index.ts';
import { createLogger } from '../../src/logging/index.ts';

/** The SigV4 key pair every e2e app accepts. */
export const TEST_KEYS = {
  accessKeyId: 'AKIDSTREAMGATETEST',
  secretAccessKey: 'streamgate-test-secret',
} as const;

/** The KMS root key of every test app (base64 of 32 bytes). */
export const TEST_ROOT_KEY = Buffer.alloc(32, 7).toString('base64');

/** A running gateway on 127.0.0.1 with a free port, plus how to reach and stop it. */
export interface RunningApp {
  app: App;
  port: number;
  /** `http://127.0.0.1:<port>` (or https when TLS is on). */
  endpoint: string;
  dataDir: string;
  stop(): Promise<void>;
}

/**
 * Builds the whole app exactly as `streamgate serve` does, on port 0, against the run's private Redis
 * and (with `objectStore: 's3'`) the run's S3 server. `env` overrides any variable. A given `dataDir`
 * is kept on stop (for restart tests); otherwise a temporary one is made and removed.
 */
export async function startApp(
  options: {
    env?: Record<string, string>;
    objectStore?: 'filesystem' | 's3';
    redisDefaultUrl?: string;
    overrides?: AppOverrides;
    dataDir?: string;
  } = {},
): Promise<RunningApp> {
  const ownDataDir = options.dataDir === undefined;
  const dataDir = options.dataDir ?? (await mkdtemp(join(tmpdir(), 'streamgate-e2e-')));
  const env: Record<string, string> = {
    STREAMGATE_HOST: '127.0.0.1',
    STREAMGATE_HTTP_PORT: '0',
    STREAMGATE_DATA_DIR: dataDir,
    STREAMGATE_REDIS_URL: inject('redisUrl'),
    STREAMGATE_ACCESS_KEYS: `${TEST_KEYS.accessKeyId}:${TEST_KEYS.secretAccessKey}`,
    // Every app of a run shares the run's Redis, so they share one KMS root key too.
    STREAMGATE_KMS_ROOT_KEY: TEST_ROOT_KEY,
    // node-media-server is process-global: only tests that publish over RTMP turn it on.
    STREAMGATE_RTMP_PORT: 'off',
    STREAMGATE_LOG_LEVEL: process.env.STREAMGATE_TEST_LOG_LEVEL ?? 'silent',
  };
  if (options.objectStore === 's3') {
    const s3 = inject('s3');
    Object.assign(env, {
      STREAMGATE_S3_ENDPOINT: s3.endpoint,
      STREAMGATE_S3_ACCESS_KEY: s3.accessKey,
      STREAMGATE_S3_SECRET_KEY: s3.secretKey,
      STREAMGATE_S3_BUCKET: s3.bucket,
      STREAMGATE_S3_REGION: s3.region,
    });
  }
  Object.assign(env, options.env);
  for (const [name, value] of Object.entries(env)) if (value === '') delete env[name];
  const config: Config = loadConfig(env);
  const app = createApp(config, createLogger({ level: config.logLevel }), {
    ...options.overrides,
    ...(options.redisDefaultUrl ? { redisDefaultUrl: options.redisDefaultUrl } : {}),
  });
  const { httpPort } = await app.start();
  return {
    app,
    port: httpPort,
    endpoint: `${config.tls ? 'https' : 'http'}://127.0.0.1:${httpPort}`,
    dataDir,
    async stop() {
      await app.stop();
      if (ownDataDir) await rm(dataDir, { recursive: true, force: true });
    },
  };
}

import type { TestProject } from 'vitest/node';
import { startPrivateRedis } from './private-redis.ts';
import { type S3ServerInfo, startS3Server } from './s3-server.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    /** redis://127.0.0.1:<port> of the run's private redis-server. */
    redisUrl: string;
    /** Connection facts of the run's S3 protocol server (@20minutes/s3rver, verifies SigV4). */
    s3: S3ServerInfo;
  }
}

/** Starts the dependencies every integration and e2e test may use; stops them after the run. */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const redis = await startPrivateRedis();
  const s3 = await startS3Server();
  project.provide('redisUrl', redis.url);
  project.provide('s3', s3.info);
  return async () => {
    await s3.stop();
    await redis.stop();
  };
}

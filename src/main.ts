import { createApp } from './app.ts';
import { ConfigError, loadConfig } from './config/index.ts';
import { createLogger } from './logging/index.ts';

/** Loads config, starts the gateway, and stops it gracefully on SIGTERM / SIGINT. */
export async function main(env: NodeJS.ProcessEnv = process.env): Promise<void> {
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message);
      process.exitCode = 2;
      return;
    }
    throw error;
  }
  const logger = createLogger({ level: config.logLevel });
  const app = createApp(config, logger);
  try {
    await app.start();
  } catch (error) {
    logger.fatal({ err: error }, 'streamgate could not start');
    console.error(`streamgate could not start: ${(error as Error).message}`);
    process.exitCode = 1;
    return;
  }
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    signals += 1;
    if (signals > 1) {
      logger.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    logger.info({ signal }, 'shutting down: draining in-flight requests');
    app.stop().then(
      () => {
        process.exitCode = 0;
      },
      (error: unknown) => {
        logger.error({ err: error }, 'shutdown failed');
        process.exitCode = 1;
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}

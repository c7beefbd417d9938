// Logging: structured JSON logs (pino) with secrets redacted. Leaf module: imports nothing of ours.
export { createLogger, type Logger } from './logger.ts';

import { type Logger as PinoLogger, pino } from 'pino';

/** The structured logger every module receives (a pino instance; use `child({ ... })` for context). */
export type Logger = PinoLogger;

/** Paths whose values never reach a log line. */
const redactPaths = [
  'headers.authorization',
  'headers["x-amz-security-token"]',
  'query["X-Amz-Signature"]',
  'query["X-Amz-Credential"]',
  '*.secretAccessKey',
  '*.secretKey',
  'secretAccessKey',
  'secretKey',
];

/** Builds the process logger: JSON lines on stdout (or `destination`), secrets censored. */
export function createLogger(options: { level: string; destination?: NodeJS.WritableStream }): Logger {
  return pino(
    {
      level: options.level,
      base: { service: 'streamgate' },
      redact: { paths: redactPaths, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    options.destination ?? process.stdout,
  );
}

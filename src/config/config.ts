import { z } from 'zod';

const port = z.coerce.number().int().min(0).max(65535);
const positiveMs = z.coerce.number().int().min(1);
const optionalString = z.string().trim().min(1).optional();

/** One access key pair accepted for SigV4. */
export interface AccessKey {
  accessKeyId: string;
  secretAccessKey: string;
}

const accessKeys = z
  .string()
  .trim()
  .min(1)
  .transform((raw, ctx): AccessKey[] => {
    const pairs: AccessKey[] = [];
    for (const item of raw.split(',')) {
      const [accessKeyId, secretAccessKey, ...rest] = item.trim().split(':');
      if (!accessKeyId || !secretAccessKey || rest.length > 0 || !/^[A-Za-z0-9]{4,128}$/.test(accessKeyId)) {
        ctx.addIssue({
          code: 'custom',
          message: 'expected AKID:SECRET[,AKID:SECRET...] with an alphanumeric access key id',
        });
        return z.NEVER;
      }
      pairs.push({ accessKeyId, secretAccessKey });
    }
    return pairs;
  })
  .optional();

const s3Endpoint = z
  .string()
  .trim()
  .refine((v) => /^https?:\/\/[^/]+\/?$/.test(v), 'expected http(s)://host[:port] with no path')
  .optional();

/** Every environment variable Streamgate reads, with its default. The README's table mirrors this. */
const envSchema = z.object({
  STREAMGATE_HOST: z.string().trim().min(1).default('0.0.0.0'),
  STREAMGATE_HTTP_PORT: port.default(8080),
  STREAMGATE_RTMP_PORT: z
    .union([z.literal('off'), port])
    .default(1935)
    .transform((v) => (v === 'off' ? undefined : v)),
  STREAMGATE_PUBLISH_SECRET: z.string().trim().min(16, 'expected at least 16 characters').optional(),
  STREAMGATE_RTSP_PULL: z.enum(['on', 'off']).default('on'),
  STREAMGATE_HLS_CACHE_MB: z.coerce.number().int().min(0).max(65_536).default(256),
  STREAMGATE_DATA_DIR: z.string().trim().min(1).default('./data'),
  STREAMGATE_REDIS_URL: z
    .string()
    .trim()
    .refine((v) => /^rediss?:\/\//.test(v), 'expected redis://[user:pass@]host:port[/db] or rediss://…')
    .optional(),
  STREAMGATE_S3_ENDPOINT: s3Endpoint,
  STREAMGATE_S3_ACCESS_KEY: optionalString,
  STREAMGATE_S3_SECRET_KEY: optionalString,
  STREAMGATE_S3_BUCKET: z
    .string()
    .trim()
    .regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'expected an S3 bucket name')
    .default('streamgate'),
  STREAMGATE_S3_REGION: optionalString,
  STREAMGATE_ACCESS_KEYS: accessKeys,
  STREAMGATE_REGION: z
    .string()
    .trim()
    .regex(/^[a-z0-9-]+$/, 'expected a region name like us-east-1')
    .default('us-east-1'),
  STREAMGATE_ACCOUNT_ID: z
    .string()
    .trim()
    .regex(/^\d{12}$/, 'expected 12 digits')
    .default('000000000000'),
  STREAMGATE_KMS_ROOT_KEY: z
    .string()
    .trim()
    .refine(
      (v) => /^[A-Za-z0-9+/]{43}=$/.test(v) && Buffer.from(v, 'base64').length === 32,
      'expected base64 of 32 bytes',
    )
    .optional(),
  STREAMGATE_TLS_CERT: optionalString,
  STREAMGATE_TLS_KEY: optionalString,
  STREAMGATE_MAX_BODY_BYTES: z.coerce
    .number()
    .int()
    .min(1024)
    .default(16 * 1024 * 1024),
  STREAMGATE_KDS_MAX_RECORD_BYTES: z.coerce
    .number()
    .int()
    .min(1024 * 1024)
    .max(10 * 1024 * 1024)
    .default(1024 * 1024),
  STREAMGATE_KDS_SHARD_LIMITS: z.enum(['off', 'aws']).default('off'),
  STREAMGATE_FIREHOSE_CLAIM_IDLE_MS: positiveMs.default(60_000),
  STREAMGATE_FIREHOSE_MAX_BUFFER_BYTES: z.coerce.number().int().min(1_048_576).default(1_073_741_824),
  STREAMGATE_PUBLIC_URL: z
    .string()
    .trim()
    .refine((v) => /^https?:\/\/[^/]+(\/.*)?$/.test(v), 'expected http(s)://host[:port][/path]')
    .optional(),
  STREAMGATE_HEADERS_TIMEOUT_MS: positiveMs.default(10_000),
  STREAMGATE_BODY_TIMEOUT_MS: positiveMs.default(20_000),
  STREAMGATE_IDLE_TIMEOUT_MS: positiveMs.default(60_000),
  STREAMGATE_SHUTDOWN_TIMEOUT_MS: positiveMs.default(10_000),
  STREAMGATE_VIDEO_BACKLOG_MEMORY_BYTES: z.coerce
    .number()
    .int()
    .min(0)
    .default(16 * 1024 * 1024),
  STREAMGATE_VIDEO_SPOOL_MAX_BYTES: z.coerce
    .number()
    .int()
    .min(0)
    .default(1024 * 1024 * 1024),
  STREAMGATE_LOG_LEVEL: z
    .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
    .default('info'),
  FFMPEG_PATH: optionalString,
});

/** The validated configuration every module receives (units in the names). */
export interface Config {
  host: string;
  httpPort: number;
  /** RTMP ingest port; undefined = RTMP ingest off. */
  rtmpPort: number | undefined;
  /** Secret of RTMP publish tokens; undefined = generated into the data dir. */
  publishSecret: string | undefined;
  /** Whether this gateway pulls the configured RTSP cameras (one replica per camera, by lease). */
  rtspPull: boolean;
  /** Decrypted HLS media kept in memory for live viewers (bytes). */
  hlsCacheBytes: number;
  dataDir: string;
  /** Undefined means "the default, with the embedded fallback" (see redis/). */
  redisUrl: string | undefined;
  s3: { endpoint: string; accessKey: string; secretKey: string; bucket: string; region: string } | undefined;
  accessKeys: AccessKey[] | undefined;
  region: string;
  accountId: string;
  /** Base64 of the 32-byte KMS root key; undefined = the generated file in the data dir. */
  kmsRootKey: string | undefined;
  tls: { certFile: string; keyFile: string } | undefined;
  maxBodyBytes: number;
  /** Largest Data Streams record (data + partition key), 1–10 MiB. */
  kdsMaxRecordBytes: number;
  /** `aws`: enforce AWS's per-shard throughput limits (per replica); `off`: unlimited. */
  kdsShardLimits: 'off' | 'aws';
  /** How long Firehose records may sit unacknowledged with a silent worker before another takes them. */
  firehoseClaimIdleMs: number;
  /** Most bytes one Firehose delivery stream buffers in Redis; more puts get ServiceUnavailableException. */
  firehoseMaxBufferBytes: number;
  /** Base URL clients reach the gateway at (GetDataEndpoint); undefined = from each request's Host. */
  publicUrl: string | undefined;
  headersTimeoutMs: number;
  bodyTimeoutMs: number;
  idleTimeoutMs: number;
  shutdownTimeoutMs: number;
  /** Sealed bytes of a video stream's archive backlog held in memory while storage fails. */
  videoBacklogMemoryBytes: number;
  /** Disk spool bytes per video stream beyond the memory backlog; 0 = no spool (drop instead). */
  videoSpoolMaxBytes: number;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  ffmpegPath: string | undefined;
}

/** Thrown when the environment does not satisfy the contract; the message names every bad variable. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Parses `env` into a Config or throws ConfigError listing each offending variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((issue) => {
      const name = String(issue.path[0] ?? '(environment)');
      const value = env[name];
      const shown = value === undefined || /SECRET|ACCESS_KEYS|KEY$/.test(name) ? '' : ` (got "${value}")`;
      return `  ${name}: ${issue.message}${shown}`;
    });
    throw new ConfigError(`Invalid configuration:\n${lines.join('\n')}`);
  }
  const e = parsed.data;
  const problems: string[] = [];
  const s3Vars = [e.STREAMGATE_S3_ENDPOINT, e.STREAMGATE_S3_ACCESS_KEY, e.STREAMGATE_S3_SECRET_KEY];
  if (s3Vars.some((v) => v !== undefined) && s3Vars.some((v) => v === undefined)) {
    problems.push(
      '  STREAMGATE_S3_ENDPOINT, STREAMGATE_S3_ACCESS_KEY, STREAMGATE_S3_SECRET_KEY: set all three, or none for the filesystem object store',
    );
  }
  if ((e.STREAMGATE_TLS_CERT === undefined) !== (e.STREAMGATE_TLS_KEY === undefined)) {
    problems.push('  STREAMGATE_TLS_CERT, STREAMGATE_TLS_KEY: set both (PEM file paths) or neither');
  }
  if (problems.length > 0) throw new ConfigError(`Invalid configuration:\n${problems.join('\n')}`);

  return Object.freeze({
    host: e.STREAMGATE_HOST,
    httpPort: e.STREAMGATE_HTTP_PORT,
    rtmpPort: e.STREAMGATE_RTMP_PORT,
    publishSecret: e.STREAMGATE_PUBLISH_SECRET,
    rtspPull: e.STREAMGATE_RTSP_PULL === 'on',
    hlsCacheBytes: e.STREAMGATE_HLS_CACHE_MB * 1024 * 1024,
    dataDir: e.STREAMGATE_DATA_DIR,
    redisUrl: e.STREAMGATE_REDIS_URL,
    s3:
      e.STREAMGATE_S3_ENDPOINT && e.STREAMGATE_S3_ACCESS_KEY && e.STREAMGATE_S3_SECRET_KEY
        ? {
            endpoint: e.STREAMGATE_S3_ENDPOINT.replace(/\/$/, ''),
            accessKey: e.STREAMGATE_S3_ACCESS_KEY,
            secretKey: e.STREAMGATE_S3_SECRET_KEY,
            bucket: e.STREAMGATE_S3_BUCKET,
            region: e.STREAMGATE_S3_REGION ?? e.STREAMGATE_REGION,
          }
        : undefined,
    accessKeys: e.STREAMGATE_ACCESS_KEYS,
    region: e.STREAMGATE_REGION,
    accountId: e.STREAMGATE_ACCOUNT_ID,
    kmsRootKey: e.STREAMGATE_KMS_ROOT_KEY,
    tls:
      e.STREAMGATE_TLS_CERT && e.STREAMGATE_TLS_KEY
        ? { certFile: e.STREAMGATE_TLS_CERT, keyFile: e.STREAMGATE_TLS_KEY }
        : undefined,
    maxBodyBytes: e.STREAMGATE_MAX_BODY_BYTES,
    kdsMaxRecordBytes: e.STREAMGATE_KDS_MAX_RECORD_BYTES,
    kdsShardLimits: e.STREAMGATE_KDS_SHARD_LIMITS,
    firehoseClaimIdleMs: e.STREAMGATE_FIREHOSE_CLAIM_IDLE_MS,
    firehoseMaxBufferBytes: e.STREAMGATE_FIREHOSE_MAX_BUFFER_BYTES,
    publicUrl: e.STREAMGATE_PUBLIC_URL?.replace(/\/+$/, ''),
    headersTimeoutMs: e.STREAMGATE_HEADERS_TIMEOUT_MS,
    bodyTimeoutMs: e.STREAMGATE_BODY_TIMEOUT_MS,
    idleTimeoutMs: e.STREAMGATE_IDLE_TIMEOUT_MS,
    shutdownTimeoutMs: e.STREAMGATE_SHUTDOWN_TIMEOUT_MS,
    videoBacklogMemoryBytes: e.STREAMGATE_VIDEO_BACKLOG_MEMORY_BYTES,
    videoSpoolMaxBytes: e.STREAMGATE_VIDEO_SPOOL_MAX_BYTES,
    logLevel: e.STREAMGATE_LOG_LEVEL,
    ffmpegPath: e.FFMPEG_PATH,
  });
}

/** Variable → [default, meaning], for `streamgate --help`. */
export const configDocs: ReadonlyArray<readonly [string, string, string]> = [
  ['STREAMGATE_HOST', '0.0.0.0', 'bind address of every listener'],
  ['STREAMGATE_HTTP_PORT', '8080', 'the one HTTP port (HTTP/1.1 + h2c; h2 via ALPN with TLS)'],
  ['STREAMGATE_RTMP_PORT', '1935', 'RTMP ingest port, or off'],
  ['STREAMGATE_PUBLISH_SECRET', '(generated)', 'secret of RTMP publish tokens (all replicas must share it)'],
  ['STREAMGATE_HLS_CACHE_MB', '256', 'decrypted HLS media kept in memory for live viewers (0 = none)'],
  [
    'STREAMGATE_RTSP_PULL',
    'on',
    'pull the RTSP cameras configured with PutRtspSource (off: never on this replica)',
  ],
  ['STREAMGATE_DATA_DIR', './data', 'local state: filesystem object store, embedded Redis, generated keys'],
  [
    'STREAMGATE_REDIS_URL',
    'redis://127.0.0.1:6379',
    'Redis; when unset and nothing answers, an embedded redis-server',
  ],
  [
    'STREAMGATE_S3_ENDPOINT',
    '(unset)',
    'MinIO/S3 endpoint; unset = filesystem object store under the data dir',
  ],
  ['STREAMGATE_S3_ACCESS_KEY', '(unset)', 'S3 access key'],
  ['STREAMGATE_S3_SECRET_KEY', '(unset)', 'S3 secret key'],
  ['STREAMGATE_S3_BUCKET', 'streamgate', 'S3 bucket (created when missing)'],
  ['STREAMGATE_S3_REGION', '$STREAMGATE_REGION', 'S3 signing region'],
  ['STREAMGATE_ACCESS_KEYS', '(generated)', 'AKID:SECRET[,AKID:SECRET...] accepted for SigV4'],
  ['STREAMGATE_REGION', 'us-east-1', 'region named in ARNs and errors'],
  ['STREAMGATE_ACCOUNT_ID', '000000000000', 'account id named in ARNs and errors'],
  [
    'STREAMGATE_KMS_ROOT_KEY',
    '(generated)',
    'base64 of the 32-byte root key that wraps every KMS key in Redis',
  ],
  ['STREAMGATE_TLS_CERT', '(unset)', 'PEM certificate file; with _KEY, serve TLS (h2 + HTTP/1.1 via ALPN)'],
  ['STREAMGATE_TLS_KEY', '(unset)', 'PEM private key file'],
  ['STREAMGATE_MAX_BODY_BYTES', '16777216', 'largest accepted API request body (413 above)'],
  [
    'STREAMGATE_KDS_MAX_RECORD_BYTES',
    '1048576',
    'largest Data Streams record (data + partition key), up to 10485760',
  ],
  [
    'STREAMGATE_KDS_SHARD_LIMITS',
    'off',
    "aws = enforce AWS's per-shard throughput limits (1 MiB/s, 1000 records/s in; 2 MiB/s, 5 calls/s out)",
  ],
  [
    'STREAMGATE_FIREHOSE_CLAIM_IDLE_MS',
    '60000',
    'Firehose: buffered records a worker stopped renewing for this long are delivered by another replica',
  ],
  [
    'STREAMGATE_FIREHOSE_MAX_BUFFER_BYTES',
    '1073741824',
    'Firehose: bytes a delivery stream may hold undelivered in Redis before puts get ServiceUnavailableException',
  ],
  [
    'STREAMGATE_PUBLIC_URL',
    '(from Host)',
    'base URL clients reach the gateway at, returned by KVS GetDataEndpoint',
  ],
  ['STREAMGATE_HEADERS_TIMEOUT_MS', '10000', 'time allowed to receive request headers'],
  ['STREAMGATE_BODY_TIMEOUT_MS', '20000', 'longest pause allowed while receiving a request body'],
  ['STREAMGATE_IDLE_TIMEOUT_MS', '60000', 'idle keep-alive connection / HTTP/2 session lifetime'],
  ['STREAMGATE_SHUTDOWN_TIMEOUT_MS', '10000', 'how long SIGTERM waits for in-flight requests'],
  [
    'STREAMGATE_VIDEO_BACKLOG_MEMORY_BYTES',
    '16777216',
    'per video stream: sealed fragment bytes held in memory while object storage fails',
  ],
  [
    'STREAMGATE_VIDEO_SPOOL_MAX_BYTES',
    '1073741824',
    'per video stream: disk spool (<data dir>/spool) beyond the memory backlog; past it the oldest GOPs drop; 0 = no spool',
  ],
  ['STREAMGATE_LOG_LEVEL', 'info', 'pino log level'],
  ['FFMPEG_PATH', 'ffmpeg on PATH', 'ffmpeg binary'],
];

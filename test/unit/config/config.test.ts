import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../../src/config/index.ts';

describe('loadConfig', () => {
  it('applies the documented defaults to an empty environment', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      host: '0.0.0.0',
      httpPort: 8080,
      rtmpPort: 1935,
      rtspPull: true,
      hlsCacheBytes: 256 * 1024 * 1024,
      dataDir: './data',
      redisUrl: undefined,
      s3: undefined,
      accessKeys: undefined,
      region: 'us-east-1',
      accountId: '000000000000',
      tls: undefined,
      ffmpegPath: undefined,
      videoBacklogMemoryBytes: 16 * 1024 * 1024,
      videoSpoolMaxBytes: 1024 * 1024 * 1024,
    });
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('bounds the video backlog: memory and spool bytes, 0 = no spool; negatives refused', () => {
    const config = loadConfig({
      STREAMGATE_VIDEO_BACKLOG_MEMORY_BYTES: '65536',
      STREAMGATE_VIDEO_SPOOL_MAX_BYTES: '0',
    });
    expect(config).toMatchObject({ videoBacklogMemoryBytes: 65536, videoSpoolMaxBytes: 0 });
    expect(() => loadConfig({ STREAMGATE_VIDEO_SPOOL_MAX_BYTES: '-1' })).toThrow(ConfigError);
    expect(() => loadConfig({ STREAMGATE_VIDEO_BACKLOG_MEMORY_BYTES: '16MiB' })).toThrow(
      /STREAMGATE_VIDEO_BACKLOG_MEMORY_BYTES/,
    );
  });

  it('parses every documented variable', () => {
    const config = loadConfig({
      STREAMGATE_HOST: '127.0.0.1',
      STREAMGATE_HTTP_PORT: '9000',
      STREAMGATE_DATA_DIR: '/var/lib/sg',
      STREAMGATE_REDIS_URL: 'redis://redis:6379/2',
      STREAMGATE_S3_ENDPOINT: 'http://minio:9000/',
      STREAMGATE_S3_ACCESS_KEY: 'minio',
      STREAMGATE_S3_SECRET_KEY: 'minio123',
      STREAMGATE_S3_BUCKET: 'video-archive',
      STREAMGATE_ACCESS_KEYS: 'AKIDONE:secret1, AKIDTWO:secret2',
      STREAMGATE_REGION: 'eu-west-1',
      STREAMGATE_ACCOUNT_ID: '123456789012',
      FFMPEG_PATH: '/usr/bin/ffmpeg',
    });
    expect(config.httpPort).toBe(9000);
    expect(config.s3).toEqual({
      endpoint: 'http://minio:9000',
      accessKey: 'minio',
      secretKey: 'minio123',
      bucket: 'video-archive',
      region: 'eu-west-1',
    });
    expect(config.accessKeys).toEqual([
      { accessKeyId: 'AKIDONE', secretAccessKey: 'secret1' },
      { accessKeyId: 'AKIDTWO', secretAccessKey: 'secret2' },
    ]);
    expect(config.ffmpegPath).toBe('/usr/bin/ffmpeg');
  });

  it('names each bad variable in one error', () => {
    let error: unknown;
    try {
      loadConfig({
        STREAMGATE_HTTP_PORT: 'eighty',
        STREAMGATE_ACCOUNT_ID: '12',
        STREAMGATE_REDIS_URL: 'localhost',
      });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as Error).message;
    expect(message).toContain('STREAMGATE_HTTP_PORT');
    expect(message).toContain('STREAMGATE_ACCOUNT_ID');
    expect(message).toContain('STREAMGATE_REDIS_URL');
  });

  it('never echoes secrets in errors', () => {
    expect(() => loadConfig({ STREAMGATE_ACCESS_KEYS: 'no-colon-here-supersecret' })).toThrow(
      expect.objectContaining({ message: expect.not.stringContaining('supersecret') }),
    );
  });

  it('requires the S3 variables together and the TLS pair together', () => {
    expect(() => loadConfig({ STREAMGATE_S3_ENDPOINT: 'http://minio:9000' })).toThrow(/set all three/);
    expect(() => loadConfig({ STREAMGATE_TLS_CERT: '/tmp/cert.pem' })).toThrow(/STREAMGATE_TLS_KEY/);
  });
});

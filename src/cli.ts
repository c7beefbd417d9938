import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { setFlagsFromString } from 'node:v8';
import { type Config, ConfigError, configDocs, loadConfig } from './config/index.ts';
import { publishToken, resolvePublishSecret, rtmpPublishUrl } from './ingest/index.ts';
import { main } from './main.ts';

const USAGE = `streamgate — self-hosted, AWS-SDK-compatible Kinesis (Video Streams, Data Streams, Firehose, KMS)

Usage:
  streamgate serve        start the gateway (the default command)
  streamgate publish-url <StreamName>
                          print the RTMP URL (with its publish token) for OBS or ffmpeg; run it with
                          the gateway's environment (same data dir or STREAMGATE_PUBLISH_SECRET)
  streamgate --help       show this help
  streamgate --version    print the version

Configuration is read from environment variables:
`;

/** The `streamgate` command line. */
export async function cli(argv: readonly string[]): Promise<void> {
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      options: { help: { type: 'boolean', short: 'h' }, version: { type: 'boolean', short: 'v' } },
    });
  } catch (error) {
    console.error(`${(error as Error).message}\n\n${usage()}`);
    process.exitCode = 2;
    return;
  }
  const command = parsed.positionals[0] ?? 'serve';
  if (parsed.values.help || command === 'help') {
    process.stdout.write(usage());
    return;
  }
  if (parsed.values.version) {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
      version: string;
    };
    process.stdout.write(`${pkg.version}\n`);
    return;
  }
  if (command === 'publish-url') {
    await printPublishUrl(parsed.positionals[1]);
    return;
  }
  if (command !== 'serve' || parsed.positionals.length > 1) {
    console.error(`unknown command: ${parsed.positionals.join(' ')}\n\n${usage()}`);
    process.exitCode = 2;
    return;
  }
  tuneHeapGrowth();
  await main();
}

/**
 * Media moves through Buffers, and V8 counts Buffer memory allocated since the last full collection
 * against the old generation's growth limit. With V8's default growth (about 1.7x the live heap) 10
 * RTMP streams (3.6 MB/s) set off a full collection every ~1.3 s, which cost more CPU than the media
 * path itself. Letting the limit grow to 3x the live heap (~100 MB here) makes them rare.
 * bench/ingest.ts: 2.0 % → 1.1-1.4 % CPU per 720p stream, for ~60 MB more heap at most.
 */
function tuneHeapGrowth(): void {
  setFlagsFromString('--heap-growing-percent=200');
}

async function printPublishUrl(streamName: string | undefined): Promise<void> {
  if (!streamName) {
    console.error(`publish-url needs a stream name\n\n${usage()}`);
    process.exitCode = 2;
    return;
  }
  let config: Config;
  try {
    config = loadConfig();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    console.error(error.message);
    process.exitCode = 2;
    return;
  }
  if (config.rtmpPort === undefined) {
    console.error('RTMP ingest is off (STREAMGATE_RTMP_PORT=off)');
    process.exitCode = 1;
    return;
  }
  const secret = await resolvePublishSecret(config.publishSecret, resolve(config.dataDir));
  const host = config.publicUrl
    ? new URL(config.publicUrl).hostname
    : config.host === '0.0.0.0'
      ? 'localhost'
      : config.host;
  process.stdout.write(
    `${rtmpPublishUrl(host, config.rtmpPort, streamName, publishToken(secret, streamName))}\n`,
  );
}

function usage(): string {
  const width = Math.max(...configDocs.map(([name]) => name.length));
  const rows = configDocs.map(
    ([name, def, meaning]) => `  ${name.padEnd(width)}  ${meaning} [default: ${def}]`,
  );
  return `${USAGE}${rows.join('\n')}\n`;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await cli(process.argv.slice(2));
}

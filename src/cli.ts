import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { configDocs } from './config/index.ts';
import { main } from './main.ts';

const USAGE = `streamgate — self-hosted, AWS-SDK-compatible Kinesis (Video Streams, Data Streams, Firehose, KMS)

Usage:
  streamgate serve        start the gateway (the default command)
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
  if (command !== 'serve' || parsed.positionals.length > 1) {
    console.error(`unknown command: ${parsed.positionals.join(' ')}\n\n${usage()}`);
    process.exitCode = 2;
    return;
  }
  await main();
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

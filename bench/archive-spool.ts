// Archive spool benchmark: how fast the disk spool takes sealed fragments (write to a temporary name,
// fdatasync, rename) and gives them back (read, delete), for GOP-sized writes, on the data dir's disk.
// A 2 Mbit/s camera with 1 s GOPs makes ~250 KB per second, so MB/s here / 0.25 is the number of such
// streams one gateway can spool at once. Prints JSON; MBps is 10^6 bytes per second.
// Usage: npx tsx bench/archive-spool.ts [--writes 200 --bytes 262144 --dir /path/on/the/data/disk]
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ArchiveSpool, type SpoolEntry } from '../src/video-archive/index.ts';

const { values } = parseArgs({
  options: {
    writes: { type: 'string', default: '200' },
    bytes: { type: 'string', default: String(256 * 1024) },
    dir: { type: 'string', default: tmpdir() },
  },
});
const writes = Number(values.writes);
const bytes = Number(values.bytes);
const root = await mkdtemp(join(values.dir, 'streamgate-bench-spool-'));
try {
  const spool = new ArchiveSpool({ rootDir: root });
  await spool.start();
  const header = randomBytes(120);
  const ciphertext = randomBytes(bytes);
  const entries: SpoolEntry[] = [];
  const appendStart = performance.now();
  for (let i = 0; i < writes; i += 1) {
    entries.push(
      await spool.append(
        {
          kind: 'fragment',
          streamName: 'bench',
          streamId: 'bench-1',
          fragment: {
            fragmentNumber: `9${String(i + 1).padStart(20, '0')}`,
            sizeBytes: bytes,
            producerTimestampMs: i * 1000,
            serverTimestampMs: i * 1000,
            durationMs: 1000,
            initVersion: '0123456789abcdef',
            objectKey: `video/bench-1/2026/01/01/00/${i}.m4s`,
          },
        },
        [header, ciphertext],
      ),
    );
  }
  const appendMs = performance.now() - appendStart;
  const drainStart = performance.now();
  let read = 0;
  for (const entry of entries) {
    const [h, c] = await spool.read(entry);
    read += h.length + c.length;
    await spool.remove(entry);
  }
  const drainMs = performance.now() - drainStart;
  const total = entries.reduce((sum, entry) => sum + entry.sizeBytes, 0);
  process.stdout.write(
    `${JSON.stringify(
      {
        benchmark: 'archive-spool',
        node: process.version,
        dir: values.dir,
        writes,
        bytesPerWrite: bytes,
        append: {
          writesPerSecond: Math.round((writes / appendMs) * 1000),
          MBps: Number((total / 1e6 / (appendMs / 1000)).toFixed(1)),
          msPerWrite: Number((appendMs / writes).toFixed(2)),
        },
        drain: {
          writesPerSecond: Math.round((writes / drainMs) * 1000),
          MBps: Number((read / 1e6 / (drainMs / 1000)).toFixed(1)),
        },
      },
      null,
      2,
    )}\n`,
  );
} finally {
  await rm(root, { recursive: true, force: true });
}

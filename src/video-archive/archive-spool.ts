import { mkdir, open, readdir, readFile, rename, rm, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { FragmentMetadata } from './archive-layout.ts';

// The disk half of the archive writer's backlog: one file per pending write under
// `<root>/<stream-id>/<sequence>.spool`, holding the SEALED envelope parts (never plaintext media)
// and what indexing needs. A file exists from the moment it is durable (written to a temporary name,
// fsynced, renamed, directory fsynced) until its write was stored and indexed.

/** What a spooled write stores and indexes once the object store answers again. */
export type SpoolRecord =
  | {
      kind: 'init';
      streamName: string;
      streamId: string;
      version: string;
      objectKey: string;
      /** The fragment counter when the init was accepted: its fragments all number higher. */
      orderScore?: number;
    }
  | {
      kind: 'fragment';
      streamName: string;
      streamId: string;
      fragment: FragmentMetadata;
    };

/** One durable spool file. */
export interface SpoolEntry {
  readonly file: string;
  /** Size of the file in bytes (what the spool bound counts). */
  readonly sizeBytes: number;
  readonly record: SpoolRecord;
}

/** A spool file that could not be parsed (torn or foreign); it is removed on recovery. */
export class SpoolFileError extends Error {
  override name = 'SpoolFileError';
}

// File layout, version 1: 'SGSP' | u8 version | u32be record length | record JSON |
// u32be header length | envelope header | envelope ciphertext (to the end of the file).
const MAGIC = Buffer.from('SGSP', 'latin1');
const VERSION = 1;
const SUFFIX = '.spool';
const TEMP_SUFFIX = '.tmp';

function encode(record: SpoolRecord, parts: readonly [Buffer, Buffer]): Buffer[] {
  const json = Buffer.from(JSON.stringify(record), 'utf8');
  const head = Buffer.alloc(MAGIC.length + 1 + 4);
  MAGIC.copy(head, 0);
  head.writeUInt8(VERSION, MAGIC.length);
  head.writeUInt32BE(json.length, MAGIC.length + 1);
  const headerLength = Buffer.alloc(4);
  headerLength.writeUInt32BE(parts[0].length);
  return [head, json, headerLength, parts[0], parts[1]];
}

function decode(file: string, bytes: Buffer): { record: SpoolRecord; parts: [Buffer, Buffer] } {
  const fail = (why: string) => new SpoolFileError(`spool file ${file}: ${why}`);
  const fixed = MAGIC.length + 1 + 4;
  if (bytes.length < fixed || !bytes.subarray(0, MAGIC.length).equals(MAGIC)) throw fail('bad magic');
  if (bytes.readUInt8(MAGIC.length) !== VERSION) throw fail('unknown version');
  const jsonEnd = fixed + bytes.readUInt32BE(MAGIC.length + 1);
  if (jsonEnd + 4 > bytes.length) throw fail('truncated record');
  let record: SpoolRecord;
  try {
    record = JSON.parse(bytes.subarray(fixed, jsonEnd).toString('utf8')) as SpoolRecord;
  } catch (error) {
    throw new SpoolFileError(`spool file ${file}: unparseable record`, { cause: error });
  }
  if (record.kind !== 'init' && record.kind !== 'fragment') throw fail('unknown record kind');
  const headerEnd = jsonEnd + 4 + bytes.readUInt32BE(jsonEnd);
  if (headerEnd > bytes.length) throw fail('truncated envelope header');
  return { record, parts: [bytes.subarray(jsonEnd + 4, headerEnd), bytes.subarray(headerEnd)] };
}

/** fsync of a directory, so entries created or renamed in it are durable. */
async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

const sequenceName = (sequence: number) => `${String(sequence).padStart(16, '0')}${SUFFIX}`;

/** What `start` found: entries to drain (per stream in write order) and files it had to remove. */
export interface SpoolRecovery {
  entries: SpoolEntry[];
  discarded: { file: string; reason: string }[];
}

/**
 * A directory of sealed archive writes awaiting the object store. File names carry one increasing
 * sequence for the whole spool, reserved when a write is accepted (`reserve`) even if it is spooled
 * only later (on stop), so sorting a stream's files by name gives its write order, also across
 * restarts.
 */
export class ArchiveSpool {
  readonly rootDir: string;
  #nextSequence = 1;
  #started = false;

  constructor(options: { rootDir: string }) {
    this.rootDir = options.rootDir;
  }

  /** Creates the root, removes torn temporary files and unreadable spool files, returns what is left. */
  async start(): Promise<SpoolRecovery> {
    await mkdir(this.rootDir, { recursive: true });
    const recovery: SpoolRecovery = { entries: [], discarded: [] };
    for (const streamDir of (await readdir(this.rootDir, { withFileTypes: true })).sort((a, b) =>
      a.name.localeCompare(b.name),
    )) {
      if (!streamDir.isDirectory()) continue;
      const dir = join(this.rootDir, streamDir.name);
      const names = (await readdir(dir)).sort();
      for (const name of names) {
        const file = join(dir, name);
        if (name.endsWith(TEMP_SUFFIX)) {
          recovery.discarded.push({ file, reason: 'torn write (temporary file)' });
          await rm(file, { force: true });
          continue;
        }
        if (!name.endsWith(SUFFIX)) continue;
        const sequence = Number(name.slice(0, -SUFFIX.length));
        if (Number.isSafeInteger(sequence)) this.#nextSequence = Math.max(this.#nextSequence, sequence + 1);
        try {
          const bytes = await readFile(file);
          const { record } = decode(file, bytes);
          if (record.streamId !== streamDir.name) throw new SpoolFileError(`${file}: stream id mismatch`);
          recovery.entries.push({ file, sizeBytes: bytes.length, record });
        } catch (error) {
          if (!(error instanceof SpoolFileError)) throw error;
          recovery.discarded.push({ file, reason: error.message });
          await rm(file, { force: true });
        }
      }
    }
    this.#started = true;
    return recovery;
  }

  /** The next spool sequence number: a write's place in write order, taken when it is accepted. */
  reserve(): number {
    if (!this.#started) throw new Error('ArchiveSpool.start() first');
    return this.#nextSequence++;
  }

  /**
   * Writes one sealed write durably (temporary file, fsync, rename) under `sequence` (from
   * `reserve`; a new one by default); resolves with its entry.
   */
  async append(
    record: SpoolRecord,
    parts: readonly [Buffer, Buffer],
    sequence: number = this.reserve(),
  ): Promise<SpoolEntry> {
    if (!this.#started) throw new Error('ArchiveSpool.start() first');
    const dir = join(this.rootDir, record.streamId);
    await mkdir(dir, { recursive: true });
    const file = join(dir, sequenceName(sequence));
    const temp = `${file}${TEMP_SUFFIX}`;
    const chunks = encode(record, parts);
    try {
      const handle = await open(temp, 'w', 0o600);
      try {
        await handle.writev(chunks);
        await handle.datasync();
      } finally {
        await handle.close();
      }
      await rename(temp, file);
    } catch (error) {
      // A failed write (ENOSPC, EIO) must not leave its partial temporary file until the next start.
      await rm(temp, { force: true }).catch(() => undefined);
      throw error;
    }
    await syncDirectory(dir); // the rename itself survives a power loss, not only a process crash
    return { file, sizeBytes: chunks.reduce((sum, chunk) => sum + chunk.length, 0), record };
  }

  /** The sealed parts of an entry. */
  async read(entry: SpoolEntry): Promise<[Buffer, Buffer]> {
    return decode(entry.file, await readFile(entry.file)).parts;
  }

  /** Removes an entry's file (stored and indexed, or dropped); idempotent. */
  async remove(entry: SpoolEntry): Promise<void> {
    await unlink(entry.file).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'ENOENT') throw error;
    });
  }

  /** Removes every file of a stream (deleted stream). */
  async removeStream(streamId: string): Promise<void> {
    await rm(join(this.rootDir, streamId), { recursive: true, force: true });
  }

  /** Bytes currently on disk for `streamId` (for diagnostics and tests). */
  async streamBytes(streamId: string): Promise<number> {
    const dir = join(this.rootDir, streamId);
    let total = 0;
    for (const name of await readdir(dir).catch(() => [] as string[])) {
      if (name.endsWith(SUFFIX)) total += (await stat(join(dir, name))).size;
    }
    return total;
  }
}

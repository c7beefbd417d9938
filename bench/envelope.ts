// Envelope benchmark: raw AES-256-GCM (createCipheriv + update + final + getAuthTag, fresh IV each)
// against Envelope.seal / Envelope.open with warm data-key caches, for 4 KiB, 1 MiB and 8 MiB payloads,
// side by side in one run. Cases are interleaved in short rounds and each ratio is the median of
// per-round ratios, so machine noise hits raw and envelope alike.
// Prints JSON; MBps is 10^6 bytes of plaintext per second. Goal: seal/open >= 0.9 x raw at 1 MiB.
// The data keys come from the real key service (src/kms/) on a private redis-server.
// Usage: npx tsx bench/envelope.ts [--seconds 1.5 --rounds 30 --sizes 4096,1048576,8388608]
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Envelope, type KeyProvider } from '../src/crypto/index.ts';
import { KeyService } from '../src/kms/index.ts';
import { createLogger } from '../src/logging/index.ts';
import { createRedisClient, EmbeddedRedis } from '../src/redis/index.ts';

/**
 * The key service behind the envelopes: the real KMS (KeyService) on a private redis-server in a
 * temporary directory, with a random root key. With warm caches it is called once per size.
 */
async function startBenchKms(): Promise<{ keyProvider: KeyProvider; stop(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'streamgate-bench-kms-'));
  const redisServer = new EmbeddedRedis({ dir: join(dir, 'redis'), appendOnly: false });
  await redisServer.start();
  const redis = createRedisClient(redisServer.url);
  const kms = new KeyService({
    redis,
    region: 'us-east-1',
    accountId: '000000000000',
    dataDir: dir,
    rootKey: randomBytes(32).toString('base64'),
    clock: { now: () => Date.now() },
    logger: createLogger({ level: 'silent' }),
  });
  await kms.start();
  return {
    keyProvider: kms,
    async stop() {
      await kms.stop();
      redis.disconnect();
      await redisServer.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '1.5' },
    rounds: { type: 'string', default: '30' },
    sizes: { type: 'string', default: `${4 * 1024},${1024 * 1024},${8 * 1024 * 1024}` },
  },
});
const secondsPerCase = Number(values.seconds);
const rounds = Number(values.rounds);
const WARM_UP_MS = 300;
const SIZES = values.sizes.split(',').map(Number);
const KEY_REF = 'alias/aws/kinesisvideo';
const CONTEXT = {
  'aws:kinesisvideo:arn': 'arn:aws:kinesisvideo:us-east-1:000000000000:stream/cam/1',
  fragment: '1',
};

type Case = () => unknown;
let sink = 0;

/** Runs `run` back to back for `ms`; returns [operations, elapsed ms]. */
async function timed(run: Case, ms: number): Promise<[number, number]> {
  const start = performance.now();
  let ops = 0;
  let elapsed = 0;
  while (elapsed < ms) {
    const result = run();
    const out = result instanceof Promise ? await result : result;
    sink += (out as Buffer).length;
    ops++;
    elapsed = performance.now() - start;
  }
  return [ops, elapsed];
}

async function benchSize(bytes: number, keyProvider: KeyProvider) {
  const plaintext = randomBytes(bytes);
  const key = randomBytes(32);
  const envelope = new Envelope({ keyProvider });
  const sealed = await envelope.seal(plaintext, KEY_REF, CONTEXT);
  const rawIv = randomBytes(12);
  const rawCipher = createCipheriv('aes-256-gcm', key, rawIv, { authTagLength: 16 });
  const rawCiphertext = Buffer.concat([rawCipher.update(plaintext), rawCipher.final()]);
  const rawTag = rawCipher.getAuthTag();

  const cases: Record<'rawSeal' | 'seal' | 'sealParts' | 'open' | 'rawOpen', Case> = {
    rawSeal: () => {
      const cipher = createCipheriv('aes-256-gcm', key, randomBytes(12), { authTagLength: 16 });
      const ciphertext = cipher.update(plaintext);
      cipher.final();
      sink += cipher.getAuthTag().length;
      return ciphertext;
    },
    seal: () => envelope.seal(plaintext, KEY_REF, CONTEXT),
    sealParts: () => envelope.sealParts(plaintext, KEY_REF, CONTEXT).then((parts) => parts[1]),
    open: () => envelope.open(sealed, CONTEXT),
    rawOpen: () => {
      const decipher = createDecipheriv('aes-256-gcm', key, rawIv, { authTagLength: 16 });
      decipher.setAuthTag(rawTag);
      const out = decipher.update(rawCiphertext);
      decipher.final();
      return out;
    },
  };
  // Each round runs every case for one slice, raw and envelope side by side (order flipped every other
  // round); a ratio is taken per round and the median kept, so drift between rounds cancels out.
  type Name = keyof typeof cases;
  const samples: Record<Name, { ops: number; ms: number }[]> = {
    rawSeal: [],
    seal: [],
    sealParts: [],
    open: [],
    rawOpen: [],
  };
  for (const run of Object.values(cases)) await timed(run, WARM_UP_MS);
  for (let round = 0; round < rounds; round++) {
    const order: Name[] =
      round % 2 === 0
        ? ['rawSeal', 'seal', 'sealParts', 'open', 'rawOpen']
        : ['sealParts', 'seal', 'rawSeal', 'rawOpen', 'open'];
    for (const name of order) {
      const [ops, ms] = await timed(cases[name], (secondsPerCase * 1000) / rounds);
      samples[name].push({ ops, ms });
    }
  }
  const rate = (name: Name) => {
    const ops = samples[name].reduce((sum, s) => sum + s.ops, 0);
    const ms = samples[name].reduce((sum, s) => sum + s.ms, 0);
    const opsPerSec = (ops * 1000) / ms;
    return { opsPerSec: Math.round(opsPerSec), MBps: Math.round((opsPerSec * bytes) / 1e6), ops };
  };
  const medianRatio = (name: Name, raw: Name) => {
    const ratios = samples[name]
      .map((s, i) => {
        const r = samples[raw][i] ?? s;
        return s.ops / s.ms / (r.ops / r.ms);
      })
      .sort((a, b) => a - b);
    return Number((ratios[Math.floor(ratios.length / 2)] ?? 0).toFixed(3));
  };
  const stats = envelope.stats();
  return {
    payloadBytes: bytes,
    envelopeOverheadBytes: sealed.length - bytes,
    rawSeal: rate('rawSeal'),
    seal: rate('seal'),
    sealParts: rate('sealParts'),
    open: rate('open'),
    rawOpen: rate('rawOpen'),
    sealRatioToRaw: medianRatio('seal', 'rawSeal'),
    sealPartsRatioToRaw: medianRatio('sealParts', 'rawSeal'),
    openRatioToRaw: medianRatio('open', 'rawOpen'),
    keyServiceCalls: { generateDataKey: stats.encryptMisses, decryptDataKey: stats.decryptMisses },
  };
}

const kms = await startBenchKms();
const results = [];
try {
  for (const bytes of SIZES) results.push(await benchSize(bytes, kms.keyProvider));
} finally {
  await kms.stop();
}
process.stdout.write(
  `${JSON.stringify(
    {
      benchmark: 'envelope',
      node: process.version,
      cpu: cpus()[0]?.model ?? 'unknown',
      cpus: cpus().length,
      secondsPerCase,
      rounds,
      results,
      sink: sink > 0,
    },
    null,
    2,
  )}\n`,
);

// HTTP front-door benchmark: a trivial signed awsJson call and an unsigned /healthz, over HTTP/1.1
// (keep-alive) and HTTP/2 (one session), against the gateway in a child process; plus the in-process
// cost of one SigV4 verification, to see its share of the trivial-call budget. Prints JSON.
// Usage: npm run bench [-- --seconds 5 --concurrency 32]
import { once } from 'node:events';
import http from 'node:http';
import http2 from 'node:http2';
import { parseArgs } from 'node:util';
import { Hash } from '@smithy/hash-node';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import { SigV4Verifier } from '../src/api/index.ts';
import { startGatewayProcess } from './support/gateway-process.ts';

const { values } = parseArgs({
  options: { seconds: { type: 'string', default: '5' }, concurrency: { type: 'string', default: '32' } },
});
const seconds = Number(values.seconds);
const concurrency = Number(values.concurrency);
const KEYS = { accessKeyId: 'AKIDBENCH0001', secretAccessKey: 'bench-secret' };

interface Result {
  scenario: string;
  requests: number;
  rps: number;
  p50Ms: number;
  p99Ms: number;
  statuses: Record<string, number>;
}

async function signedHeaders(
  port: number,
  authorityHeader: 'host' | ':authority',
): Promise<Record<string, string>> {
  const signer = new SignatureV4({
    service: 'kinesis',
    region: 'us-east-1',
    sha256: Hash.bind(null, 'sha256'),
    credentials: KEYS,
  });
  const signed = await signer.sign(
    new HttpRequest({
      method: 'POST',
      protocol: 'http:',
      hostname: '127.0.0.1',
      port,
      path: '/',
      headers: {
        [authorityHeader]: `127.0.0.1:${port}`,
        'content-type': 'application/x-amz-json-1.1',
        'x-amz-target': 'Kinesis_20131202.DescribeLimits',
        'content-length': '2',
      },
      body: '{}',
    }),
  );
  return signed.headers;
}

function summarize(
  scenario: string,
  latenciesNs: bigint[],
  statuses: Record<string, number>,
  elapsedS: number,
): Result {
  const sorted = latenciesNs.map((ns) => Number(ns) / 1e6).sort((a, b) => a - b);
  const pick = (q: number) =>
    Number((sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0).toFixed(3));
  return {
    scenario,
    requests: sorted.length,
    rps: Math.round(sorted.length / elapsedS),
    p50Ms: pick(0.5),
    p99Ms: pick(0.99),
    statuses,
  };
}

type Send = () => Promise<number>;

async function drive(scenario: string, send: Send): Promise<Result> {
  const latencies: bigint[] = [];
  const statuses: Record<string, number> = {};
  const warmupEnd = Date.now() + 500;
  while (Date.now() < warmupEnd) await send();
  const start = process.hrtime.bigint();
  const end = Date.now() + seconds * 1000;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (Date.now() < end) {
        const t0 = process.hrtime.bigint();
        const status = await send();
        latencies.push(process.hrtime.bigint() - t0);
        statuses[status] = (statuses[status] ?? 0) + 1;
      }
    }),
  );
  return summarize(scenario, latencies, statuses, Number(process.hrtime.bigint() - start) / 1e9);
}

function h1Sender(
  port: number,
  agent: http.Agent,
  method: string,
  path: string,
  headers: Record<string, string>,
  body?: string,
): Send {
  return () =>
    new Promise((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port, method, path, headers, agent }, (res) => {
        res.resume();
        res.once('end', () => resolve(res.statusCode ?? 0));
      });
      req.once('error', reject);
      req.end(body);
    });
}

function h2Sender(session: http2.ClientHttp2Session, headers: Record<string, string>, body?: string): Send {
  return () =>
    new Promise((resolve, reject) => {
      const stream = session.request(headers);
      let status = 0;
      stream.once('response', (h) => {
        status = Number(h[':status']);
      });
      stream.once('error', reject);
      stream.once('end', () => resolve(status));
      stream.resume();
      stream.end(body);
    });
}

async function sigv4CostUs(): Promise<number> {
  const verifier = new SigV4Verifier({
    lookup: (id) => (id === KEYS.accessKeyId ? KEYS.secretAccessKey : undefined),
  });
  const headers = await signedHeaders(8080, ':authority');
  const lower: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) lower[k.toLowerCase()] = v;
  const request = {
    method: 'POST',
    path: '/',
    query: new URLSearchParams(),
    headers: lower,
    body: Buffer.from('{}'),
  };
  for (let i = 0; i < 2000; i += 1) await verifier.verify(request);
  const n = 20_000;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i += 1) await verifier.verify(request);
  return Number(process.hrtime.bigint() - t0) / 1e3 / n;
}

const gateway = await startGatewayProcess({ keys: KEYS });
try {
  const results: Result[] = [];
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const h1Signed = await signedHeaders(gateway.port, 'host');
  results.push(
    await drive('h1 GET /healthz (no auth)', h1Sender(gateway.port, agent, 'GET', '/healthz', {})),
  );
  results.push(
    await drive(
      'h1 signed awsJson (SigV4 + UnknownOperation)',
      h1Sender(gateway.port, agent, 'POST', '/', h1Signed, '{}'),
    ),
  );
  agent.destroy();

  const session = http2.connect(`http://127.0.0.1:${gateway.port}`);
  await once(session, 'connect');
  const h2Signed = await signedHeaders(gateway.port, ':authority');
  const { ':authority': _authority, ...h2Rest } = h2Signed;
  results.push(
    await drive('h2 GET /healthz (no auth)', h2Sender(session, { ':method': 'GET', ':path': '/healthz' })),
  );
  results.push(
    await drive(
      'h2 signed awsJson (SigV4 + UnknownOperation)',
      h2Sender(
        session,
        { ':method': 'POST', ':path': '/', ':authority': `127.0.0.1:${gateway.port}`, ...h2Rest },
        '{}',
      ),
    ),
  );
  session.close();

  const verifyUs = await sigv4CostUs();
  const budget = (scenario: string) => {
    const rps = results.find((r) => r.scenario.startsWith(scenario))?.rps ?? 0;
    return rps > 0 ? Number(((verifyUs * rps) / 1e6).toFixed(3)) : null;
  };
  process.stdout.write(
    `${JSON.stringify(
      {
        benchmark: 'http',
        node: process.version,
        seconds,
        concurrency,
        results,
        sigv4VerifyUsPerRequest: Number(verifyUs.toFixed(2)),
        sigv4ShareOfSignedCall: { h1: budget('h1 signed'), h2: budget('h2 signed') },
      },
      null,
      2,
    )}\n`,
  );
} finally {
  await gateway.stop();
}

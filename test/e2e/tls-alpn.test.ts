import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { connect as h2connect } from 'node:http2';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningApp, startApp } from '../support/start-app.ts';

let gateway: RunningApp;
let certDir: string;
let ca: Buffer;

beforeAll(async () => {
  certDir = await mkdtemp(join(tmpdir(), 'streamgate-tls-'));
  const cert = join(certDir, 'cert.pem');
  const key = join(certDir, 'key.pem');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      key,
      '-out',
      cert,
      '-days',
      '1',
      '-subj',
      '/CN=localhost',
      '-addext',
      'subjectAltName=IP:127.0.0.1,DNS:localhost',
    ],
    { stdio: 'ignore' },
  );
  ca = await readFile(cert);
  gateway = await startApp({ env: { STREAMGATE_TLS_CERT: cert, STREAMGATE_TLS_KEY: key } });
});
afterAll(async () => {
  await gateway?.stop();
  await rm(certDir, { recursive: true, force: true });
});

function alpn(protocols: string[]): Promise<string | false> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: '127.0.0.1', port: gateway.port, ca, ALPNProtocols: protocols }, () => {
      resolve(socket.alpnProtocol ?? false);
      socket.end();
    });
    socket.on('error', reject);
  });
}

describe('TLS with ALPN on the one HTTP port', () => {
  it('negotiates h2 when offered, http/1.1 otherwise', async () => {
    expect(await alpn(['h2', 'http/1.1'])).toBe('h2');
    expect(await alpn(['http/1.1'])).toBe('http/1.1');
  });

  it('serves the AWS error shape over h2', async () => {
    const session = h2connect(gateway.endpoint, { ca });
    try {
      const stream = session.request({
        ':method': 'POST',
        ':path': '/',
        'content-type': 'application/x-amz-json-1.1',
        'x-amz-target': 'Kinesis_20131202.ListStreams',
      });
      stream.end('{}');
      const headers = await new Promise<Record<string, unknown>>((resolve) =>
        stream.once('response', resolve),
      );
      expect(headers[':status']).toBe(403);
      expect(headers['x-amzn-errortype']).toBe('MissingAuthenticationTokenException');
    } finally {
      session.close();
    }
  });

  it('serves /healthz over HTTPS/1.1', async () => {
    const status = await new Promise<number | undefined>((resolve, reject) => {
      const req = httpsRequest(`${gateway.endpoint}/healthz`, { ca }, (res) => {
        res.resume();
        resolve(res.statusCode);
      });
      req.on('error', reject);
      req.end();
    });
    expect(status).toBe(200);
  });
});

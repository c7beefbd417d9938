import { connect as h2connect } from 'node:http2';
import { Hash } from '@smithy/hash-node';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import { encode } from 'cbor-x';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jsonBody, rawExchange } from '../support/raw-http.ts';
import { type RunningApp, startApp, TEST_KEYS } from '../support/start-app.ts';

let gateway: RunningApp;
// Short limits so slow-client tests finish fast; the defaults are documented in the README.
beforeAll(async () => {
  gateway = await startApp({
    env: {
      STREAMGATE_MAX_BODY_BYTES: String(1024 * 1024),
      STREAMGATE_HEADERS_TIMEOUT_MS: '1000',
      STREAMGATE_BODY_TIMEOUT_MS: '500',
      STREAMGATE_IDLE_TIMEOUT_MS: '3000',
    },
  });
});
afterAll(async () => {
  await gateway?.stop();
});

const signer = new SignatureV4({
  service: 'kinesis',
  region: 'us-east-1',
  sha256: Hash.bind(null, 'sha256'),
  credentials: TEST_KEYS,
});

/** A correctly signed HTTP/1.1 request as raw text, so the test controls every byte after signing. */
async function signedRaw(
  body: Buffer,
  headers: Record<string, string> = {},
): Promise<{ head: string; body: Buffer }> {
  const request = new HttpRequest({
    method: 'POST',
    protocol: 'http:',
    hostname: '127.0.0.1',
    port: gateway.port,
    path: '/',
    headers: {
      host: `127.0.0.1:${gateway.port}`,
      'content-type': 'application/x-amz-json-1.1',
      'x-amz-target': 'Kinesis_20131202.ListStreams',
      'content-length': String(body.length),
      ...headers,
    },
    body,
  });
  const signed = await signer.sign(request);
  const lines = Object.entries(signed.headers).map(([k, v]) => `${k}: ${v}`);
  return { head: `POST / HTTP/1.1\r\n${lines.join('\r\n')}\r\n\r\n`, body };
}

async function stillServing(): Promise<void> {
  const response = await fetch(`${gateway.endpoint}/healthz`);
  expect(response.status).toBe(200);
}

describe('hostile input over HTTP/1.1', () => {
  it('answers invalid JSON with SerializationException', async () => {
    const { head, body } = await signedRaw(Buffer.from('{"StreamName": '));
    const exchange = await rawExchange(gateway.port, [head, body], { endAfterWrite: true });
    expect(exchange.status).toBe(400);
    expect(jsonBody(exchange.response)).toMatchObject({ __type: 'SerializationException' });
    await stillServing();
  });

  it('answers invalid CBOR with SerializationException in CBOR', async () => {
    const { head, body } = await signedRaw(Buffer.from([0xbf, 0x61, 0x61]), {
      'content-type': 'application/x-amz-cbor-1.1',
    });
    const exchange = await rawExchange(gateway.port, [head, body], { endAfterWrite: true });
    expect(exchange.status).toBe(400);
    expect(exchange.response).toContain('content-type: application/x-amz-cbor-1.1');
    expect(exchange.response).toContain('x-amzn-errortype: SerializationException');
    await stillServing();
  });

  it('answers a valid CBOR request for an unknown operation in CBOR', async () => {
    const { head, body } = await signedRaw(Buffer.from(encode({ StreamName: 's' })), {
      'content-type': 'application/x-amz-cbor-1.1',
      'x-amz-target': 'Kinesis_20131202.NoSuchOperation',
    });
    const exchange = await rawExchange(gateway.port, [head, body], { endAfterWrite: true });
    expect(exchange.response).toContain('x-amzn-errortype: UnknownOperationException');
  });

  it('still answers a client that half-closes its socket right after a complete request', async () => {
    const { head, body } = await signedRaw(Buffer.from(encode({ Limit: 5 })), {
      'content-type': 'application/x-amz-cbor-1.1',
    });
    const exchange = await rawExchange(gateway.port, [head, body], { endAfterWrite: true });
    expect(exchange.status).toBe(200);
    expect(exchange.response).toContain('content-type: application/x-amz-cbor-1.1');
  });

  it.each([
    ['an unknown prefix', 'NoSuchService_20200101.ListStreams'],
    ['no dot', 'ListStreams'],
    ['an empty target', ''],
    ['a huge target', `Kinesis_20131202.${'A'.repeat(4000)}`],
  ])('answers a bad X-Amz-Target (%s) with UnknownOperationException', async (_, target) => {
    const { head, body } = await signedRaw(Buffer.from('{}'), { 'x-amz-target': target });
    const exchange = await rawExchange(gateway.port, [head, body], { endAfterWrite: true });
    expect(exchange.status).toBe(400);
    expect(jsonBody(exchange.response)).toMatchObject({ __type: 'UnknownOperationException' });
  });

  it.each(['PUT', 'DELETE'])('answers %s / with AccessDeniedException', async (method) => {
    const response = await fetch(`${gateway.endpoint}/`, { method });
    expect(response.status).toBe(403);
    expect(await response.json()).toMatchObject({ __type: 'AccessDeniedException' });
  });

  it('answers GET / naming an AWS operation with AccessDeniedException, and serves the player page otherwise', async () => {
    const aws = await fetch(`${gateway.endpoint}/`, {
      headers: { 'x-amz-target': 'Kinesis_20131202.ListStreams' },
    });
    expect(aws.status).toBe(403);
    expect(await aws.json()).toMatchObject({ __type: 'AccessDeniedException' });
    const page = await fetch(`${gateway.endpoint}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(await page.text()).toContain('<title>Streamgate player</title>');
  });

  it('answers an unknown path with 404 RouteNotFoundException', async () => {
    const response = await fetch(`${gateway.endpoint}/no/such/thing`);
    expect(response.status).toBe(404);
    expect(response.headers.get('x-amzn-requestid')).toBeTruthy();
    expect(await response.json()).toMatchObject({ __type: 'RouteNotFoundException' });
  });

  it('refuses a 100 MB declared body with 413 without reading it, and closes the connection', async () => {
    const { head } = await signedRaw(Buffer.alloc(0), { 'content-length': String(100 * 1024 * 1024) });
    const exchange = await rawExchange(gateway.port, [
      head.replace('content-length: 0', `content-length: ${100 * 1024 * 1024}`),
      Buffer.alloc(64 * 1024),
    ]);
    expect(exchange.status).toBe(413);
    expect(jsonBody(exchange.response)).toMatchObject({ __type: 'RequestEntityTooLargeException' });
    expect(exchange.closedByServer).toBe(true);
    await stillServing();
  });

  it('stops a chunked 100 MB upload at the limit with 413', async () => {
    const request = await signedRaw(Buffer.alloc(0));
    const head = request.head.replace(/content-length: 0\r\n/, 'transfer-encoding: chunked\r\n');
    const chunk = Buffer.alloc(256 * 1024, 0x61);
    const frames: Buffer[] = [];
    for (let i = 0; i < 8; i += 1)
      frames.push(Buffer.from(`${chunk.length.toString(16)}\r\n`), chunk, Buffer.from('\r\n'));
    const exchange = await rawExchange(gateway.port, [head, ...frames]);
    expect(exchange.status).toBe(413);
    expect(exchange.closedByServer).toBe(true);
    await stillServing();
  });

  it('times out a truncated body (client stalls) with 408 and closes', async () => {
    const { head, body } = await signedRaw(Buffer.from('{"StreamName":"abc"}'));
    const exchange = await rawExchange(gateway.port, [head, body.subarray(0, 5)]);
    expect(exchange.status).toBe(408);
    expect(jsonBody(exchange.response)).toMatchObject({ __type: 'RequestTimeoutException' });
    expect(exchange.closedByServer).toBe(true);
  });

  it('survives a body cut off by the client closing the socket', async () => {
    const { head, body } = await signedRaw(Buffer.from('{"StreamName":"abc"}'));
    await rawExchange(gateway.port, [head, body.subarray(0, 5)], { endAfterWrite: true, waitMs: 2_000 });
    await stillServing();
  });

  it('closes a connection that never sends a byte (slowloris)', async () => {
    const exchange = await rawExchange(gateway.port, []);
    expect(exchange.closedByServer).toBe(true);
    expect(exchange.response).toBe('');
  });

  it('closes a connection that dribbles headers forever (slowloris)', async () => {
    const exchange = await rawExchange(gateway.port, ['POST / HTTP/1.1\r\nHost: x\r\n', 'X-A: 1\r\n']);
    expect(exchange.closedByServer).toBe(true);
    await stillServing();
  });

  it('answers garbage bytes with 400', async () => {
    const exchange = await rawExchange(gateway.port, [
      Buffer.from([0x16, 0x03, 0x01, 0x00, 0xff, 0x00, 0x0d, 0x0a, 0x0d, 0x0a]),
    ]);
    expect(exchange.closedByServer).toBe(true);
    await stillServing();
  });
});

describe('hostile input over HTTP/2', () => {
  it('closes a session that sends a bad preface and keeps serving', async () => {
    const exchange = await rawExchange(gateway.port, [
      'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n',
      Buffer.alloc(64, 0xff),
    ]);
    expect(exchange.closedByServer).toBe(true);
    await stillServing();
  });

  it('refuses a 100 MB h2 body with 413 without reading it, and keeps the session usable', async () => {
    const session = h2connect(gateway.endpoint);
    try {
      const stream = session.request({
        ':method': 'POST',
        ':path': '/',
        'content-type': 'application/x-amz-json-1.1',
        'x-amz-target': 'Kinesis_20131202.PutRecords',
        'content-length': String(100 * 1024 * 1024),
      });
      stream.on('error', () => {}); // the server resets the rest of the upload: expected
      stream.write(Buffer.alloc(64 * 1024));
      const status = await new Promise((resolve) => stream.once('response', (h) => resolve(h[':status'])));
      expect(status).toBe(413);
      const health = session.request({ ':method': 'GET', ':path': '/healthz' });
      const healthStatus = await new Promise((resolve) =>
        health.once('response', (h) => resolve(h[':status'])),
      );
      expect(healthStatus).toBe(200);
      health.destroy();
    } finally {
      session.close();
    }
  });

  it('answers a stalled h2 body with 408 and keeps the session usable', async () => {
    const session = h2connect(gateway.endpoint);
    try {
      const { head: _, body } = await signedRaw(Buffer.from('{"StreamName":"abc"}'));
      const stream = session.request({
        ':method': 'POST',
        ':path': '/',
        'content-type': 'application/x-amz-json-1.1',
        'x-amz-target': 'Kinesis_20131202.ListStreams',
        'content-length': String(body.length),
      });
      stream.write(body.subarray(0, 3));
      const status408 = await new Promise((resolve) => stream.once('response', (h) => resolve(h[':status'])));
      expect(status408).toBe(408);
      stream.destroy();
      const health = session.request({ ':method': 'GET', ':path': '/healthz' });
      const status = await new Promise((resolve) => health.once('response', (h) => resolve(h[':status'])));
      expect(status).toBe(200);
      health.destroy();
    } finally {
      session.close();
    }
  });
});

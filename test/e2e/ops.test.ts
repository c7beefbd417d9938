import { once } from 'node:events';
import { connect } from 'node:net';
import { KinesisClient, ListStreamsCommand } from '@aws-sdk/client-kinesis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPrivateRedis } from '../support/private-redis.ts';
import { type RunningApp, startApp, TEST_KEYS } from '../support/start-app.ts';

describe('ops endpoints', () => {
  let gateway: RunningApp;
  beforeAll(async () => {
    gateway = await startApp();
  });
  afterAll(async () => {
    await gateway?.stop();
  });

  it('GET /healthz says the process is alive', async () => {
    const response = await fetch(`${gateway.endpoint}/healthz`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: 'ok' });
  });

  it('GET /readyz is 200 when Redis and the object store answer', async () => {
    const response = await fetch(`${gateway.endpoint}/readyz`);
    expect(await response.json()).toEqual({ status: 'ready', checks: { redis: 'ok', objectStore: 'ok' } });
    expect(response.status).toBe(200);
  });

  it('GET /metrics serves Prometheus text that counts requests by protocol and operation', async () => {
    const kinesis = new KinesisClient({
      endpoint: gateway.endpoint,
      region: 'us-east-1',
      maxAttempts: 1,
      credentials: TEST_KEYS,
    });
    await kinesis.send(new ListStreamsCommand({}));
    kinesis.destroy();
    const response = await fetch(`${gateway.endpoint}/metrics`);
    expect(response.headers.get('content-type')).toContain('text/plain');
    const text = await response.text();
    expect(text).toMatch(
      /streamgate_http_requests_total\{protocol="h2",service="kinesis",operation="ListStreams",status="200"\} [1-9]/,
    );
    expect(text).toContain('streamgate_process_cpu_seconds_total');
  });

  it('puts x-amzn-RequestId on every response', async () => {
    for (const path of ['/healthz', '/readyz', '/metrics', '/nope']) {
      const response = await fetch(`${gateway.endpoint}${path}`);
      expect(response.headers.get('x-amzn-requestid'), path).toMatch(/^[0-9a-f-]{36}$/);
    }
  });

  it('answers HEAD on GET routes without a body', async () => {
    const response = await fetch(`${gateway.endpoint}/healthz`, { method: 'HEAD' });
    expect(response.status).toBe(200);
    expect(await response.text()).toBe('');
  });
});

describe('readiness follows Redis', () => {
  it('turns /readyz to 503 when Redis dies, and the process keeps serving', async () => {
    const redis = await startPrivateRedis();
    const gateway = await startApp({ env: { STREAMGATE_REDIS_URL: redis.url } });
    try {
      expect((await fetch(`${gateway.endpoint}/readyz`)).status).toBe(200);
      await redis.stop();
      const response = await fetch(`${gateway.endpoint}/readyz`);
      expect(response.status).toBe(503);
      const body = (await response.json()) as { checks: Record<string, string> };
      expect(body.checks.redis).toMatch(/^failing/);
      expect(body.checks.objectStore).toBe('ok');
      expect((await fetch(`${gateway.endpoint}/healthz`)).status).toBe(200);
      // SIGTERM with Redis gone still stops the process: nothing waits on the unreachable Redis
      // (a QUIT in ioredis's offline queue used to hold the drain for 20 s or more).
      const outcome = await Promise.race([
        gateway.stop().then(() => 'stopped'),
        new Promise((resolve) => setTimeout(resolve, 10_000, 'still stopping after 10 s')),
      ]);
      expect(outcome).toBe('stopped');
    } finally {
      await gateway.stop();
    }
  });
});

describe('graceful shutdown', () => {
  it('finishes an in-flight request while refusing new connections', async () => {
    const gateway = await startApp();
    const body = '{"StreamName":"slow"}';
    const socket = connect(gateway.port, '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.on('data', (chunk) => chunks.push(chunk));
    const closed = once(socket, 'close');
    socket.write(
      `POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-amz-json-1.1\r\n` +
        `X-Amz-Target: Kinesis_20131202.ListStreams\r\nContent-Length: ${body.length}\r\n\r\n`,
    );
    // Headers are in, the body is not: the request is in flight.
    await expect
      .poll(
        async () =>
          (await gateway.app.metrics.httpInFlight.get()).values.find((v) => v.labels.protocol === 'h1')
            ?.value,
      )
      .toBe(1);
    const stopped = gateway.stop();
    await expect
      .poll(() =>
        fetch(`${gateway.endpoint}/healthz`).then(
          () => 'served',
          () => 'refused',
        ),
      )
      .toBe('refused');
    socket.write(body);
    await closed;
    await stopped;
    const response = Buffer.concat(chunks).toString();
    expect(response).toMatch(/^HTTP\/1\.1 403/);
    expect(response).toContain('MissingAuthenticationTokenException');
  });
});

import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { readBody } from '../../../src/http/index.ts';

const limits = { maxBytes: 10, idleTimeoutMs: 50 };

describe('readBody', () => {
  it('collects a body split across chunks', async () => {
    const body = new PassThrough();
    const result = readBody(body, '6', limits);
    body.write('abc');
    body.end('def');
    await expect(result).resolves.toEqual(Buffer.from('abcdef'));
  });

  it('refuses a declared length over the limit before reading', async () => {
    const body = new PassThrough();
    await expect(readBody(body, '100000000', limits)).rejects.toMatchObject({
      code: 'RequestEntityTooLargeException',
      status: 413,
    });
    expect(body.readableFlowing).not.toBe(true);
  });

  it('stops reading a chunked body as soon as it passes the limit', async () => {
    const body = new PassThrough();
    const result = readBody(body, undefined, limits);
    body.write('0123456789');
    body.write('x');
    await expect(result).rejects.toMatchObject({ code: 'RequestEntityTooLargeException' });
  });

  it('times out a stalled body (slowloris)', async () => {
    const body = new PassThrough();
    const result = readBody(body, '8', limits);
    body.write('1234');
    await expect(result).rejects.toMatchObject({ code: 'RequestTimeoutException', status: 408 });
  });

  it('reports a body shorter than its Content-Length', async () => {
    const body = new PassThrough();
    const result = readBody(body, '8', limits);
    body.end('1234');
    await expect(result).rejects.toMatchObject({ code: 'SerializationException' });
  });

  it('rejects a malformed Content-Length', async () => {
    await expect(readBody(new PassThrough(), '-1', limits)).rejects.toMatchObject({
      code: 'SerializationException',
    });
  });
});

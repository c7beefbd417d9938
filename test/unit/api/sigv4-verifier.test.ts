import { Hash } from '@smithy/hash-node';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import { describe, expect, it } from 'vitest';
import { type SignableRequest, SigV4Verifier } from '../../../src/api/index.ts';
import type { ServiceError } from '../../../src/errors/index.ts';

const KEY = { accessKeyId: 'AKIDTEST1234', secretAccessKey: 'test-secret-key' };
const NOW = Date.UTC(2026, 10, 25, 12, 0, 0);
const verifier = new SigV4Verifier({
  lookup: (id) => (id === KEY.accessKeyId ? KEY.secretAccessKey : undefined),
  now: () => NOW,
});

function clientSigner(
  secretAccessKey = KEY.secretAccessKey,
  accessKeyId = KEY.accessKeyId,
  service = 'kinesis',
) {
  return new SignatureV4({
    service,
    region: 'us-east-1',
    sha256: Hash.bind(null, 'sha256'),
    credentials: { accessKeyId, secretAccessKey },
  });
}

const body = Buffer.from('{"StreamName":"s1"}');

/** Signs like the JS SDK v3 does: HTTP/1.1 signs `host`, HTTP/2 signs `:authority`. */
async function signed(
  options: { h2?: boolean; signer?: SignatureV4; date?: number; extraHeaders?: Record<string, string> } = {},
): Promise<SignableRequest> {
  const hostHeader = options.h2 ? ':authority' : 'host';
  const request = new HttpRequest({
    method: 'POST',
    protocol: 'http:',
    hostname: '127.0.0.1',
    port: 8080,
    path: '/',
    headers: {
      [hostHeader]: '127.0.0.1:8080',
      'content-type': 'application/x-amz-json-1.1',
      'x-amz-target': 'Kinesis_20131202.ListStreams',
      'x-amz-content-sha256': await sha256Hex(body),
      ...options.extraHeaders,
    },
    body,
  });
  const out = await (options.signer ?? clientSigner()).sign(request, {
    signingDate: new Date(options.date ?? NOW),
  });
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(out.headers)) headers[k.toLowerCase()] = v;
  return { method: 'POST', path: '/', query: new URLSearchParams(), headers, body };
}

async function sha256Hex(data: Buffer): Promise<string> {
  const h = new Hash('sha256');
  h.update(data);
  return Buffer.from(await h.digest()).toString('hex');
}

async function rejection(promise: Promise<unknown>): Promise<ServiceError> {
  try {
    await promise;
  } catch (error) {
    return error as ServiceError;
  }
  throw new Error('expected a rejection');
}

describe('SigV4Verifier, header form', () => {
  it('hashes the body when x-amz-content-sha256 is sent but not signed (as the player page does)', async () => {
    const request = await signed();
    const browserLike = new SignatureV4({
      service: 'kinesis',
      region: 'us-east-1',
      sha256: Hash.bind(null, 'sha256'),
      credentials: KEY,
      applyChecksum: false,
    });
    const unsigned = await browserLike.sign(
      new HttpRequest({
        method: 'POST',
        protocol: 'http:',
        hostname: '127.0.0.1',
        port: 8080,
        path: '/',
        headers: { host: '127.0.0.1:8080', 'x-amz-target': 'Kinesis_20131202.ListStreams' },
        body,
      }),
      { signingDate: new Date(NOW), unsignableHeaders: new Set(['x-amz-target']) },
    );
    const headers: Record<string, string> = { 'x-amz-content-sha256': await sha256Hex(body) };
    for (const [k, v] of Object.entries(unsigned.headers)) headers[k.toLowerCase()] = v;
    expect(headers.authorization).toContain('SignedHeaders=host;x-amz-date,');
    await expect(verifier.verify({ ...request, headers }, ['kinesis'])).resolves.toMatchObject({
      service: 'kinesis',
    });
    const tampered = { ...request, headers, body: Buffer.from('{"StreamName":"s2"}') };
    expect((await rejection(verifier.verify(tampered, ['kinesis']))).code).toBe('InvalidSignatureException');
  });

  it('accepts an HTTP/1.1 signature over host', async () => {
    await expect(verifier.verify(await signed(), ['kinesis'])).resolves.toEqual({
      accessKeyId: KEY.accessKeyId,
      region: 'us-east-1',
      service: 'kinesis',
    });
  });

  it('accepts an HTTP/2 signature over :authority', async () => {
    const request = await signed({ h2: true });
    expect(request.headers.authorization).toContain(':authority');
    await expect(verifier.verify(request, ['kinesis'])).resolves.toMatchObject({ service: 'kinesis' });
  });

  it('rejects a wrong secret with InvalidSignatureException', async () => {
    const error = await rejection(verifier.verify(await signed({ signer: clientSigner('wrong') })));
    expect(error.code).toBe('InvalidSignatureException');
    expect(error.message).toMatch(/signature we calculated does not match/);
  });

  it('rejects an unknown key with UnrecognizedClientException', async () => {
    const error = await rejection(
      verifier.verify(await signed({ signer: clientSigner('x', 'AKIDUNKNOWN') })),
    );
    expect(error.code).toBe('UnrecognizedClientException');
    expect(error.message).toBe('The security token included in the request is invalid.');
  });

  it('rejects a request with no authentication', async () => {
    const request = await signed();
    const { authorization: _, ...headers } = request.headers;
    const error = await rejection(verifier.verify({ ...request, headers }));
    expect(error.code).toBe('MissingAuthenticationTokenException');
  });

  it('rejects an Authorization header without Credential as incomplete', async () => {
    const request = await signed();
    const authorization = request.headers.authorization?.replace(/Credential=[^,]+, /, '') ?? '';
    const error = await rejection(
      verifier.verify({ ...request, headers: { ...request.headers, authorization } }),
    );
    expect(error.code).toBe('IncompleteSignatureException');
    expect(error.message).toContain("requires 'Credential' parameter");
    expect(error.message).not.toContain(KEY.secretAccessKey);
  });

  it('rejects a signature older than 5 minutes as expired', async () => {
    const error = await rejection(verifier.verify(await signed({ date: NOW - 6 * 60_000 })));
    expect(error.code).toBe('InvalidSignatureException');
    expect(error.message).toMatch(/^Signature expired: \d{8}T\d{6}Z is now earlier than/);
  });

  it('accepts a clock 4 minutes ahead', async () => {
    await expect(verifier.verify(await signed({ date: NOW + 4 * 60_000 }))).resolves.toBeDefined();
  });

  it('rejects a body that does not match the signed payload hash', async () => {
    const request = await signed();
    const error = await rejection(verifier.verify({ ...request, body: Buffer.from('{"StreamName":"s2"}') }));
    expect(error.code).toBe('InvalidSignatureException');
  });

  it('rejects a tampered signed header', async () => {
    const request = await signed();
    const headers = { ...request.headers, 'x-amz-target': 'Kinesis_20131202.DeleteStream' };
    const error = await rejection(verifier.verify({ ...request, headers }));
    expect(error.code).toBe('InvalidSignatureException');
  });

  it('accepts UNSIGNED-PAYLOAD', async () => {
    const request = await signed({ extraHeaders: { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' } });
    await expect(verifier.verify({ ...request, body: Buffer.from('anything') })).resolves.toBeDefined();
  });

  it('rejects a credential scoped to another service', async () => {
    const error = await rejection(
      verifier.verify(await signed({ signer: clientSigner(undefined, undefined, 'kms') }), ['kinesis']),
    );
    expect(error.code).toBe('InvalidSignatureException');
    expect(error.message).toContain("correct service: 'kinesis'");
  });
});

describe('SigV4Verifier, presigned query form', () => {
  async function presigned(options: { expiresIn?: number; date?: number; signer?: SignatureV4 } = {}) {
    const request = new HttpRequest({
      method: 'GET',
      protocol: 'http:',
      hostname: '127.0.0.1',
      port: 8080,
      path: '/hls/v1/getHLSMasterPlaylist.m3u8',
      query: { SessionToken: 'abc def' },
      headers: { host: '127.0.0.1:8080' },
    });
    const out = await (options.signer ?? clientSigner(undefined, undefined, 'kinesisvideo')).presign(
      request,
      {
        signingDate: new Date(options.date ?? NOW),
        expiresIn: options.expiresIn ?? 300,
      },
    );
    const query = new URLSearchParams();
    for (const [k, v] of Object.entries(out.query ?? {})) query.set(k, String(v));
    return {
      method: 'GET',
      path: out.path,
      query,
      headers: { host: '127.0.0.1:8080' },
      body: Buffer.alloc(0),
    };
  }

  it('accepts a valid presigned URL', async () => {
    await expect(verifier.verify(await presigned(), ['kinesisvideo'])).resolves.toMatchObject({
      service: 'kinesisvideo',
    });
  });

  it('rejects an expired presigned URL', async () => {
    const error = await rejection(verifier.verify(await presigned({ expiresIn: 60, date: NOW - 120_000 })));
    expect(error.code).toBe('InvalidSignatureException');
    expect(error.message).toMatch(/expired/);
  });

  it('rejects a tampered query parameter', async () => {
    const request = await presigned();
    request.query.set('SessionToken', 'other');
    const error = await rejection(verifier.verify(request));
    expect(error.code).toBe('InvalidSignatureException');
  });

  it('rejects both an Authorization header and X-Amz-Algorithm', async () => {
    const request = await presigned();
    const error = await rejection(
      verifier.verify({ ...request, headers: { ...request.headers, authorization: 'AWS4-HMAC-SHA256 x' } }),
    );
    expect(error.code).toBe('InvalidSignatureException');
    expect(error.message).toContain("Found both 'X-Amz-Algorithm'");
  });
});

import { PassThrough } from 'node:stream';
import { Hash } from '@smithy/hash-node';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import { decode, encode } from 'cbor-x';
import { describe, expect, it } from 'vitest';
import { AwsProtocol, SigV4Verifier } from '../../../src/api/index.ts';
import { ServiceError } from '../../../src/errors/index.ts';
import type { ApiRequest, RouteInfo } from '../../../src/http/index.ts';
import { createLogger } from '../../../src/logging/index.ts';

const KEY = { accessKeyId: 'AKIDUNIT', secretAccessKey: 'unit-secret' };
const logger = createLogger({ level: 'silent' });

function protocol(): AwsProtocol {
  const aws = new AwsProtocol({
    verifier: new SigV4Verifier({
      lookup: (id) => (id === KEY.accessKeyId ? KEY.secretAccessKey : undefined),
    }),
    limits: { maxBytes: 1024, idleTimeoutMs: 1000 },
    logger,
  });
  aws.registerJsonService({
    targetPrefix: 'Kinesis_20131202',
    signingName: 'kinesis',
    operations: {
      Echo: async (input, context) => ({
        Input: input,
        Blob: Buffer.from('blob'),
        When: new Date(1_700_000_000_500),
        Service: context.principal.service,
      }),
      Missing: async () => {
        throw new ServiceError('ResourceNotFoundException', 'Stream s under account 000000000000 not found.');
      },
      Crash: async () => {
        throw new Error('secret internal detail');
      },
    },
  });
  aws.registerRestJsonService({
    signingName: 'kinesisvideo',
    operations: { '/describeStream': async (input) => ({ StreamInfo: { StreamName: input.StreamName } }) },
  });
  return aws;
}

/** Signs a request with the real client-side signer and wraps it as the transports would. */
async function call(
  aws: AwsProtocol,
  options: { target?: string; path?: string; service?: string; contentType?: string; body: Buffer },
) {
  const path = options.path ?? '/';
  const headers: Record<string, string> = {
    host: 'localhost:8080',
    'content-type': options.contentType ?? 'application/x-amz-json-1.1',
    'content-length': String(options.body.length),
    ...(options.target ? { 'x-amz-target': options.target } : {}),
  };
  const signer = new SignatureV4({
    service: options.service ?? 'kinesis',
    region: 'eu-west-1',
    sha256: Hash.bind(null, 'sha256'),
    credentials: KEY,
  });
  const signed = await signer.sign(
    new HttpRequest({
      method: 'POST',
      protocol: 'http:',
      hostname: 'localhost',
      path,
      headers,
      body: options.body,
    }),
  );
  const body = new PassThrough();
  body.end(options.body);
  const request: ApiRequest = {
    method: 'POST',
    path,
    query: new URLSearchParams(),
    headers: Object.fromEntries(Object.entries(signed.headers).map(([k, v]) => [k.toLowerCase(), v])),
    protocol: 'h1',
    remoteAddress: '127.0.0.1',
    requestId: 'req-1',
    body,
    signal: new AbortController().signal,
  };
  const info: RouteInfo = { service: 'none', operation: 'none' };
  const response = await aws.handle(request, info);
  return { response, info };
}

describe('AwsProtocol', () => {
  it('dispatches awsJson by X-Amz-Target and encodes blobs and timestamps as JSON', async () => {
    const { response, info } = await call(protocol(), {
      target: 'Kinesis_20131202.Echo',
      body: Buffer.from('{"StreamName":"s1"}'),
    });
    expect(response.status).toBe(200);
    expect(response.headers['content-type']).toBe('application/x-amz-json-1.1');
    expect(JSON.parse(String(response.body))).toEqual({
      Input: { StreamName: 's1' },
      Blob: 'YmxvYg==',
      When: 1_700_000_000.5,
      Service: 'kinesis',
    });
    expect(info).toEqual({ service: 'kinesis', operation: 'Echo' });
  });

  it('speaks CBOR to CBOR clients (Java SDK default)', async () => {
    const { response } = await call(protocol(), {
      target: 'Kinesis_20131202.Echo',
      contentType: 'application/x-amz-cbor-1.1',
      body: Buffer.from(encode({ StreamName: 's1', Data: Buffer.from([1, 2]) })),
    });
    expect(response.headers['content-type']).toBe('application/x-amz-cbor-1.1');
    const out = decode(response.body as Buffer) as {
      Input: { Data: Uint8Array };
      Blob: Uint8Array;
      When: Date;
    };
    expect([...out.Input.Data]).toEqual([1, 2]);
    expect(Buffer.from(out.Blob).toString()).toBe('blob');
    expect(out.When).toEqual(new Date(1_700_000_000_500));
  });

  it('dispatches REST-JSON by path with the kinesisvideo signing name', async () => {
    const { response, info } = await call(protocol(), {
      path: '/describeStream',
      service: 'kinesisvideo',
      contentType: 'application/json',
      body: Buffer.from('{"StreamName":"cam1"}'),
    });
    expect(response.status).toBe(200);
    expect(JSON.parse(String(response.body))).toEqual({ StreamInfo: { StreamName: 'cam1' } });
    expect(info).toEqual({ service: 'kinesisvideo', operation: 'describeStream' });
  });

  it('rejects a signature scoped to the wrong service for the target', async () => {
    const { response } = await call(protocol(), {
      target: 'Kinesis_20131202.Echo',
      service: 'firehose',
      body: Buffer.from('{}'),
    });
    expect(response.headers['x-amzn-errortype']).toBe('InvalidSignatureException');
  });

  it('serializes catalogued errors thrown by operations', async () => {
    const { response } = await call(protocol(), {
      target: 'Kinesis_20131202.Missing',
      body: Buffer.from('{}'),
    });
    expect(response.status).toBe(400);
    expect(JSON.parse(String(response.body))).toEqual({
      __type: 'ResourceNotFoundException',
      message: 'Stream s under account 000000000000 not found.',
    });
  });

  it('turns an unexpected fault into InternalFailure without leaking its message', async () => {
    const { response } = await call(protocol(), {
      target: 'Kinesis_20131202.Crash',
      body: Buffer.from('{}'),
    });
    expect(response.status).toBe(500);
    expect(response.headers['x-amzn-errortype']).toBe('InternalFailure');
    expect(String(response.body)).not.toContain('secret internal detail');
  });

  it('answers an unknown operation of a known service with UnknownOperationException', async () => {
    const { response, info } = await call(protocol(), {
      target: 'Kinesis_20131202.Nope',
      body: Buffer.from('{}'),
    });
    expect(JSON.parse(String(response.body))).toMatchObject({ __type: 'UnknownOperationException' });
    expect(info.operation).toBe('Nope');
  });

  it('refuses duplicate registrations', () => {
    const aws = protocol();
    expect(() =>
      aws.registerJsonService({ targetPrefix: 'Kinesis_20131202', signingName: 'kinesis', operations: {} }),
    ).toThrow(/duplicate/);
    expect(() =>
      aws.registerRestJsonService({
        signingName: 'kinesisvideo',
        operations: { '/describeStream': async () => ({}) },
      }),
    ).toThrow(/duplicate/);
  });
});

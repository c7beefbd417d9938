import { decode, encode } from 'cbor-x';
import { describe, expect, it } from 'vitest';
import { decodeBody, encodeBody, errorResponse, wireFormatOf } from '../../../src/api/index.ts';
import { ServiceError } from '../../../src/errors/index.ts';

describe('AWS JSON / CBOR codec', () => {
  it('recognizes the AWS content types and nothing else', () => {
    expect(wireFormatOf('application/x-amz-json-1.1')).toBe('json');
    expect(wireFormatOf('application/x-amz-json-1.0; charset=utf-8')).toBe('json');
    expect(wireFormatOf('application/x-amz-cbor-1.1')).toBe('cbor');
    expect(wireFormatOf('application/json')).toBeUndefined();
    expect(wireFormatOf(undefined)).toBeUndefined();
  });

  it('decodes an empty body as an empty structure', () => {
    expect(decodeBody('json', Buffer.alloc(0))).toEqual({});
  });

  it.each([
    ['invalid JSON', 'json', Buffer.from('{"a":')],
    ['a JSON array', 'json', Buffer.from('[1,2]')],
    ['JSON null', 'json', Buffer.from('null')],
    ['invalid CBOR', 'cbor', Buffer.from([0xbf, 0x61])],
    ['a CBOR byte string', 'cbor', Buffer.from(encode(Buffer.from('x')))],
  ] as const)('rejects %s with SerializationException', (_, format, body) => {
    expect(() => decodeBody(format, body)).toThrow(
      expect.objectContaining({ code: 'SerializationException' }),
    );
  });

  it('encodes blobs as base64 and timestamps as epoch seconds in JSON', () => {
    const out = encodeBody('json', { Data: new Uint8Array([1, 2, 3]), At: new Date(1_700_000_000_123) });
    expect(JSON.parse(out.toString())).toEqual({ Data: 'AQID', At: 1_700_000_000.123 });
  });

  it('keeps blobs as byte strings in CBOR and round-trips a structure', () => {
    const out = encodeBody('cbor', { Data: Buffer.from('hi'), N: 1 });
    const back = decode(out) as { Data: Uint8Array; N: number };
    expect(Buffer.from(back.Data).toString()).toBe('hi');
    expect(decodeBody('cbor', out)).toMatchObject({ N: 1 });
  });

  it('serializes errors in the AWS shape, in the request format', () => {
    const json = errorResponse(
      new ServiceError('ResourceNotFoundException', 'Stream s under account 0 not found.'),
    );
    expect(json.status).toBe(400);
    expect(json.headers['x-amzn-errortype']).toBe('ResourceNotFoundException');
    expect(JSON.parse(String(json.body))).toEqual({
      __type: 'ResourceNotFoundException',
      message: 'Stream s under account 0 not found.',
    });
    const cbor = errorResponse(new ServiceError('SerializationException', 'bad'), 'cbor');
    expect(cbor.headers['content-type']).toBe('application/x-amz-cbor-1.1');
    expect(decode(cbor.body as Buffer)).toEqual({ __type: 'SerializationException', Message: 'bad' });
  });
});

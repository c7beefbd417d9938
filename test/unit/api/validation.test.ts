import { encode } from 'cbor-x';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { blob, int, parseInput, str } from '../../../src/api/aws/validation.ts';

const schema = z.object({
  KeyId: str(1, 8),
  Plaintext: blob({ minBytes: 1, maxBytes: 4 }),
  Limit: int(1, 10).optional(),
});

describe('parseInput', () => {
  it('accepts base64 blobs (JSON) and byte strings (CBOR) alike', () => {
    expect(parseInput(schema, { KeyId: 'k', Plaintext: 'AQI=' }).Plaintext).toEqual(Buffer.from([1, 2]));
    const cbor = new Uint8Array(encode(Buffer.from([3])));
    expect(parseInput(schema, { KeyId: 'k', Plaintext: cbor.subarray(1) }).Plaintext).toEqual(
      Buffer.from([3]),
    );
  });

  it('reports every problem in the AWS ValidationException wording', () => {
    expect(() => parseInput(schema, { Plaintext: 'AQI=', Limit: 11 })).toThrow(
      expect.objectContaining({
        code: 'ValidationException',
        message:
          "2 validation errors detected: Value null at 'keyId' failed to satisfy constraint: Member must not be null; " +
          "Value '11' at 'limit' failed to satisfy constraint: Member must have value less than or equal to 10",
      }),
    );
  });

  it('hides sensitive values', () => {
    expect(() => parseInput(schema, { KeyId: 'k', Plaintext: 'AQIDBAUG' }, ['Plaintext'])).toThrow(
      "1 validation error detected: Value [sensitive] at 'plaintext' failed to satisfy constraint: Member must have length less than or equal to 4",
    );
  });

  it('rejects malformed base64', () => {
    expect(() => parseInput(schema, { KeyId: 'k', Plaintext: 'not base64!' })).toThrow(
      /Member must be valid base64/,
    );
  });
});

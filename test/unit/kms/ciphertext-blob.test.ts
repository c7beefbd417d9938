import { describe, expect, it } from 'vitest';
import { canonicalContext, gcmDecrypt, gcmEncrypt, newIv } from '../../../src/crypto/index.ts';
import { blobAad, blobHeader, decodeBlob, encodeBlob } from '../../../src/kms/ciphertext-blob.ts';

const KEY_ID = '1234abcd-12ab-34cd-56ef-1234567890ab';

describe('KMS ciphertext blob v1', () => {
  it('round-trips key id, version, IV, tag and ciphertext with the documented offsets', () => {
    const material = Buffer.alloc(32, 9);
    const header = blobHeader(KEY_ID, 7, newIv());
    const { ciphertext, tag } = gcmEncrypt(
      material,
      blobAad(header, { a: 'b' }),
      Buffer.from('hello'),
      header.subarray(25, 37),
    );
    const blob = encodeBlob(header, tag, ciphertext);
    expect(blob.subarray(0, 4).toString('latin1')).toBe('SGKM');
    expect(blob[4]).toBe(1);
    expect(blob.subarray(5, 21).toString('hex')).toBe(KEY_ID.replace(/-/g, ''));
    expect(blob.readUInt32BE(21)).toBe(7);
    expect(blob.length).toBe(53 + 5);
    const parsed = decodeBlob(blob);
    expect(parsed).toMatchObject({ keyId: KEY_ID, keyVersion: 7 });
    const plain = gcmDecrypt(
      material,
      blobAad(parsed.header, { a: 'b' }),
      parsed.iv,
      parsed.ciphertext,
      parsed.tag,
    );
    expect(plain.toString()).toBe('hello');
    expect(() =>
      gcmDecrypt(material, blobAad(parsed.header, { a: 'c' }), parsed.iv, parsed.ciphertext, parsed.tag),
    ).toThrow(/authentication failed/);
  });

  it('rejects short, foreign and future-version blobs with a clear message', () => {
    expect(() => decodeBlob(Buffer.alloc(10))).toThrow(/10 bytes; a valid one has at least 53/);
    expect(() => decodeBlob(Buffer.alloc(60))).toThrow(/not a Streamgate KMS ciphertext blob/);
    const future = Buffer.alloc(60);
    future.write('SGKM', 0, 'latin1');
    future[4] = 2;
    expect(() => decodeBlob(future)).toThrow(/unsupported ciphertext blob version 2/);
  });

  it('binds the context canonically (insertion order does not matter, boundaries do)', () => {
    expect(canonicalContext({ a: '1', b: '2' })).toEqual(canonicalContext({ b: '2', a: '1' }));
    expect(canonicalContext({ a: 'bc' })).not.toEqual(canonicalContext({ ab: 'c' }));
    expect(canonicalContext({})).toEqual(canonicalContext(undefined));
  });
});

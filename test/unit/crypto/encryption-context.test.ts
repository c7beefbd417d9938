import { describe, expect, it } from 'vitest';
import { canonicalContext, type EncryptionContext } from '../../../src/crypto/index.ts';

const hex = (context: EncryptionContext | undefined): string => canonicalContext(context).toString('hex');

describe('canonicalContext', () => {
  it('encodes pair count, then length-prefixed keys and values in key order, big-endian', () => {
    expect(hex({ b: '22', a: '1' })).toBe(
      '0002' + '0001' + '61' + '0001' + '31' + '0001' + '62' + '0002' + '3232',
    );
  });

  it('does not depend on insertion order', () => {
    const pairs = Object.entries({
      stream: 'arn:aws:kinesisvideo:us-east-1:0:stream/s/1',
      fragment: '42',
      z: '',
      a: 'x',
    });
    const forward = Object.fromEntries(pairs);
    const backward = Object.fromEntries([...pairs].reverse());
    expect(canonicalContext(backward).equals(canonicalContext(forward))).toBe(true);
  });

  it('encodes the empty and the absent context the same way', () => {
    expect(hex({})).toBe('0000');
    expect(hex(undefined)).toBe('0000');
  });

  it.each<[string, EncryptionContext, EncryptionContext]>([
    ['a key/value boundary', { a: 'bc' }, { ab: 'c' }],
    ['an empty value and no pair', { a: '' }, {}],
    ['an empty key and an empty value', { '': 'a' }, { a: '' }],
    ['two pairs and one pair holding both', { a: '1', b: '2' }, { a: '1\u0000\u0001b\u0000\u00012' }],
    ['values that differ in case', { k: 'Value' }, { k: 'value' }],
    ['keys that differ in case', { K: 'v' }, { k: 'v' }],
  ])('tells apart contexts that differ by %s', (_, a, b) => {
    expect(hex(a)).not.toBe(hex(b));
  });

  it('orders keys by their UTF-8 bytes, not by UTF-16 code units', () => {
    // U+FF61 is EF BD A1 in UTF-8; U+1F600 is F0 9F 98 80 but sorts first as UTF-16 (D83D DE00).
    const encoded = canonicalContext({ '\u{1F600}': '1', '\uFF61': '2' });
    expect(encoded.subarray(2, 7).toString('hex')).toBe('0003efbda1');
  });

  it('refuses an entry longer than 65535 bytes', () => {
    expect(() => canonicalContext({ k: 'x'.repeat(0x10000) })).toThrow(RangeError);
    expect(canonicalContext({ k: 'x'.repeat(0xffff) }).length).toBe(2 + 4 + 1 + 0xffff);
  });
});

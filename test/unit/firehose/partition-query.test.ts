import { describe, expect, it } from 'vitest';
import {
  extractPartitionKeys,
  PartitionQueryError,
  parsePartitionQuery,
} from '../../../src/firehose/partition-query.ts';

describe('parsePartitionQuery', () => {
  it('parses objects of simple paths, quoted keys and quoted segments', () => {
    expect(parsePartitionQuery('{customer_id: .customer.id, "year": .event."year"}')).toEqual([
      { key: 'customer_id', path: ['customer', 'id'] },
      { key: 'year', path: ['event', 'year'] },
    ]);
  });

  it('refuses JQ it cannot evaluate', () => {
    for (const query of ['.id', '{id: .items[0]}', '{id: .a | tostring}', '{}', '{id: }']) {
      expect(() => parsePartitionQuery(query), query).toThrow(PartitionQueryError);
    }
  });
});

describe('extractPartitionKeys', () => {
  const specs = parsePartitionQuery('{c: .customer, n: .meta.n}');

  it('stringifies scalar values', () => {
    expect(extractPartitionKeys(Buffer.from('{"customer":"acme","meta":{"n":7}}'), specs)).toEqual({
      c: 'acme',
      n: '7',
    });
  });

  it('fails records that are not JSON or lack a scalar at a path', () => {
    expect(() => extractPartitionKeys(Buffer.from('nope'), specs)).toThrow(PartitionQueryError);
    expect(() => extractPartitionKeys(Buffer.from('{"customer":"a","meta":{}}'), specs)).toThrow(
      PartitionQueryError,
    );
    expect(() => extractPartitionKeys(Buffer.from('{"customer":{"x":1},"meta":{"n":1}}'), specs)).toThrow(
      PartitionQueryError,
    );
  });
});

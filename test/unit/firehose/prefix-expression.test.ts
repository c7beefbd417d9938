import { describe, expect, it } from 'vitest';
import {
  checkPrefix,
  evaluatePrefix,
  formatJavaDate,
  PrefixExpressionError,
} from '../../../src/firehose/index.ts';
import { objectName } from '../../../src/firehose/prefix-expression.ts';

const at = Date.UTC(2026, 10, 5, 7, 8, 9, 45);
const context = { timestampMs: at, randomString: 'AbCdEfGhIjK' };

describe('evaluatePrefix', () => {
  it('uses the default YYYY/MM/dd/HH/ layout in UTC when no prefix is set', () => {
    expect(evaluatePrefix(undefined, context)).toBe('2026/11/05/07/');
  });

  it('appends the default layout to a prefix without expressions', () => {
    expect(evaluatePrefix('logs/', context)).toBe('logs/2026/11/05/07/');
  });

  it('evaluates timestamp and firehose expressions, all with the same instant', () => {
    expect(
      evaluatePrefix("dt=!{timestamp:yyyy'-'MM'-'dd}/h=!{timestamp:HH}/!{firehose:random-string}/", context),
    ).toBe('dt=2026-11-05/h=07/AbCdEfGhIjK/');
    expect(
      evaluatePrefix('failed/!{firehose:error-output-type}/!{timestamp:yyyy/MM}/', {
        ...context,
        errorOutputType: 'processing-failed',
      }),
    ).toBe('failed/processing-failed/2026/11/');
  });

  it('puts failed records under <error-output-type>/YYYY/MM/dd/HH/ when ErrorOutputPrefix is unset', () => {
    expect(evaluatePrefix(undefined, { ...context, errorOutputType: 'http-endpoint-failed' })).toBe(
      'http-endpoint-failed/2026/11/05/07/',
    );
  });
});

describe('formatJavaDate', () => {
  it('formats DateTimeFormatter letters, quoted text and escaped quotes', () => {
    expect(formatJavaDate(at, "yyyy-MM-dd'T'HH:mm:ss.SSS")).toBe('2026-11-05T07:08:09.045');
    expect(formatJavaDate(at, "yy M d H ''")).toBe("26 11 5 7 '");
  });

  it('formats in a CustomTimeZone, daylight saving included', () => {
    expect(formatJavaDate(at, 'yyyy-MM-dd HH:mm', 'America/New_York')).toBe('2026-11-05 02:08');
    expect(formatJavaDate(Date.UTC(2026, 6, 1, 3, 0), 'yyyy-MM-dd HH', 'America/New_York')).toBe(
      '2026-06-30 23',
    );
    expect(evaluatePrefix(undefined, { ...context, timeZone: 'Asia/Tokyo' })).toBe('2026/11/05/16/');
  });

  it('refuses letters it does not know', () => {
    expect(() => formatJavaDate(at, 'yyyy-EEE')).toThrow(PrefixExpressionError);
  });
});

describe('checkPrefix', () => {
  it('accepts what Firehose accepts and refuses the rest', () => {
    expect(() => checkPrefix('!{timestamp:yyyy}/!{firehose:random-string}/', 'prefix')).not.toThrow();
    expect(() => checkPrefix('!{firehose:error-output-type}/', 'errorOutputPrefix')).not.toThrow();
    expect(() => checkPrefix('!{firehose:error-output-type}/', 'prefix')).toThrow(PrefixExpressionError);
    expect(() => checkPrefix('!{partitionKeyFromQuery:id}/', 'errorOutputPrefix')).toThrow(
      PrefixExpressionError,
    );
    expect(() => checkPrefix('!{nope:x}/', 'prefix')).toThrow(PrefixExpressionError);
    expect(() => checkPrefix('!{timestamp:yyyy/', 'prefix')).toThrow(PrefixExpressionError);
  });
});

describe('objectName', () => {
  it('is <stream>-<version>-<yyyy-MM-dd-HH-mm-ss>-<uuid><ext>', () => {
    expect(
      objectName({ streamName: 'clicks', versionId: 3, timestampMs: at, uuid: 'u-u-i-d', extension: '.gz' }),
    ).toBe('clicks-3-2026-11-05-07-08-09-u-u-i-d.gz');
  });
});

// Evaluates S3 prefixes as Firehose does (https://docs.aws.amazon.com/firehose/latest/dev/s3-prefixes.html)
// and names delivered objects (https://docs.aws.amazon.com/firehose/latest/dev/s3-object-name.html). Pure.

import type { CompressionFormat } from './delivery-stream-record.ts';

/** What the expressions of one object's prefix evaluate to. */
export interface PrefixContext {
  /** Approximate arrival time of the oldest record in the object (every `!{timestamp:}` uses it). */
  timestampMs: number;
  /** IANA time zone of the timestamps (CustomTimeZone); UTC when undefined. */
  timeZone?: string | undefined;
  /** 11 characters, drawn once per object. */
  randomString: string;
  /** For ErrorOutputPrefix: `processing-failed`, `http-endpoint-failed`, ... */
  errorOutputType?: string | undefined;
  /** Dynamic partitioning keys (`!{partitionKeyFromQuery:<k>}`, `!{partitionKeyFromLambda:<k>}`). */
  partitionKeys?: Readonly<Record<string, string>> | undefined;
}

/** A prefix Firehose would refuse; the message is the one CreateDeliveryStream returns. */
export class PrefixExpressionError extends Error {}

const EXPRESSION = /!\{([a-zA-Z]+):([^}]*)\}/g;
const PARTITION_NAMESPACES = ['partitionKeyFromQuery', 'partitionKeyFromLambda'];
const DEFAULT_LAYOUT = "yyyy'/'MM'/'dd'/'HH'/'";

/** Throws PrefixExpressionError unless every `!{...}` in `prefix` is one Firehose knows here. */
export function checkPrefix(prefix: string, kind: 'prefix' | 'errorOutputPrefix'): void {
  for (const match of prefix.matchAll(EXPRESSION)) {
    const [whole, namespace, value] = match as unknown as [string, string, string];
    if (namespace === 'timestamp') formatJavaDate(0, value);
    else if (namespace === 'firehose') {
      const allowed =
        kind === 'errorOutputPrefix' ? ['random-string', 'error-output-type'] : ['random-string'];
      if (!allowed.includes(value))
        throw new PrefixExpressionError(
          `The expression ${whole} is not supported in ${kind === 'prefix' ? 'Prefix' : 'ErrorOutputPrefix'}.`,
        );
    } else if (PARTITION_NAMESPACES.includes(namespace) && kind === 'prefix') {
      if (value === '') throw new PrefixExpressionError(`The expression ${whole} needs a key name.`);
    } else {
      throw new PrefixExpressionError(
        `The expression ${whole} is not supported in ${kind === 'prefix' ? 'Prefix' : 'ErrorOutputPrefix'}.`,
      );
    }
  }
  if (prefix.replace(EXPRESSION, '').includes('!{')) {
    throw new PrefixExpressionError(`The prefix ${prefix} has an unterminated or malformed expression.`);
  }
}

/** The partition keys a prefix uses (`!{partitionKeyFrom…:<k>}`). */
export function partitionKeysOf(prefix: string | undefined): string[] {
  if (prefix === undefined) return [];
  return [...prefix.matchAll(EXPRESSION)]
    .filter((m) => PARTITION_NAMESPACES.includes(m[1] as string))
    .map((m) => m[2] as string);
}

/** True when the prefix has any `!{...}` expression. */
export function hasExpressions(prefix: string | undefined): boolean {
  return prefix !== undefined && /!\{[a-zA-Z]+:[^}]*\}/.test(prefix);
}

/**
 * The evaluated prefix of an object. With no expressions Firehose appends the default `YYYY/MM/dd/HH/`
 * (UTC) layout; an error prefix left unset becomes `<error-output-type>/YYYY/MM/dd/HH/`.
 */
export function evaluatePrefix(template: string | undefined, context: PrefixContext): string {
  const layout = formatJavaDate(context.timestampMs, DEFAULT_LAYOUT, context.timeZone);
  if (template === undefined || template === '') {
    return context.errorOutputType ? `${context.errorOutputType}/${layout}` : layout;
  }
  if (!hasExpressions(template)) return `${template}${layout}`;
  return template.replace(EXPRESSION, (whole, namespace: string, value: string) => {
    if (namespace === 'timestamp') return formatJavaDate(context.timestampMs, value, context.timeZone);
    if (namespace === 'firehose' && value === 'random-string') return context.randomString;
    if (namespace === 'firehose' && value === 'error-output-type') return context.errorOutputType ?? '';
    if (PARTITION_NAMESPACES.includes(namespace)) return context.partitionKeys?.[value] ?? '';
    return whole;
  });
}

/** The file extension of a compression format (unless FileExtension overrides it). */
export function extensionOf(format: CompressionFormat): string {
  switch (format) {
    case 'GZIP':
      return '.gz';
    case 'ZIP':
      return '.zip';
    case 'Snappy':
    case 'HADOOP_SNAPPY':
      return '.snappy';
    default:
      return '';
  }
}

/** `<stream>-<version>-<yyyy-MM-dd-HH-mm-ss>-<uuid><ext>`. */
export function objectName(options: {
  streamName: string;
  versionId: number;
  timestampMs: number;
  uuid: string;
  extension: string;
  timeZone?: string | undefined;
}): string {
  const time = formatJavaDate(options.timestampMs, 'yyyy-MM-dd-HH-mm-ss', options.timeZone);
  return `${options.streamName}-${options.versionId}-${time}-${options.uuid}${options.extension}`;
}

/** True when `timeZone` is an IANA zone name the runtime knows. */
export function isTimeZone(timeZone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone });
    return true;
  } catch (error) {
    if (error instanceof RangeError) return false;
    throw error;
  }
}

/**
 * Formats an instant with the common letters of java.time.format.DateTimeFormatter: yyyy yy YYYY
 * MM M dd d HH H mm ss SSS, text in single quotes ('' is a quote), in UTC or the given IANA zone.
 * Throws PrefixExpressionError on any other pattern letter.
 */
export function formatJavaDate(timestampMs: number, pattern: string, timeZone?: string): string {
  const c = calendarFields(timestampMs, timeZone);
  const fields: Record<string, number> = {
    y: c.year,
    Y: c.year,
    u: c.year,
    M: c.month,
    d: c.day,
    H: c.hour,
    m: c.minute,
    s: c.second,
    S: c.millisecond,
  };
  let out = '';
  let i = 0;
  while (i < pattern.length) {
    const ch = pattern.charAt(i);
    if (ch === "'") {
      const end = pattern.indexOf("'", i + 1);
      if (end === -1) throw new PrefixExpressionError(`Unterminated quote in timestamp pattern ${pattern}.`);
      out += end === i + 1 ? "'" : pattern.slice(i + 1, end);
      i = end + 1;
      continue;
    }
    if (/[a-zA-Z]/.test(ch)) {
      let run = 1;
      while (pattern.charAt(i + run) === ch) run++;
      const value = fields[ch];
      if (value === undefined)
        throw new PrefixExpressionError(`Unsupported timestamp pattern letter ${ch} in ${pattern}.`);
      if ((ch === 'y' || ch === 'Y' || ch === 'u') && run === 2) out += String(value % 100).padStart(2, '0');
      else if (ch === 'S') out += String(value).padStart(3, '0').slice(0, run).padEnd(run, '0');
      else out += String(value).padStart(run, '0');
      i += run;
      continue;
    }
    out += ch;
    i++;
  }
  return out;
}

/** Calendar fields of an instant in UTC or an IANA zone. */
function calendarFields(timestampMs: number, timeZone: string | undefined) {
  const date = new Date(timestampMs);
  if (timeZone === undefined || timeZone === 'UTC') {
    return {
      year: date.getUTCFullYear(),
      month: date.getUTCMonth() + 1,
      day: date.getUTCDate(),
      hour: date.getUTCHours(),
      minute: date.getUTCMinutes(),
      second: date.getUTCSeconds(),
      millisecond: date.getUTCMilliseconds(),
    };
  }
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone,
    hourCycle: 'h23',
    year: 'numeric',
    month: 'numeric',
    day: 'numeric',
    hour: 'numeric',
    minute: 'numeric',
    second: 'numeric',
  }).formatToParts(date);
  const part = (type: Intl.DateTimeFormatPartTypes) => Number(parts.find((p) => p.type === type)?.value ?? 0);
  return {
    year: part('year'),
    month: part('month'),
    day: part('day'),
    hour: part('hour'),
    minute: part('minute'),
    second: part('second'),
    millisecond: date.getUTCMilliseconds(),
  };
}

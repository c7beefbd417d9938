import { isAscii } from 'node:buffer';
import { Decoder, Encoder } from 'cbor-x';
import { ServiceError } from '../../errors/index.ts';

/** The body encodings of the AWS JSON protocols (awsJson1_0/1_1, and CBOR for the Java SDKs). */
export type WireFormat = 'json' | 'cbor';

const CONTENT_TYPES: Readonly<Record<string, WireFormat>> = {
  'application/x-amz-json-1.1': 'json',
  'application/x-amz-json-1.0': 'json',
  'application/x-amz-cbor-1.1': 'cbor',
};

/** The wire format named by a Content-Type header (parameters ignored), or undefined. */
export function wireFormatOf(contentType: string | undefined): WireFormat | undefined {
  if (contentType === undefined) return undefined;
  const base = contentType.split(';', 1)[0]?.trim().toLowerCase() ?? '';
  return CONTENT_TYPES[base];
}

const cborDecoder = new Decoder({ mapsAsObjects: true, useRecords: false });
const cborEncoder = new Encoder({ useRecords: false, tagUint8Array: false });

/**
 * Decodes a request body into a plain object. Blobs arrive as base64 strings (JSON) or Uint8Array
 * (CBOR), timestamps as epoch-second numbers or Date; `shapes.ts` normalizes both.
 */
export function decodeBody(format: WireFormat, body: Buffer): Record<string, unknown> {
  if (body.length === 0) return {};
  let value: unknown;
  try {
    value = format === 'json' ? JSON.parse(jsonText(body)) : cborDecoder.decode(body);
  } catch (error) {
    throw new ServiceError(
      'SerializationException',
      format === 'json' ? 'The request body is not valid JSON.' : 'The request body is not valid CBOR.',
      { cause: error },
    );
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value) || value instanceof Uint8Array) {
    throw new ServiceError('SerializationException', 'The request body must be a JSON object (a structure).');
  }
  return value as Record<string, unknown>;
}

/** The body as text; pure-ASCII bodies (base64 payloads) take the much cheaper one-byte path. */
function jsonText(body: Buffer): string {
  return isAscii(body) ? body.toString('latin1') : body.toString('utf8');
}

/** Encodes an operation's output: Uint8Array → base64 (JSON) or byte string (CBOR); Date → epoch seconds / tag 1. */
export function encodeBody(format: WireFormat, value: unknown): Buffer {
  if (format === 'cbor') return Buffer.from(cborEncoder.encode(value));
  return Buffer.from(JSON.stringify(value, jsonReplacer), 'utf8');
}

function jsonReplacer(this: unknown, key: string, value: unknown): unknown {
  // JSON.stringify calls toJSON before the replacer, so read the raw member for Dates and Buffers.
  const raw = key === '' ? value : (this as Record<string, unknown>)[key];
  if (raw instanceof Uint8Array)
    return Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('base64');
  if (raw instanceof Date) return raw.getTime() / 1000;
  return value;
}

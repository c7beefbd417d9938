import { Hash } from '@smithy/hash-node';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import { decode, encode } from 'cbor-x';
import { TEST_KEYS } from './start-app.ts';

/**
 * Sends one SigV4-signed awsJson call with a body the test controls byte for byte (what no SDK would
 * send: wrong types, bad base64, CBOR as the Java SDK encodes it). Returns status, error type and body.
 */
export async function signedCall(
  endpoint: string,
  target: string,
  body: Buffer | string | Record<string, unknown>,
  options: { format?: 'json' | 'cbor'; service?: string } = {},
): Promise<{ status: number; errorType: string | null; body: unknown }> {
  const format = options.format ?? 'json';
  const bytes =
    Buffer.isBuffer(body) || typeof body === 'string'
      ? Buffer.from(body)
      : format === 'cbor'
        ? Buffer.from(encode(body))
        : Buffer.from(JSON.stringify(body));
  const url = new URL(endpoint);
  const contentType = format === 'cbor' ? 'application/x-amz-cbor-1.1' : 'application/x-amz-json-1.1';
  const signer = new SignatureV4({
    service: options.service ?? 'kinesis',
    region: 'us-east-1',
    sha256: Hash.bind(null, 'sha256'),
    credentials: TEST_KEYS,
  });
  const signed = await signer.sign(
    new HttpRequest({
      method: 'POST',
      protocol: url.protocol,
      hostname: url.hostname,
      port: Number(url.port),
      path: '/',
      headers: { host: url.host, 'content-type': contentType, 'x-amz-target': target },
      body: bytes,
    }),
  );
  const response = await fetch(`${endpoint}/`, { method: 'POST', headers: signed.headers, body: bytes });
  const raw = Buffer.from(await response.arrayBuffer());
  const parsed = raw.length === 0 ? {} : format === 'cbor' ? decode(raw) : JSON.parse(raw.toString());
  return { status: response.status, errorType: response.headers.get('x-amzn-errortype'), body: parsed };
}

/** Sends one SigV4-signed REST-JSON call (`POST <path>`), as the KVS SDKs do, with a JSON body. */
export async function signedRestCall(
  endpoint: string,
  path: string,
  body: unknown,
  service = 'kinesisvideo',
): Promise<{
  status: number;
  errorType: string | null;
  contentType: string | null;
  body: Record<string, unknown>;
}> {
  const bytes = Buffer.from(JSON.stringify(body));
  const url = new URL(endpoint);
  const signer = new SignatureV4({
    service,
    region: 'us-east-1',
    sha256: Hash.bind(null, 'sha256'),
    credentials: TEST_KEYS,
  });
  const signed = await signer.sign(
    new HttpRequest({
      method: 'POST',
      protocol: url.protocol,
      hostname: url.hostname,
      port: Number(url.port),
      path,
      headers: { host: url.host, 'content-type': 'application/json' },
      body: bytes,
    }),
  );
  const response = await fetch(`${endpoint}${path}`, {
    method: 'POST',
    headers: signed.headers,
    body: bytes,
  });
  const raw = await response.text();
  return {
    status: response.status,
    errorType: response.headers.get('x-amzn-errortype'),
    contentType: response.headers.get('content-type'),
    body: raw === '' ? {} : JSON.parse(raw),
  };
}

import { createHmac, timingSafeEqual } from 'node:crypto';

/** Length of a publish token: base64url of the first 24 bytes (192 bits) of the HMAC. */
const TOKEN_BYTES = 24;

/** The publish token of `streamName`: base64url(HMAC-SHA256(secret, streamName)) truncated to 192 bits. */
export function publishToken(secret: string | Uint8Array, streamName: string): string {
  const mac = createHmac('sha256', secret).update(`publish:${streamName}`, 'utf8').digest();
  return mac.subarray(0, TOKEN_BYTES).toString('base64url');
}

/** True when `token` is the publish token of `streamName`; compares in constant time. */
export function verifyPublishToken(secret: string | Uint8Array, streamName: string, token: string): boolean {
  const expected = Buffer.from(publishToken(secret, streamName), 'utf8');
  const given = Buffer.from(token, 'utf8');
  if (given.byteLength !== expected.byteLength) return false;
  return timingSafeEqual(given, expected);
}

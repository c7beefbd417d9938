import { z } from 'zod';
import { str } from '../aws/validation.ts';

// Input shapes the Kinesis Video Streams operations share (control plane, archived media, HLS, cameras).

export const namePattern = 'Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+';
export const streamName = str(1, 256).regex(/^[a-zA-Z0-9_.-]+$/, namePattern);
export const streamArn = str(1, 1024);
/** StreamName and/or StreamARN (the registry checks that one is given and that they agree). */
export const streamRef = { StreamName: streamName.optional(), StreamARN: streamArn.optional() };

/** Epoch seconds (JSON number, as the SDKs send timestamps) or a Date (CBOR), to epoch ms. */
export const timestamp = z
  .union([z.number(), z.date()], { message: 'Member must be a timestamp' })
  .transform((v) => (typeof v === 'number' ? Math.round(v * 1000) : v.getTime()));

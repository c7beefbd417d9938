import { randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import { gzip as gzipCb } from 'node:zlib';
import type { HttpEndpointDeliveryDestination } from './delivery-stream-record.ts';
import { sleep } from './record-processing.ts';

const gzip = promisify(gzipCb);

// The HTTP endpoint destination contract
// (https://docs.aws.amazon.com/firehose/latest/dev/httpdeliveryrequestresponse.html).

/** How an HTTP delivery ended. */
export type HttpDeliveryOutcome =
  | { delivered: true; attemptsMade: number }
  | { delivered: false; attemptsMade: number; errorCode: string; errorMessage: string };

/** Context of one delivery. */
export interface HttpDeliveryOptions {
  sourceArn: string;
  now: () => number;
  /** Base of the exponential backoff between attempts (capped at 30 s). */
  retryBaseMs: number;
  /** One attempt's response timeout (AWS waits 3 minutes). */
  attemptTimeoutMs: number;
  signal: AbortSignal;
}

/**
 * POSTs `{requestId, timestamp, records:[{data}]}` until the endpoint answers 200 with the same
 * requestId, retrying with backoff for RetryDurationInSeconds (one attempt when it is 0). The
 * request id stays the same across retries so the receiver can deduplicate.
 */
export async function deliverToHttpEndpoint(
  destination: HttpEndpointDeliveryDestination,
  records: readonly Buffer[],
  options: HttpDeliveryOptions,
): Promise<HttpDeliveryOutcome> {
  const requestId = randomUUID();
  const started = options.now();
  const json = Buffer.from(
    JSON.stringify({
      requestId,
      timestamp: started,
      records: records.map((r) => ({ data: r.toString('base64') })),
    }),
  );
  const body = destination.contentEncoding === 'GZIP' ? await gzip(json) : json;
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'x-amz-firehose-protocol-version': '1.0',
    'x-amz-firehose-request-id': requestId,
    'x-amz-firehose-source-arn': options.sourceArn,
    'x-amz-firehose-common-attributes': JSON.stringify({ commonAttributes: destination.commonAttributes }),
  };
  if (destination.accessKey !== undefined) headers['x-amz-firehose-access-key'] = destination.accessKey;
  if (destination.contentEncoding === 'GZIP') headers['content-encoding'] = 'gzip';

  let attempts = 0;
  let errorCode = 'HttpEndpoint.RequestFailed';
  let errorMessage = '';
  for (;;) {
    attempts++;
    try {
      const response = await fetch(destination.url, {
        method: 'POST',
        headers,
        body,
        signal: AbortSignal.any([options.signal, AbortSignal.timeout(options.attemptTimeoutMs)]),
      });
      const text = await response.text();
      if (response.status === 200) {
        const answer = parseJson(text) as { requestId?: unknown } | undefined;
        if (answer?.requestId === requestId) return { delivered: true, attemptsMade: attempts };
        errorCode = 'HttpEndpoint.MalformedResponse';
        errorMessage = 'The response did not carry the requestId of the request';
      } else {
        errorCode = 'HttpEndpoint.ResponseCode';
        errorMessage = `The endpoint answered ${response.status}: ${text.slice(0, 200)}`;
      }
    } catch (error) {
      errorCode = 'HttpEndpoint.RequestFailed';
      errorMessage = error instanceof Error ? error.message : String(error);
    }
    const backoffMs = Math.min(30_000, options.retryBaseMs * 2 ** (attempts - 1));
    if (options.signal.aborted || options.now() + backoffMs - started > destination.retryDurationMs) {
      return { delivered: false, attemptsMade: attempts, errorCode, errorMessage };
    }
    await sleep(backoffMs, options.signal);
  }
}

/** The parsed body, or undefined: a malformed response is a failed attempt, counted by the caller. */
function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    if (error instanceof SyntaxError) return undefined;
    throw error;
  }
}

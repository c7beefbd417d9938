import type { Readable } from 'node:stream';
import { ServiceError } from '../errors/index.ts';

/** Limits applied while reading a request body. */
export interface BodyLimits {
  maxBytes: number;
  /** Longest pause between two chunks before the request fails with 408. */
  idleTimeoutMs: number;
}

/**
 * Reads a whole request body into one Buffer. Rejects with RequestEntityTooLargeException as soon as
 * the declared or received size passes `maxBytes` (without reading the rest) and with
 * RequestTimeoutException when the client stalls (slowloris).
 */
export function readBody(
  body: Readable,
  declaredLength: string | undefined,
  limits: BodyLimits,
): Promise<Buffer> {
  const declared = declaredLength === undefined ? undefined : Number(declaredLength);
  if (declared !== undefined && (!Number.isSafeInteger(declared) || declared < 0)) {
    return Promise.reject(
      new ServiceError('SerializationException', 'Content-Length is not a valid number.'),
    );
  }
  if (declared !== undefined && declared > limits.maxBytes) {
    return Promise.reject(tooLarge(declared, limits.maxBytes));
  }
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let received = 0;
    let timer: NodeJS.Timeout | undefined;
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(
        () =>
          finish(
            new ServiceError(
              'RequestTimeoutException',
              `No request body data received for ${limits.idleTimeoutMs} ms; ${received} bytes arrived.`,
            ),
          ),
        limits.idleTimeoutMs,
      );
    };
    const onData = (chunk: Buffer) => {
      received += chunk.length;
      if (received > limits.maxBytes) {
        finish(tooLarge(received, limits.maxBytes));
        return;
      }
      chunks.push(chunk);
      arm();
    };
    const onEnd = () => {
      if (declared !== undefined && received !== declared) {
        finish(
          new ServiceError('SerializationException', `Body ended after ${received} of ${declared} bytes.`),
        );
      } else {
        finish(undefined);
      }
    };
    const onError = (error: Error) =>
      finish(
        new ServiceError('SerializationException', `The request body could not be read: ${error.message}`, {
          cause: error,
        }),
      );
    const onClose = () =>
      finish(
        new ServiceError('SerializationException', 'The client closed the request before its body ended.'),
      );
    const finish = (error: Error | undefined) => {
      clearTimeout(timer);
      body.off('data', onData);
      body.off('end', onEnd);
      body.off('error', onError);
      body.off('close', onClose);
      if (error) {
        body.pause();
        reject(error);
      } else {
        resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, received));
      }
    };
    body.on('data', onData);
    body.once('end', onEnd);
    body.once('error', onError);
    body.once('close', onClose);
    arm();
  });
}

function tooLarge(bytes: number, maxBytes: number): ServiceError {
  return new ServiceError(
    'RequestEntityTooLargeException',
    `Request body of ${bytes} bytes exceeds the limit of ${maxBytes} bytes.`,
  );
}

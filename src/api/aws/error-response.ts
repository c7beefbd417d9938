import type { ErrorName } from '../../errors/index.ts';
import { ServiceError } from '../../errors/index.ts';
import type { ApiResponse } from '../../http/types.ts';
import { encodeBody, type WireFormat } from './codec.ts';

const CONTENT_TYPE: Record<WireFormat, string> = {
  json: 'application/x-amz-json-1.1',
  cbor: 'application/x-amz-cbor-1.1',
};

/** Content-Type of an AWS JSON/CBOR response. */
export function contentTypeOf(format: WireFormat): string {
  return CONTENT_TYPE[format];
}

/**
 * The one serializer of AWS errors: `{"__type": Name, "message": ...}` in the request's wire format,
 * with `x-amzn-ErrorType`. (AWS writes `Message` for SerializationException; the SDKs read both.)
 * `x-amzn-RequestId` is added by the dispatcher for every response.
 */
export function errorResponse(error: ServiceError, format: WireFormat = 'json'): ApiResponse {
  const messageKey = error.code === 'SerializationException' ? 'Message' : 'message';
  return {
    status: error.status,
    headers: { 'content-type': CONTENT_TYPE[format], 'x-amzn-errortype': error.code },
    body: encodeBody(format, { __type: error.code, [messageKey]: error.message }),
    ...(error.code === 'RequestEntityTooLargeException' || error.code === 'RequestTimeoutException'
      ? { closeConnection: true }
      : {}),
  };
}

/** Shorthand for answering with a catalogued error. */
export function errorOf(code: ErrorName, message: string, format: WireFormat = 'json'): ApiResponse {
  return errorResponse(new ServiceError(code, message), format);
}

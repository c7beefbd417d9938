import type { Readable } from 'node:stream';

/** Which wire protocol carried a request. */
export type HttpProtocol = 'h1' | 'h2';

/**
 * A request, independent of HTTP version and of express: what every route and the AWS protocol core
 * see. Header names are lower-case; over HTTP/2 the pseudo-headers (`:authority`, ...) are present.
 */
export interface ApiRequest {
  method: string;
  /** Path as sent, percent-encoded, without the query. */
  path: string;
  query: URLSearchParams;
  headers: Readonly<Record<string, string>>;
  protocol: HttpProtocol;
  remoteAddress: string;
  /** Also sent back as `x-amzn-RequestId`. */
  requestId: string;
  /** The request body, not yet read. */
  body: Readable;
  /** Aborted when the client goes away before the response is complete. */
  signal: AbortSignal;
}

/** A response: a buffered body, or a stream for large or long-lived bodies (HLS, media). */
export interface ApiResponse {
  status: number;
  headers: Record<string, string>;
  body?: Buffer | string | Readable;
  /** Ask the transport to close the connection after this response (e.g. after an unread 413 body). */
  closeConnection?: boolean;
}

/** Labels a handler fills in for metrics and logs (`service` = AWS signing name or `ops`, `hls`, ...). */
export interface RouteInfo {
  service: string;
  operation: string;
}

/** Handles one request; never rejects for client errors (it answers them). */
export type RequestHandler = (request: ApiRequest, info: RouteInfo) => Promise<ApiResponse>;

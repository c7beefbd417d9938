import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2';
import { Readable } from 'node:stream';
import type { Logger } from '../logging/index.ts';
import type { Metrics } from '../metrics/index.ts';
import type { ApiRequest, ApiResponse, HttpProtocol, RequestHandler, RouteInfo } from './types.ts';

type NodeRequest = IncomingMessage | Http2ServerRequest;
type NodeResponse = ServerResponse | Http2ServerResponse;

/** Headers HTTP/2 forbids (RFC 9113 §8.2.2); dropped from responses on h2. */
const CONNECTION_HEADERS = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'upgrade',
]);

/** Adapts node's HTTP/1.1 and HTTP/2 compat objects to the neutral handler, counting in-flight work. */
export class Dispatcher {
  readonly #handler: RequestHandler;
  readonly #logger: Logger;
  readonly #metrics: Metrics;
  #inFlight = 0;
  #idleWaiters: Array<() => void> = [];

  constructor(options: { handler: RequestHandler; logger: Logger; metrics: Metrics }) {
    this.#handler = options.handler;
    this.#logger = options.logger;
    this.#metrics = options.metrics;
  }

  /** Requests being handled now. */
  get inFlight(): number {
    return this.#inFlight;
  }

  /** Resolves when no request is in flight. */
  idle(): Promise<void> {
    if (this.#inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  /** Handles one request from either transport; never throws. */
  dispatch(req: NodeRequest, res: NodeResponse, protocol: HttpProtocol): void {
    this.#inFlight += 1;
    this.#metrics.httpInFlight.inc({ protocol });
    const started = process.hrtime.bigint();
    const requestId = randomUUID();
    const info: RouteInfo = { service: 'none', operation: 'none' };
    const aborter = new AbortController();
    res.once('close', () => {
      // Not writableFinished: node's HTTP/2 response reports that as true on a stream the client reset.
      if (!res.writableEnded) aborter.abort();
    });
    const done = () => {
      this.#inFlight -= 1;
      this.#metrics.httpInFlight.dec({ protocol });
      if (this.#inFlight === 0) {
        for (const wake of this.#idleWaiters.splice(0)) wake();
      }
    };
    const request = toApiRequest(req, protocol, requestId, aborter.signal);
    this.#handler(request, info)
      .catch((error: unknown): ApiResponse => {
        this.#logger.error({ err: error, requestId }, 'handler failed');
        return {
          status: 500,
          headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-errortype': 'InternalFailure' },
          body: JSON.stringify({ __type: 'InternalFailure', message: 'An internal error occurred.' }),
        };
      })
      .then((response) => {
        const seconds = Number(process.hrtime.bigint() - started) / 1e9;
        this.#metrics.httpRequestSeconds.observe({ protocol, service: info.service }, seconds);
        this.#metrics.httpRequests.inc({
          protocol,
          service: info.service,
          operation: info.operation,
          status: String(response.status),
        });
        const level = response.status >= 500 ? 'error' : 'debug';
        this.#logger[level](
          {
            requestId,
            protocol,
            method: request.method,
            path: request.path,
            status: response.status,
            service: info.service,
            operation: info.operation,
            ms: Math.round(seconds * 1000),
          },
          'request',
        );
        return writeResponse(res, response, protocol, requestId, aborter.signal);
      })
      .catch((error: unknown) => {
        this.#logger.warn({ err: error, requestId }, 'response could not be written');
        res.destroy();
      })
      .finally(done);
  }
}

function toApiRequest(
  req: NodeRequest,
  protocol: HttpProtocol,
  requestId: string,
  signal: AbortSignal,
): ApiRequest {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined) continue;
    headers[name] = Array.isArray(value) ? value.join(',') : value;
  }
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  return {
    method: req.method ?? 'GET',
    path: q < 0 ? url : url.slice(0, q),
    query: new URLSearchParams(q < 0 ? '' : url.slice(q + 1)),
    headers,
    protocol,
    remoteAddress: req.socket?.remoteAddress ?? '',
    requestId,
    body: req,
    signal,
  };
}

async function writeResponse(
  res: NodeResponse,
  response: ApiResponse,
  protocol: HttpProtocol,
  requestId: string,
  /** Aborted when the client went away: stop writing and release the body. */
  clientGone: AbortSignal,
): Promise<void> {
  if (res.headersSent || res.destroyed) return;
  const headers: Record<string, string> = { ...response.headers, 'x-amzn-requestid': requestId };
  if (protocol === 'h2') {
    for (const name of Object.keys(headers)) if (CONNECTION_HEADERS.has(name)) delete headers[name];
  } else if (response.closeConnection) {
    headers.connection = 'close';
  }
  const body = response.body;
  if (body instanceof Readable) {
    res.writeHead(response.status, headers);
    for await (const chunk of body) {
      if (res.destroyed || clientGone.aborted) {
        body.destroy();
        return;
      }
      if (!(res as ServerResponse).write(chunk)) await waitForDrain(res, clientGone);
    }
    if (!clientGone.aborted) res.end();
    return;
  }
  const payload = body === undefined ? Buffer.alloc(0) : typeof body === 'string' ? Buffer.from(body) : body;
  headers['content-length'] = String(payload.length);
  res.writeHead(response.status, headers);
  (res as ServerResponse).end(payload);
  if (protocol === 'h2' && response.closeConnection) {
    // HTTP/2 cannot close a connection per response; refuse the rest of this stream's body instead.
    (res as Http2ServerResponse).stream.close();
  }
}

/** Resolves on 'drain', or at once when the client is gone ('close' may already have fired). */
function waitForDrain(res: NodeResponse, clientGone: AbortSignal): Promise<void> {
  if (clientGone.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const settle = () => {
      res.off('drain', settle);
      res.off('close', settle);
      clientGone.removeEventListener('abort', settle);
      resolve();
    };
    res.once('drain', settle);
    res.once('close', settle);
    clientGone.addEventListener('abort', settle, { once: true });
  });
}

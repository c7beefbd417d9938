import type { ApiRequest, ApiResponse, RequestHandler, RouteInfo } from '../http/types.ts';
import type { AwsProtocol } from './aws/aws-protocol.ts';
import { errorOf } from './aws/error-response.ts';

/** A plain (non-AWS) route such as `/healthz`; GET routes also answer HEAD. */
export interface Route {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE' | 'PATCH' | 'OPTIONS';
  path: string;
  /** Metrics label of the route family: `ops`, `hls`, `whip`, ... */
  service: string;
  handler: (request: ApiRequest) => Promise<ApiResponse>;
}

/**
 * The protocol-neutral front router used by both HTTP/1.1 (behind express) and HTTP/2:
 * exact-path routes first (unless the request names an AWS operation with X-Amz-Target), then the
 * AWS protocol core, else a 404 in the AWS error shape.
 */
export class ApiRouter {
  readonly #routes = new Map<string, Route>();
  readonly #aws: AwsProtocol;

  constructor(aws: AwsProtocol, routes: readonly Route[] = []) {
    this.#aws = aws;
    for (const route of routes) this.add(route);
  }

  /** Adds a route; a method + path pair may be registered once. */
  add(route: Route): void {
    const key = `${route.method} ${route.path}`;
    if (this.#routes.has(key)) throw new Error(`duplicate route ${key}`);
    this.#routes.set(key, route);
  }

  /** The RequestHandler the transports call. */
  readonly handle: RequestHandler = async (request: ApiRequest, info: RouteInfo): Promise<ApiResponse> => {
    const method = request.method === 'HEAD' ? 'GET' : request.method;
    // A request naming an AWS operation is the protocol core's, even on a path a page also uses (`/`).
    const route =
      request.headers['x-amz-target'] === undefined
        ? this.#routes.get(`${method} ${request.path}`)
        : undefined;
    if (route) {
      info.service = route.service;
      info.operation = request.path;
      const response = await route.handler(request);
      return request.method === 'HEAD' ? { ...response, body: '' } : response;
    }
    if (this.#aws.accepts(request)) return this.#aws.handle(request, info);
    info.service = 'none';
    info.operation = 'not-found';
    request.body.resume();
    return errorOf('RouteNotFoundException', `No route for ${request.method} ${request.path}.`);
  };
}

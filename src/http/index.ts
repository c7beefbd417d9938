// HTTP transport: one port for HTTP/1.1 and HTTP/2 (h2c sniffing, ALPN on TLS), the adapter from node's
// request objects to the protocol-neutral ApiRequest/ApiResponse, and bounded body reading.
// Imports only errors/, logging/ and metrics/ of ours; knows nothing about AWS.
export { Dispatcher } from './dispatch.ts';
export { HttpListener, type HttpListenerOptions, type ListenerTimeouts } from './http-listener.ts';
export { type BodyLimits, readBody } from './read-body.ts';
export type { ApiRequest, ApiResponse, HttpProtocol, RequestHandler, RouteInfo } from './types.ts';

import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

/** The metrics every layer shares; modules register their own on `registry`. */
export interface Metrics {
  registry: Registry;
  httpRequests: Counter<'protocol' | 'service' | 'operation' | 'status'>;
  httpRequestSeconds: Histogram<'protocol' | 'service'>;
  httpInFlight: Gauge<'protocol'>;
  httpRejectedConnections: Counter<'reason'>;
}

/** Creates a fresh registry with process metrics and the HTTP metrics. */
export function createMetrics(): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'streamgate_' });
  return {
    registry,
    httpRequests: new Counter({
      name: 'streamgate_http_requests_total',
      help: 'HTTP requests answered, by protocol (h1/h2), AWS service, operation and status',
      labelNames: ['protocol', 'service', 'operation', 'status'],
      registers: [registry],
    }),
    httpRequestSeconds: new Histogram({
      name: 'streamgate_http_request_duration_seconds',
      help: 'Time from request start to the response head being sent',
      labelNames: ['protocol', 'service'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
    httpInFlight: new Gauge({
      name: 'streamgate_http_in_flight_requests',
      help: 'Requests being handled right now',
      labelNames: ['protocol'],
      registers: [registry],
    }),
    httpRejectedConnections: new Counter({
      name: 'streamgate_http_rejected_connections_total',
      help: 'Connections closed before a request: preface timeout, TLS failure, protocol error',
      labelNames: ['reason'],
      registers: [registry],
    }),
  };
}

// Metrics: one Prometheus registry per app (prom-client), so two apps in one test process never share
// counters. Leaf module: imports nothing of ours.
export { createMetrics, type Metrics } from './metrics.ts';

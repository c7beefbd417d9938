import type { Registry } from 'prom-client';
import type { Route } from '../router.ts';

/** Something /readyz asks: Redis, the object store, ... Rejects (or times out) when not ready. */
export interface ReadinessCheck {
  name: string;
  check(): Promise<void>;
}

const READY_TIMEOUT_MS = 2_000;

/** `/healthz` (process alive), `/readyz` (dependencies answer), `/metrics` (Prometheus text). */
export function opsRoutes(options: { checks: readonly ReadinessCheck[]; registry: Registry }): Route[] {
  const json = (status: number, value: unknown) => ({
    status,
    headers: { 'content-type': 'application/json', 'cache-control': 'no-store' },
    body: JSON.stringify(value),
  });
  return [
    {
      method: 'GET',
      path: '/healthz',
      service: 'ops',
      handler: async () => json(200, { status: 'ok' }),
    },
    {
      method: 'GET',
      path: '/readyz',
      service: 'ops',
      handler: async () => {
        const results = await Promise.all(
          options.checks.map(async ({ name, check }) => {
            try {
              await withTimeout(check(), READY_TIMEOUT_MS);
              return [name, 'ok'] as const;
            } catch (error) {
              return [name, `failing: ${(error as Error).message}`] as const;
            }
          }),
        );
        const ready = results.every(([, state]) => state === 'ok');
        return json(ready ? 200 : 503, {
          status: ready ? 'ready' : 'not ready',
          checks: Object.fromEntries(results),
        });
      },
    },
    {
      method: 'GET',
      path: '/metrics',
      service: 'ops',
      handler: async () => ({
        status: 200,
        headers: { 'content-type': options.registry.contentType },
        body: await options.registry.metrics(),
      }),
    },
  ];
}

function withTimeout(promise: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<void>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

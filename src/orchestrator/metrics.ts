import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** The orchestrator's Prometheus metrics, on a registry of its own so that tests never share one. */
export interface OrchestratorMetrics {
  readonly registry: Registry;
  readonly httpRequests: Counter<'method' | 'route' | 'status'>;
  readonly httpRequestDuration: Histogram<'method' | 'route' | 'status'>;
  readonly watchers: Gauge;
  readonly storeErrors: Counter<'code'>;
}

const requestDurationBucketsSeconds = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

export function createOrchestratorMetrics(options: { processMetrics?: boolean } = {}): OrchestratorMetrics {
  const registry = new Registry();
  if (options.processMetrics) collectDefaultMetrics({ register: registry });
  return {
    registry,
    httpRequests: new Counter({
      name: 'codeyard_http_requests_total',
      help: 'HTTP requests answered, by route template and status',
      labelNames: ['method', 'route', 'status'],
      registers: [registry],
    }),
    httpRequestDuration: new Histogram({
      name: 'codeyard_http_request_duration_seconds',
      help: 'Time to answer an HTTP request, by route template and status',
      labelNames: ['method', 'route', 'status'],
      buckets: requestDurationBucketsSeconds,
      registers: [registry],
    }),
    watchers: new Gauge({
      name: 'codeyard_watchers',
      help: 'Open codespace watch streams',
      registers: [registry],
    }),
    storeErrors: new Counter({
      name: 'codeyard_store_errors_total',
      help: 'Requests that failed because the store was unavailable',
      labelNames: ['code'],
      registers: [registry],
    }),
  };
}

import { collectDefaultMetrics, Counter, Histogram, Registry } from 'prom-client';

/** One Prometheus registry per process, with Node's default metrics and our HTTP and job instruments. */
export const registry = new Registry();
collectDefaultMetrics({ register: registry, prefix: 'mserve_' });

export const httpRequests = new Histogram({
  name: 'mserve_http_request_duration_seconds',
  help: 'HTTP requests by method, route and status',
  labelNames: ['method', 'route', 'status'],
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10, 60],
  registers: [registry],
});

export const jobsProcessed = new Counter({
  name: 'mserve_jobs_processed_total',
  help: 'Jobs finished by this process, by task, queue and final state',
  labelNames: ['task', 'queue', 'state'],
  registers: [registry],
});

import { Controller, Get, Header, Inject, Req } from '@nestjs/common';
import type { Request } from 'express';
import { ApiExcludeController } from '@nestjs/swagger';
import { Gauge, Registry } from 'prom-client';
import { APP_CONFIG, AppConfig } from '../config/config';
import { Public } from '../keys/authorize.decorator';
import { extractKeySecret } from '../keys/key-extraction';
import { KeysService } from '../keys/keys.service';
import { QueueRegistry } from '../queues/queue-registry';
import { UsageQueryService } from '../usage/usage-query.service';
import { registry } from './metrics';

const queueDepth = new Gauge({
  name: 'mserve_queue_jobs',
  help: 'Jobs per queue and state (from Redis)',
  labelNames: ['queue', 'state'],
  registers: [registry],
});

/** The label of the series that sums every service past the top N of a metric. */
export const OTHER_SERVICES = '(other)';

type UsageTotal = { containerId: string | null; serviceId: string | null; metric: string; sum: number };

/**
 * Per metric, the `top` largest (container, service) totals as they are, and the rest summed into one series
 * labelled container="(other)", service="(other)": a scrape's series count is bounded by metrics × (top + 1),
 * whatever the number of tenants.
 */
export function boundedUsageSeries(rows: UsageTotal[], top: number): Array<{ container: string; service: string; metric: string; value: number }> {
  const byMetric = new Map<string, UsageTotal[]>();
  for (const row of rows) byMetric.set(row.metric, [...(byMetric.get(row.metric) ?? []), row]);
  const series: Array<{ container: string; service: string; metric: string; value: number }> = [];
  for (const [metric, metricRows] of [...byMetric].sort(([a], [b]) => a.localeCompare(b))) {
    const ranked = metricRows.sort((a, b) => b.sum - a.sum || `${a.containerId}${a.serviceId}`.localeCompare(`${b.containerId}${b.serviceId}`));
    for (const row of ranked.slice(0, top)) series.push({ container: row.containerId ?? '', service: row.serviceId ?? '', metric, value: row.sum });
    const rest = ranked.slice(top);
    if (rest.length) series.push({ container: OTHER_SERVICES, service: OTHER_SERVICES, metric, value: rest.reduce((sum, row) => sum + row.sum, 0) });
  }
  return series;
}

/**
 * Prometheus text format. Public on purpose for process, HTTP and queue figures (counts, never content or keys;
 * restrict it at the proxy); the per-tenant usage series only for a scrape that presents a provider key holding
 * `usage:read` (the admin key; Prometheus: `authorization: {credentials: <key>}`), bounded to the top
 * METRICS_USAGE_TOP_SERVICES services per metric plus one "(other)" series. Those series are rendered in a registry
 * of the request's own, so a concurrent public scrape never sees them.
 */
@ApiExcludeController()
@Controller('metrics')
export class MetricsController {
  constructor(
    private readonly queues: QueueRegistry,
    private readonly usage: UsageQueryService,
    private readonly keys: KeysService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  @Get()
  @Public()
  @Header('Content-Type', registry.contentType)
  async metrics(@Req() request: Request): Promise<string> {
    const secret = extractKeySecret(request);
    const presented = secret ? await this.keys.authenticate(secret) : null;
    const tenantSeries = presented?.key.resourceType === 'provider' && presented.actions.has('usage:read');
    await Promise.all(
      this.queues.all().map(async (queue) => {
        const counts = await queue.getJobCounts().catch(() => null);
        if (counts) for (const [state, value] of Object.entries(counts)) queueDepth.set({ queue: queue.name, state }, value);
      }),
    );
    const text = await registry.metrics();
    if (!tenantSeries) return text;
    const own = new Registry();
    const usageTotals = new Gauge({
      name: 'mserve_usage_total',
      help: `All-time usage per service and metric (from PostgreSQL; gauges such as disc are their current level), only when scraped with a provider key holding usage:read; the top ${this.config.metricsUsageTopServices} services per metric, the rest summed as service="${OTHER_SERVICES}". Container-level facts have service=""`,
      labelNames: ['container', 'service', 'metric'],
      registers: [own],
    });
    for (const series of boundedUsageSeries(await this.usage.totals(), this.config.metricsUsageTopServices)) {
      usageTotals.set({ container: series.container, service: series.service, metric: series.metric }, series.value);
    }
    return `${text}${await own.metrics()}`;
  }
}

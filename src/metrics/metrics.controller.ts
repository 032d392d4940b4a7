import { Controller, Get, Header, Req } from '@nestjs/common';
import type { Request } from 'express';
import { ApiExcludeController } from '@nestjs/swagger';
import { Public } from '../keys/authorize.decorator';
import { extractKeySecret } from '../keys/key-extraction';
import { KeysService } from '../keys/keys.service';
import { QueueRegistry } from '../queues/queue-registry';
import { registry } from './metrics';
import { Gauge } from 'prom-client';
import { UsageQueryService } from '../usage/usage-query.service';

const queueDepth = new Gauge({
  name: 'mserve_queue_jobs',
  help: 'Jobs per queue and state (from Redis)',
  labelNames: ['queue', 'state'],
  registers: [registry],
});
const usageTotals = new Gauge({
  name: 'mserve_usage_total',
  help: 'All-time usage per service and metric (from PostgreSQL; gauges such as disc are their current level), only when scraped with the admin key. Container-level facts have service=""',
  labelNames: ['container', 'service', 'metric'],
  registers: [registry],
});

/**
 * Prometheus text format. Public on purpose for process, HTTP and queue figures (counts, never content or keys;
 * restrict it at the proxy); the per-tenant usage series only for a scrape that presents the admin key
 * (Prometheus: `authorization: {credentials: <key>}`).
 */
@ApiExcludeController()
@Controller('metrics')
export class MetricsController {
  constructor(
    private readonly queues: QueueRegistry,
    private readonly usage: UsageQueryService,
    private readonly keys: KeysService,
  ) {}

  @Get()
  @Public()
  @Header('Content-Type', registry.contentType)
  async metrics(@Req() request: Request): Promise<string> {
    const secret = extractKeySecret(request);
    const provider = secret ? (await this.keys.authenticate(secret)).key.resourceType === 'provider' : false;
    await Promise.all(
      this.queues.all().map(async (queue) => {
        const counts = await queue.getJobCounts().catch(() => null);
        if (counts) for (const [state, value] of Object.entries(counts)) queueDepth.set({ queue: queue.name, state }, value);
      }),
    );
    usageTotals.reset();
    if (provider) {
      for (const row of await this.usage.totals())
        usageTotals.set({ container: row.containerId ?? '', service: row.serviceId ?? '', metric: row.metric }, row.sum);
    }
    const text = await registry.metrics();
    usageTotals.reset(); // never left for the next (maybe public) scrape
    return text;
  }
}

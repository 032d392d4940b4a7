import { Controller, Get, Header } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import { Public } from '../keys/authorize.decorator';
import { QueueRegistry } from '../queues/queue-registry';
import { registry } from './metrics';
import { Gauge } from 'prom-client';
import { UsageQueryService } from '../usage/usage-query.service';

const queueDepth = new Gauge({ name: 'mserve_queue_jobs', help: 'Jobs per queue and state (from Redis)', labelNames: ['queue', 'state'], registers: [registry] });
const usageTotals = new Gauge({
  name: 'mserve_usage_total',
  help: 'All-time usage per service and metric (from PostgreSQL; gauges such as disc are their current level). Container-level facts have service=""',
  labelNames: ['container', 'service', 'metric'],
  registers: [registry],
});

/** Prometheus text format. Public on purpose: it carries counts, never content or keys; restrict it at the proxy. */
@ApiExcludeController()
@Controller('metrics')
export class MetricsController {
  constructor(
    private readonly queues: QueueRegistry,
    private readonly usage: UsageQueryService,
  ) {}

  @Get()
  @Public()
  @Header('Content-Type', registry.contentType)
  async metrics(): Promise<string> {
    await Promise.all(
      this.queues.all().map(async (queue) => {
        const counts = await queue.getJobCounts().catch(() => null);
        if (counts) for (const [state, value] of Object.entries(counts)) queueDepth.set({ queue: queue.name, state }, value);
      }),
    );
    const totals = await this.usage.serviceTotals();
    usageTotals.reset();
    for (const row of totals) usageTotals.set({ container: row.containerId ?? '', service: row.serviceId ?? '', metric: row.metric }, row.sum);
    return registry.metrics();
  }
}

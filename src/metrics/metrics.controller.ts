import { Controller, Get, Header } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import { Public } from '../keys/authorize.decorator';
import { QueueRegistry } from '../queues/queue-registry';
import { registry } from './metrics';
import { Gauge } from 'prom-client';

const queueDepth = new Gauge({ name: 'mserve_queue_jobs', help: 'Jobs per queue and state (from Redis)', labelNames: ['queue', 'state'], registers: [registry] });

/** Prometheus text format. Public on purpose: it carries counts, never content or keys; restrict it at the proxy. */
@ApiExcludeController()
@Controller('metrics')
export class MetricsController {
  constructor(private readonly queues: QueueRegistry) {}

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
    return registry.metrics();
  }
}

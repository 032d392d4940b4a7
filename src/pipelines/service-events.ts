import { Injectable, Logger } from '@nestjs/common';
import { uuidv7 } from '../database/uuid';
import { UsageService } from '../usage/usage.service';
import { ServiceEvent, ServiceEventType } from '../webhooks/service-event';
import { WebhooksService } from '../webhooks/webhooks.service';
import { JobEvent, JobEvents } from './job-events';

/**
 * Emits a service's events (webhooks/service-event.ts) once the change they tell of committed: to the service's event
 * streams (Redis pub/sub, like job events) and to its webhooks that asked for them (the signed, retried deliveries
 * of the webhooks queue). Never delays or fails the change: a lost stream event is the stream's nature (clients read
 * the state after connecting), a webhook that cannot be queued is logged.
 */
@Injectable()
export class ServiceEvents {
  private readonly logger = new Logger('service-events');

  constructor(
    private readonly streams: JobEvents,
    private readonly webhooks: WebhooksService,
    usage: UsageService,
  ) {
    // an application's record that a quota refused (usage cannot depend on this module: it tells, we listen)
    usage.onApplicationRefused(({ serviceId, quota, mfileId }) =>
      this.emit({ type: 'quota.exceeded', serviceId, data: { quota: quota ?? null, refused: { operation: 'usage', ...(mfileId ? { mfileId } : {}) } } }),
    );
  }

  emit(...given: NewServiceEvent[]): void {
    void this.announce([], given);
  }

  /**
   * What one committed change tells: its job changes and its other events, in one message to the event streams and
   * one webhook lookup for all of them (`PipelinesService.dispatch` for a change with a job outbox, `emit` otherwise).
   */
  async announce(jobEvents: Array<Omit<JobEvent, 'at'>>, given: NewServiceEvent[]): Promise<void> {
    const events = stamp(given);
    this.streams.publishAll(jobEvents, events);
    await this.webhooks
      .notify(jobEvents, events)
      .catch((error: unknown) => this.logger.warn(`could not notify the webhooks of ${jobEvents.length + events.length} change(s): ${String(error)}`));
  }
}

/** An event as its emitter knows it; `stamp` gives it its id and time. */
export interface NewServiceEvent {
  type: ServiceEventType;
  serviceId: string;
  data: Record<string, unknown>;
}

function stamp(given: NewServiceEvent[]): ServiceEvent[] {
  const at = new Date().toISOString();
  return given.map((event) => ({ id: uuidv7(), at, ...event }));
}

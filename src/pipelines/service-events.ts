import { Injectable, Logger } from '@nestjs/common';
import { uuidv7 } from '../database/uuid';
import { ServiceEvent, ServiceEventType } from '../webhooks/service-event';
import { WebhooksService } from '../webhooks/webhooks.service';
import { JobEvents } from './job-events';

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
  ) {}

  emit(...given: NewServiceEvent[]): void {
    const events = stamp(given);
    if (events.length === 0) return;
    this.streams.publishServiceEvents(events);
    this.webhooks
      .notify([], events)
      .catch((error: unknown) => this.logger.warn(`could not notify the webhooks of ${events.length} event(s): ${String(error)}`));
  }
}

/** An event as its emitter knows it; `stamp` gives it its id and time. */
export interface NewServiceEvent {
  type: ServiceEventType;
  serviceId: string;
  data: Record<string, unknown>;
}

export function stamp(given: NewServiceEvent[]): ServiceEvent[] {
  const at = new Date().toISOString();
  return given.map((event) => ({ id: uuidv7(), at, ...event }));
}

import { Inject, Injectable, Logger } from '@nestjs/common';
import type { Queue } from 'bull';
import { randomBytes } from 'node:crypto';
import { Problems } from '../common/problem';
import { APP_CONFIG, AppConfig } from '../config/config';
import { UUID_PATTERN, uuidv7 } from '../database/uuid';
import { FINAL_JOB_STATES, JobState } from '../jobs/job.entity';
import { JobRepository } from '../jobs/job.repository';
import { QueueName, WebhookDelivery } from '../queues/queue-catalogue';
import { QueueRegistry } from '../queues/queue-registry';
import { outboundRequest, readAtMost } from './outbound';
import { assertOutboundUrl, signature } from './signing';
import { isServiceEventType, SERVICE_EVENT_TYPES, ServiceEvent } from './service-event';
import { ServiceWebhook } from './webhook.entity';
import { WebhookRepository } from './webhook.repository';

const NOTIFIABLE = FINAL_JOB_STATES as readonly string[];
const TIMEOUT_MS = 10_000;

export interface CallResult {
  url: string;
  status: number;
  durationMs: number;
  response: unknown;
}

@Injectable()
export class WebhooksService {
  private readonly logger = new Logger('webhooks');

  constructor(
    private readonly webhooks: WebhookRepository,
    private readonly jobs: JobRepository,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly queues: QueueRegistry,
  ) {}

  queue(): Queue<WebhookDelivery> {
    return this.queues.get(QueueName.Webhooks);
  }

  async create(serviceId: string, input: { url: string; events?: string[] }) {
    try {
      await assertOutboundUrl(input.url, this.config.outboundAllowPrivate, { resolve: false });
    } catch (error) {
      throw Problems.badRequest(`url: ${(error as Error).message}`, { errors: [`url: ${(error as Error).message}`] });
    }
    // a final job state (as `succeeded` or `job.succeeded`) or an event of the service (SERVICE_EVENT_TYPES)
    const events = [...new Set(input.events ?? [JobState.Succeeded, JobState.Failed])];
    const unknown = events.filter((event) => !NOTIFIABLE.includes(event.replace(/^job\./, '')) && !isServiceEventType(event));
    if (unknown.length)
      throw Problems.badRequest(
        `events: ${unknown.join(', ')} ${unknown.length > 1 ? 'are' : 'is'} neither a final job state (${NOTIFIABLE.map((state) => `job.${state}`).join(', ')}) nor an event of the service (${SERVICE_EVENT_TYPES.join(', ')})`,
        { errors: unknown.map((event) => `events: ${event} is not an event type`) },
      );
    const secret = `whsec_${randomBytes(24).toString('base64url')}`;
    const webhook = await this.webhooks.create({ id: uuidv7(), serviceId, url: input.url, events, secret });
    const { secret: _shown, ...visible } = webhook;
    return { ...visible, createdAt: new Date(), secret };
  }

  list(serviceId: string): Promise<ServiceWebhook[]> {
    return this.webhooks.ofService(serviceId);
  }

  async remove(serviceId: string, id: string): Promise<void> {
    // a malformed id names no webhook, as everywhere else (PostgreSQL would refuse it as a uuid: a 500)
    if (!UUID_PATTERN.test(id)) throw Problems.notFound('webhook', id);
    if (!(await this.webhooks.delete(serviceId, id))) throw Problems.notFound('webhook', id);
  }

  /**
   * Queues a delivery of each job that ended and each other event of a service to every webhook of that service
   * that asked for it: one query for all of them (an upload announces its facts and its file, most services have
   * no webhook).
   */
  async notify(jobEvents: Array<{ jobId: string; serviceId: string; state: string }>, serviceEvents: ServiceEvent[] = []): Promise<void> {
    const ended = jobEvents.filter((event) => NOTIFIABLE.includes(event.state));
    if (ended.length === 0 && serviceEvents.length === 0) return;
    const states = [...new Set(ended.map((event) => event.state))];
    const hooks = await this.webhooks.subscribedToAny(
      [...new Set([...ended, ...serviceEvents].map((event) => event.serviceId))],
      [...states, ...states.map((state) => `job.${state}`), ...new Set(serviceEvents.map((event) => event.type))],
    );
    const asked = (hook: { serviceId: string; events: string[] }, serviceId: string, ...names: string[]) =>
      hook.serviceId === serviceId && names.some((name) => hook.events.includes(name));
    await this.enqueue([
      ...ended.flatMap((event) =>
        hooks
          .filter((hook) => asked(hook, event.serviceId, event.state, `job.${event.state}`))
          .map((hook) => ({ deliveryId: `${hook.id}-${event.jobId}-${event.state}`, webhookId: hook.id, type: `job.${event.state}`, jobId: event.jobId })),
      ),
      ...serviceEvents.flatMap((event) =>
        hooks
          .filter((hook) => asked(hook, event.serviceId, event.type))
          .map((hook) => ({ deliveryId: `${hook.id}-${event.id}`, webhookId: hook.id, type: event.type, event })),
      ),
    ]);
  }

  private async enqueue(deliveries: WebhookDelivery[]): Promise<void> {
    for (const delivery of deliveries) {
      await this.queues
        .add(QueueName.Webhooks, delivery, { jobId: delivery.deliveryId })
        .catch((error) => this.logger.warn(`could not queue webhook delivery ${delivery.deliveryId}: ${String(error)}`));
    }
  }

  /** One delivery attempt; a failure (network, timeout, non-2xx) throws, so Bull retries it with backoff. */
  async deliver(delivery: WebhookDelivery): Promise<void> {
    const webhook = await this.withSecret(delivery.webhookId);
    if (!webhook) return; // deleted since: nothing to do
    let body: string;
    if (delivery.event) {
      const { id, type, at, serviceId, data } = delivery.event;
      body = JSON.stringify({ id, type, createdAt: at, serviceId, data });
    } else {
      const job = await this.jobs.forDelivery(delivery.jobId!);
      body = JSON.stringify({
        id: delivery.deliveryId,
        type: delivery.type,
        createdAt: new Date().toISOString(),
        serviceId: webhook.serviceId,
        data: { job: job ?? { id: delivery.jobId, deleted: true } },
      });
    }
    const answer = await this.post(webhook, body, delivery.deliveryId);
    if (answer.status < 200 || answer.status >= 300) throw new Error(`${webhook.url} answered ${answer.status}`);
  }

  /** The `webhook` task: one signed call, its answer recorded whatever it is. */
  async call(serviceId: string, webhookId: string, payload: unknown, idempotencyKey: string): Promise<CallResult> {
    const webhook = await this.withSecret(webhookId);
    if (!webhook || webhook.serviceId !== serviceId) throw new Error(`webhook ${webhookId} is not one of this service's webhooks`);
    return this.post(webhook, JSON.stringify(payload), idempotencyKey);
  }

  private withSecret(id: string): Promise<ServiceWebhook | null> {
    return this.webhooks.withSecret(id);
  }

  private async post(webhook: ServiceWebhook, body: string, idempotencyKey: string): Promise<CallResult> {
    const started = performance.now();
    const response = await outboundRequest(webhook.url, {
      method: 'POST',
      timeoutMs: TIMEOUT_MS,
      allowPrivate: this.config.outboundAllowPrivate,
      headers: {
        'content-type': 'application/json',
        'user-agent': 'MServe-Webhook/1',
        'idempotency-key': idempotencyKey,
        'mserve-signature': signature(webhook.secret, body),
      },
      body,
    });
    const text = await readAtMost(response.body, 4096);
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      /* text */
    }
    return { url: webhook.url, status: response.status, durationMs: Math.round(performance.now() - started), response: parsed };
  }
}

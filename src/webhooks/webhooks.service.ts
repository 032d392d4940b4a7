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
    const events = [...new Set(input.events ?? [JobState.Succeeded, JobState.Failed])];
    const unknown = events.filter((event) => !NOTIFIABLE.includes(event));
    if (unknown.length)
      throw Problems.badRequest(`events: ${unknown.join(', ')} ${unknown.length > 1 ? 'are' : 'is'} not a final job state (${NOTIFIABLE.join(', ')})`, {
        errors: unknown.map((event) => `events: ${event} is not a final job state`),
      });
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

  /** Queues a delivery to every webhook of the jobs' services that asked for their new states. */
  async notify(...given: Array<{ jobId: string; serviceId: string; state: string }>): Promise<void> {
    const events = given.filter((event) => NOTIFIABLE.includes(event.state));
    if (events.length === 0) return;
    // one query for every event of a dispatch (an upload announces its facts: two events, most services no webhook)
    const hooks = await this.webhooks.subscribedToAny([...new Set(events.map((event) => event.serviceId))], [...new Set(events.map((event) => event.state))]);
    const deliveries = events.flatMap((event) =>
      hooks
        .filter((hook) => hook.serviceId === event.serviceId && hook.events.includes(event.state))
        .map((hook) => ({ deliveryId: `${hook.id}-${event.jobId}-${event.state}`, webhookId: hook.id, type: `job.${event.state}`, jobId: event.jobId })),
    );
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
    const job = await this.jobs.forDelivery(delivery.jobId);
    const body = JSON.stringify({
      id: delivery.deliveryId,
      type: delivery.type,
      createdAt: new Date().toISOString(),
      serviceId: webhook.serviceId,
      data: { job: job ?? { id: delivery.jobId, deleted: true } },
    });
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

import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { APP_CONFIG, AppConfig, QueueConsumption } from '../config/config';
import { assertQueueName, INTERNAL_QUEUES, jobIdsOf, PeriodicTick, QueuedJob, WebhookDelivery, workerKey } from '../queues/queue-catalogue';
import { REDIS_CLIENT } from '../redis/redis-connections';
import type Redis from 'ioredis';
import { QueueRegistry } from '../queues/queue-registry';
import { JobRunner, WORKER_ID } from './job-runner';
import { isOutboundAddressRefused } from '../webhooks/address-policy';
import { WebhooksService } from '../webhooks/webhooks.service';
import { PipelinesService } from '../pipelines/pipelines.service';
import { PeriodicScheduler } from '../pipelines/periodic-scheduler';
import type { Job as BullJob } from 'bull';

export const WORKER_QUEUES = Symbol('WORKER_QUEUES');
const HEARTBEAT_SECONDS = 5;

/**
 * Consumes the queues it was told to, at the concurrency it was told (hardware queues always at 1), and says it is
 * alive: a Redis key per worker with a short TTL, which the api and the console read as "workers online".
 */
@Injectable()
export class WorkerService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('worker');
  private heartbeat?: NodeJS.Timeout;
  private healthy = false;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(WORKER_QUEUES) private readonly consumption: QueueConsumption[],
    private readonly queues: QueueRegistry,
    @Inject(REDIS_CLIENT) private readonly redis: Redis,
    private readonly runner: JobRunner,
    private readonly pipelines: PipelinesService,
    private readonly scheduler: PeriodicScheduler,
    private readonly webhooks: WebhooksService,
  ) {}

  isHealthy(): boolean {
    return this.healthy;
  }

  async onApplicationBootstrap(): Promise<void> {
    for (const { queue, concurrency } of this.consumption) {
      assertQueueName(queue);
      const effective = queue.startsWith('hardware.') ? 1 : concurrency;
      const bull = this.queues.get(queue);
      await bull.isReady();
      bull.on('failed', (message: BullJob<QueuedJob>, error: Error) => {
        const exhausted = message.attemptsMade >= (message.opts.attempts ?? 1) || /stalled more than/i.test(error?.message ?? '');
        if (exhausted)
          void this.runner
            .giveUp(message.data, error?.message ?? 'failed')
            .catch((failure) => this.logger.error(`could not record that job(s) ${jobIdsOf(message.data).join(', ')} failed: ${String(failure)}`));
      });
      void bull.process(effective, (message) =>
        this.runner.run(message).catch((error: Error) => {
          this.logger.error({
            msg: `job ${jobIdsOf(message.data).join(', ')} attempt ${message.attemptsMade + 1} failed`,
            err: { message: error.message, stack: error.stack },
          });
          throw error;
        }),
      );
      this.logger.log(`consuming ${queue} at concurrency ${effective}`);
    }
    // every worker serves the ticks of periodic pipelines (one delayed job per tick, so one of them runs it)
    const scheduler = this.scheduler.queue();
    await scheduler.isReady();
    void scheduler.process(1, (tick: BullJob<PeriodicTick>) => this.pipelines.runPeriodic(tick.data.serviceId));
    // and the webhook deliveries
    const deliveries = this.webhooks.queue();
    await deliveries.isReady();
    void deliveries.process(4, (delivery: BullJob<WebhookDelivery>) =>
      this.webhooks.deliver(delivery.data).catch((error: unknown) => {
        // refused for the address it would reach: no retry can change that (a transient failure is retried)
        if (isOutboundAddressRefused(error)) void delivery.discard();
        throw error;
      }),
    );
    await this.beat();
    this.heartbeat = setInterval(() => void this.beat(), HEARTBEAT_SECONDS * 1000);
    this.heartbeat.unref();
  }

  private async beat(): Promise<void> {
    try {
      const client = this.redis;
      const value = JSON.stringify({ id: WORKER_ID, queues: this.consumption, at: new Date().toISOString() });
      await client.set(workerKey(this.config.queuePrefix, WORKER_ID), value, 'EX', HEARTBEAT_SECONDS * 3);
      this.healthy = true;
    } catch (error) {
      this.healthy = false;
      this.logger.warn(`heartbeat failed: ${String(error)}`);
    }
  }

  /**
   * Stops taking work and stops the running jobs (their ffmpeg children killed: they run again elsewhere), then lets
   * their attempts be recorded (Bull's close waits for them), within the shutdown timeout.
   */
  async onApplicationShutdown(): Promise<void> {
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.healthy = false;
    await this.redis.del(workerKey(this.config.queuePrefix, WORKER_ID)).catch(() => undefined);
    const closing = Promise.all([...this.consumption.map(({ queue }) => queue), ...INTERNAL_QUEUES].map((queue) => this.queues.get(queue).close()));
    this.runner.stopAll();
    const timeout = new Promise((resolve) => setTimeout(resolve, this.config.shutdownTimeoutMs).unref());
    await Promise.race([closing, timeout]);
  }
}

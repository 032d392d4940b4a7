import { InjectQueue } from '@nestjs/bull';
import { Inject, Injectable, OnApplicationShutdown } from '@nestjs/common';
import Bull, { JobOptions, Queue, QueueOptions } from 'bull';
import { Problems } from '../common/problem';
import { jobOptionsOf, messageIdOf, PayloadOf, QueuedJob, QueueName } from './queue-catalogue';

/** The Bull options every queue of this process is made with (shared connections, settings, prefix). */
export const QUEUE_OPTIONS = Symbol('QUEUE_OPTIONS');

/** hardware.<tag> queues made at run time. */
const MAX_DYNAMIC_QUEUES = 32;

/**
 * All queues by name, typed by the catalogue: `get(QueueName.Webhooks)` is a `Queue<WebhookDelivery>`. The
 * catalogue's queues are registered through @nestjs/bull; `hardware.<tag>` queues are only known at run time (a
 * worker says which devices it has), so they are made here with the same options.
 */
@Injectable()
export class QueueRegistry implements OnApplicationShutdown {
  private readonly dynamic = new Map<string, Queue<QueuedJob>>();
  private readonly known: Map<string, Queue<unknown>>;

  constructor(
    @InjectQueue(QueueName.Normal) normal: Queue<QueuedJob>,
    @InjectQueue(QueueName.Priority) priority: Queue<QueuedJob>,
    @InjectQueue(QueueName.Scheduler) scheduler: Queue<PayloadOf<QueueName.Scheduler>>,
    @InjectQueue(QueueName.Webhooks) webhooks: Queue<PayloadOf<QueueName.Webhooks>>,
    @Inject(QUEUE_OPTIONS) private readonly options: QueueOptions,
  ) {
    this.known = new Map<string, Queue<unknown>>([
      [QueueName.Normal, normal],
      [QueueName.Priority, priority],
      [QueueName.Scheduler, scheduler],
      [QueueName.Webhooks, webhooks],
    ]);
  }

  get<N extends string>(name: N): Queue<PayloadOf<N>> {
    // the one place a queue is narrowed to its payload type: the catalogue says which it is
    const known = this.known.get(name) as Queue<PayloadOf<N>> | undefined;
    if (known) return known;
    let queue = this.dynamic.get(name);
    if (!queue) {
      // each queue holds a blocking Redis connection once consumed: a client inventing hardware tags must not exhaust them
      if (this.dynamic.size >= MAX_DYNAMIC_QUEUES) {
        throw Problems.badRequest(`no more than ${MAX_DYNAMIC_QUEUES} hardware queues per process: "${name}" is one too many`, {
          errors: [`queue ${name} is not known here`],
        });
      }
      queue = new Bull<QueuedJob>(name, this.options);
      this.dynamic.set(name, queue);
    }
    return queue as Queue<PayloadOf<N>>;
  }

  /** Adds one message with its queue's catalogue options (`extra` for what belongs to this message only). */
  async add<N extends string>(name: N, payload: PayloadOf<N>, extra: JobOptions = {}): Promise<void> {
    await this.get(name).add(payload, { ...jobOptionsOf(name), ...extra });
  }

  /** Task messages (one job or a batch of one run's steps), deduplicated by their message id, several of one queue in one Redis round trip. */
  async dispatch(queueName: string, job: QueuedJob): Promise<void> {
    await this.dispatchMany(queueName, [job]);
  }

  async dispatchMany(queueName: string, jobs: QueuedJob[]): Promise<void> {
    if (jobs.length === 0) return;
    const opts = jobOptionsOf(queueName);
    const queue = this.get(queueName) as Queue<QueuedJob>;
    if (jobs.length === 1) await queue.add(jobs[0], { ...opts, jobId: messageIdOf(jobs[0]) });
    else await queue.addBulk(jobs.map((job) => ({ data: job, opts: { ...opts, jobId: messageIdOf(job) } })));
  }

  /** Every queue this process has made (the catalogue's and the hardware queues used so far). */
  all(): Queue<unknown>[] {
    return [...this.known.values(), ...this.dynamic.values()];
  }

  async onApplicationShutdown(): Promise<void> {
    await Promise.all([...this.dynamic.values()].map((queue) => queue.close()));
  }
}

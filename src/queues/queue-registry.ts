import { InjectQueue } from '@nestjs/bull';
import { Inject, Injectable, OnApplicationShutdown } from '@nestjs/common';
import Bull, { Queue, QueueOptions } from 'bull';
import { Problems } from '../common/problem';
import { QUEUE_OPTIONS } from './queue-options';

/** hardware.<tag> queues plus the internal scheduler and webhooks queues. */
const MAX_DYNAMIC_QUEUES = 34;
import { QueuedJob, QueueName } from './queue-names';

/**
 * All queues by name. `normal` and `priority` are registered through @nestjs/bull; `hardware.<tag>` queues are
 * only known at run time (a worker says which devices it has), so they are made here with the same options.
 */
@Injectable()
export class QueueRegistry implements OnApplicationShutdown {
  private readonly dynamic = new Map<string, Queue<QueuedJob>>();

  constructor(
    @InjectQueue(QueueName.Normal) private readonly normal: Queue<QueuedJob>,
    @InjectQueue(QueueName.Priority) private readonly priority: Queue<QueuedJob>,
    @Inject(QUEUE_OPTIONS) private readonly options: QueueOptions,
  ) {}

  get(name: string): Queue<QueuedJob> {
    if (name === QueueName.Normal) return this.normal;
    if (name === QueueName.Priority) return this.priority;
    let queue = this.dynamic.get(name);
    if (!queue) {
      // each queue holds Redis connections: a client inventing hardware tags must not exhaust them
      if (this.dynamic.size >= MAX_DYNAMIC_QUEUES) {
        throw Problems.badRequest(`no more than ${MAX_DYNAMIC_QUEUES - 2} hardware queues per process: "${name}" is one too many`, { errors: [`queue ${name} is not known here`] });
      }
      queue = new Bull<QueuedJob>(name, this.options);
      this.dynamic.set(name, queue);
    }
    return queue;
  }

  /** Queue options chosen in one place: the job id dedupes, attempts retry crashed workers. */
  async dispatch(queueName: string, job: QueuedJob): Promise<void> {
    await this.dispatchMany(queueName, [job]);
  }

  /** Several jobs of one queue in one Redis round trip. */
  async dispatchMany(queueName: string, jobs: QueuedJob[]): Promise<void> {
    if (jobs.length === 0) return;
    const opts = { attempts: 3, backoff: { type: 'exponential', delay: 1000 }, removeOnComplete: 1000, removeOnFail: 5000 };
    if (jobs.length === 1) await this.get(queueName).add(jobs[0], { ...opts, jobId: jobs[0].jobId });
    else await this.get(queueName).addBulk(jobs.map((job) => ({ data: job, opts: { ...opts, jobId: job.jobId } })));
  }

  all(): Queue<QueuedJob>[] {
    return [this.normal, this.priority, ...this.dynamic.values()];
  }

  async onApplicationShutdown(): Promise<void> {
    await Promise.all([...this.dynamic.values()].map((queue) => queue.close()));
  }
}

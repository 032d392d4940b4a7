import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '../config/config';
import { JobRepository } from '../jobs/job.repository';
import type Redis from 'ioredis';
import { REDIS_CLIENT } from '../redis/redis-connections';
import { QueueRegistry } from '../queues/queue-registry';
import { jobIdsOf, messageIdOf, QueuedJob } from '../queues/queue-catalogue';
import { batchMessages } from './pipelines.service';
import { PeriodicScheduler } from './periodic-scheduler';

/** Jobs younger than this are left alone: their own dispatch (right after their commit) may still be on its way. */
const SETTLE_MS = 2_000;
const BATCH = 500;

/**
 * PostgreSQL is the source of truth; Redis only carries ids. When the two disagree — Redis restarted empty, a
 * dispatch failed after its commit, a process died between commit and dispatch — this puts every job PostgreSQL
 * has as queued (or running) that no live message carries back on its queue (the unfinished steps of one run on one
 * queue in one message, as dispatch sends them). It runs at start and each time the Redis connection becomes ready
 * again (a restarted Redis), plus once more a little later for jobs that were too young the first time. A machine
 * that dies between a commit and its dispatch and never comes back reconciles nothing at its own start: so every
 * JOB_RECONCILE_INTERVAL_MS each process also looks (one index-only EXISTS) for a job queued that long, and makes a
 * pass only then. A pass lists the messages of the queues concerned: a backlog older than the interval makes one
 * per interval and process (the default, 5 minutes, keeps that to a few a minute on a large install).
 */
@Injectable()
export class JobReconciler implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('reconciler');
  private running: Promise<number> | undefined;
  private followUp: NodeJS.Timeout | undefined;
  private periodic: NodeJS.Timeout | undefined;
  private readonly onReady = () => this.schedule('redis connection ready');

  constructor(
    private readonly jobs: JobRepository,
    private readonly queues: QueueRegistry,
    @Inject(REDIS_CLIENT) private readonly redis: Redis,
    private readonly scheduler: PeriodicScheduler,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    if (!this.config.jobReconciler) return;
    this.redis.on('ready', this.onReady);
    this.schedule('start');
    const every = this.config.jobReconcileIntervalMs;
    if (every > 0) {
      this.periodic = setInterval(() => void this.lookForStale(every), every);
      this.periodic.unref();
    }
  }

  onApplicationShutdown(): void {
    this.redis.off('ready', this.onReady);
    if (this.followUp) clearTimeout(this.followUp);
    if (this.periodic) clearInterval(this.periodic);
  }

  /** The periodic look: a pass only when some job has been unsettled for a whole interval. */
  async lookForStale(olderThanMs: number): Promise<void> {
    try {
      if (await this.jobs.anyQueuedFor(olderThanMs)) this.schedule(`a job queued for ${Math.round(olderThanMs / 1000)} s`, false);
    } catch (error) {
      this.logger.warn(`looking for unsettled jobs failed: ${String(error)}`);
    }
  }

  /** A pass now, and (`followUp`) one more a little later for jobs that were too young for this one. */
  private schedule(why: string, followUp = true): void {
    void this.reconcile()
      .then((restored) => restored > 0 && this.logger.warn(`restored ${restored} job(s) missing from Redis (${why})`))
      .catch((error) => this.logger.warn(`reconcile (${why}) failed: ${String(error)}`));
    if (!followUp) return;
    if (this.followUp) clearTimeout(this.followUp);
    this.followUp = setTimeout(() => void this.reconcile().catch(() => undefined), SETTLE_MS * 3);
    this.followUp.unref();
  }

  /** One pass; concurrent calls share it. Returns how many jobs were put back. */
  reconcile(): Promise<number> {
    this.running ??= this.pass().finally(() => (this.running = undefined));
    return this.running;
  }

  private async pass(): Promise<number> {
    await this.scheduler.syncAll();
    let restored = 0;
    let after = '00000000-0000-0000-0000-000000000000';
    // per queue, the jobs its live messages carry (a batch message carries several, under an id of its own)
    const carried = new Map<string, Set<string>>();
    for (;;) {
      const rows = await this.jobs.unsettled(after, SETTLE_MS, BATCH);
      const missing: typeof rows = [];
      for (const row of rows) {
        if (!carried.has(row.queue)) carried.set(row.queue, await this.carriedBy(row.queue));
        if (!carried.get(row.queue)!.has(row.id)) missing.push(row);
      }
      // what is missing goes back as dispatch sends it: the unfinished steps of one run on one queue in one message
      for (const [queue, messages] of batchMessages(missing)) {
        const bull = this.queues.get(queue);
        for (const message of messages) {
          const existing = await bull.getJob(messageIdOf(message));
          // Redis thinks a message of that id is over, PostgreSQL does not: it goes, and the jobs run again
          if (existing) await existing.remove();
          await this.queues.dispatch(queue, message);
          restored += jobIdsOf(message).length;
        }
      }
      if (rows.length < BATCH) return restored;
      after = rows[rows.length - 1].id;
    }
  }

  /** The job ids carried by the messages of `queue` that are waiting, delayed or being run. */
  private async carriedBy(queue: string): Promise<Set<string>> {
    const messages = await this.queues.get(queue).getJobs(['waiting', 'active', 'delayed', 'paused']);
    return new Set(messages.filter(Boolean).flatMap((message) => jobIdsOf(message.data as QueuedJob)));
  }
}

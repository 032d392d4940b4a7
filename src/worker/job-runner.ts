import { Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { Job as BullJob } from 'bull';
import { hostname } from 'node:os';
import { DataSource, In } from 'typeorm';
import { returnedRows } from '../common/database-errors';
import { Job, JobInput, JobState } from '../jobs/job.entity';
import { jobsProcessed } from '../metrics/metrics';
import { Mfile } from '../mfiles/mfile.entity';
import { QueuedJob } from '../queues/queue-names';
import { isTaskName, TaskName } from '../tasks/task-catalogue';
import { TaskOutcome } from '../tasks/task-handler.decorator';
import { TaskRegistry } from '../tasks/task-registry';
import { UsageService } from '../usage/usage.service';

export const WORKER_ID = `${hostname()}:${process.pid}`;

/**
 * Runs one queued job: claims the row (skipping cancelled or finished ones, so a redelivered message is
 * harmless), runs the handler, then records the outcome and its usage in one transaction, once per job.
 */
@Injectable()
export class JobRunner {
  private readonly logger = new Logger('worker');

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly registry: TaskRegistry,
    private readonly usage: UsageService,
  ) {}

  async run(message: BullJob<QueuedJob>): Promise<void> {
    const { jobId } = message.data;
    const claimed = returnedRows<Job>(await this.dataSource.query(
      `UPDATE job SET state = 'running', started_at = now(), attempts = attempts + 1, worker_host = $2, updated_at = now()
        WHERE id = $1 AND state IN ('queued', 'running') RETURNING id, task, options, queue, service_id AS "serviceId", container_id AS "containerId"`,
      [jobId, WORKER_ID],
    ));
    const job = claimed[0];
    if (!job) {
      this.logger.debug(`job ${jobId} is gone, cancelled or finished: skipped`);
      return;
    }
    const started = performance.now();
    let outcome: TaskOutcome<TaskName>;
    try {
      if (!isTaskName(job.task)) throw new PermanentFailure(`task ${job.task} is not known to this worker`);
      const inputIds = (await this.dataSource.getRepository(JobInput).findBy({ jobId })).map((input) => input.mfileId);
      const inputs = await this.dataSource.getRepository(Mfile).findBy({ id: In(inputIds) });
      if (inputs.length === 0) throw new PermanentFailure('the job has no input left (its files were deleted)');
      let lastProgress = 0;
      outcome = await this.registry.handler(job.task)({
        jobId,
        inputs,
        options: job.options as never,
        reportProgress: async (fraction) => {
          if (fraction - lastProgress < 0.05 && fraction < 1) return;
          lastProgress = fraction;
          await this.dataSource.query("UPDATE job SET progress = $2 WHERE id = $1 AND state = 'running'", [jobId, Math.min(1, Math.max(0, fraction))]);
        },
      });
    } catch (error) {
      const final = error instanceof PermanentFailure || message.attemptsMade + 1 >= (message.opts.attempts ?? 1);
      if (!final) {
        await this.dataSource.query("UPDATE job SET state = 'queued', error = $2 WHERE id = $1 AND state = 'running'", [jobId, `attempt failed, retrying: ${(error as Error).message}`]);
        throw error;
      }
      outcome = { status: 'failed', error: (error as Error).message };
    }
    await this.finish(job, outcome, (performance.now() - started) / 1000);
  }

  private async finish(job: Job, outcome: TaskOutcome<TaskName>, seconds: number): Promise<void> {
    const state = outcome.status === 'succeeded' ? JobState.Succeeded : JobState.Failed;
    await this.dataSource.transaction(async (manager) => {
      const updated = returnedRows(await manager.query(
        `UPDATE job SET state = $2::varchar, result = $3, error = $4, progress = CASE WHEN $2::varchar = 'succeeded' THEN 1 ELSE progress END,
                finished_at = now(), updated_at = now() WHERE id = $1 AND state = 'running' RETURNING id`,
        [job.id, state, outcome.status === 'succeeded' ? outcome.result : null, outcome.status === 'failed' ? outcome.error : null],
      ));
      if (updated.length === 0) return; // cancelled meanwhile: its result is dropped
      const scope = { containerId: job.containerId, serviceId: job.serviceId, resourceType: 'job' as const, resourceId: job.id };
      await this.usage.record(
        manager,
        { metric: 'jobruntime', value: seconds, ...scope, idempotencyKey: `${job.id}:jobruntime` },
        { metric: `task/${job.task}/${outcome.status === 'succeeded' ? 'success' : 'failed'}`, value: 1, ...scope, idempotencyKey: `${job.id}:outcome` },
      );
    });
    jobsProcessed.inc({ task: job.task, queue: job.queue, state });
    this.logger.log({ msg: `job ${job.id} ${state}`, task: job.task, seconds: Number(seconds.toFixed(3)), error: outcome.status === 'failed' ? outcome.error : undefined });
  }
}

class PermanentFailure extends Error {}

import { Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { Job as BullJob } from 'bull';
import { hostname } from 'node:os';
import { DataSource, EntityManager, In } from 'typeorm';
import { returnedRows } from '../common/database-errors';
import { uuidv7 } from '../database/uuid';
import { JobOutput } from '../job-outputs/job-output.entity';
import { Job, JobInput, JobState } from '../jobs/job.entity';
import { jobsProcessed } from '../metrics/metrics';
import { Mfile } from '../mfiles/mfile.entity';
import { JobEvents } from '../pipelines/job-events';
import { JobOutbox } from '../pipelines/job-outbox';
import { PipelinesService } from '../pipelines/pipelines.service';
import { conditionMismatch } from '../pipelines/profile';
import { QueuedJob } from '../queues/queue-names';
import { ContentStore } from '../storage/content-store';
import { isTaskName, mimetypeMatches, TaskName, TASKS } from '../tasks/task-catalogue';
import { TaskFailure, TaskOutcome } from '../tasks/task-handler.decorator';
import { TaskRegistry } from '../tasks/task-registry';
import { UsageService } from '../usage/usage.service';

export const WORKER_ID = `${hostname()}:${process.pid}`;

type ClaimedJob = Pick<Job, 'id' | 'task' | 'options' | 'queue' | 'serviceId' | 'containerId' | 'step' | 'condition'>;
type Outcome = TaskOutcome<TaskName> | { status: 'skipped'; reason: string };

/**
 * Runs one queued job: claims the row (skipping cancelled or finished ones, so a redelivered message is
 * harmless), checks its condition (skipped when it does not hold), runs the handler, then records the outcome,
 * its outputs, its changes to the Mfile and its usage in one transaction, once per job, and releases (or fails)
 * the jobs that were waiting for it.
 */
@Injectable()
export class JobRunner {
  private readonly logger = new Logger('worker');

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly registry: TaskRegistry,
    private readonly usage: UsageService,
    private readonly pipelines: PipelinesService,
    private readonly store: ContentStore,
    private readonly events: JobEvents,
  ) {}

  async run(message: BullJob<QueuedJob>): Promise<void> {
    const { jobId } = message.data;
    const claimed = returnedRows<ClaimedJob>(await this.dataSource.query(
      `UPDATE job SET state = 'running', started_at = now(), attempts = attempts + 1, worker_host = $2, updated_at = now()
        WHERE id = $1 AND state IN ('queued', 'running')
        RETURNING id, task, options, queue, step, condition, service_id AS "serviceId", container_id AS "containerId"`,
      [jobId, WORKER_ID],
    ));
    const job = claimed[0];
    if (!job) {
      this.logger.debug(`job ${jobId} is gone, waiting, cancelled or finished: skipped`);
      return;
    }
    this.events.publish({ jobId, serviceId: job.serviceId, state: JobState.Running, progress: 0 });
    const started = performance.now();
    let outcome: Outcome;
    let processedBytes = 0;
    try {
      if (!isTaskName(job.task)) throw new TaskFailure(`task ${job.task} is not known to this worker`);
      const inputIds = (await this.dataSource.getRepository(JobInput).findBy({ jobId })).map((input) => input.mfileId);
      const inputs = await this.dataSource.getRepository(Mfile).find({ where: { id: In(inputIds) }, order: { id: 'ASC' } });
      if (inputs.length === 0) throw new TaskFailure('the job has no input left (its files were deleted)');
      processedBytes = inputs.reduce((sum, input) => sum + input.size, 0);
      const skip = conditionMismatch(job.condition, inputs[0]);
      if (skip) {
        outcome = { status: 'skipped', reason: skip };
      } else {
        const accepted = TASKS[job.task].inputs;
        const wrong = inputs.find((input) => !mimetypeMatches(input.mimetype, accepted));
        if (wrong) throw new TaskFailure(`${job.task} accepts ${accepted.join(', ')}; "${wrong.name}" is ${wrong.mimetype}`);
        let lastProgress = 0;
        outcome = await this.registry.handler(job.task)({
          jobId,
          inputs,
          options: job.options as never,
          reportProgress: async (percent) => {
            const value = Math.min(100, Math.max(0, percent));
            if (value - lastProgress < 2 && value < 100) return;
            lastProgress = value;
            await this.dataSource.query("UPDATE job SET progress = $2 WHERE id = $1 AND state = 'running'", [jobId, value]);
            this.events.publish({ jobId, serviceId: job.serviceId, state: JobState.Running, progress: value });
          },
        });
      }
    } catch (error) {
      const final = error instanceof TaskFailure || message.attemptsMade + 1 >= (message.opts.attempts ?? 1);
      if (!final) {
        await this.dataSource.query("UPDATE job SET state = 'queued', error = $2 WHERE id = $1 AND state = 'running'", [jobId, `attempt failed, retrying: ${(error as Error).message}`]);
        this.events.publish({ jobId, serviceId: job.serviceId, state: JobState.Queued, error: `attempt failed, retrying: ${(error as Error).message}` });
        throw error;
      }
      outcome = { status: 'failed', error: (error as Error).message };
    }
    await this.finish(job, outcome, (performance.now() - started) / 1000, processedBytes);
  }

  private async finish(job: ClaimedJob, outcome: Outcome, seconds: number, processedBytes: number): Promise<void> {
    const state = outcome.status === 'succeeded' ? JobState.Succeeded : outcome.status === 'skipped' ? JobState.Skipped : JobState.Failed;
    const outputs = outcome.status === 'succeeded' ? (outcome.outputs ?? []) : [];
    const newBlobs = [...outputs.map((output) => output.blob.blobKey), ...(outcome.status === 'succeeded' && outcome.mfilePatch?.content ? [outcome.mfilePatch.content.blobKey] : [])];
    const released: string[] = [];
    const outbox = new JobOutbox();
    let recorded = false;
    try {
      recorded = await this.dataSource.transaction(async (manager) => {
        const updated = returnedRows(await manager.query(
          `UPDATE job SET state = $2::varchar, result = $3, error = $4, progress = CASE WHEN $2::varchar = 'failed' THEN progress ELSE 100 END,
                  finished_at = now(), updated_at = now() WHERE id = $1 AND state = 'running' RETURNING id`,
          [
            job.id,
            state,
            outcome.status === 'succeeded' ? outcome.result : outcome.status === 'skipped' ? { skipped: outcome.reason } : null,
            outcome.status === 'failed' ? outcome.error : null,
          ],
        ));
        if (updated.length === 0) return false; // cancelled meanwhile: its result is dropped
        if (outcome.status === 'succeeded') released.push(...(await this.applyEffects(manager, job, outcome)));
        const scope = { containerId: job.containerId, serviceId: job.serviceId, resourceType: 'job' as const, resourceId: job.id };
        if (outcome.status !== 'skipped') {
          await this.usage.record(
            manager,
            { metric: 'jobruntime', value: seconds, ...scope, idempotencyKey: `${job.id}:jobruntime` },
            { metric: 'jobbytes', value: processedBytes, ...scope, idempotencyKey: `${job.id}:jobbytes` },
            { metric: `task/${job.task}/${outcome.status === 'succeeded' ? 'success' : 'failed'}`, value: 1, ...scope, idempotencyKey: `${job.id}:outcome` },
          );
        }
        await this.pipelines.settleDependents(manager, job, state, outbox);
        outbox.announce({ jobId: job.id, serviceId: job.serviceId, state, progress: state === JobState.Failed ? undefined : 100, error: outcome.status === 'failed' ? outcome.error : null });
        return true;
      });
    } finally {
      if (!recorded) await Promise.all(newBlobs.map((blobKey) => this.store.remove(blobKey)));
    }
    await Promise.all(released.map((blobKey) => this.store.remove(blobKey).catch(() => undefined)));
    await this.pipelines.dispatch(outbox);
    jobsProcessed.inc({ task: job.task, queue: job.queue, state });
    this.logger.log({
      msg: `job ${job.id} ${state}`,
      task: job.task,
      step: job.step ?? undefined,
      seconds: Number(seconds.toFixed(3)),
      error: outcome.status === 'failed' ? outcome.error : undefined,
      skipped: outcome.status === 'skipped' ? outcome.reason : undefined,
    });
  }

  /**
   * Stores the outputs and applies the task's changes to its input Mfile (type, metadata, rendition links, restored
   * bytes). Returns the blobs it replaced, to remove once this has committed.
   */
  private async applyEffects(manager: EntityManager, job: ClaimedJob, outcome: Extract<Outcome, { status: 'succeeded' }>): Promise<string[]> {
    const [input] = await manager.query('SELECT mfile_id AS "mfileId" FROM job_input WHERE job_id = $1 ORDER BY mfile_id LIMIT 1', [job.id]);
    const renditions: Record<string, unknown> = {};
    for (const output of outcome.outputs ?? []) {
      const row = manager.create(JobOutput, {
        id: uuidv7(),
        containerId: job.containerId,
        serviceId: job.serviceId,
        jobId: job.id,
        name: output.name,
        mimetype: output.mimetype,
        size: output.blob.size,
        sha256: output.blob.sha256,
        md5: output.blob.md5,
        blobKey: output.blob.blobKey,
        data: output.data ?? null,
      });
      await manager.insert(JobOutput, row);
      renditions[output.role] = { jobOutputId: row.id, jobId: job.id, mimetype: output.mimetype, size: output.blob.size, ...(output.data ?? {}), url: `/api/v1/joboutputs/${row.id}/content` };
    }
    if (!input) return [];
    const patch = outcome.mfilePatch ?? {};
    const released: string[] = [];
    if (patch.content) {
      const [previous] = await manager.query('SELECT blob_key AS "blobKey", size::float AS size FROM mfile WHERE id = $1 FOR UPDATE', [input.mfileId]);
      await manager.query(
        `UPDATE mfile SET blob_key = $2, size = $3, md5 = $4, sha256 = $5, content_updated_at = CASE WHEN $6 THEN now() ELSE content_updated_at END WHERE id = $1`,
        [input.mfileId, patch.content.blobKey, patch.content.size, patch.content.md5, patch.content.sha256, patch.newContent === true],
      );
      if (patch.newContent && previous) {
        const scope = { containerId: job.containerId, serviceId: job.serviceId, resourceType: 'mfile' as const, resourceId: input.mfileId };
        await this.usage.record(manager, { metric: 'ingest', value: patch.content.size, ...scope, idempotencyKey: `${job.id}:ingest` }, { metric: 'disc', value: patch.content.size - previous.size, ...scope, idempotencyKey: `${job.id}:disc` });
      }
      if (previous?.blobKey && previous.blobKey !== patch.content.blobKey) released.push(previous.blobKey);
    }
    const metadata = { ...(patch.metadata ?? {}) };
    if (Object.keys(renditions).length) {
      await manager.query(
        `UPDATE mfile SET metadata = jsonb_set(metadata, '{renditions}', COALESCE(metadata->'renditions', '{}'::jsonb) || $2::jsonb) WHERE id = $1`,
        [input.mfileId, JSON.stringify(renditions)],
      );
    }
    if (Object.keys(metadata).length) await manager.query('UPDATE mfile SET metadata = metadata || $2::jsonb WHERE id = $1', [input.mfileId, JSON.stringify(metadata)]);
    if (patch.mimetype) await manager.query('UPDATE mfile SET mimetype = $2 WHERE id = $1', [input.mfileId, patch.mimetype]);
    return released;
  }
}

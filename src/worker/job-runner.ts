import { Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { Job as BullJob } from 'bull';
import { hostname } from 'node:os';
import { DataSource, EntityManager } from 'typeorm';
import { returnedRows } from '../common/database-errors';
import { ProblemError } from '../common/problem';
import { uuidv7 } from '../database/uuid';
import { JobOutput } from '../job-outputs/job-output.entity';
import { Job, JobState } from '../jobs/job.entity';
import { jobsProcessed } from '../metrics/metrics';
import { METADATA_WITHOUT_CONTENT_DERIVED, Mfile } from '../mfiles/mfile.entity';
import { JobEvents } from '../pipelines/job-events';
import { JobOutbox } from '../pipelines/job-outbox';
import { PipelinesService } from '../pipelines/pipelines.service';
import { conditionMismatch } from '../pipelines/profile';
import { QueuedJob } from '../queues/queue-catalogue';
import { ContentStore } from '../storage/content-store';
import { isTaskName, mimetypeMatches, TaskName, TASKS } from '../tasks/task-catalogue';
import { TaskFailure, TaskOutcome } from '../tasks/task-handler.decorator';
import { TaskRegistry } from '../tasks/task-registry';
import { toolMessage } from '../tasks/tool-message';
import { QuotaService } from '../usage/quota.service';
import { Metric, UsageFact, UsageService } from '../usage/usage.service';

export const WORKER_ID = `${hostname()}:${process.pid}`;

/** A job's results would exceed a disk quota: the transaction recording them is rolled back, the job fails. */
class QuotaRefusal extends Error {}

type ClaimedJob = Pick<Job, 'id' | 'task' | 'options' | 'queue' | 'serviceId' | 'containerId' | 'step' | 'condition'> & {
  /** Whether other jobs wait for this one (when none do, recording the outcome is a single statement). */
  hasDependents: boolean;
  /** The first input, which task effects (metadata, renditions, content) apply to. */
  inputId?: string;
  /** That input's blob when the job was claimed: new content replaces it only if it is still the current one. */
  inputBlobKey?: string;
  /** That input's digest when the job was claimed: what the task found out describes these bytes only. */
  inputSha256?: string;
};
type Outcome = TaskOutcome<TaskName> | { status: 'skipped'; reason: string };

/** Records an outcome ($1 id, $2 state, $3 result, $4 error), only if the job is still running (not cancelled meanwhile). */
const RECORD_OUTCOME = `UPDATE job SET state = $2::varchar, result = $3, error = $4, progress = CASE WHEN $2::varchar = 'failed' THEN progress ELSE 100 END,
         finished_at = now(), updated_at = now() WHERE id = $1 AND state = 'running'`;

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
    private readonly quotas: QuotaService,
  ) {}

  async run(message: BullJob<QueuedJob>): Promise<void> {
    const { jobId } = message.data;
    // one statement: claim the row and read the inputs (a job is small; its bookkeeping must be too)
    const claimed: Array<ClaimedJob & { inputs: Array<Omit<Mfile, 'size'> & { size: string | number }> }> = await this.dataSource.query(
      `WITH claimed AS (
         UPDATE job SET state = 'running', started_at = now(), attempts = attempts + 1, worker_host = $2, updated_at = now()
          WHERE id = $1 AND state IN ('queued', 'running')
          RETURNING id, task, options, queue, step, condition, service_id, container_id)
       SELECT c.id, c.task, c.options, c.queue, c.step, c.condition, c.service_id AS "serviceId", c.container_id AS "containerId",
              COALESCE((SELECT json_agg(json_build_object(
                  'id', m.id, 'containerId', m.container_id, 'serviceId', m.service_id, 'folderId', m.folder_id, 'name', m.name,
                  'size', m.size, 'md5', m.md5, 'sha256', m.sha256, 'mimetype', m.mimetype, 'blobKey', m.blob_key, 'metadata', m.metadata,
                  'createdAt', m.created_at, 'updatedAt', m.updated_at, 'contentUpdatedAt', m.content_updated_at) ORDER BY m.id)
                FROM job_input i JOIN mfile m ON m.id = i.mfile_id WHERE i.job_id = c.id), '[]'::json) AS inputs,
              EXISTS (SELECT 1 FROM job_dependency d WHERE d.prerequisite_id = c.id) AS "hasDependents"
         FROM claimed c`,
      [jobId, WORKER_ID],
    );
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
      job.inputId = job.inputs[0]?.id;
      job.inputBlobKey = job.inputs[0]?.blobKey;
      job.inputSha256 = job.inputs[0]?.sha256;
      const inputs: Mfile[] = job.inputs.map((row) => ({ ...row, size: Number(row.size), createdAt: new Date(row.createdAt), updatedAt: new Date(row.updatedAt), contentUpdatedAt: new Date(row.contentUpdatedAt) }));
      if (inputs.length === 0) throw new TaskFailure('the job has no input left (its files were deleted)');
      // suspension, the time window and the monthly job-runtime quota apply to tasks as to requests
      const refusal = await this.quotas.jobRefusal(job.serviceId);
      if (refusal) throw new TaskFailure(refusal);
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
      // a task's own failure is written for the customer; anything else (a disk error, a bug) is shown without where
      // the server keeps its files
      const said = error instanceof TaskFailure ? error.message : toolMessage(String((error as Error)?.message ?? error), [[this.store.root, 'the storage']]) || 'an unexpected error';
      // an attempt that will be retried is logged by the worker when it rethrows; the last one is logged here, whole
      if (final && !(error instanceof TaskFailure)) this.logger.error({ msg: `job ${jobId} (${job.task}) failed unexpectedly on its last attempt`, err: { message: (error as Error)?.message, stack: (error as Error)?.stack } });
      if (!final) {
        await this.dataSource.query("UPDATE job SET state = 'queued', error = $2 WHERE id = $1 AND state = 'running'", [jobId, `attempt failed, retrying: ${said}`]);
        this.events.publish({ jobId, serviceId: job.serviceId, state: JobState.Queued, error: `attempt failed, retrying: ${said}` });
        throw error;
      }
      outcome = { status: 'failed', error: said };
    }
    await this.finish(job, outcome, (performance.now() - started) / 1000, processedBytes);
  }

  /**
   * Bull gave up on a message (its last attempt threw, or it stalled too often, its worker dying each time): the
   * job must not stay `running` in PostgreSQL, with its dependents waiting forever. It fails, and so do they.
   */
  async giveUp(jobId: string, reason: string): Promise<void> {
    const outbox = new JobOutbox();
    await this.dataSource.transaction(async (manager) => {
      const rows = returnedRows<Pick<Job, 'id' | 'task' | 'step' | 'serviceId'>>(await manager.query(
        `UPDATE job SET state = 'failed', error = $2, finished_at = now(), updated_at = now()
          WHERE id = $1 AND state IN ('queued', 'running') RETURNING id, task, step, service_id AS "serviceId"`,
        [jobId, `gave up: ${reason}`.slice(0, 2000)],
      ));
      if (!rows[0]) return;
      await this.pipelines.settleDependents(manager, rows[0], JobState.Failed, outbox);
      outbox.announce({ jobId, serviceId: rows[0].serviceId, state: JobState.Failed, error: `gave up: ${reason}` });
    });
    await this.pipelines.dispatch(outbox);
  }

  private async finish(job: ClaimedJob, outcome: Outcome, seconds: number, processedBytes: number): Promise<void> {
    const state = outcome.status === 'succeeded' ? JobState.Succeeded : outcome.status === 'skipped' ? JobState.Skipped : JobState.Failed;
    const outputs = outcome.status === 'succeeded' ? (outcome.outputs ?? []) : [];
    const newBlobs = [...outputs.map((output) => output.blob.blobKey), ...(outcome.status === 'succeeded' && outcome.mfilePatch?.content ? [outcome.mfilePatch.content.blobKey] : [])];
    const released: string[] = [];
    const outbox = new JobOutbox();
    let recorded = false;
    const usage =
      outcome.status === 'skipped'
        ? []
        : [
            { metric: 'jobruntime', value: seconds, key: `${job.id}:jobruntime` },
            { metric: 'jobbytes', value: processedBytes, key: `${job.id}:jobbytes` },
            { metric: `task/${job.task}/${outcome.status === 'succeeded' ? 'success' : 'failed'}`, value: 1, key: `${job.id}:outcome` },
          ];
    const result = outcome.status === 'succeeded' ? outcome.result : outcome.status === 'skipped' ? { skipped: outcome.reason } : null;
    const error = outcome.status === 'failed' ? outcome.error : null;
    // what the task itself measured (a backup copy it stored): about its input, recorded with the outcome
    const reported: UsageFact[] = (outcome.status === 'succeeded' ? (outcome.usage ?? []) : []).map((fact) => ({
      metric: fact.metric as Metric,
      value: fact.value,
      containerId: job.containerId,
      serviceId: job.serviceId,
      resourceType: fact.about ?? 'job',
      resourceId: fact.about ? (job.inputId ?? null) : job.id,
      idempotencyKey: `${job.id}:task:${fact.about ?? 'job'}:${fact.metric}`,
    }));
    const simple = newBlobs.length === 0 && !(outcome.status === 'succeeded' && outcome.mfilePatch) && !job.hasDependents && reported.length === 0;
    let refused: string | undefined;
    try {
      if (simple) {
        // the common case, one statement (its own transaction): the state and the usage, together or not at all
        const values = usage.map((_, index) => `($${6 + index * 3}::varchar, $${7 + index * 3}::float8, $${8 + index * 3}::varchar)`);
        const rows = returnedRows(await this.dataSource.query(
          `WITH finished AS (${RECORD_OUTCOME} RETURNING id, container_id, service_id)
           ${usage.length ? `, metered AS (
             INSERT INTO usage (metric, value, container_id, service_id, resource_type, resource_id, idempotency_key)
             SELECT v.metric, v.value, f.container_id, f.service_id, 'job', f.id, v.key FROM finished f, (VALUES ${values.join(', ')}) AS v(metric, value, key)
             ON CONFLICT DO NOTHING)` : ''}
           SELECT id, $5::int AS n FROM finished`,
          [job.id, state, result, error, usage.length, ...usage.flatMap((fact) => [fact.metric, fact.value, fact.key])],
        ));
        recorded = rows.length > 0;
        if (recorded) outbox.announce({ jobId: job.id, serviceId: job.serviceId, state, progress: state === JobState.Failed ? undefined : 100, error });
      } else recorded = await this.dataSource.transaction(async (manager) => {
        const updated = returnedRows(await manager.query(
          `${RECORD_OUTCOME} RETURNING id`,
          [job.id, state, result, error],
        ));
        if (updated.length === 0) return false; // cancelled meanwhile: its result is dropped
        if (outcome.status === 'succeeded') {
          const reportedDisc = reported.reduce((sum, fact) => sum + (fact.metric === 'disc' ? fact.value : 0), 0);
          released.push(...(await this.applyEffects(manager, job, outcome, outbox, reportedDisc)));
        }
        const scope = { containerId: job.containerId, serviceId: job.serviceId, resourceType: 'job' as const, resourceId: job.id };
        await this.usage.record(manager, ...usage.map((fact) => ({ metric: fact.metric as Metric, value: fact.value, ...scope, idempotencyKey: fact.key })), ...reported);
        if (job.hasDependents) await this.pipelines.settleDependents(manager, job, state, outbox);
        outbox.announce({ jobId: job.id, serviceId: job.serviceId, state, progress: state === JobState.Failed ? undefined : 100, error });
        return true;
      });
    } catch (error) {
      if (!(error instanceof QuotaRefusal)) throw error;
      refused = error.message;
    } finally {
      if (!recorded) {
        await Promise.all(newBlobs.map((blobKey) => this.store.remove(blobKey)));
        if (outcome.status === 'succeeded') await outcome.discard?.().catch((error) => this.logger.warn(`job ${job.id}: could not discard what it stored: ${String(error)}`));
      }
    }
    // what it produced does not fit the disk quota: nothing of it is kept, and the job fails saying so
    if (refused) return this.finish(job, { status: 'failed', error: refused }, seconds, processedBytes);
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
  private async applyEffects(manager: EntityManager, job: ClaimedJob, outcome: Extract<Outcome, { status: 'succeeded' }>, outbox: JobOutbox, reportedDisc: number): Promise<string[]> {
    const input = job.inputId ? { mfileId: job.inputId } : undefined;
    const renditions: Record<string, unknown> = {};
    const outputs = outcome.outputs ?? [];
    const patch = (input && outcome.mfilePatch) || {};
    const released: string[] = [];
    let previous: { blobKey: string; size: number } | undefined;
    let stale = false;
    if (input && patch.content) {
      [previous] = await manager.query('SELECT blob_key AS "blobKey", size::float AS size FROM mfile WHERE id = $1 FOR UPDATE', [input.mfileId]);
      if (!previous || previous.blobKey !== job.inputBlobKey) {
        // the content changed (or the Mfile went) while the task ran: its bytes are stale, the newer ones stay
        released.push(patch.content.blobKey);
        if (outputs.length === 0) return released;
        previous = undefined;
        stale = true;
      }
    }
    const content = previous ? patch.content : undefined;
    // what the job stores counts against the disk quotas (and new content fetched from outside against the ingest
    // quotas), checked with the service row locked like any upload
    const adding = outputs.reduce((sum, output) => sum + output.blob.size, 0) + (content?.size ?? 0) + reportedDisc;
    if (adding > 0) {
      try {
        await this.quotas.enforce(manager, job.serviceId, { disc: adding, releasing: previous?.size ?? 0, ingest: content && patch.newContent ? content.size : 0 });
      } catch (error) {
        if (error instanceof ProblemError) throw new QuotaRefusal(error.detail ?? error.title);
        throw error;
      }
    }
    const scope = { containerId: job.containerId, serviceId: job.serviceId };
    if (outputs.length) {
      const values: unknown[] = [];
      const facts: UsageFact[] = [];
      const tuples = outputs.map((output) => {
        const id = uuidv7();
        renditions[output.role] = { jobOutputId: id, jobId: job.id, mimetype: output.mimetype, size: output.blob.size, ...(output.data ?? {}), url: `/api/v1/joboutputs/${id}/content` };
        facts.push({ metric: 'disc', value: output.blob.size, ...scope, resourceType: 'joboutput', resourceId: id, idempotencyKey: `${id}:disc` });
        const at = values.length;
        values.push(id, job.containerId, job.serviceId, job.id, output.name, output.mimetype, output.blob.size, output.blob.sha256, output.blob.md5, output.blob.blobKey, output.data ? JSON.stringify(output.data) : null);
        return `(${Array.from({ length: 11 }, (_, index) => `$${at + index + 1}`).join(', ')})`;
      });
      await manager.query(
        `INSERT INTO ${manager.connection.getMetadata(JobOutput).tableName} (id, container_id, service_id, job_id, name, mimetype, size, sha256, md5, blob_key, data) VALUES ${tuples.join(', ')}`,
        values,
      );
      await this.usage.record(manager, ...facts);
    }
    if (!input || stale) return released;
    if (content && previous) {
      // other bytes (a fetch): what described the old ones goes; the same bytes restored keep it
      await manager.query(
        `UPDATE mfile SET blob_key = $2, size = $3, md5 = $4, sha256 = $5, content_updated_at = CASE WHEN $6 THEN now() ELSE content_updated_at END,
                metadata = CASE WHEN sha256 = $5 THEN metadata ELSE ${METADATA_WITHOUT_CONTENT_DERIVED} END
          WHERE id = $1`,
        [input.mfileId, content.blobKey, content.size, content.md5, content.sha256, patch.newContent === true],
      );
      const mfileScope = { ...scope, resourceType: 'mfile' as const, resourceId: input.mfileId };
      // restored bytes are stored bytes (disc) but nothing ingested; new content (a fetch) is both, and an update
      await this.usage.record(
        manager,
        { metric: 'disc', value: content.size - previous.size, ...mfileScope, idempotencyKey: `${job.id}:disc` },
        ...(patch.newContent ? [{ metric: 'ingest' as const, value: content.size, ...mfileScope, idempotencyKey: `${job.id}:ingest` }] : []),
      );
      if (patch.newContent) await this.pipelines.instantiate(manager, 'update', { id: input.mfileId, containerId: job.containerId, serviceId: job.serviceId }, outbox);
      if (previous.blobKey !== content.blobKey) released.push(previous.blobKey);
    }
    if (Object.keys(renditions).length || patch.metadata || patch.mimetype) {
      // one statement: new metadata keys, the latest rendition links merged into the old ones, the type; only while
      // the file still holds the bytes the task read (content replaced meanwhile: the outputs stay with the job, but
      // they no longer describe the file)
      await manager.query(
        `UPDATE mfile SET metadata = (metadata || $2::jsonb)
                   || CASE WHEN $3::jsonb = '{}'::jsonb THEN '{}'::jsonb ELSE jsonb_build_object('renditions', COALESCE(metadata->'renditions', '{}'::jsonb) || $3::jsonb) END,
                mimetype = COALESCE($4, mimetype)
          WHERE id = $1 AND sha256 = $5`,
        [input.mfileId, JSON.stringify(patch.metadata ?? {}), JSON.stringify(renditions), patch.mimetype ?? null, content?.sha256 ?? job.inputSha256],
      );
    }
    return released;
  }
}

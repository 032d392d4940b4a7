import { Injectable, Logger } from '@nestjs/common';
import { UnitOfWork } from '../database/unit-of-work';
import { JobState } from '../jobs/job.entity';
import { JobRepository } from '../jobs/job.repository';
import { jobsProcessed } from '../metrics/metrics';
import { JobOutbox } from '../pipelines/job-outbox';
import { PipelinesService } from '../pipelines/pipelines.service';
import { ContentStore } from '../storage/content-store';
import { serverFree } from '../tasks/tool-message';
import { UsageRepository } from '../usage/usage.repository';
import { Metric, UsageFact, UsageService } from '../usage/usage.service';
import { EffectRefusal, Outcome, RunningJob, TaskEffects } from './task-effects';

/**
 * Records how a job ended, once per job: its state, its outputs, its changes to the Mfile and its usage in one
 * transaction (one statement when nothing else is to be written), then releases (or fails) the jobs that were
 * waiting for it and announces the change, after commit.
 */
@Injectable()
export class JobOutcomeRecorder {
  private readonly logger = new Logger('worker');

  constructor(
    private readonly unitOfWork: UnitOfWork,
    private readonly jobs: JobRepository,
    private readonly usage: UsageService,
    private readonly usageFacts: UsageRepository,
    private readonly effects: TaskEffects,
    private readonly pipelines: PipelinesService,
    private readonly store: ContentStore,
  ) {}

  /**
   * Bull gave up on a message (its last attempt threw, or it stalled too often, its worker dying each time): the
   * job must not stay `running` in PostgreSQL, with its dependents waiting forever. It fails, and so do they.
   */
  async giveUp(jobId: string, why: string): Promise<void> {
    const reason = serverFree(why, [[this.store.root, 'the storage']]);
    const outbox = new JobOutbox();
    await this.unitOfWork.run(async ({ manager }) => {
      const job = await this.jobs.giveUp(jobId, `gave up: ${reason}`.slice(0, 2000), manager);
      if (!job) return;
      await this.pipelines.settleDependents(manager, job, JobState.Failed, outbox);
      outbox.announce({ jobId, serviceId: job.serviceId, state: JobState.Failed, error: `gave up: ${reason}` });
    });
    await this.pipelines.dispatch(outbox);
  }

  /** Records the outcome of a job this worker ran for `seconds` on `processedBytes` of input. */
  async record(job: RunningJob, outcome: Outcome, seconds: number, processedBytes: number): Promise<void> {
    const state = outcome.status === 'succeeded' ? JobState.Succeeded : outcome.status === 'skipped' ? JobState.Skipped : JobState.Failed;
    const outputs = outcome.status === 'succeeded' ? (outcome.outputs ?? []) : [];
    const newBlobs = [
      ...outputs.map((output) => output.blob.blobKey),
      ...(outcome.status === 'succeeded' && outcome.mfilePatch?.content ? [outcome.mfilePatch.content.blobKey] : []),
    ];
    const released: string[] = [];
    const outbox = new JobOutbox();
    let recorded = false;
    const scope = { containerId: job.containerId, serviceId: job.serviceId, resourceType: 'job' as const, resourceId: job.id };
    const usage: UsageFact[] =
      outcome.status === 'skipped'
        ? []
        : [
            { metric: 'jobruntime', value: seconds, ...scope, idempotencyKey: `${job.id}:jobruntime` },
            { metric: 'jobbytes', value: processedBytes, ...scope, idempotencyKey: `${job.id}:jobbytes` },
            { metric: `task/${job.task}/${outcome.status === 'succeeded' ? 'success' : 'failed'}`, value: 1, ...scope, idempotencyKey: `${job.id}:outcome` },
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
        recorded = await this.jobs.recordOutcomeWith(job.id, { state, result, error }, (firstParam, onlyIf) =>
          this.usageFacts.recordManyStatement(usage, firstParam, onlyIf),
        );
        if (recorded) outbox.announce({ jobId: job.id, serviceId: job.serviceId, state, progress: state === JobState.Failed ? undefined : 100, error });
      } else {
        recorded = await this.unitOfWork.run(async ({ manager }) => {
          if (!(await this.jobs.recordOutcome(job.id, { state, result, error }, manager))) return false; // cancelled meanwhile: its result is dropped
          if (outcome.status === 'succeeded') {
            const reportedDisc = reported.reduce((sum, fact) => sum + (fact.metric === 'disc' ? fact.value : 0), 0);
            released.push(...(await this.effects.apply(manager, job, outcome, outbox, reportedDisc)));
          }
          await this.usage.record(manager, ...usage, ...reported);
          if (job.hasDependents) await this.pipelines.settleDependents(manager, job, state, outbox);
          outbox.announce({ jobId: job.id, serviceId: job.serviceId, state, progress: state === JobState.Failed ? undefined : 100, error });
          return true;
        });
      }
    } catch (error) {
      if (!(error instanceof EffectRefusal)) throw error;
      refused = error.message;
    } finally {
      if (!recorded) {
        await Promise.all(newBlobs.map((blobKey) => this.store.remove(blobKey)));
        if (outcome.status === 'succeeded')
          await outcome.discard?.().catch((error) => this.logger.warn(`job ${job.id}: could not discard what it stored: ${String(error)}`));
      }
    }
    // what it produced does not fit the disk quota: nothing of it is kept, and the job fails saying so
    if (refused) return this.record(job, { status: 'failed', error: refused }, seconds, processedBytes);
    // cancelled meanwhile: its result is dropped, but the time and bytes it used were used (else cancelling just before
    // the end would sidestep the job-runtime quota); once per job like the rest
    if (!recorded && outcome.status !== 'skipped') {
      const spent = usage.filter((fact) => fact.metric === 'jobruntime' || fact.metric === 'jobbytes');
      await this.unitOfWork.run(({ manager }) => this.usage.record(manager, ...spent));
      this.logger.log({ msg: `job ${job.id} had ended (cancelled) when its attempt did: its result dropped, its runtime metered`, task: job.task });
      return;
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
}

import { Injectable, Logger } from '@nestjs/common';
import { cteItems } from '../database/cte';
import { UnitOfWork } from '../database/unit-of-work';
import { JobState } from '../jobs/job.entity';
import { JobRepository } from '../jobs/job.repository';
import { jobsProcessed } from '../metrics/metrics';
import { MfileRepository } from '../mfiles/mfile.repository';
import { JobOutbox } from '../pipelines/job-outbox';
import { PipelinesService } from '../pipelines/pipelines.service';
import { BlobStore } from '../storage/blob-store';
import { serverFree } from '../tasks/tool-message';
import { QuotaService } from '../usage/quota.service';
import { taskReportedFact, UsageFact, UsageService } from '../usage/usage.service';
import { EffectRefusal, Outcome, RunningJob, TaskEffects } from './task-effects';

/** A job a worker ran, and how it ended: what the recorder records. */
export interface FinishedJob {
  job: RunningJob;
  outcome: Outcome;
  /** How long it ran. */
  seconds: number;
  /** How many bytes of input it worked on. */
  processedBytes: number;
}

/** One success of a batch whose effects a quota refused (the batch is recorded again with it failed). */
class RefusedInBatch extends Error {
  constructor(
    readonly jobId: string,
    message: string,
  ) {
    super(message);
  }
}

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
    private readonly effects: TaskEffects,
    private readonly pipelines: PipelinesService,
    private readonly store: BlobStore,
    private readonly mfiles: MfileRepository,
    private readonly quotas: QuotaService,
  ) {}

  /**
   * Bull gave up on a message (its last attempt threw, or it stalled too often, its worker dying each time): its jobs
   * must not stay `running` in PostgreSQL, with their dependents waiting forever. Those that had not finished fail,
   * and so do the jobs waiting for them.
   */
  async giveUp(jobIds: string[], why: string): Promise<void> {
    const reason = serverFree(why, this.store.serverPaths());
    const outbox = new JobOutbox();
    await this.unitOfWork.run(async ({ manager }) => {
      const failed = await this.jobs.giveUpMany(jobIds, `gave up: ${reason}`.slice(0, 2000), manager);
      await this.pipelines.settleDependentsOf(
        manager,
        failed.map((job) => ({ job, state: JobState.Failed })),
        outbox,
      );
      outbox.announce(...failed.map((job) => ({ jobId: job.id, serviceId: job.serviceId, state: JobState.Failed, error: `gave up: ${reason}` })));
    });
    await this.pipelines.dispatch(outbox);
  }

  /**
   * Records how several jobs of one message ended (the steps of a batch) in one transaction: their states in one
   * statement, then the effects of each success, all their usage in one statement, and the dependents of all of them
   * released at once (dispatched after commit: again one message for the next steps of the run). A job cancelled
   * meanwhile keeps its state, its result dropped and its runtime metered. A success whose results do not fit a disk
   * quota fails, saying so, and the others are recorded as they ended. One job alone is recorded by `record`.
   */
  async recordMany(finished: FinishedJob[]): Promise<void> {
    if (finished.length === 0) return;
    if (finished.length === 1) return this.record(finished[0].job, finished[0].outcome, finished[0].seconds, finished[0].processedBytes);
    let pending = finished;
    for (;;) {
      const prepared = pending.map((one) => this.prepare(one));
      const released: string[] = [];
      const outbox = new JobOutbox();
      let recorded: Set<string>;
      try {
        recorded = await this.unitOfWork.run(async (work) => {
          const { manager } = work;
          const done = await this.jobs.recordOutcomes(
            prepared.map((one) => ({ id: one.job.id, state: one.state, result: one.result, error: one.error })),
            manager,
          );
          const facts: UsageFact[] = [];
          for (const one of prepared) {
            if (!done.has(one.job.id)) {
              // cancelled meanwhile: its result is dropped, but the time and bytes it used were used
              if (one.outcome.status !== 'skipped') facts.push(...one.usage.filter((fact) => fact.metric === 'jobruntime' || fact.metric === 'jobbytes'));
              continue;
            }
            if (one.outcome.status === 'succeeded') {
              const reportedDisc = one.reported.reduce((sum, fact) => sum + (fact.metric === 'disc' ? fact.value : 0), 0);
              try {
                released.push(...(await this.effects.apply(work, one.job, one.outcome, outbox, reportedDisc)));
              } catch (error) {
                if (error instanceof EffectRefusal) throw new RefusedInBatch(one.job.id, error.message);
                throw error;
              }
            }
            facts.push(...one.usage, ...one.reported);
            outbox.announce({
              jobId: one.job.id,
              serviceId: one.job.serviceId,
              state: one.state,
              progress: one.state === JobState.Failed ? undefined : 100,
              error: one.error,
            });
          }
          await this.usage.record(manager, ...facts);
          await this.pipelines.settleDependentsOf(
            manager,
            prepared.filter((one) => done.has(one.job.id) && one.job.hasDependents).map((one) => ({ job: one.job, state: one.state })),
            outbox,
          );
          return done;
        });
      } catch (error) {
        // nothing was recorded: a refused success is dropped (its files with it) and the batch recorded again with
        // that job failed; anything else drops every result (the message is retried)
        const dropped = error instanceof RefusedInBatch ? prepared.filter((one) => one.job.id === error.jobId) : prepared;
        await Promise.all(dropped.map((one) => this.drop(one)));
        if (!(error instanceof RefusedInBatch)) throw error;
        pending = pending.map((one) => (one.job.id === error.jobId ? { ...one, outcome: { status: 'failed', error: error.message } } : one));
        continue;
      }
      await Promise.all(prepared.filter((one) => !recorded.has(one.job.id)).map((one) => this.drop(one)));
      await Promise.all(released.map((blobKey) => this.store.remove(blobKey).catch(() => undefined)));
      await this.pipelines.dispatch(outbox);
      for (const one of prepared) {
        if (!recorded.has(one.job.id)) {
          if (one.outcome.status !== 'skipped')
            this.logger.log({
              msg: `job ${one.job.id} had ended (cancelled) when its attempt did: its result dropped, its runtime metered`,
              task: one.job.task,
            });
          continue;
        }
        jobsProcessed.inc({ task: one.job.task, queue: one.job.queue, state: one.state });
        this.logger.log({
          msg: `job ${one.job.id} ${one.state}`,
          task: one.job.task,
          step: one.job.step ?? undefined,
          seconds: Number(one.seconds.toFixed(3)),
          batch: prepared.length,
          error: one.outcome.status === 'failed' ? one.outcome.error : undefined,
          skipped: one.outcome.status === 'skipped' ? one.outcome.reason : undefined,
        });
      }
      return;
    }
  }

  /** What recording one job's end writes. */
  private prepare({ job, outcome, seconds, processedBytes }: FinishedJob) {
    const state = outcome.status === 'succeeded' ? JobState.Succeeded : outcome.status === 'skipped' ? JobState.Skipped : JobState.Failed;
    const outputs = outcome.status === 'succeeded' ? (outcome.outputs ?? []) : [];
    const newBlobs = [
      ...outputs.map((output) => output.blob.blobKey),
      ...(outcome.status === 'succeeded' && outcome.mfilePatch?.content ? [outcome.mfilePatch.content.blobKey] : []),
    ];
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
    const reported: UsageFact[] = (outcome.status === 'succeeded' ? (outcome.usage ?? []) : []).map((fact) => taskReportedFact(job, job.inputId ?? null, fact));
    return { job, outcome, seconds, state, outputs, newBlobs, usage, result, error, reported };
  }

  /** A result that will not be kept: the files it stored go. */
  private async drop(one: { job: RunningJob; outcome: Outcome; newBlobs: string[] }): Promise<void> {
    await Promise.all(one.newBlobs.map((blobKey) => this.store.remove(blobKey)));
    if (one.outcome.status === 'succeeded')
      await one.outcome.discard?.().catch((error) => this.logger.warn(`job ${one.job.id}: could not discard what it stored: ${String(error)}`));
  }

  /**
   * How to record an outcome in one statement, when it can be: no files stored, no dependents to release, no new
   * content; at most new metadata or type for its input (written only while the input holds the bytes the task read)
   * and usage. A disc use it reported (a backup copy) is counted against the disk quotas: the statement is then guarded
   * by `noQuotaGuard` and, when a quota applies, the caller records it in a transaction that checks it.
   */
  private quickRecord(job: RunningJob, outcome: Outcome, newBlobs: string[], usage: UsageFact[], reported: UsageFact[]) {
    if (newBlobs.length > 0 || job.hasDependents) return undefined;
    const patch = outcome.status === 'succeeded' ? outcome.mfilePatch : undefined;
    if (patch && (patch.content || !job.inputId || Object.keys(patch).some((key) => key !== 'metadata' && key !== 'mimetype'))) return undefined;
    const findings =
      patch && (patch.metadata || patch.mimetype)
        ? { metadata: patch.metadata ?? {}, renditions: {}, mimetype: patch.mimetype ?? null, sha256: job.inputSha256 }
        : undefined;
    const disc = reported.some((fact) => fact.metric === 'disc' && fact.value > 0);
    return {
      also: (firstParam: number, onlyIf: string) =>
        cteItems(firstParam, [
          { name: 'findings', part: (first) => (findings ? this.mfiles.taskFindingsStatement(job.inputId!, findings, first, onlyIf) : undefined) },
          { name: 'used', part: (first) => this.usage.statement([...usage, ...reported], first, onlyIf) },
        ]),
      guard: disc ? (firstParam: number) => this.quotas.noQuotaGuard(job.serviceId, firstParam) : undefined,
    };
  }

  /** Records the outcome of a job this worker ran for `seconds` on `processedBytes` of input. */
  async record(job: RunningJob, outcome: Outcome, seconds: number, processedBytes: number): Promise<void> {
    const { state, newBlobs, usage, result, error, reported } = this.prepare({ job, outcome, seconds, processedBytes });
    const released: string[] = [];
    const outbox = new JobOutbox();
    let recorded = false;
    let refused: string | undefined;
    try {
      const quick = this.quickRecord(job, outcome, newBlobs, usage, reported);
      let written = false;
      if (quick) {
        // the common cases, one statement (its own transaction): the state, the input's findings (a backup's
        // metadata) and the usage, together or not at all; with a disc use to count, only while no disk quota applies
        const done = await this.jobs.recordOutcomeWith(job.id, { state, result, error }, quick.also, quick.guard);
        written = done.guarded;
        recorded = done.recorded;
        if (recorded) outbox.announce({ jobId: job.id, serviceId: job.serviceId, state, progress: state === JobState.Failed ? undefined : 100, error });
      }
      if (!written) {
        recorded = await this.unitOfWork.run(async (work) => {
          const { manager } = work;
          if (!(await this.jobs.recordOutcome(job.id, { state, result, error }, manager))) return false; // cancelled meanwhile: its result is dropped
          if (outcome.status === 'succeeded') {
            const reportedDisc = reported.reduce((sum, fact) => sum + (fact.metric === 'disc' ? fact.value : 0), 0);
            released.push(...(await this.effects.apply(work, job, outcome, outbox, reportedDisc)));
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

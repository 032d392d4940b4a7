import { Injectable, Logger } from '@nestjs/common';
import type { Job as BullJob } from 'bull';
import { hostname } from 'node:os';
import { JobState } from '../jobs/job.entity';
import { JobRepository } from '../jobs/job.repository';
import { Mfile } from '../mfiles/mfile.entity';
import { JobEvents } from '../pipelines/job-events';
import { conditionMismatch } from '../pipelines/profile';
import { jobIdsOf, QueuedJob } from '../queues/queue-catalogue';
import { BlobStore } from '../storage/blob-store';
import { isTaskName, mimetypeMatches, TASKS, timeLimitOf } from '../tasks/task-catalogue';
import { TaskFailure, TaskStopped } from '../tasks/task-handler.decorator';
import { TaskRegistry } from '../tasks/task-registry';
import { MAX_SHARED_INPUT_BYTES, SharedInput } from '../tasks/shared-input';
import { serverFree, toolMessage } from '../tasks/tool-message';
import { QuotaService } from '../usage/quota.service';
import { FinishedJob, JobOutcomeRecorder } from './job-outcome-recorder';
import { Outcome, RunningJob } from './task-effects';

export const WORKER_ID = `${hostname()}:${process.pid}`;

/** A batch that has run this long records what finished so far before its next step. */
const FLUSH_AFTER_MS = 1_000;

/**
 * Runs queued jobs, one message at a time (one job, or the steps of one run that became runnable together): claims
 * the rows (skipping cancelled or finished ones, so a redelivered message is harmless), checks each condition
 * (skipped when it does not hold), runs the handlers, then has the outcome recorder record the outcomes, outputs,
 * changes to the Mfile and usage in one transaction, once per job, and release (or fail) the jobs that were waiting.
 */
@Injectable()
export class JobRunner {
  private readonly logger = new Logger('worker');
  /** The running jobs' stop switches, so that a shutdown can stop (and kill the children of) every one of them. */
  private readonly running = new Map<string, AbortController>();
  private stopping = false;

  constructor(
    private readonly jobs: JobRepository,
    private readonly registry: TaskRegistry,
    private readonly recorder: JobOutcomeRecorder,
    private readonly store: BlobStore,
    private readonly events: JobEvents,
    private readonly quotas: QuotaService,
  ) {}

  /**
   * Runs one message: a lone job, or the steps of one pipeline run that became runnable together on this queue. They
   * are claimed in one statement (only those still queued or running: a redelivered message re-runs only the
   * unfinished ones), run one after the other on one read of their input, and recorded together (one transaction),
   * which releases their dependents at once. A step whose attempt failed is queued again and the message thrown
   * (Bull retries it, with only that step left to claim); the others' outcomes stand. Before a step with a time
   * limit (a child process: long), or once a batch has run a while, what finished so far is recorded first, so a
   * worker killed then re-runs only the steps that had not finished.
   */
  async run(message: BullJob<QueuedJob>): Promise<void> {
    const ids = jobIdsOf(message.data);
    // one statement: claim the rows and read the inputs (a job is small; its bookkeeping must be too)
    const claimed = await this.jobs.claimMany(ids, WORKER_ID);
    if (claimed.length === 0) {
      this.logger.debug(`job(s) ${ids.join(', ')} gone, waiting, cancelled or finished: skipped`);
      return;
    }
    this.events.publish(...claimed.map((job) => ({ jobId: job.id, serviceId: job.serviceId, state: JobState.Running, progress: 0 })));
    const first = claimed[0].inputs[0];
    const shared =
      claimed.length > 1 && first && Number(first.size) <= MAX_SHARED_INPUT_BYTES
        ? new SharedInput(
            first.id,
            () => this.store.readAll(first.blobKey),
            claimed.filter((job) => job.inputs.length === 1 && job.inputs[0].id === first.id).map(({ task, options }) => ({ task, options })),
          )
        : undefined;
    const refusals = new Map<string, Promise<string | undefined>>();
    const finished: FinishedJob[] = [];
    let attemptFailed: unknown;
    let since = performance.now();
    // the quick steps first: they are recorded (and their dependents released) before a long one starts
    const ordered = [...claimed].sort((a, b) => Number(this.isLong(a)) - Number(this.isLong(b)));
    for (const job of ordered) {
      if (finished.length && (this.isLong(job) || performance.now() - since > FLUSH_AFTER_MS)) {
        await this.recorder.recordMany(finished.splice(0));
        since = performance.now();
      }
      const step = await this.execute(message, job, shared, refusals);
      if ('attemptFailed' in step) attemptFailed ??= step.attemptFailed;
      else finished.push(step);
    }
    await this.recorder.recordMany(finished);
    if (attemptFailed !== undefined) throw attemptFailed;
  }

  /** A step that runs a child process under a time limit: worth recording what finished before it starts. */
  private isLong(job: RunningJob): boolean {
    return isTaskName(job.task) && timeLimitOf(job.task, job.options) !== undefined;
  }

  /**
   * One claimed job: its condition, its handler, its time limit and cancellation. Gives what to record, or, when the
   * attempt failed and will be retried, the error (the job is queued again).
   */
  private async execute(
    message: BullJob<QueuedJob>,
    job: RunningJob,
    shared: SharedInput | undefined,
    refusals: Map<string, Promise<string | undefined>>,
  ): Promise<FinishedJob | { attemptFailed: unknown }> {
    const jobId = job.id;
    const started = performance.now();
    let outcome: Outcome;
    let processedBytes = 0;
    const stop = new AbortController();
    this.running.set(jobId, stop);
    if (this.stopping) stop.abort(new TaskStopped('shutdown', 'the worker is shutting down: will run again'));
    let stopWatching = () => {};
    try {
      if (!isTaskName(job.task)) throw new TaskFailure(`task ${job.task} is not known to this worker`);
      job.inputId = job.inputs[0]?.id;
      job.inputBlobKey = job.inputs[0]?.blobKey;
      job.inputSha256 = job.inputs[0]?.sha256;
      const inputs: Mfile[] = job.inputs.map((row) => ({
        ...row,
        size: Number(row.size),
        createdAt: new Date(row.createdAt),
        updatedAt: new Date(row.updatedAt),
        contentUpdatedAt: new Date(row.contentUpdatedAt),
      }));
      if (job.withoutInput) {
        // made to run without input (a periodic step with input "none"): only by a task that can
        if (!TASKS[job.task].withoutInput) throw new TaskFailure(`${job.task} reads an input file and this job has none`);
      } else if (inputs.length === 0) throw new TaskFailure('the job has no input left (its files were deleted)');
      // a job made before tasks declared their input count may hold more: never run on the first alone
      if (inputs.length > TASKS[job.task].inputCount)
        throw new TaskFailure(`${job.task} takes ${TASKS[job.task].inputCount} input(s) per job and this job has ${inputs.length}: run it once per file`);
      // suspension, the time window and the monthly job-runtime quota apply to tasks as to requests (asked once per
      // service and message)
      if (!refusals.has(job.serviceId)) refusals.set(job.serviceId, this.quotas.jobRefusal(job.serviceId));
      const refusal = await refusals.get(job.serviceId);
      if (refusal) throw new TaskFailure(refusal);
      if (stop.signal.aborted) throw stop.signal.reason;
      processedBytes = inputs.reduce((sum, input) => sum + input.size, 0);
      // a job without input has no condition (a step without input cannot have one)
      const skip = inputs.length ? conditionMismatch(job.condition, inputs[0]) : undefined;
      if (skip) {
        outcome = { status: 'skipped', reason: skip };
      } else {
        const accepted = TASKS[job.task].inputs;
        const wrong = inputs.find((input) => !mimetypeMatches(input.mimetype, accepted));
        if (wrong) throw new TaskFailure(`${job.task} accepts ${accepted.join(', ')}; "${wrong.name}" is ${wrong.mimetype}`);
        stopWatching = await this.watch(jobId, job.task, job.options, stop);
        let lastProgress = 0;
        outcome = await this.registry.handler(job.task)({
          jobId,
          serviceId: job.serviceId,
          containerId: job.containerId,
          inputs,
          options: job.options as never,
          signal: stop.signal,
          shared: shared && inputs.length === 1 && inputs[0].id === shared.mfileId ? shared : undefined,
          reportProgress: async (percent) => {
            const value = Math.min(100, Math.max(0, percent));
            if (value - lastProgress < 2 && value < 100) return;
            lastProgress = value;
            // the row says whether the job still runs: a cancel whose event this worker missed stops it here
            if (!(await this.jobs.reportProgress(jobId, value))) return void stop.abort(new TaskStopped('cancelled', 'cancelled on request'));
            this.events.publish({ jobId, serviceId: job.serviceId, state: JobState.Running, progress: value });
          },
        });
      }
    } catch (caught) {
      // a job stopped from outside: cancelled or over its time limit is final (its runtime is metered all the same);
      // stopped by a shutdown is an attempt to run again elsewhere
      const error = caught instanceof TaskStopped && caught.why !== 'shutdown' ? new TaskFailure(caught.message) : caught;
      const final = error instanceof TaskFailure || message.attemptsMade + 1 >= (message.opts.attempts ?? 1);
      // a task's own failure is written for the customer; anything else (a disk error, a bug) is shown without where
      // the server keeps its files
      const paths = this.pathsOf(job);
      const said =
        error instanceof TaskFailure
          ? serverFree(error.message, paths)
          : toolMessage(String((error as Error)?.message ?? error), paths) || 'an unexpected error';
      // an attempt that will be retried is logged by the worker when it rethrows; the last one is logged here, whole
      if (final && !(error instanceof TaskFailure))
        this.logger.error({
          msg: `job ${jobId} (${job.task}) failed unexpectedly on its last attempt`,
          err: { message: (error as Error)?.message, stack: (error as Error)?.stack },
        });
      if (!final) {
        await this.jobs.retry(jobId, `attempt failed, retrying: ${said}`);
        this.events.publish({ jobId, serviceId: job.serviceId, state: JobState.Queued, error: `attempt failed, retrying: ${said}` });
        return { attemptFailed: error };
      }
      outcome = { status: 'failed', error: said };
    } finally {
      stopWatching();
      this.running.delete(jobId);
    }
    // a handler's own words too: whatever reaches the job's error is free of the server's paths, host and pids
    if (outcome.status === 'failed') outcome = { status: 'failed', error: serverFree(outcome.error, this.pathsOf(job)) };
    return { job, outcome, seconds: (performance.now() - started) / 1000, processedBytes };
  }

  /** What the server's paths are called in a job's error: its input is "the file", anything else stored "the storage". */
  private pathsOf(job: RunningJob): Array<[string, string]> {
    return this.store.serverPaths(job.inputBlobKey);
  }

  /**
   * Stops the job when it is cancelled (the cancel's job event, published by the api after its commit) or when it
   * reaches its time limit; for tasks with a time limit only (those that run a child process: the others end by
   * themselves, in process). Returns what ends the watch.
   */
  private async watch(jobId: string, task: string, options: unknown, stop: AbortController): Promise<() => void> {
    const seconds = isTaskName(task) ? timeLimitOf(task, options) : undefined;
    if (seconds === undefined) return () => {};
    const timer = setTimeout(() => stop.abort(new TaskStopped('timeout', `timed out after ${seconds} s (its timeoutSeconds)`)), seconds * 1000);
    const unfollow = await this.events
      .follow(jobId, (event) => {
        if (event.state === JobState.Cancelled) stop.abort(new TaskStopped('cancelled', 'cancelled on request'));
      })
      .catch((error: unknown) => {
        this.logger.warn(`job ${jobId}: cannot follow its events (${String(error)}); a cancel stops it at its next progress report`);
        return () => {};
      });
    return () => {
      clearTimeout(timer);
      unfollow();
    };
  }

  /** The worker is shutting down: every running job is stopped (its children killed) and will run again elsewhere. */
  stopAll(): void {
    this.stopping = true;
    for (const stop of this.running.values()) stop.abort(new TaskStopped('shutdown', 'the worker is shutting down: will run again'));
  }

  /**
   * Bull gave up on a message (its last attempt threw, or it stalled too often, its worker dying each time): its
   * jobs that had not finished fail, and so do the jobs waiting for them.
   */
  giveUp(message: QueuedJob, reason: string): Promise<void> {
    return this.recorder.giveUp(jobIdsOf(message), reason);
  }
}

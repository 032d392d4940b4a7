import { Injectable, Logger } from '@nestjs/common';
import type { Job as BullJob } from 'bull';
import { hostname } from 'node:os';
import { JobState } from '../jobs/job.entity';
import { JobRepository } from '../jobs/job.repository';
import { Mfile } from '../mfiles/mfile.entity';
import { JobEvents } from '../pipelines/job-events';
import { conditionMismatch } from '../pipelines/profile';
import { QueuedJob } from '../queues/queue-catalogue';
import { ContentStore } from '../storage/content-store';
import { isTaskName, mimetypeMatches, TASKS, timeLimitOf } from '../tasks/task-catalogue';
import { TaskFailure, TaskStopped } from '../tasks/task-handler.decorator';
import { TaskRegistry } from '../tasks/task-registry';
import { serverFree, toolMessage } from '../tasks/tool-message';
import { QuotaService } from '../usage/quota.service';
import { JobOutcomeRecorder } from './job-outcome-recorder';
import { Outcome, RunningJob } from './task-effects';

export const WORKER_ID = `${hostname()}:${process.pid}`;

/**
 * Runs one queued job: claims the row (skipping cancelled or finished ones, so a redelivered message is
 * harmless), checks its condition (skipped when it does not hold), runs the handler, then has the outcome recorder
 * record the outcome, its outputs, its changes to the Mfile and its usage in one transaction, once per job, and
 * release (or fail) the jobs that were waiting for it.
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
    private readonly store: ContentStore,
    private readonly events: JobEvents,
    private readonly quotas: QuotaService,
  ) {}

  async run(message: BullJob<QueuedJob>): Promise<void> {
    const { jobId } = message.data;
    // one statement: claim the row and read the inputs (a job is small; its bookkeeping must be too)
    const job: RunningJob | undefined = await this.jobs.claim(jobId, WORKER_ID);
    if (!job) {
      this.logger.debug(`job ${jobId} is gone, waiting, cancelled or finished: skipped`);
      return;
    }
    this.events.publish({ jobId, serviceId: job.serviceId, state: JobState.Running, progress: 0 });
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
        stopWatching = await this.watch(jobId, job.task, job.options, stop);
        let lastProgress = 0;
        outcome = await this.registry.handler(job.task)({
          jobId,
          inputs,
          options: job.options as never,
          signal: stop.signal,
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
        throw error;
      }
      outcome = { status: 'failed', error: said };
    } finally {
      stopWatching();
      this.running.delete(jobId);
    }
    // a handler's own words too: whatever reaches the job's error is free of the server's paths, host and pids
    if (outcome.status === 'failed') outcome = { status: 'failed', error: serverFree(outcome.error, this.pathsOf(job)) };
    await this.recorder.record(job, outcome, (performance.now() - started) / 1000, processedBytes);
  }

  /** What the server's paths are called in a job's error: its input is "the file", anything else stored "the storage". */
  private pathsOf(job: RunningJob): Array<[string, string]> {
    return [...(job.inputBlobKey ? [[this.store.pathOf(job.inputBlobKey), 'the file'] as [string, string]] : []), [this.store.root, 'the storage']];
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
   * Bull gave up on a message (its last attempt threw, or it stalled too often, its worker dying each time): the
   * job fails, and so do the jobs waiting for it.
   */
  giveUp(jobId: string, reason: string): Promise<void> {
    return this.recorder.giveUp(jobId, reason);
  }
}

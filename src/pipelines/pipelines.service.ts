import { Inject, Injectable, Logger } from '@nestjs/common';
import { cteItems } from '../database/cte';
import { APP_CONFIG, AppConfig } from '../config/config';
import { EntityManager } from 'typeorm';
import { Problems } from '../common/problem';
import { UnitOfWork, Work } from '../database/unit-of-work';
import { uuidv7 } from '../database/uuid';
import { Job, JobState } from '../jobs/job.entity';
import { JobRepository } from '../jobs/job.repository';
import { MfileRepository } from '../mfiles/mfile.repository';
import { QueueRegistry } from '../queues/queue-registry';
import { QueuedJob, routeQueue } from '../queues/queue-catalogue';
import { TASKS } from '../tasks/task-catalogue';
import { QuotaService } from '../usage/quota.service';
import { taskReportedFact, UsageFact, UsageService } from '../usage/usage.service';
import { JobOutbox, OutboxJob } from './job-outbox';
import { PeriodicScheduler } from './periodic-scheduler';
import {
  BackupFact,
  defaultProfile,
  KnownInput,
  Pipeline,
  planRun,
  ProfileDefinition,
  ProfileErrors,
  runsWithoutInput,
  Trigger,
  validateProfile,
  wantsBackupFact,
} from './profile';
import { ProfileRepository, ProfileSelection } from './profile.repository';
import { AccessSessions, DownloadClient } from './access-sessions';
import { ServiceEvents } from './service-events';

export interface EffectiveProfile {
  definition: ProfileDefinition;
  isDefault: boolean;
  updatedAt: Date | null;
  /** container: selected by the provider (`name`); service: the service's own; default: MServe's. */
  source: 'container' | 'service' | 'default';
  name: string | null;
}

export interface PipelineInput {
  id: string;
  containerId: string;
  serviceId: string;
}

/** What a stored Mfile's row says of its input (type and size, recorded earlier), for a run that starts without new bytes. */
export function storedInput(mfile: { mimetype?: string; size?: number }): KnownInput | undefined {
  return mfile.mimetype !== undefined && mfile.size !== undefined ? { mimetype: mfile.mimetype, size: Number(mfile.size) } : undefined;
}

/** The service a run without input belongs to (the steps of a periodic pipeline with `input: "none"`). */
export interface ServiceRunTarget {
  containerId: string;
  serviceId: string;
}

/** One pipeline run on one Mfile (or, for steps without input, on none), planned: its jobs (facts finished already), their edges and their usage. */
export interface PlannedRun {
  /** Null for a run without input. */
  mfileId: string | null;
  jobs: Job[];
  edges: Array<{ jobId: string; prerequisiteId: string }>;
  usage: UsageFact[];
  /** The verified backup copy its creator made before the commit, recorded by the run as its `backup` step's fact. */
  backup?: BackupFact;
}

/**
 * The task engine's bookkeeping, in PostgreSQL: a trigger on an Mfile becomes one job per profile step, with the
 * `after` edges as dependencies; a finished job releases (or fails) the jobs waiting on it. Queues only carry ids.
 */
@Injectable()
export class PipelinesService {
  private readonly logger = new Logger('pipelines');

  constructor(
    private readonly unitOfWork: UnitOfWork,
    private readonly profiles: ProfileRepository,
    private readonly jobs: JobRepository,
    private readonly mfiles: MfileRepository,
    private readonly queues: QueueRegistry,
    private readonly usage: UsageService,
    private readonly scheduler: PeriodicScheduler,
    private readonly accessSessions: AccessSessions,
    private readonly serviceEvents: ServiceEvents,
    private readonly quotas: QuotaService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /**
   * The profile a service runs: the container profile its `profile` property selects, else its own, else the
   * default. `source` says which (and `name` which container profile).
   */
  async profileOf(serviceId: string, manager?: EntityManager): Promise<EffectiveProfile> {
    const row = await this.profiles.selectionOf(serviceId, manager);
    if (!row) throw Problems.notFound('service', serviceId);
    return this.effective(row);
  }

  private effective(row: ProfileSelection): EffectiveProfile {
    if (row.selected) return { definition: row.selected, isDefault: false, updatedAt: row.selectedAt, source: 'container', name: row.name };
    if (row.own) return { definition: row.own, isDefault: false, updatedAt: row.ownAt, source: 'service', name: null };
    return { definition: defaultProfile(), isDefault: true, updatedAt: null, source: 'default', name: null };
  }

  private validate(input: unknown): ProfileDefinition {
    try {
      return validateProfile(input, { minIntervalSeconds: this.config.periodicMinIntervalSeconds });
    } catch (error) {
      if (error instanceof ProfileErrors)
        throw Problems.badRequest(`the profile is not valid: ${error.errors[0]}${error.errors.length > 1 ? ` (and ${error.errors.length - 1} more)` : ''}`, {
          errors: error.errors,
        });
      throw error;
    }
  }

  /** A service whose provider selected a container profile runs that one: its own cannot be edited meanwhile. */
  private async assertNotSelected(serviceId: string): Promise<void> {
    const { source, name } = await this.profileOf(serviceId);
    if (source === 'container')
      throw Problems.conflict(
        `the provider selected the container profile "${name}" for this service: its pipelines are that profile's (clear the service's profile property to edit its own)`,
      );
  }

  async saveProfile(serviceId: string, input: unknown) {
    const definition = this.validate(input);
    await this.assertNotSelected(serviceId);
    await this.profiles.saveServiceProfile(serviceId, definition);
    await this.scheduler.sync(serviceId, definition);
    return this.profileOf(serviceId);
  }

  async resetProfile(serviceId: string) {
    await this.assertNotSelected(serviceId);
    await this.profiles.deleteServiceProfile(serviceId);
    await this.scheduler.sync(serviceId, undefined);
    return this.profileOf(serviceId);
  }

  /** Brings the periodic schedule of services in line with the profile they now run. */
  async resyncSchedules(serviceIds: string[]): Promise<void> {
    for (const serviceId of serviceIds) await this.scheduler.sync(serviceId, (await this.profileOf(serviceId)).definition);
  }

  async containerProfiles(containerId: string) {
    const rows = await this.profiles.containerProfiles(containerId);
    const counts = await this.profiles.selectionCounts(containerId);
    return { items: rows.map((row) => ({ name: row.name, definition: row.definition, updatedAt: row.updatedAt, selectedBy: counts.get(row.name) ?? 0 })) };
  }

  /** Creates or replaces a container profile; the services running it pick the change up at once. */
  async saveContainerProfile(containerId: string, name: string, input: unknown) {
    const definition = this.validate(input);
    await this.profiles.saveContainerProfile(containerId, name, definition);
    const selecting = await this.profiles.servicesSelecting(containerId, name);
    await this.resyncSchedules(selecting.map((row) => row.id));
    const saved = await this.profiles.getContainerProfile(containerId, name);
    return { name, definition: saved.definition, updatedAt: saved.updatedAt, selectedBy: selecting.length };
  }

  async deleteContainerProfile(containerId: string, name: string): Promise<void> {
    await this.unitOfWork.run(async ({ manager }) => {
      const row = await this.profiles.lockContainerProfile(containerId, name, manager);
      if (!row) throw Problems.notFound('container profile', name);
      const selecting = await this.profiles.servicesSelecting(containerId, name, manager);
      if (selecting.length)
        throw Problems.conflict(`${selecting.length} service(s) run the profile "${name}": select another profile for them first`, {
          services: selecting.map((one) => one.id),
        });
      await this.profiles.deleteContainerProfile(containerId, name, manager);
    });
  }

  /**
   * Creates the jobs of `trigger`'s pipeline for one Mfile, inside the caller's transaction, as `planRun` (profile.ts)
   * says: one per step whose condition holds for the input's type and size when the caller knows them (`known`; every
   * step otherwise), `mime`, `md5` and `sha256` recorded as facts when the run starts with bytes just received, each step
   * routed by request > service priority > task default. Runnable jobs go to the outbox, to be dispatched after
   * commit. Returns the jobs made.
   */
  async instantiate(manager: EntityManager, trigger: Trigger, mfile: PipelineInput, outbox: JobOutbox, known?: KnownInput): Promise<Job[]> {
    const run = await this.planRun(manager, trigger, mfile, known);
    if (!run) return [];
    await this.jobs.createRun(run.jobs, mfile.id, run.edges, manager);
    await this.usage.record(manager, ...run.usage);
    this.runCommitted(run, outbox);
    return run.jobs;
  }

  /**
   * The jobs of `trigger`'s pipeline for one Mfile, planned but not written (one read: the profile and the priority
   * flag, inside the caller's transaction): for a caller that writes them within a statement of its own
   * (`runStatement`), then hands them to `runCommitted`. Undefined when the pipeline has no step.
   */
  async planRun(
    manager: EntityManager,
    trigger: Trigger,
    mfile: PipelineInput,
    known?: KnownInput,
    backUp?: () => Promise<BackupFact>,
  ): Promise<PlannedRun | undefined> {
    const row = await this.profiles.selectionOf(mfile.serviceId, manager);
    if (!row) throw Problems.notFound('service', mfile.serviceId);
    const whole = (row.selected ?? row.own ?? defaultProfile())[trigger];
    // the steps that run once per file (a periodic pipeline's steps without input make a run of their own)
    const pipeline = whole && { ...whole, steps: whole.steps.filter((step) => !runsWithoutInput(step)) };
    if (!pipeline || pipeline.steps.length === 0) return undefined;
    let planned = planRun(pipeline, known);
    // the creator can make the backup copy now (small fresh bytes): the step is then a fact and no job is queued
    // (a copy that cannot be made now is left to the step's job, which runs, retries and reports as any job)
    // (only without quotas: a copy is then no one's limit to check, and a job-runtime quota that is used up stops it)
    if (backUp && row.quotaFree && known?.fresh && wantsBackupFact(planned)) {
      const backup = await backUp().catch((error: unknown) => {
        this.logger.warn(`backup at commit not made, left to its job: ${error instanceof Error ? error.message : String(error)}`);
        return undefined;
      });
      if (backup) planned = planRun(pipeline, { ...known, fresh: { ...known.fresh, backup } });
    }
    return this.jobsOf(planned, trigger, row.priority, { ...mfile, mfileId: mfile.id });
  }

  /**
   * The run of a pipeline's steps without input (periodic steps with `input: "none"`): once per tick, for the service,
   * its jobs with no input Mfile, created in the caller's transaction, the runnable ones to the outbox. Returns the jobs.
   */
  async instantiateServiceRun(manager: EntityManager, trigger: Trigger, pipeline: Pipeline, service: ServiceRunTarget, priority: boolean, outbox: JobOutbox) {
    const steps = pipeline.steps.filter(runsWithoutInput);
    if (steps.length === 0) return [];
    const run = this.jobsOf(planRun({ ...pipeline, steps }), trigger, priority, { ...service, mfileId: null });
    if (!run) return [];
    await this.jobs.createRun(run.jobs, null, run.edges, manager);
    await this.usage.record(manager, ...run.usage);
    this.runCommitted(run, outbox);
    return run.jobs;
  }

  /** A planned run's job rows, edges and usage, on its Mfile (or none). Undefined when nothing is planned. */
  private jobsOf(
    planned: ReturnType<typeof planRun>,
    trigger: Trigger,
    priority: boolean,
    target: ServiceRunTarget & { mfileId: string | null },
  ): PlannedRun | undefined {
    if (planned.length === 0) return undefined;
    const runId = uuidv7();
    const ids = new Map(planned.map(({ step }) => [step.name, uuidv7()]));
    const jobs = planned.map(({ step, fact, ready, condition }) =>
      Object.assign(new Job(), {
        id: ids.get(step.name)!,
        containerId: target.containerId,
        serviceId: target.serviceId,
        task: step.task,
        options: step.options as Job['options'],
        queue: routeQueue({ requested: step.queue, servicePriority: priority, taskDefault: TASKS[step.task].defaultQueue }),
        state: fact ? JobState.Succeeded : ready ? JobState.Queued : JobState.Waiting,
        result: (fact?.result ?? null) as Job['result'],
        progress: fact ? 100 : 0,
        trigger,
        runId,
        step: step.name,
        condition,
        requestedByKeyId: null,
        withoutInput: target.mfileId === null,
      }),
    );
    const edges = planned.flatMap(({ step, after }) => after.map((prerequisite) => ({ jobId: ids.get(step.name)!, prerequisiteId: ids.get(prerequisite)! })));
    // every job is metered as a job, a fact too; a fact's outcome as the task's success (it took no runtime)
    const scope = (job: Job) => ({ containerId: job.containerId, serviceId: job.serviceId, resourceType: 'job' as const, resourceId: job.id });
    const usage: UsageFact[] = jobs.flatMap((job) => [
      { metric: 'jobs' as const, value: 1, ...scope(job), idempotencyKey: `${job.id}:jobs` },
      ...(job.state === JobState.Succeeded
        ? [{ metric: `task/${job.task}/success` as const, value: 1, ...scope(job), idempotencyKey: `${job.id}:outcome` }]
        : []),
    ]);
    // a backup copy that stored new bytes is on disk: metered as the backup task's outcome meters it
    const backedUp = planned.findIndex((each) => each.fact?.backup);
    const backup = backedUp >= 0 ? planned[backedUp].fact!.backup : undefined;
    if (backup?.created) usage.push(taskReportedFact(jobs[backedUp], target.mfileId, { metric: 'disc', value: backup.size, about: 'backup' }));
    return { mfileId: target.mfileId, jobs, edges, usage, ...(backup ? { backup } : {}) };
  }

  /** A planned run's jobs, input, edges and usage as data-modifying CTE items (`JobRepository.createRunStatement`). */
  runStatement(run: PlannedRun, firstParam: number, onlyIf: string): { sql: string; params: unknown[] } | undefined {
    if (run.jobs.length === 0) return undefined;
    return cteItems(firstParam, [
      { part: (first) => this.jobs.createRunStatement(run.jobs, run.mfileId, run.edges, first, onlyIf) },
      { name: 'run_usage', part: (first) => this.usage.statement(run.usage, first, onlyIf) },
    ]);
  }

  /** A planned run was written: its runnable jobs go to the outbox, its facts are announced, after commit. */
  runCommitted(run: PlannedRun, outbox: JobOutbox): void {
    outbox.announce(
      ...run.jobs
        .filter((job) => job.state === JobState.Succeeded)
        .map((job) => ({ jobId: job.id, serviceId: job.serviceId, state: JobState.Succeeded, progress: 100, error: null })),
    );
    outbox.add(...run.jobs.filter((job) => job.state === JobState.Queued));
  }

  /**
   * What a job reaching a final state means for the jobs after it, inside the transaction that recorded that state.
   * Succeeded or skipped: each waiting dependent whose prerequisites are now all succeeded or skipped is queued
   * (the dependent row is locked first and its prerequisites read after, so two prerequisites finishing at once
   * cannot both miss each other). Failed or cancelled: every waiting job downstream fails (or is cancelled) too,
   * naming the step that did.
   */
  async settleDependents(manager: EntityManager, job: Pick<Job, 'id' | 'task' | 'step'>, state: JobState, outbox: JobOutbox): Promise<void> {
    await this.settleDependentsOf(manager, [{ job, state }], outbox);
  }

  /**
   * The same for several jobs that reached their final state in one transaction (the steps of one batch): the
   * dependents of all those that succeeded or were skipped are released at once (and may again travel in one
   * message); downstream of each that failed or was cancelled ends with it.
   */
  async settleDependentsOf(
    manager: EntityManager,
    settled: Array<{ job: Pick<Job, 'id' | 'task' | 'step'>; state: JobState }>,
    outbox: JobOutbox,
  ): Promise<void> {
    const done = settled.filter(({ state }) => state === JobState.Succeeded || state === JobState.Skipped).map(({ job }) => job.id);
    if (done.length) outbox.add(...(await this.jobs.releaseDependentsOf(done, manager)));
    for (const { job, state } of settled) {
      if (state !== JobState.Failed && state !== JobState.Cancelled) continue;
      const verb = state === JobState.Failed ? 'failed' : 'was cancelled';
      const ended = await this.jobs.endDownstream(job.id, state, `dependency ${job.step ?? job.task} (${job.id}) ${verb}`, manager);
      outbox.announce(...ended.map((row) => ({ jobId: row.id, serviceId: row.serviceId, state, error: row.error })));
    }
  }

  /**
   * Puts the outbox's jobs on their queues and announces its changes (after the transaction has committed). The
   * steps of one pipeline run that became runnable together on one queue go as one message (one worker claims them
   * together, reads their input once and records them in one transaction); a job of no run goes alone.
   */
  async dispatch(outbox: JobOutbox): Promise<void> {
    await this.serviceEvents.announce(
      [...outbox.events, ...outbox.items.map((job) => ({ jobId: job.id, serviceId: job.serviceId, state: JobState.Queued }))],
      outbox.serviceEvents,
    );
    for (const [queue, messages] of batchMessages(outbox.items)) {
      try {
        await this.queues.dispatchMany(queue, messages);
      } catch (error) {
        // PostgreSQL has the jobs as queued: the reconciler will enqueue them once Redis is back.
        this.logger.warn(`could not enqueue ${messages.length} message(s) on ${queue}: ${String(error)}`);
      }
    }
  }

  /**
   * Starts `trigger`'s pipeline on an Mfile, in a transaction of its own, when the profile has one. For `access`,
   * with the downloading client, only the first download of a session does (`AccessSessions`). Never throws: the
   * request that caused it has been answered already.
   */
  async trigger(trigger: Trigger, mfile: PipelineInput & { mimetype?: string; size?: number; sha256?: string }, client?: DownloadClient): Promise<void> {
    try {
      const { definition } = await this.profileOf(mfile.serviceId);
      if (!definition[trigger]?.steps.length) return;
      const session = trigger === 'access' && client && mfile.sha256 ? { id: mfile.id, sha256: mfile.sha256 } : undefined;
      if (session && !(await this.accessSessions.starts(session, client!))) return;
      await this.unitOfWork
        .run((work) => this.instantiate(work.manager, trigger, mfile, this.outboxFor(work), storedInput(mfile)))
        .catch(async (error: unknown) => {
          if (session) await this.accessSessions.forget(session, client!);
          throw error;
        });
    } catch (error) {
      this.logger.warn(`could not start the ${trigger} pipeline of ${mfile.id}: ${String(error)}`);
    }
  }

  /**
   * One tick of a periodic pipeline: the run of its steps without input (one, for the service), then its other steps'
   * jobs for every Mfile of the service, 200 Mfiles per transaction. A service whose tasks may not run now (suspended,
   * its container suspended, outside its time window, its job-runtime quota used up) gets no jobs: they could only
   * fail. Returns the number of runs made.
   */
  async runPeriodic(serviceId: string): Promise<number> {
    const selection = await this.profiles.selectionOf(serviceId);
    if (!selection) {
      await this.scheduler.remove(serviceId); // the service went with its container: its schedule goes too
      return 0;
    }
    const { definition } = this.effective(selection);
    const periodic = definition.periodic;
    if (!periodic?.steps.length) return 0;
    const refusal = await this.quotas.jobRefusal(serviceId);
    if (refusal) {
      this.logger.log({ msg: `periodic tick of service ${serviceId} made no jobs: ${refusal}`, serviceId });
      return 0;
    }
    let count = 0;
    if (periodic.steps.some(runsWithoutInput) && (await this.jobs.hasUnfinishedWithoutInput(serviceId, 'periodic'))) {
      // the last tick's steps without input are still under way (a slow source, a backlog): a second run would
      // fetch the same URL into the same name beside them, and one of the two could only fail
      this.logger.log({ msg: `periodic tick of service ${serviceId}: the previous tick's steps without input have not ended, none made now`, serviceId });
    } else if (periodic.steps.some(runsWithoutInput)) {
      const service = { serviceId, containerId: selection.containerId };
      const made = await this.unitOfWork.run((work) =>
        this.instantiateServiceRun(work.manager, 'periodic', periodic, service, selection.priority, this.outboxFor(work)),
      );
      if (made.length) count += 1;
    }
    if (periodic.steps.every(runsWithoutInput)) return count;
    let after = '00000000-0000-0000-0000-000000000000';
    for (;;) {
      const batch = await this.mfiles.pageOfServiceRefs(serviceId, after, 200);
      if (batch.length === 0) return count;
      await this.unitOfWork.run(async (work) => {
        const outbox = this.outboxFor(work);
        for (const mfile of batch) await this.instantiate(work.manager, 'periodic', mfile, outbox, storedInput(mfile));
      });
      count += batch.length;
      after = batch[batch.length - 1].id;
    }
  }

  /**
   * The job outbox of a unit of work: the jobs its transaction makes runnable, dispatched (and its job changes
   * announced) once it committed. One per unit of work however many pipelines it starts.
   */
  outboxFor(work: Work): JobOutbox {
    return work.slot(JobOutbox, (unit) => {
      const outbox = new JobOutbox();
      unit.afterCommit(() => this.dispatch(outbox));
      return outbox;
    });
  }
}

/**
 * Runnable jobs as queue messages, by queue: the jobs of one pipeline run on one queue in one message (`jobIds`, in
 * id order: the order of the profile's steps), any other job alone. Used by dispatch and by the reconciler.
 */
export function batchMessages(jobs: Array<Pick<OutboxJob, 'id' | 'queue' | 'runId'>>): Map<string, QueuedJob[]> {
  const groups = new Map<string, Map<string, Array<Pick<OutboxJob, 'id' | 'queue' | 'runId'>>>>();
  for (const job of jobs) {
    const byRun = groups.get(job.queue) ?? new Map<string, Array<Pick<OutboxJob, 'id' | 'queue' | 'runId'>>>();
    groups.set(job.queue, byRun);
    const key = job.runId ? `run:${job.runId}` : `job:${job.id}`;
    byRun.set(key, [...(byRun.get(key) ?? []), job]);
  }
  const messages = new Map<string, QueuedJob[]>();
  for (const [queue, byRun] of groups) {
    messages.set(
      queue,
      [...byRun.values()].map((members) => {
        const ids = [...new Set(members.map((job) => job.id))].sort();
        return ids.length === 1 ? { jobId: ids[0] } : { jobId: ids[0], jobIds: ids, runId: members[0].runId! };
      }),
    );
  }
  return messages;
}

import { Injectable, Logger } from '@nestjs/common';
import { InjectEntityManager } from '@nestjs/typeorm';
import { EntityManager } from 'typeorm';
import { decodeIdCursor, Page, toPage } from '../common/pagination';
import { Problems } from '../common/problem';
import { UnitOfWork } from '../database/unit-of-work';
import { uuidv7 } from '../database/uuid';
import { JobOutputRepository } from '../job-outputs/job-output.repository';
import { RequestAuth } from '../keys/authorize.decorator';
import { covers } from '../keys/keys.service';
import { ResourceResolver } from '../keys/resource-resolver.service';
import { enforceServiceState } from '../common/service-state';
import { QueueRegistry } from '../queues/queue-registry';
import { routeQueue } from '../queues/queue-catalogue';
import { MfileRepository } from '../mfiles/mfile.repository';
import { ServiceRepository } from '../services/service.repository';
import { SubtreeDeletion } from '../deletion/subtree-deletion';
import { isTaskName, resolveTaskOptions, TASKS } from '../tasks/task-catalogue';
import { JobOutbox } from '../pipelines/job-outbox';
import { PipelinesService, storedInput } from '../pipelines/pipelines.service';
import { QuotaService } from '../usage/quota.service';
import { UsageService } from '../usage/usage.service';
import { CreateJobDto, ListJobsQuery } from './dto';
import { FINAL_JOB_STATES, Job, JobState } from './job.entity';
import { JobRepository } from './job.repository';

export type JobView = Job & { mfileIds: string[] };
/** A job in a list: its inputs' ids, and their names for keys that may read files. */
export type ListedJob = JobView & { inputs?: Array<{ id: string; name: string }> };

/** A task that replaces its inputs' bytes needs what replacing them by hand needs (PUT /mfiles/:id/content): mfile:write. */
function requireContentWrite(auth: RequestAuth, on: string): void {
  if (!auth.actions.has('mfile:write')) throw Problems.missingActions(['mfile:write'], on);
}

@Injectable()
export class JobsService {
  private readonly logger = new Logger('jobs');

  constructor(
    /** Outside any transaction (the quota check takes a manager). */
    @InjectEntityManager() private readonly manager: EntityManager,
    private readonly unitOfWork: UnitOfWork,
    private readonly jobs: JobRepository,
    private readonly outputs: JobOutputRepository,
    private readonly mfiles: MfileRepository,
    private readonly services: ServiceRepository,
    private readonly resolver: ResourceResolver,
    private readonly queues: QueueRegistry,
    private readonly deletion: SubtreeDeletion,
    private readonly usage: UsageService,
    private readonly pipelines: PipelinesService,
    private readonly quotas: QuotaService,
  ) {}

  /** The inputs of a manual job or pipeline: each reachable with job:create, all in one service. */
  private async manualInputs(auth: RequestAuth, ids: string[]): Promise<{ mfileIds: string[]; serviceId: string; containerId: string }> {
    const mfileIds = [...new Set(ids)];
    let serviceId: string | null = null;
    let containerId: string | null = null;
    for (const id of mfileIds) {
      const target = await this.resolver.resolve({ type: 'mfile', id });
      if (!covers(auth.key, target)) throw Problems.notFound('mfile', id);
      enforceServiceState(target, 'job:create', auth.actions);
      if (serviceId && serviceId !== target.serviceId) throw Problems.badRequest('all mfileIds must belong to the same service');
      serviceId = target.serviceId;
      containerId = target.containerId;
    }
    // a service (or container) whose monthly job runtime is used up gets a 429 naming the quota, not a job that fails
    if (serviceId) await this.quotas.enforce(this.manager, serviceId, { job: true });
    return { mfileIds, serviceId: serviceId!, containerId: containerId! };
  }

  /** The service profile's `manual` pipeline on each Mfile: one run per Mfile, dispatched after commit. */
  async runManualPipeline(auth: RequestAuth, dto: CreateJobDto): Promise<{ items: JobView[] }> {
    if (dto.task) throw Problems.badRequest('give either a task or a pipeline, not both', { errors: ['task and pipeline are exclusive'] });
    const { mfileIds, serviceId } = await this.manualInputs(auth, dto.mfileIds);
    const { definition } = await this.pipelines.profileOf(serviceId);
    if (!definition.manual?.steps.length)
      throw Problems.conflict("the service's profile has no manual pipeline: PUT /services/:id/profile with one", { errors: ['no manual pipeline'] });
    const changing = definition.manual.steps.map((step) => step.task).filter((name) => isTaskName(name) && TASKS[name].changesContent);
    if (changing.length) requireContentWrite(auth, `the inputs of the manual pipeline (its ${changing.join(', ')} step replaces content)`);
    const jobs = await this.unitOfWork.run(async (work) => {
      const outbox = this.pipelines.outboxFor(work);
      const made: Job[] = [];
      for (const id of mfileIds) {
        const mfile = await this.mfiles.findById(id, work.manager);
        if (!mfile) throw Problems.notFound('mfile', id);
        made.push(...(await this.pipelines.instantiate(work.manager, 'manual', mfile, outbox, storedInput(mfile))));
      }
      // who asked: the worker checks that key's rights again before a step replaces content
      await this.jobs.recordRequester(
        made.map((job) => job.id),
        auth.key.id,
        work.manager,
      );
      return made;
    });
    return { items: await Promise.all(jobs.map((job) => this.get(job.id))) };
  }

  /** A manual job: every input must be reachable with job:create, all in one service. Dispatched at once. */
  async create(auth: RequestAuth, dto: CreateJobDto): Promise<JobView | { items: JobView[] }> {
    if (!dto.task || !isTaskName(dto.task))
      throw Problems.badRequest(`unknown task "${dto.task}": see GET /api/v1/tasks`, { errors: [`task ${dto.task} is not registered`] });
    const task = TASKS[dto.task];
    const { options, errors } = resolveTaskOptions(task, dto.options);
    if (errors.length)
      throw Problems.badRequest(`bad options for ${task.name}: ${errors[0]}${errors.length > 1 ? ` (and ${errors.length - 1} more)` : ''}`, { errors });
    const given = new Set(dto.mfileIds).size;
    if (!dto.each && given > task.inputCount) {
      const takes = `${task.inputCount} ${task.inputCount === 1 ? 'Mfile' : 'Mfiles'}`;
      throw Problems.badRequest(`${task.name} takes ${takes} per job and ${given} were given: send each: true for one job per Mfile`, {
        errors: [`mfileIds has ${given} entries; ${task.name} takes ${task.inputCount}`],
      });
    }
    const { mfileIds, serviceId, containerId } = await this.manualInputs(auth, dto.mfileIds);
    if (task.changesContent) requireContentWrite(auth, `the inputs of ${task.name} (it replaces their content)`);
    const inputsPerJob = dto.each ? mfileIds.map((id) => [id]) : [mfileIds];
    const jobs = await this.unitOfWork.run(async ({ manager }) => {
      const service = await this.services.findById(serviceId, manager);
      if (!service) throw Problems.notFound('service', serviceId);
      const queue = routeQueue({ requested: dto.queue, servicePriority: service.priority, taskDefault: task.defaultQueue });
      const made: Job[] = [];
      for (const inputs of inputsPerJob) {
        const created = manager.create(Job, {
          id: uuidv7(),
          containerId,
          serviceId,
          task: task.name,
          options: options as Job['options'],
          queue,
          state: JobState.Queued,
          trigger: 'manual',
          requestedByKeyId: auth.key.id,
        });
        await this.jobs.createManual(created, inputs, manager);
        made.push(created);
      }
      await this.usage.record(
        manager,
        ...made.map((created) => ({
          metric: 'jobs' as const,
          value: 1,
          containerId,
          serviceId,
          resourceType: 'job' as const,
          resourceId: created.id,
          idempotencyKey: `${created.id}:jobs`,
        })),
      );
      return made;
    });
    // Dispatch after commit, so a worker never sees a job the database does not have yet. Once committed the job
    // exists: if Redis cannot take it now (down, failing over), PostgreSQL keeps it queued for the reconciler, as a
    // pipeline's dispatch does, and the answer is its 201 rather than a 503 that a client would retry into a second job.
    for (const job of jobs)
      await this.queues
        .dispatch(job.queue, { jobId: job.id })
        .catch((error: unknown) => this.logger.warn(`could not enqueue job ${job.id} on ${job.queue} (the reconciler will): ${String(error)}`));
    if (!dto.each) return this.get(jobs[0].id);
    return { items: await Promise.all(jobs.map((job) => this.get(job.id))) };
  }

  async get(id: string, manager?: EntityManager): Promise<JobView> {
    const job = await this.jobs.findById(id, manager);
    if (!job) throw Problems.notFound('job', id);
    const inputs = (await this.inputsOf([id], manager)).get(id) ?? [];
    return { ...job, mfileIds: inputs.map((input) => input.id) };
  }

  /** The files each job ran on, by id, with their names: one query for any number of jobs. */
  private async inputsOf(jobIds: string[], manager?: EntityManager): Promise<Map<string, Array<{ id: string; name: string }>>> {
    const byJob = new Map<string, Array<{ id: string; name: string }>>();
    for (const row of await this.jobs.inputsOf(jobIds, manager)) {
      if (!byJob.has(row.jobId)) byJob.set(row.jobId, []);
      byJob.get(row.jobId)!.push({ id: row.id, name: row.name });
    }
    return byJob;
  }

  /**
   * A page of jobs, each with its inputs' ids (as GET /jobs/:id) and, for a key that may read files (`withNames`),
   * their names: one more query for the page.
   */
  async list(scope: { serviceId?: string; mfileId?: string }, query: ListJobsQuery, withNames = false): Promise<Page<ListedJob>> {
    const after = decodeIdCursor(query.cursor);
    // ids are UUIDv7: their order is the order of creation
    const rows = await this.jobs.page({
      ...scope,
      state: query.state,
      task: query.task,
      trigger: query.trigger,
      runId: query.runId,
      newest: query.order === 'newest',
      after: after ?? undefined,
      limit: query.limit,
    });
    const page = toPage(rows, query.limit, (last) => [last.id]);
    const byJob = await this.inputsOf(page.items.map((job) => job.id));
    return {
      ...page,
      items: page.items.map((job) => {
        const of = byJob.get(job.id) ?? [];
        return { ...job, mfileIds: of.map((input) => input.id), ...(withNames && { inputs: of }) };
      }),
    };
  }

  /**
   * Cancels a job that has not finished: it is taken off its queue, a running worker drops its result, and the jobs
   * waiting for it are cancelled too.
   */
  async cancel(id: string): Promise<JobView> {
    const outbox = new JobOutbox();
    const job = await this.unitOfWork.run(async ({ manager }) => {
      const locked = await this.jobs.lock(id, manager);
      if (!locked) throw Problems.notFound('job', id);
      if (FINAL_JOB_STATES.includes(locked.state)) throw Problems.conflict(`the job is already ${locked.state}`, { state: locked.state });
      await this.jobs.cancel(id, 'cancelled on request', manager);
      await this.pipelines.settleDependents(manager, locked, JobState.Cancelled, outbox);
      outbox.announce({ jobId: id, serviceId: locked.serviceId, state: JobState.Cancelled, error: 'cancelled on request' });
      return locked;
    });
    await this.pipelines.dispatch(outbox);
    await this.queues
      .get(job.queue)
      .removeJobs(job.id)
      .catch((error) => this.logger.warn(`could not remove queued job ${id}: ${String(error)}`));
    return this.get(id);
  }

  /** Deletes a finished job with its outputs. */
  async remove(id: string): Promise<void> {
    let job: Job | null = null;
    await this.deletion.run({
      lock: async (manager) => {
        job = await this.jobs.lock(id, manager);
        if (!job) throw Problems.notFound('job', id);
        if (!FINAL_JOB_STATES.includes(job.state)) throw Problems.conflict(`the job is ${job.state}: cancel it first`, { state: job.state });
        return { subtree: { jobIds: [id] } };
      },
      delete: async (manager) => {
        const { containerId, serviceId } = job!;
        // the bytes its outputs stored leave disc with them
        const outputs = await this.outputs.storedOfJob(id, manager);
        await this.usage.record(
          manager,
          ...outputs.map((output) => ({
            metric: 'disc' as const,
            value: -output.size,
            containerId,
            serviceId,
            resourceType: 'joboutput' as const,
            resourceId: output.id,
          })),
        );
        // the files' links to these outputs (their thumbnail, poster, proxy...) go with them, rather than point at nothing
        await this.mfiles.dropRenditionsOfJob(id, manager);
        await this.outputs.deleteOfJob(id, manager);
        await this.jobs.delete(id, manager);
      },
    });
  }
}

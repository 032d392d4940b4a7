import { Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { decodeIdCursor, Page, toPage } from '../common/pagination';
import { Problems } from '../common/problem';
import { uuidv7 } from '../database/uuid';
import { JobOutput } from '../job-outputs/job-output.entity';
import { RequestAuth } from '../keys/authorize.decorator';
import { covers } from '../keys/keys.service';
import { ResourceResolver } from '../keys/resource-resolver.service';
import { enforceServiceState } from '../keys/key.guard';
import { QueueRegistry } from '../queues/queue-registry';
import { routeQueue } from '../queues/queue-names';
import { Mfile } from '../mfiles/mfile.entity';
import { Service } from '../services/service.entity';
import { BlobJanitor } from '../storage/blob-janitor';
import { isTaskName, resolveTaskOptions, TASKS } from '../tasks/task-catalogue';
import { JobOutbox } from '../pipelines/job-outbox';
import { PipelinesService } from '../pipelines/pipelines.service';
import { QuotaService } from '../usage/quota.service';
import { UsageService } from '../usage/usage.service';
import { CreateJobDto, ListJobsQuery } from './dto';
import { FINAL_JOB_STATES, Job, JobInput, JobState } from './job.entity';

export type JobView = Job & { mfileIds: string[] };
/** A job in a list: its inputs' ids, and their names for keys that may read files. */
export type ListedJob = JobView & { inputs?: Array<{ id: string; name: string }> };

@Injectable()
export class JobsService {
  private readonly logger = new Logger('jobs');

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly resolver: ResourceResolver,
    private readonly queues: QueueRegistry,
    private readonly janitor: BlobJanitor,
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
    if (serviceId) await this.quotas.enforce(this.dataSource.manager, serviceId, { job: true });
    return { mfileIds, serviceId: serviceId!, containerId: containerId! };
  }

  /** The service profile's `manual` pipeline on each Mfile: one run per Mfile, dispatched after commit. */
  async runManualPipeline(auth: RequestAuth, dto: CreateJobDto): Promise<{ items: JobView[] }> {
    if (dto.task) throw Problems.badRequest('give either a task or a pipeline, not both', { errors: ['task and pipeline are exclusive'] });
    const { mfileIds, serviceId } = await this.manualInputs(auth, dto.mfileIds);
    const { definition } = await this.pipelines.profileOf(serviceId);
    if (!definition.manual?.steps.length) throw Problems.conflict("the service's profile has no manual pipeline: PUT /services/:id/profile with one", { errors: ['no manual pipeline'] });
    const jobs = await this.pipelines.withOutbox(async (manager, outbox) => {
      const made: Job[] = [];
      for (const id of mfileIds) made.push(...(await this.pipelines.instantiate(manager, 'manual', await manager.findOneByOrFail(Mfile, { id }), outbox)));
      return made;
    });
    return { items: await Promise.all(jobs.map((job) => this.get(job.id))) };
  }

  /** A manual job: every input must be reachable with job:create, all in one service. Dispatched at once. */
  async create(auth: RequestAuth, dto: CreateJobDto): Promise<JobView> {
    if (!dto.task || !isTaskName(dto.task)) throw Problems.badRequest(`unknown task "${dto.task}": see GET /api/v1/tasks`, { errors: [`task ${dto.task} is not registered`] });
    const task = TASKS[dto.task];
    const { options, errors } = resolveTaskOptions(task, dto.options);
    if (errors.length) throw Problems.badRequest(`bad options for ${task.name}: ${errors[0]}${errors.length > 1 ? ` (and ${errors.length - 1} more)` : ''}`, { errors });
    const { mfileIds, serviceId, containerId } = await this.manualInputs(auth, dto.mfileIds);
    const job = await this.dataSource.transaction(async (manager) => {
      const service = await manager.findOneByOrFail(Service, { id: serviceId });
      const queue = routeQueue({ requested: dto.queue, servicePriority: service.priority, taskDefault: task.defaultQueue });
      const created = manager.create(Job, { id: uuidv7(), containerId, serviceId, task: task.name, options: options as Job['options'], queue, state: JobState.Queued, trigger: 'manual' });
      await manager.insert(Job, created);
      await manager.insert(JobInput, mfileIds.map((mfileId) => ({ jobId: created.id, mfileId })));
      await this.usage.record(manager, { metric: 'jobs', value: 1, containerId, serviceId, resourceType: 'job', resourceId: created.id, idempotencyKey: `${created.id}:jobs` });
      return created;
    });
    // Dispatch after commit, so a worker never sees a job the database does not have yet.
    await this.queues.dispatch(job.queue, { jobId: job.id });
    return this.get(job.id);
  }

  async get(id: string, manager: EntityManager = this.dataSource.manager): Promise<JobView> {
    const job = await manager.findOneBy(Job, { id });
    if (!job) throw Problems.notFound('job', id);
    const inputs = (await this.inputsOf(manager, [id])).get(id) ?? [];
    return { ...job, mfileIds: inputs.map((input) => input.id) };
  }

  /** The files each job ran on, by id, with their names: one query for any number of jobs. */
  private async inputsOf(manager: EntityManager, jobIds: string[]): Promise<Map<string, Array<{ id: string; name: string }>>> {
    const byJob = new Map<string, Array<{ id: string; name: string }>>();
    if (jobIds.length === 0) return byJob;
    const rows: Array<{ jobId: string; id: string; name: string }> = await manager.query(
      'SELECT i.job_id AS "jobId", m.id, m.name FROM job_input i JOIN mfile m ON m.id = i.mfile_id WHERE i.job_id = ANY($1::uuid[]) ORDER BY m.id',
      [jobIds],
    );
    for (const row of rows) {
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
    const newest = query.order === 'newest';
    const builder = this.dataSource.getRepository(Job).createQueryBuilder('j').orderBy('j.id', newest ? 'DESC' : 'ASC').limit(query.limit + 1);
    if (scope.serviceId) builder.andWhere('j.service_id = :serviceId', { serviceId: scope.serviceId });
    if (scope.mfileId) builder.andWhere('j.id IN (SELECT job_id FROM job_input WHERE mfile_id = :mfileId)', { mfileId: scope.mfileId });
    if (query.state) builder.andWhere('j.state = :state', { state: query.state });
    if (query.task) builder.andWhere('j.task = :task', { task: query.task });
    if (query.trigger) builder.andWhere('j.trigger = :trigger', { trigger: query.trigger });
    if (query.runId) builder.andWhere('j.run_id = :runId', { runId: query.runId });
    const after = decodeIdCursor(query.cursor);
    // ids are UUIDv7: their order is the order of creation
    if (after) builder.andWhere(newest ? 'j.id < :after' : 'j.id > :after', { after });
    const page = toPage(await builder.getMany(), query.limit, (last) => [last.id]);
    const byJob = await this.inputsOf(this.dataSource.manager, page.items.map((job) => job.id));
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
    const job = await this.dataSource.transaction(async (manager) => {
      const locked = await manager.findOne(Job, { where: { id }, lock: { mode: 'pessimistic_write' } });
      if (!locked) throw Problems.notFound('job', id);
      if (FINAL_JOB_STATES.includes(locked.state)) throw Problems.conflict(`the job is already ${locked.state}`, { state: locked.state });
      await manager.update(Job, { id }, { state: JobState.Cancelled, finishedAt: new Date(), error: 'cancelled on request' });
      await this.pipelines.settleDependents(manager, locked, JobState.Cancelled, outbox);
      outbox.announce({ jobId: id, serviceId: locked.serviceId, state: JobState.Cancelled, error: 'cancelled on request' });
      return locked;
    });
    await this.pipelines.dispatch(outbox);
    await this.queues.get(job.queue).removeJobs(job.id).catch((error) => this.logger.warn(`could not remove queued job ${id}: ${String(error)}`));
    return this.get(id);
  }

  /** Deletes a finished job with its outputs. */
  async remove(id: string): Promise<void> {
    const blobs = await this.dataSource.transaction(async (manager) => {
      const job = await manager.findOne(Job, { where: { id }, lock: { mode: 'pessimistic_write' } });
      if (!job) throw Problems.notFound('job', id);
      if (!FINAL_JOB_STATES.includes(job.state)) throw Problems.conflict(`the job is ${job.state}: cancel it first`, { state: job.state });
      const blobKeys = await this.janitor.blobsUnder(manager, { jobIds: [id] });
      // the bytes its outputs stored leave disc with them
      const outputs: Array<{ id: string; size: number }> = await manager.query('SELECT id, size::float8 AS size FROM job_output WHERE job_id = $1 AND blob_key IS NOT NULL', [id]);
      await this.usage.record(
        manager,
        ...outputs.map((output) => ({ metric: 'disc' as const, value: -output.size, containerId: job.containerId, serviceId: job.serviceId, resourceType: 'joboutput' as const, resourceId: output.id })),
      );
      // the files' links to these outputs (their thumbnail, poster, proxy...) go with them, rather than point at nothing
      await manager.query(
        `UPDATE mfile m
            SET metadata = jsonb_set(m.metadata, '{renditions}',
                  COALESCE((SELECT jsonb_object_agg(r.key, r.value) FROM jsonb_each(m.metadata->'renditions') r WHERE r.value->>'jobId' IS DISTINCT FROM $2), '{}'::jsonb))
          WHERE m.id IN (SELECT i.mfile_id FROM job_input i WHERE i.job_id = $1)
            AND jsonb_typeof(m.metadata->'renditions') = 'object'
            AND EXISTS (SELECT 1 FROM jsonb_each(m.metadata->'renditions') r WHERE r.value->>'jobId' = $2)`,
        [id, id],
      );
      await manager.delete(JobOutput, { jobId: id });
      await manager.delete(Job, { id });
      return blobKeys;
    });
    await this.janitor.removeAll(blobs);
  }
}

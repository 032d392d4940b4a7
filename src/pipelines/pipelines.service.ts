import { Inject, Injectable, Logger } from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '../config/config';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { returnedRows } from '../common/database-errors';
import { Problems } from '../common/problem';
import { uuidv7 } from '../database/uuid';
import { Job, JobState } from '../jobs/job.entity';
import { QueueRegistry } from '../queues/queue-registry';
import { routeQueue } from '../queues/queue-names';
import { Service } from '../services/service.entity';
import { TASKS } from '../tasks/task-catalogue';
import { UsageService } from '../usage/usage.service';
import { WebhooksService } from '../webhooks/webhooks.service';
import { JobEvents } from './job-events';
import { JobOutbox } from './job-outbox';
import { defaultProfile, ProfileDefinition, ProfileErrors, Trigger, validateProfile } from './profile';
import { ContainerProfile, EFFECTIVE_PROFILE, ServiceProfile } from './profile.entity';

export interface EffectiveProfile {
  definition: ProfileDefinition;
  isDefault: boolean;
  updatedAt: Date | null;
  /** container: selected by the provider (`name`); service: the service's own; default: MServe's. */
  source: 'container' | 'service' | 'default';
  name: string | null;
}


import { PeriodicScheduler } from './periodic-scheduler';
import { Mfile } from '../mfiles/mfile.entity';

export interface PipelineInput {
  id: string;
  containerId: string;
  serviceId: string;
}

/**
 * The task engine's bookkeeping, in PostgreSQL: a trigger on an Mfile becomes one job per profile step, with the
 * `after` edges as dependencies; a finished job releases (or fails) the jobs waiting on it. Queues only carry ids.
 */
@Injectable()
export class PipelinesService {
  private readonly logger = new Logger('pipelines');

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly queues: QueueRegistry,
    private readonly usage: UsageService,
    private readonly scheduler: PeriodicScheduler,
    private readonly events: JobEvents,
    private readonly webhooks: WebhooksService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /**
   * The profile a service runs: the container profile its `profile` property selects, else its own, else the
   * default. `source` says which (and `name` which container profile).
   */
  async profileOf(serviceId: string, manager: EntityManager = this.dataSource.manager): Promise<EffectiveProfile> {
    const [row]: Array<{ name: string | null; selected: ProfileDefinition | null; selectedAt: Date | null; own: ProfileDefinition | null; ownAt: Date | null }> = await manager.query(
      `${EFFECTIVE_PROFILE} WHERE s.id = $1`,
      [serviceId],
    );
    if (!row) throw Problems.notFound('service', serviceId);
    if (row.selected) return { definition: row.selected, isDefault: false, updatedAt: row.selectedAt, source: 'container', name: row.name };
    if (row.own) return { definition: row.own, isDefault: false, updatedAt: row.ownAt, source: 'service', name: null };
    return { definition: defaultProfile(), isDefault: true, updatedAt: null, source: 'default', name: null };
  }

  private validate(input: unknown): ProfileDefinition {
    try {
      return validateProfile(input, { minIntervalSeconds: this.config.periodicMinIntervalSeconds });
    } catch (error) {
      if (error instanceof ProfileErrors) throw Problems.badRequest(`the profile is not valid: ${error.errors[0]}${error.errors.length > 1 ? ` (and ${error.errors.length - 1} more)` : ''}`, { errors: error.errors });
      throw error;
    }
  }

  /** A service whose provider selected a container profile runs that one: its own cannot be edited meanwhile. */
  private async assertNotSelected(serviceId: string): Promise<void> {
    const { source, name } = await this.profileOf(serviceId);
    if (source === 'container') throw Problems.conflict(`the provider selected the container profile "${name}" for this service: its pipelines are that profile's (clear the service's profile property to edit its own)`);
  }

  async saveProfile(serviceId: string, input: unknown) {
    const definition = this.validate(input);
    await this.assertNotSelected(serviceId);
    await this.dataSource.getRepository(ServiceProfile).save(this.dataSource.getRepository(ServiceProfile).create({ serviceId, definition }));
    await this.scheduler.sync(serviceId, definition);
    return this.profileOf(serviceId);
  }

  async resetProfile(serviceId: string) {
    await this.assertNotSelected(serviceId);
    await this.dataSource.getRepository(ServiceProfile).delete({ serviceId });
    await this.scheduler.sync(serviceId, undefined);
    return this.profileOf(serviceId);
  }

  /** Brings the periodic schedule of services in line with the profile they now run. */
  async resyncSchedules(serviceIds: string[]): Promise<void> {
    for (const serviceId of serviceIds) await this.scheduler.sync(serviceId, (await this.profileOf(serviceId)).definition);
  }

  async containerProfiles(containerId: string) {
    const rows = await this.dataSource.getRepository(ContainerProfile).find({ where: { containerId }, order: { name: 'ASC' } });
    const used: Array<{ profile: string; n: string }> = await this.dataSource.query('SELECT profile, COUNT(*) AS n FROM service WHERE container_id = $1 AND profile IS NOT NULL GROUP BY profile', [containerId]);
    const counts = new Map(used.map((row) => [row.profile, Number(row.n)]));
    return { items: rows.map((row) => ({ name: row.name, definition: row.definition, updatedAt: row.updatedAt, selectedBy: counts.get(row.name) ?? 0 })) };
  }

  /** Creates or replaces a container profile; the services running it pick the change up at once. */
  async saveContainerProfile(containerId: string, name: string, input: unknown) {
    const definition = this.validate(input);
    await this.dataSource.getRepository(ContainerProfile).save(this.dataSource.getRepository(ContainerProfile).create({ containerId, name, definition }));
    const selecting: Array<{ id: string }> = await this.dataSource.query('SELECT id FROM service WHERE container_id = $1 AND profile = $2', [containerId, name]);
    await this.resyncSchedules(selecting.map((row) => row.id));
    const saved = await this.dataSource.getRepository(ContainerProfile).findOneByOrFail({ containerId, name });
    return { name, definition: saved.definition, updatedAt: saved.updatedAt, selectedBy: selecting.length };
  }

  async deleteContainerProfile(containerId: string, name: string): Promise<void> {
    await this.dataSource.transaction(async (manager) => {
      const row = await manager.findOne(ContainerProfile, { where: { containerId, name }, lock: { mode: 'pessimistic_write' } });
      if (!row) throw Problems.notFound('container profile', name);
      const selecting: Array<{ id: string }> = await manager.query('SELECT id FROM service WHERE container_id = $1 AND profile = $2', [containerId, name]);
      if (selecting.length) throw Problems.conflict(`${selecting.length} service(s) run the profile "${name}": select another profile for them first`, { services: selecting.map((one) => one.id) });
      await manager.delete(ContainerProfile, { containerId, name });
    });
  }

  /**
   * Creates the jobs of `trigger`'s pipeline for one Mfile, inside the caller's transaction: one per step, with
   * the step's condition kept for when it becomes runnable, routed by request > service priority > task default.
   * Steps without prerequisites go to the outbox, to be dispatched after commit. Returns the jobs made.
   */
  async instantiate(manager: EntityManager, trigger: Trigger, mfile: PipelineInput, outbox: JobOutbox): Promise<Job[]> {
    // the profile and the priority flag in one read (this runs inside every upload)
    const [row]: Array<{ priority: boolean; selected: ProfileDefinition | null; own: ProfileDefinition | null }> = await manager.query(
      `${EFFECTIVE_PROFILE} WHERE s.id = $1`,
      [mfile.serviceId],
    );
    if (!row) throw Problems.notFound('service', mfile.serviceId);
    const pipeline = (row.selected ?? row.own ?? defaultProfile())[trigger];
    if (!pipeline || pipeline.steps.length === 0) return [];
    const service = { priority: row.priority };
    const runId = uuidv7();
    const ids = new Map(pipeline.steps.map((step) => [step.name, uuidv7()]));
    const jobs = pipeline.steps.map((step) =>
      manager.create(Job, {
        id: ids.get(step.name)!,
        containerId: mfile.containerId,
        serviceId: mfile.serviceId,
        task: step.task,
        options: step.options as Job['options'],
        queue: routeQueue({ requested: step.queue, servicePriority: service.priority, taskDefault: TASKS[step.task].defaultQueue }),
        state: step.after.length ? JobState.Waiting : JobState.Queued,
        trigger,
        runId,
        step: step.name,
        condition: step.when ?? null,
      }),
    );
    // the jobs, their input and their edges in one statement
    const values: unknown[] = [];
    const param = (value: unknown) => `$${values.push(value)}`;
    const jobRows = jobs.map((job) => `(${[job.id, job.containerId, job.serviceId, job.task, JSON.stringify(job.options), job.queue, job.state, job.trigger, job.runId, job.step, job.condition ? JSON.stringify(job.condition) : null].map(param).join(', ')})`);
    const inputRows = jobs.map((job) => `(${param(job.id)}::uuid, ${param(mfile.id)}::uuid)`);
    const edges = pipeline.steps.flatMap((step) => step.after.map((prerequisite) => `(${param(ids.get(step.name))}::uuid, ${param(ids.get(prerequisite))}::uuid)`));
    await manager.query(
      `WITH made AS (
         INSERT INTO job (id, container_id, service_id, task, options, queue, state, trigger, run_id, step, condition) VALUES ${jobRows.join(', ')} RETURNING id),
       inputs AS (INSERT INTO job_input (job_id, mfile_id) SELECT v.job_id, v.mfile_id FROM (VALUES ${inputRows.join(', ')}) AS v(job_id, mfile_id) JOIN made ON made.id = v.job_id)
       ${edges.length ? `, edges AS (INSERT INTO job_dependency (job_id, prerequisite_id) SELECT v.job_id, v.prerequisite_id FROM (VALUES ${edges.join(', ')}) AS v(job_id, prerequisite_id) WHERE (SELECT count(*) FROM made) > 0)` : ''}
       SELECT count(*)::int AS n FROM made`,
      values,
    );
    await this.usage.record(manager, ...jobs.map((job) => ({ metric: 'jobs' as const, value: 1, containerId: job.containerId, serviceId: job.serviceId, resourceType: 'job' as const, resourceId: job.id, idempotencyKey: `${job.id}:jobs` })));
    outbox.add(...jobs.filter((job) => job.state === JobState.Queued));
    return jobs;
  }

  /**
   * What a job reaching a final state means for the jobs after it, inside the transaction that recorded that state.
   * Succeeded or skipped: each waiting dependent whose prerequisites are now all succeeded or skipped is queued
   * (the dependent row is locked first and its prerequisites read after, so two prerequisites finishing at once
   * cannot both miss each other). Failed or cancelled: every waiting job downstream fails (or is cancelled) too,
   * naming the step that did.
   */
  async settleDependents(manager: EntityManager, job: Pick<Job, 'id' | 'task' | 'step'>, state: JobState, outbox: JobOutbox): Promise<void> {
    if (state === JobState.Succeeded || state === JobState.Skipped) {
      const dependents: Array<{ id: string; queue: string; serviceId: string }> = await manager.query(
        `SELECT j.id, j.queue, j.service_id AS "serviceId" FROM job_dependency d JOIN job j ON j.id = d.job_id
          WHERE d.prerequisite_id = $1 AND j.state = 'waiting' ORDER BY j.id FOR UPDATE OF j`,
        [job.id],
      );
      for (const dependent of dependents) {
        const [{ open }] = await manager.query(
          `SELECT count(*)::int AS open FROM job_dependency d JOIN job p ON p.id = d.prerequisite_id
            WHERE d.job_id = $1 AND p.state NOT IN ('succeeded', 'skipped')`,
          [dependent.id],
        );
        if (open > 0) continue;
        await manager.query("UPDATE job SET state = 'queued', updated_at = now() WHERE id = $1 AND state = 'waiting'", [dependent.id]);
        outbox.add(dependent);
      }
      return;
    }
    if (state !== JobState.Failed && state !== JobState.Cancelled) return;
    const verb = state === JobState.Failed ? 'failed' : 'was cancelled';
    const ended = returnedRows<{ id: string; serviceId: string; error: string }>(await manager.query(
      `WITH RECURSIVE downstream(id) AS (
         SELECT job_id FROM job_dependency WHERE prerequisite_id = $1
         UNION SELECT d.job_id FROM job_dependency d JOIN downstream ON d.prerequisite_id = downstream.id)
       UPDATE job SET state = $2::varchar, error = $3, finished_at = now(), updated_at = now()
        WHERE id IN (SELECT id FROM downstream) AND state = 'waiting' RETURNING id, service_id AS "serviceId", error`,
      [job.id, state, `dependency ${job.step ?? job.task} (${job.id}) ${verb}`],
    ));
    outbox.announce(...ended.map((row) => ({ jobId: row.id, serviceId: row.serviceId, state, error: row.error })));
  }

  /** Puts the outbox's jobs on their queues and announces its changes (after the transaction has committed). */
  async dispatch(outbox: JobOutbox): Promise<void> {
    this.events.publish(...outbox.events, ...outbox.items.map((job) => ({ jobId: job.id, serviceId: job.serviceId, state: JobState.Queued })));
    for (const event of outbox.events) {
      await this.webhooks.notify(event).catch((error) => this.logger.warn(`could not notify the webhooks of job ${event.jobId}: ${String(error)}`));
    }
    const byQueue = new Map<string, string[]>();
    for (const job of outbox.items) byQueue.set(job.queue, [...(byQueue.get(job.queue) ?? []), job.id]);
    for (const [queue, ids] of byQueue) {
      try {
        await this.queues.dispatchMany(queue, ids.map((jobId) => ({ jobId })));
      } catch (error) {
        // PostgreSQL has the jobs as queued: the reconciler will enqueue them once Redis is back.
        this.logger.warn(`could not enqueue ${ids.length} job(s) on ${queue}: ${String(error)}`);
      }
    }
  }

  /**
   * A trigger outside an upload's transaction (access): starts the pipeline if the profile has one. Never throws:
   * the request that caused it has been answered already.
   */
  async trigger(trigger: Trigger, mfile: PipelineInput): Promise<void> {
    try {
      const { definition } = await this.profileOf(mfile.serviceId);
      if (!definition[trigger]?.steps.length) return;
      await this.withOutbox((manager, outbox) => this.instantiate(manager, trigger, mfile, outbox));
    } catch (error) {
      this.logger.warn(`could not start the ${trigger} pipeline of ${mfile.id}: ${String(error)}`);
    }
  }

  /** One tick of a periodic pipeline: its jobs for every Mfile of the service, 200 Mfiles per transaction. */
  async runPeriodic(serviceId: string): Promise<number> {
    if (!(await this.dataSource.getRepository(Service).existsBy({ id: serviceId }))) {
      await this.scheduler.remove(serviceId); // the service went with its container: its schedule goes too
      return 0;
    }
    const { definition } = await this.profileOf(serviceId);
    if (!definition.periodic?.steps.length) return 0;
    let after = '00000000-0000-0000-0000-000000000000';
    let count = 0;
    for (;;) {
      const batch = await this.dataSource.getRepository(Mfile).createQueryBuilder('m')
        .select(['m.id', 'm.containerId', 'm.serviceId'])
        .where('m.service_id = :serviceId AND m.id > :after', { serviceId, after })
        .orderBy('m.id').limit(200).getMany();
      if (batch.length === 0) return count;
      await this.withOutbox(async (manager, outbox) => {
        for (const mfile of batch) await this.instantiate(manager, 'periodic', mfile, outbox);
      });
      count += batch.length;
      after = batch[batch.length - 1].id;
    }
  }

  /** Runs `work` in a transaction with an outbox, then dispatches what it made runnable. */
  async withOutbox<T>(work: (manager: EntityManager, outbox: JobOutbox) => Promise<T>): Promise<T> {
    const outbox = new JobOutbox();
    const result = await this.dataSource.transaction((manager) => work(manager, outbox));
    await this.dispatch(outbox);
    return result;
  }
}

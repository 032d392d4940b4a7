import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { queryPrepared } from '../database/prepared';
import { DataSource, EntityManager } from 'typeorm';
import { returnedRows } from '../common/database-errors';
import { Mfile } from '../mfiles/mfile.entity';
import { Job, JobInput, JobState } from './job.entity';

/** A job as the worker claimed it, with the Mfiles it reads. */
export type ClaimedJob = Pick<
  Job,
  'id' | 'task' | 'options' | 'queue' | 'serviceId' | 'containerId' | 'step' | 'condition' | 'requestedByKeyId' | 'withoutInput'
> & {
  /** Whether other jobs wait for this one (when none do, recording the outcome is a single statement). */
  hasDependents: boolean;
  /** The inputs as read in the claim (json: sizes may be strings, dates are strings). */
  inputs: Array<Omit<Mfile, 'size'> & { size: string | number }>;
};

/** A job that became runnable: what dispatching it needs (its run's steps runnable together go in one message). */
export interface RunnableJob {
  id: string;
  queue: string;
  serviceId: string;
  runId: string | null;
}

/** How one claimed job ended, to record. */
export interface JobOutcomeRow {
  id: string;
  state: JobState;
  result: unknown;
  error: string | null;
}

/** A job ended with another (its dependency failed or was cancelled). */
export interface EndedJob {
  id: string;
  serviceId: string;
  error: string;
}

/** The filters of a page of jobs. */
export interface JobPageQuery {
  serviceId?: string;
  mfileId?: string;
  state?: JobState;
  task?: string;
  trigger?: string;
  runId?: string;
  newest: boolean;
  /** The id of the last job of the previous page. */
  after?: string;
  limit: number;
}

/** Records an outcome ($1 id, $2 state, $3 result, $4 error), only if the job is still running (not cancelled meanwhile). */
const RECORD_OUTCOME = `UPDATE job SET state = $2::varchar, result = $3, error = $4, progress = CASE WHEN $2::varchar = '${JobState.Failed}' THEN progress ELSE 100 END,
         finished_at = now(), updated_at = now() WHERE id = $1 AND state = '${JobState.Running}'`;

/**
 * The only place SQL on `job`, `job_input` and `job_dependency` is written (docs/architecture.md: services hold rules, repositories hold queries).
 * Every method takes the EntityManager of the caller's transaction when it must take part in one. The job state
 * machine (waiting → queued → running → succeeded | failed | skipped | cancelled) is written here, and only here.
 */
@Injectable()
export class JobRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  private db(manager?: EntityManager): EntityManager {
    return manager ?? this.dataSource.manager;
  }

  // --- creating

  /**
   * The jobs of one pipeline run on one Mfile (none for a run without input), their input and their `after` edges, in
   * one statement (this runs inside every upload). Jobs made `succeeded` (facts recorded at commit) are written
   * finished, with their result.
   */
  async createRun(jobs: Job[], mfileId: string | null, edges: Array<{ jobId: string; prerequisiteId: string }>, manager?: EntityManager): Promise<void> {
    const statement = this.createRunStatement(jobs, mfileId, edges, 1, 'TRUE');
    if (statement) await this.db(manager).query(`WITH ${statement.sql} SELECT 1`, statement.params);
  }

  /**
   * The INSERTs of `createRun` as data-modifying CTE items (`name AS (...)`, comma-separated, to follow a WITH), to run
   * inside another statement (the upload commit writes its Mfile, key, usage and jobs in one): placeholders from
   * `$firstParam`, written only where `onlyIf` holds (a condition on the enclosing statement). Undefined without jobs.
   */
  createRunStatement(
    jobs: Job[],
    mfileId: string | null,
    edges: Array<{ jobId: string; prerequisiteId: string }>,
    firstParam: number,
    onlyIf: string,
  ): { sql: string; params: unknown[] } | undefined {
    if (jobs.length === 0) return undefined;
    const params: unknown[] = [];
    const param = (value: unknown, type: string) => `$${firstParam + params.push(value) - 1}::${type}`;
    const jobRows = jobs.map((job) => {
      const finished = job.state === JobState.Succeeded;
      return `(${[
        param(job.id, 'uuid'),
        param(job.containerId, 'uuid'),
        param(job.serviceId, 'uuid'),
        param(job.task, 'varchar'),
        param(JSON.stringify(job.options), 'jsonb'),
        param(job.queue, 'varchar'),
        param(job.state, 'varchar'),
        param(job.trigger, 'varchar'),
        param(job.runId, 'uuid'),
        param(job.step, 'varchar'),
        param(job.condition ? JSON.stringify(job.condition) : null, 'jsonb'),
        param(job.result ? JSON.stringify(job.result) : null, 'jsonb'),
        param(job.withoutInput === true, 'boolean'),
        finished ? '100::real' : '0::real',
        finished ? 'now()' : 'NULL::timestamptz',
      ].join(', ')})`;
    });
    const mfile = mfileId === null ? undefined : param(mfileId, 'uuid');
    const edgeRows = edges.map((edge) => `(${param(edge.jobId, 'uuid')}, ${param(edge.prerequisiteId, 'uuid')})`);
    const sql = `run_jobs AS (
         INSERT INTO job (id, container_id, service_id, task, options, queue, state, trigger, run_id, step, condition, result, without_input, progress, finished_at)
         SELECT * FROM (VALUES ${jobRows.join(', ')}) AS v WHERE ${onlyIf} RETURNING id)
       ${mfile ? `, run_inputs AS (INSERT INTO job_input (job_id, mfile_id) SELECT id, ${mfile} FROM run_jobs)` : ''}
       ${edgeRows.length ? `, run_edges AS (INSERT INTO job_dependency (job_id, prerequisite_id) SELECT v.job_id, v.prerequisite_id FROM (VALUES ${edgeRows.join(', ')}) AS v(job_id, prerequisite_id) WHERE ${onlyIf})` : ''}`;
    return { sql, params };
  }

  /** A manual job on its inputs. */
  async createManual(job: Job, mfileIds: string[], manager?: EntityManager): Promise<void> {
    await this.db(manager).insert(Job, job);
    await this.db(manager).insert(
      JobInput,
      mfileIds.map((mfileId) => ({ jobId: job.id, mfileId })),
    );
  }

  /** Records the key that asked for these jobs (a manual pipeline's), in the caller's transaction. */
  async recordRequester(jobIds: string[], keyId: string, manager: EntityManager): Promise<void> {
    if (jobIds.length) await this.db(manager).query('UPDATE job SET requested_by_key_id = $2 WHERE id = ANY($1::uuid[])', [jobIds, keyId]);
  }

  // --- reading

  /** Whether a job of a service made without input by a trigger (a periodic tick's) has not ended yet. */
  async hasUnfinishedWithoutInput(serviceId: string, trigger: string, manager?: EntityManager): Promise<boolean> {
    const rows: unknown[] = await this.db(manager).query(
      `SELECT 1 FROM job WHERE service_id = $1 AND state IN ('waiting', 'queued', 'running') AND without_input AND trigger = $2 LIMIT 1`,
      [serviceId, trigger],
    );
    return rows.length > 0;
  }

  async findById(id: string, manager?: EntityManager): Promise<Job | null> {
    return this.db(manager).findOneBy(Job, { id });
  }

  /** The files each job ran on, with their names: one query for any number of jobs. */
  async inputsOf(jobIds: string[], manager?: EntityManager): Promise<Array<{ jobId: string; id: string; name: string }>> {
    if (jobIds.length === 0) return [];
    return this.db(manager).query(
      'SELECT i.job_id AS "jobId", m.id, m.name FROM job_input i JOIN mfile m ON m.id = i.mfile_id WHERE i.job_id = ANY($1::uuid[]) ORDER BY m.id',
      [jobIds],
    );
  }

  /** One more than `limit` jobs (so the caller knows whether a next page exists), in order of creation (ids are UUIDv7). */
  async page(query: JobPageQuery): Promise<Job[]> {
    const builder = this.dataSource
      .getRepository(Job)
      .createQueryBuilder('j')
      .orderBy('j.id', query.newest ? 'DESC' : 'ASC')
      .limit(query.limit + 1);
    if (query.serviceId) builder.andWhere('j.service_id = :serviceId', { serviceId: query.serviceId });
    if (query.mfileId) builder.andWhere('j.id IN (SELECT job_id FROM job_input WHERE mfile_id = :mfileId)', { mfileId: query.mfileId });
    if (query.state) builder.andWhere('j.state = :state', { state: query.state });
    if (query.task) builder.andWhere('j.task = :task', { task: query.task });
    if (query.trigger) builder.andWhere('j.trigger = :trigger', { trigger: query.trigger });
    if (query.runId) builder.andWhere('j.run_id = :runId', { runId: query.runId });
    if (query.after) builder.andWhere(query.newest ? 'j.id < :after' : 'j.id > :after', { after: query.after });
    return builder.getMany();
  }

  /** The job as a webhook delivery describes it (with its inputs' ids), or undefined when it was deleted. */
  async forDelivery(id: string): Promise<Record<string, unknown> | undefined> {
    const [job] = await this.dataSource.query(
      `SELECT j.id, j.task, j.step, j.trigger, j.state, j.error, j.result, j.queue, j.attempts, j.finished_at AS "finishedAt", j.without_input AS "withoutInput",
              COALESCE((SELECT json_agg(mfile_id ORDER BY mfile_id) FROM job_input WHERE job_id = j.id), '[]') AS "mfileIds"
         FROM job j WHERE j.id = $1`,
      [id],
    );
    return job;
  }

  /**
   * Jobs PostgreSQL has as queued or running, last changed more than `settleMs` ago, after `after` in id order: what
   * the reconciler checks against Redis, a batch at a time.
   */
  async unsettled(after: string, settleMs: number, limit: number): Promise<Array<{ id: string; queue: string; runId: string | null }>> {
    return this.dataSource.query(
      `SELECT id, queue, run_id AS "runId" FROM job WHERE state IN ($3, $4) AND updated_at < now() - ($2 || ' milliseconds')::interval AND id > $1
        ORDER BY id LIMIT ${Number(limit)}`,
      [after, String(settleMs), JobState.Queued, JobState.Running],
    );
  }

  /**
   * Whether any job has been queued, unchanged, for longer than `olderThanMs` (the reconciler's cheap look: one
   * index-only scan of idx_job_queued). Running jobs are not looked at: a long transcode is no sign of trouble, and a
   * dead worker's message is taken back by Bull's stalled-job check.
   */
  async anyQueuedFor(olderThanMs: number): Promise<boolean> {
    const [{ found }] = await this.dataSource.query(
      // (the state written out: a partial index is chosen only for a predicate known when the statement is planned)
      `SELECT EXISTS (SELECT 1 FROM job WHERE state = '${JobState.Queued}' AND updated_at < now() - ($1 || ' milliseconds')::interval) AS found`,
      [String(olderThanMs)],
    );
    return found;
  }

  /** The job, its row locked for the rest of the transaction (to cancel or delete it). */
  async lock(id: string, manager?: EntityManager): Promise<Job | null> {
    return this.db(manager).findOne(Job, { where: { id }, lock: { mode: 'pessimistic_write' } });
  }

  // --- the state machine

  /**
   * A worker takes the job: running, one more attempt, its host; with the inputs and whether anything waits for it,
   * in one statement (a job is small; its bookkeeping must be too). Nothing when the job is gone, waiting,
   * cancelled or finished (a redelivered message is harmless).
   */
  async claim(jobId: string, workerHost: string): Promise<ClaimedJob | undefined> {
    return (await this.claimMany([jobId], workerHost))[0];
  }

  /**
   * The same for several jobs (the steps of one pipeline run that one message carries), in one statement: the ones
   * still queued or running (a redelivered message re-runs only its unfinished steps), in id order (creation order).
   */
  async claimMany(jobIds: string[], workerHost: string): Promise<ClaimedJob[]> {
    return queryPrepared(
      this.dataSource.manager,
      `WITH claimed AS (
         UPDATE job SET state = '${JobState.Running}', started_at = now(), attempts = attempts + 1, worker_host = $2, updated_at = now()
          WHERE id = ANY($1::uuid[]) AND state IN ('${JobState.Queued}', '${JobState.Running}')
          RETURNING id, task, options, queue, step, condition, service_id, container_id, requested_by_key_id, without_input)
       SELECT c.id, c.task, c.options, c.queue, c.step, c.condition, c.service_id AS "serviceId", c.container_id AS "containerId",
              c.requested_by_key_id AS "requestedByKeyId", c.without_input AS "withoutInput",
              COALESCE((SELECT json_agg(json_build_object(
                  'id', m.id, 'containerId', m.container_id, 'serviceId', m.service_id, 'folderId', m.folder_id, 'name', m.name,
                  'size', m.size, 'md5', m.md5, 'sha256', m.sha256, 'mimetype', m.mimetype, 'blobKey', m.blob_key, 'metadata', m.metadata,
                  'createdAt', m.created_at, 'updatedAt', m.updated_at, 'contentUpdatedAt', m.content_updated_at) ORDER BY m.id)
                FROM job_input i JOIN mfile m ON m.id = i.mfile_id WHERE i.job_id = c.id), '[]'::json) AS inputs,
              EXISTS (SELECT 1 FROM job_dependency d WHERE d.prerequisite_id = c.id) AS "hasDependents"
         FROM claimed c ORDER BY c.id`,
      [jobIds, workerHost],
    );
  }

  /** A running job's progress (0..100). */
  /** False when the job is not running any more (cancelled meanwhile): its worker should stop it. */
  async reportProgress(jobId: string, percent: number): Promise<boolean> {
    const rows = returnedRows(
      await this.dataSource.query(`UPDATE job SET progress = $2 WHERE id = $1 AND state = '${JobState.Running}' RETURNING id`, [jobId, percent]),
    );
    return rows.length > 0;
  }

  /** An attempt failed and will be retried: the running job is queued again, saying why. */
  async retry(jobId: string, error: string): Promise<void> {
    await this.dataSource.query(`UPDATE job SET state = '${JobState.Queued}', error = $2, updated_at = now() WHERE id = $1 AND state = '${JobState.Running}'`, [
      jobId,
      error,
    ]);
  }

  /**
   * Records a running job's final state, result and error. False when it is not running any more (cancelled
   * meanwhile: its result is dropped).
   */
  async recordOutcome(id: string, outcome: { state: JobState; result: unknown; error: string | null }, manager?: EntityManager): Promise<boolean> {
    const rows = returnedRows(await queryPrepared(this.db(manager), `${RECORD_OUTCOME} RETURNING id`, [id, outcome.state, outcome.result, outcome.error]));
    return rows.length > 0;
  }

  /**
   * The same in one statement (its own transaction) with what `also` writes once the outcome was recorded: `also`
   * gets the placeholder of its first parameter and a condition that holds only if the outcome was recorded, and
   * gives back data-modifying CTE items (`name AS (...)`, comma-separated: a usage insert, the input's findings) and
   * their parameters. The common case of the worker: the state and what it changed, together or not at all. With
   * `guard` (a SELECT, `QuotaService.noQuotaGuard`), nothing is written unless it returns a row (`guarded` false).
   */
  async recordOutcomeWith(
    id: string,
    outcome: { state: JobState; result: unknown; error: string | null },
    also: (firstParam: number, recorded: string) => { sql: string; params: unknown[] } | undefined,
    guard?: (firstParam: number) => { sql: string; params: unknown[] },
  ): Promise<{ recorded: boolean; guarded: boolean }> {
    const guarding = guard?.(5);
    const extra = also(5 + (guarding?.params.length ?? 0), 'EXISTS (SELECT 1 FROM finished)');
    const [row] = await queryPrepared<Array<{ recorded: boolean; guarded: boolean }>>(
      this.dataSource.manager,
      `WITH guard AS (${guarding ? guarding.sql : 'SELECT 1'}),
       finished AS (${RECORD_OUTCOME} AND EXISTS (SELECT 1 FROM guard) RETURNING id)
       ${extra ? `, ${extra.sql}` : ''}
       SELECT EXISTS (SELECT 1 FROM finished) AS recorded, EXISTS (SELECT 1 FROM guard) AS guarded`,
      [id, outcome.state, outcome.result, outcome.error, ...(guarding?.params ?? []), ...(extra?.params ?? [])],
    );
    return row;
  }

  /**
   * Records the outcomes of several running jobs in one statement (the steps of one batch). Returns the ids
   * recorded: a job not running any more (cancelled meanwhile) is left as it is, its result dropped.
   */
  async recordOutcomes(outcomes: JobOutcomeRow[], manager?: EntityManager): Promise<Set<string>> {
    if (outcomes.length === 0) return new Set();
    const rows = returnedRows<{ id: string }>(
      await queryPrepared(
        this.db(manager),
        `UPDATE job j SET state = v.state, result = v.result, error = v.error,
                progress = CASE WHEN v.state = '${JobState.Failed}' THEN j.progress ELSE 100 END, finished_at = now(), updated_at = now()
           FROM unnest($1::uuid[], $2::varchar[], $3::jsonb[], $4::text[]) AS v(id, state, result, error)
          WHERE j.id = v.id AND j.state = '${JobState.Running}' RETURNING j.id`,
        [
          outcomes.map((row) => row.id),
          outcomes.map((row) => row.state),
          outcomes.map((row) => (row.result === null || row.result === undefined ? null : JSON.stringify(row.result))),
          outcomes.map((row) => row.error),
        ],
      ),
    );
    return new Set(rows.map((row) => row.id));
  }

  /** Bull gave up on a queued or running job: it fails. The job, or nothing when it had ended already. */
  async giveUp(jobId: string, error: string, manager?: EntityManager): Promise<Pick<Job, 'id' | 'task' | 'step' | 'serviceId'> | undefined> {
    return (await this.giveUpMany([jobId], error, manager))[0];
  }

  /** The same for the jobs of one message (a batch): those still queued or running fail. */
  async giveUpMany(jobIds: string[], error: string, manager?: EntityManager): Promise<Array<Pick<Job, 'id' | 'task' | 'step' | 'serviceId'>>> {
    return returnedRows<Pick<Job, 'id' | 'task' | 'step' | 'serviceId'>>(
      await this.db(manager).query(
        `UPDATE job SET state = '${JobState.Failed}', error = $2, finished_at = now(), updated_at = now()
        WHERE id = ANY($1::uuid[]) AND state IN ('${JobState.Queued}', '${JobState.Running}') RETURNING id, task, step, service_id AS "serviceId"`,
        [jobIds, error],
      ),
    );
  }

  /** A job that has not finished is cancelled (the caller holds its row lock). */
  async cancel(id: string, error: string, manager?: EntityManager): Promise<void> {
    await this.db(manager).update(Job, { id }, { state: JobState.Cancelled, finishedAt: new Date(), error });
  }

  /**
   * A prerequisite succeeded or was skipped: each waiting dependent whose prerequisites are now all succeeded or
   * skipped is queued (the dependent row is locked first and its prerequisites read after, so two prerequisites
   * finishing at once cannot both miss each other). Returns the jobs queued.
   */
  async releaseDependents(prerequisiteId: string, manager?: EntityManager): Promise<RunnableJob[]> {
    return this.releaseDependentsOf([prerequisiteId], manager);
  }

  /**
   * The same for several prerequisites at once (the steps of one batch), in two statements: the waiting dependents
   * locked, then those whose prerequisites are all succeeded or skipped queued (its snapshot taken after the locks).
   */
  async releaseDependentsOf(prerequisiteIds: string[], manager?: EntityManager): Promise<RunnableJob[]> {
    if (prerequisiteIds.length === 0) return [];
    const waiting: Array<{ id: string }> = await this.db(manager).query(
      `SELECT j.id FROM job j WHERE j.id IN (SELECT d.job_id FROM job_dependency d WHERE d.prerequisite_id = ANY($1::uuid[]))
          AND j.state = '${JobState.Waiting}' ORDER BY j.id FOR UPDATE OF j`,
      [prerequisiteIds],
    );
    if (waiting.length === 0) return [];
    return returnedRows<RunnableJob>(
      await this.db(manager).query(
        `UPDATE job j SET state = '${JobState.Queued}', updated_at = now()
          WHERE j.id = ANY($1::uuid[]) AND j.state = '${JobState.Waiting}'
            AND NOT EXISTS (SELECT 1 FROM job_dependency d JOIN job p ON p.id = d.prerequisite_id
                             WHERE d.job_id = j.id AND p.state NOT IN ('${JobState.Succeeded}', '${JobState.Skipped}'))
          RETURNING j.id, j.queue, j.service_id AS "serviceId", j.run_id AS "runId"`,
        [waiting.map((row) => row.id)],
      ),
    ).sort((a, b) => (a.id < b.id ? -1 : 1));
  }

  /** A prerequisite failed or was cancelled: every waiting job downstream ends in `state` with `error`. Returns them. */
  async endDownstream(prerequisiteId: string, state: JobState.Failed | JobState.Cancelled, error: string, manager?: EntityManager): Promise<EndedJob[]> {
    return returnedRows<EndedJob>(
      await this.db(manager).query(
        `WITH RECURSIVE downstream(id) AS (
         SELECT job_id FROM job_dependency WHERE prerequisite_id = $1
         UNION SELECT d.job_id FROM job_dependency d JOIN downstream ON d.prerequisite_id = downstream.id)
       UPDATE job SET state = $2::varchar, error = $3, finished_at = now(), updated_at = now()
        WHERE id IN (SELECT id FROM downstream) AND state = '${JobState.Waiting}' RETURNING id, service_id AS "serviceId", error`,
        [prerequisiteId, state, error],
      ),
    );
  }

  // --- deleting

  /** Deletes a job row (its inputs and edges go with it by cascade). */
  async delete(id: string, manager?: EntityManager): Promise<void> {
    await this.db(manager).delete(Job, { id });
  }

  // --- used by deletes (content: subtree deletion)

  /**
   * The backup copies (by sha256) that a service's or container's backup jobs created: what the backup task
   * recorded as its result, `{ sha256, created }`.
   */
  async backupCopiesUnder(scope: { serviceId: string } | { containerId: string }, manager?: EntityManager): Promise<string[]> {
    const [column, id] = 'serviceId' in scope ? ['service_id', scope.serviceId] : ['container_id', scope.containerId];
    const rows: { sha256: string }[] = await this.db(manager).query(
      `SELECT DISTINCT result->>'sha256' AS sha256 FROM job WHERE ${column} = $1 AND task = 'backup' AND state = $2 AND (result->>'created')::boolean`,
      [id, JobState.Succeeded],
    );
    return rows.map((row) => row.sha256).filter((sha256) => /^[0-9a-f]{64}$/.test(sha256));
  }

  // --- used by key resolution
  /**
   * Where a job sits: its service and container, and each input Mfile with its folder (one row per input, one row
   * with null Mfile when it has none). Empty when there is no such job.
   */
  async placeOf(
    id: string,
    manager?: EntityManager,
  ): Promise<Array<{ jobId: string; serviceId: string; containerId: string; mfileId: string | null; folderId: string | null }>> {
    return this.db(manager).query(
      `SELECT j.id AS "jobId", j.service_id AS "serviceId", j.container_id AS "containerId", m.id AS "mfileId", m.folder_id AS "folderId"
         FROM job j LEFT JOIN job_input i ON i.job_id = j.id LEFT JOIN mfile m ON m.id = i.mfile_id WHERE j.id = $1`,
      [id],
    );
  }
}

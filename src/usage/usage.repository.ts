import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { queryPrepared } from '../database/prepared';
import { DataSource, EntityManager } from 'typeorm';
import { Grain } from './usage-report';
import { Usage } from './usage.entity';

/** Stands for "no service" in rollup keys (container-level facts), so the key needs no NULLs. */
export const NIL_UUID = '00000000-0000-0000-0000-000000000000';

/** Whose usage: the whole provider, a container, a service, or named Mfiles/Jobs/JobOutputs (read from raw facts). */
export type UsageScope = { type: 'provider' } | { type: 'container'; id: string } | { type: 'service'; id: string } | { type: 'resources'; ids: string[] };

export type GroupBy = 'container' | 'service';

/** One usage row as written: `recordedAt` omitted means the database's `now()` (the column default). */
export interface UsageRow {
  metric: string;
  value: number;
  containerId: string | null;
  serviceId: string | null;
  resourceType?: string | null;
  resourceId?: string | null;
  /** Same key twice records once (ON CONFLICT DO NOTHING on the unique index). */
  idempotencyKey?: string | null;
  recordedAt?: Date | null;
}

/** One (group, metric, bucket) cell of a report, aggregated from rollups and facts. */
export interface BucketCell {
  grp: string | null;
  metric: string;
  bucket: Date;
  sum: number;
  count: string | number;
  min: number;
  max: number;
  sumSq: number;
  sumRest: number;
}

/** What a report reads: its metrics, range, grain and grouping, and whether from rollups (plus unrolled facts) or facts alone. */
export interface CellQuery {
  metrics?: string[];
  from: Date;
  to: Date;
  grain: Grain;
  groupBy?: GroupBy;
  fromRollups: boolean;
}

/** The row `limitsOf` reads. */
interface LimitsDbRow {
  container_id: string;
  suspended: boolean;
  container_suspended: boolean;
  starts_at: Date | null;
  ends_at: Date | null;
  s_disc: number | null;
  s_ingest: number | null;
  s_jobruntime: number | null;
  c_disc: number | null;
  c_ingest: number | null;
  c_jobruntime: number | null;
}

/** A service's and its container's limits and state, as the quota check reads them. */
export interface LimitsRow {
  containerId: string;
  suspended: boolean;
  containerSuspended: boolean;
  startsAt: Date | null;
  endsAt: Date | null;
  service: { disc: number | null; ingest: number | null; jobruntime: number | null };
  container: { disc: number | null; ingest: number | null; jobruntime: number | null };
}

/** SQL for the UTC start (or end) of the grain's bucket holding `column`. */
const bucketOf = (grain: Grain, column: string, plus = false) =>
  `((date_trunc('${grain}', ${column} AT TIME ZONE 'UTC')${plus ? ` + interval '1 ${grain}'` : ''}) AT TIME ZONE 'UTC')`;

/** The column a report groups by, in rollup rows (nil UUID for "none") or in facts (NULL). */
const groupColumn = (groupBy: GroupBy | undefined, rollup: boolean) =>
  groupBy ? (rollup ? `NULLIF(${groupBy}_id, '${NIL_UUID}')::text` : `${groupBy}_id::text`) : 'NULL::text';

/** Hours from a fact to the end of its bucket. */
const restOf = (grain: Grain) => `(extract(epoch FROM ${bucketOf(grain, 'recorded_at', true)} - recorded_at) / 3600.0)`;

/**
 * Every fact once, all time: the month rollups plus the facts not rolled up yet, as (container_id, service_id —
 * the nil UUID for none —, metric, value, at). `where` may name container_id, service_id and metric.
 */
const allTimeFacts = (where: string) => `
  SELECT container_id, service_id, metric, sum AS value, bucket AS at FROM usage_rollup WHERE grain = 'month' AND ${where}
  UNION ALL
  SELECT COALESCE(container_id, '${NIL_UUID}'), COALESCE(service_id, '${NIL_UUID}'), metric, value, recorded_at FROM usage WHERE NOT rolled_up AND ${where}`;

/**
 * The only place SQL on `usage` and `usage_rollup` (the only writer of usage) is written (docs/architecture.md: services hold rules, repositories hold queries).
 * Every method takes the EntityManager of the caller's transaction when it must take part in one.
 */
@Injectable()
export class UsageRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  private db(manager?: EntityManager): EntityManager {
    return manager ?? this.dataSource.manager;
  }

  /**
   * Records facts in one plain multi-row INSERT (this runs in every upload and every job, where the query builder's
   * cost shows). Every row is written as given (zero values too); a fact whose idempotency key is already recorded is
   * skipped (ON CONFLICT DO NOTHING); a fact without `recordedAt` is recorded at the database's `now()`.
   */
  async recordMany(facts: readonly UsageRow[], manager?: EntityManager): Promise<void> {
    await this.insert(facts, '', manager);
  }

  /** `recordMany`, answering the facts that were new (the others' idempotency keys were recorded already). */
  async recordManyAdded(facts: readonly UsageRow[], manager?: EntityManager): Promise<Array<{ metric: string; value: number; at: Date }>> {
    const rows = (await this.insert(facts, ' RETURNING metric, value, recorded_at', manager)) as Array<{
      metric: string;
      value: number | string;
      recorded_at: Date;
    }>;
    return rows.map((row) => ({ metric: row.metric, value: Number(row.value), at: new Date(row.recorded_at) }));
  }

  /**
   * The limits on applications' own metrics of a service and its container (null where none is set); the service row
   * locked (FOR NO KEY UPDATE, as a disk quota check locks it) when `lock`. Undefined when the service is gone.
   */
  async appQuotasOf(
    serviceId: string,
    lock: boolean,
    manager?: EntityManager,
  ): Promise<{ containerId: string; service: Record<string, number> | null; container: Record<string, number> | null } | undefined> {
    const [row] = await this.db(manager).query(
      `SELECT s.container_id, s.app_quotas AS s_app, c.app_quotas AS c_app FROM service s JOIN container c ON c.id = s.container_id
        WHERE s.id = $1${lock ? ' FOR NO KEY UPDATE OF s' : ''}`,
      [serviceId],
    );
    return row ? { containerId: row.container_id, service: row.s_app, container: row.c_app } : undefined;
  }

  /** How much of each of these metrics a service or container recorded in [from, to) (month rollups and new facts). */
  async monthlyUse(
    scope: { serviceId: string } | { containerId: string },
    metrics: string[],
    from: Date,
    to: Date,
    manager?: EntityManager,
  ): Promise<Map<string, number>> {
    const [column, id] = 'serviceId' in scope ? ['service_id', scope.serviceId] : ['container_id', scope.containerId];
    const rows: Array<{ metric: string; used: number }> = await this.db(manager).query(
      `SELECT metric, COALESCE(SUM(value), 0)::float8 AS used FROM (${allTimeFacts(`${column} = $1 AND metric = ANY($2::text[])`)}) facts
        WHERE at >= $3 AND at < $4 GROUP BY metric`,
      [id, metrics, from, to],
    );
    return new Map(rows.map((row) => [row.metric, row.used]));
  }

  private async insert(facts: readonly UsageRow[], returning: string, manager?: EntityManager): Promise<unknown[]> {
    if (facts.length === 0) return [];
    const db = this.db(manager);
    const columns = ['metric', 'value', 'container_id', 'service_id', 'resource_type', 'resource_id', 'idempotency_key', 'recorded_at'];
    const values: unknown[] = [];
    const tuples = facts.map((fact) => {
      const at = values.length;
      values.push(fact.metric, fact.value, fact.containerId, fact.serviceId, fact.resourceType ?? null, fact.resourceId ?? null, fact.idempotencyKey ?? null);
      const placeholders = columns.slice(0, -1).map((_, index) => `$${at + index + 1}`);
      if (fact.recordedAt) {
        values.push(fact.recordedAt);
        placeholders.push(`$${values.length}`);
      } else placeholders.push('DEFAULT');
      return `(${placeholders.join(', ')})`;
    });
    return db.query(
      `INSERT INTO ${db.connection.getMetadata(Usage).tableName} (${columns.join(', ')}) VALUES ${tuples.join(', ')} ON CONFLICT DO NOTHING${returning}`,
      values,
    );
  }

  /**
   * A report's cells: (group, metric, bucket) aggregates of the rollups plus the facts not rolled up yet, in one
   * statement (so one snapshot: a fact is counted in exactly one of them), or of the facts alone.
   */
  async bucketCells(scope: UsageScope, query: CellQuery, manager?: EntityManager): Promise<BucketCell[]> {
    const { grain } = query;
    const params: unknown[] = [];
    const param = (value: unknown) => `$${params.push(value)}`;
    const filters = this.filters(scope, param, query.metrics);
    const group = (rollup: boolean) => groupColumn(query.groupBy, rollup);
    const from = param(query.from);
    const to = param(query.to);
    const rawBuckets = (where: string) =>
      `SELECT ${group(false)} AS grp, metric, ${bucketOf(grain, 'recorded_at')} AS bucket, value AS sum, 1 AS count, value AS min, value AS max, value * value AS sum_sq, value * ${restOf(grain)} AS sum_rest
         FROM usage WHERE ${where} AND ${filters.raw} AND recorded_at >= ${from} AND recorded_at < ${to}`;
    const inner = !query.fromRollups
      ? rawBuckets('TRUE')
      : `SELECT ${group(true)} AS grp, metric, bucket, sum, count, min, max, sum_sq, sum_rest FROM usage_rollup
            WHERE grain = '${grain}' AND ${filters.rollup} AND bucket >= ${from} AND bucket < ${to}
           UNION ALL ${rawBuckets('NOT rolled_up')}`;
    return this.db(manager).query(
      `SELECT grp, metric, bucket, SUM(sum)::float8 AS sum, SUM(count)::bigint AS count, MIN(min)::float8 AS min, MAX(max)::float8 AS max,
              SUM(sum_sq)::float8 AS "sumSq", SUM(sum_rest)::float8 AS "sumRest"
         FROM (${inner}) facts GROUP BY grp, metric, bucket`,
      params,
    );
  }

  /**
   * Gauge levels at `from`: the sum of every change before it. From rollups: months before from's month, then its
   * days before from's day, the facts not rolled up yet before that day, and every fact of from's day before from:
   * each fact once, whatever the alignment of `from`.
   */
  async levelsBefore(
    scope: UsageScope,
    query: { gauges: string[]; from: Date; groupBy?: GroupBy; source: 'rollup' | 'raw' },
    manager?: EntityManager,
  ): Promise<Array<{ grp: string | null; metric: string; sum: number }>> {
    const params: unknown[] = [];
    const param = (value: unknown) => `$${params.push(value)}`;
    const filters = this.filters(scope, param, query.gauges);
    const group = (rollup: boolean) => groupColumn(query.groupBy, rollup);
    const from = param(query.from);
    const raw = (where: string) => `SELECT ${group(false)} AS grp, metric, value AS sum FROM usage WHERE ${where} AND ${filters.raw} AND recorded_at < ${from}`;
    const month = `(date_trunc('month', ${from}::timestamptz AT TIME ZONE 'UTC') AT TIME ZONE 'UTC')`;
    const day = `(date_trunc('day', ${from}::timestamptz AT TIME ZONE 'UTC') AT TIME ZONE 'UTC')`;
    const rollup = (grain: Grain, range: string) =>
      `SELECT ${group(true)} AS grp, metric, sum FROM usage_rollup WHERE grain = '${grain}' AND ${filters.rollup} AND ${range}`;
    const inner =
      query.source === 'raw'
        ? raw('TRUE')
        : [
            rollup('month', `bucket < ${month}`),
            rollup('day', `bucket >= ${month} AND bucket < ${day}`),
            raw(`NOT rolled_up AND recorded_at < ${day}`),
            raw(`recorded_at >= ${day}`),
          ].join(' UNION ALL ');
    return this.db(manager).query(`SELECT grp, metric, SUM(sum)::float8 AS sum FROM (${inner}) facts GROUP BY grp, metric`, params);
  }

  /** WHERE conditions for the scope and metrics, for rollup rows and for raw facts. */
  private filters(scope: UsageScope, param: (value: unknown) => string, metrics?: string[]): { rollup: string; raw: string } {
    const metric = metrics ? `metric = ANY(${param(metrics)}::varchar[])` : 'TRUE';
    switch (scope.type) {
      case 'provider':
        return { rollup: metric, raw: metric };
      case 'container': {
        const id = param(scope.id);
        return { rollup: `container_id = ${id} AND ${metric}`, raw: `container_id = ${id} AND ${metric}` };
      }
      case 'service': {
        const id = param(scope.id);
        return { rollup: `service_id = ${id} AND ${metric}`, raw: `service_id = ${id} AND ${metric}` };
      }
      case 'resources':
        return { rollup: 'FALSE', raw: `resource_id = ANY(${param(scope.ids)}::uuid[]) AND ${metric}` };
    }
  }

  /**
   * All-time totals per container, service and metric (gauges are their current level), of everything or of one
   * service or container.
   */
  async totals(
    scope?: { serviceId: string } | { containerId: string },
    metrics?: string[],
    manager?: EntityManager,
  ): Promise<Array<{ containerId: string | null; serviceId: string | null; metric: string; sum: number }>> {
    const params: unknown[] = [];
    const where = [
      ...(scope
        ? [`${'serviceId' in scope ? 'service_id' : 'container_id'} = $${params.push('serviceId' in scope ? scope.serviceId : scope.containerId)}`]
        : []),
      ...(metrics ? [`metric = ANY($${params.push(metrics)}::varchar[])`] : []),
    ].join(' AND ');
    return this.db(manager).query(
      `SELECT NULLIF(container_id::text, '${NIL_UUID}') AS "containerId", NULLIF(service_id::text, '${NIL_UUID}') AS "serviceId", metric, SUM(value)::float8 AS sum
         FROM (${allTimeFacts(where || 'TRUE')}) facts GROUP BY 1, 2, 3`,
      params,
    );
  }

  /** What an Mfile's or a job's report covers besides itself: the jobs run on an Mfile and their outputs, or a job's outputs. */
  async resourcesUnder(type: 'mfile' | 'job', id: string, manager?: EntityManager): Promise<string[]> {
    const rows: Array<{ id: string }> = await this.db(manager).query(
      type === 'mfile'
        ? `SELECT job_id AS id FROM job_input WHERE mfile_id = $1
           UNION SELECT o.id FROM job_output o JOIN job_input i ON i.job_id = o.job_id WHERE i.mfile_id = $1`
        : 'SELECT id FROM job_output WHERE job_id = $1',
      [id],
    );
    return rows.map((row) => row.id);
  }

  /**
   * One read: the service's and its container's limits and state; undefined when there is no such service. When
   * locking, the lock is as narrow as the limits allow: with no disk or ingest quota on the service or its container,
   * the service row FOR SHARE (concurrent uploads of a service do not wait for each other; setting a quota waits for
   * them, and changes after it see it); with one, FOR NO KEY UPDATE (serialises the quota checks of the service,
   * without blocking rows that merely reference it) — a second read, only for services with quotas.
   */
  async limitsOf(serviceId: string, lock: boolean, manager?: EntityManager): Promise<LimitsRow | undefined> {
    const read = (locking: string) =>
      queryPrepared<LimitsDbRow[]>(
        this.db(manager),
        `SELECT s.container_id, s.suspended, c.suspended AS container_suspended, s.starts_at, s.ends_at,
                s.disk_quota::float8 AS s_disc, s.ingest_quota::float8 AS s_ingest, s.jobruntime_quota AS s_jobruntime,
                c.disk_quota::float8 AS c_disc, c.ingest_quota::float8 AS c_ingest, c.jobruntime_quota AS c_jobruntime
           FROM service s JOIN container c ON c.id = s.container_id WHERE s.id = $1${locking}`,
        [serviceId],
      );
    let [row] = await read(
      lock ? ' AND s.disk_quota IS NULL AND s.ingest_quota IS NULL AND c.disk_quota IS NULL AND c.ingest_quota IS NULL FOR SHARE OF s' : '',
    );
    if (!row && lock) [row] = await read(' FOR NO KEY UPDATE OF s');
    if (!row) return undefined;
    return {
      containerId: row.container_id,
      suspended: row.suspended,
      containerSuspended: row.container_suspended,
      startsAt: row.starts_at,
      endsAt: row.ends_at,
      service: { disc: row.s_disc, ingest: row.s_ingest, jobruntime: row.s_jobruntime },
      container: { disc: row.c_disc, ingest: row.c_ingest, jobruntime: row.c_jobruntime },
    };
  }

  /**
   * A SELECT for another statement (an upload's commit, `MfileRepository.createWith`): a row when neither the service
   * nor its container has a disk or ingest quota, the service row then locked FOR SHARE until that statement's
   * transaction ends (as `limitsOf` locks it); no row (and no lock) otherwise. Placeholder `$firstParam`.
   */
  noQuotaGuard(serviceId: string, firstParam: number): { sql: string; params: unknown[] } {
    return {
      sql: `SELECT s.id FROM service s JOIN container c ON c.id = s.container_id
             WHERE s.id = $${firstParam}::uuid AND s.disk_quota IS NULL AND s.ingest_quota IS NULL AND c.disk_quota IS NULL AND c.ingest_quota IS NULL
             FOR SHARE OF s`,
      params: [serviceId],
    };
  }

  /** Locks the container row (FOR NO KEY UPDATE) until the caller's commit: serialises checks of the container's quotas. */
  async lockContainerForQuota(containerId: string, manager: EntityManager): Promise<void> {
    await manager.query('SELECT id FROM container WHERE id = $1 FOR NO KEY UPDATE', [containerId]);
  }

  /**
   * Bytes stored (all time), ingested and job seconds (since `monthStart`), and, with `reservations`, bytes reserved by
   * unfinished uploads: one statement over the month rollups and the facts not rolled up yet.
   */
  async use(
    scope: { serviceId: string } | { containerId: string },
    monthStart: Date,
    reservations: boolean,
    manager?: EntityManager,
  ): Promise<{ disc: number; ingest: number; jobruntime: number; reserved: number }> {
    const [column, id] = 'serviceId' in scope ? ['service_id', scope.serviceId] : ['container_id', scope.containerId];
    const [row] = await this.db(manager).query(
      `SELECT COALESCE(SUM(value) FILTER (WHERE metric = 'disc'), 0)::float8 AS disc,
              COALESCE(SUM(value) FILTER (WHERE metric = 'ingest' AND at >= $2), 0)::float8 AS ingest,
              COALESCE(SUM(value) FILTER (WHERE metric = 'jobruntime' AND at >= $2), 0)::float8 AS jobruntime,
              ${reservations ? `(SELECT COALESCE(SUM(length), 0) FROM upload_session WHERE ${column} = $1 AND completed_at IS NULL AND expires_at > now())::float8` : '0::float8'} AS reserved
         FROM (${allTimeFacts(`${column} = $1 AND metric IN ('disc', 'ingest', 'jobruntime')`)}) facts`,
      [id, monthStart],
    );
    return { disc: row.disc, ingest: row.ingest, jobruntime: row.jobruntime, reserved: row.reserved };
  }

  /** Takes the platform-wide rollup turn for the caller's transaction; false when another process holds it. */
  async tryRollupTurn(lock: number, manager: EntityManager): Promise<boolean> {
    const [{ ok }] = await manager.query('SELECT pg_try_advisory_xact_lock($1) AS ok', [lock]);
    return ok;
  }

  /**
   * Moves up to `batch` facts with ids above `after` into the rollups of each grain, flagging them `rolled_up` in the
   * same statement; returns how many it moved and the highest id moved (null when none). `= ANY(ARRAY(...))`, not
   * `IN (...)`: with IN the planner hashes the batch and scans the whole table for every batch (measured: 4 k facts/s
   * on 10 million facts).
   */
  async rollUpBatch(grains: readonly Grain[], batch: number, after: string, manager: EntityManager): Promise<{ moved: number; last: string | null }> {
    const values = grains.map((grain) => `('${grain}')`).join(', ');
    const rows: Array<{ n: string; last: string | null }> = await manager.query(
      `WITH moved AS (
         UPDATE usage SET rolled_up = true
          WHERE id = ANY(ARRAY(SELECT id FROM usage WHERE NOT rolled_up AND id > $2 ORDER BY id LIMIT $1))
          RETURNING id, metric, value, COALESCE(container_id, '${NIL_UUID}') AS container_id, COALESCE(service_id, '${NIL_UUID}') AS service_id, recorded_at
       ), placed AS (
         SELECT g.grain, m.metric, m.value, m.container_id, m.service_id, m.recorded_at,
                (date_trunc(g.grain, m.recorded_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC') AS bucket,
                ((date_trunc(g.grain, m.recorded_at AT TIME ZONE 'UTC') + ('1 ' || g.grain)::interval) AT TIME ZONE 'UTC') AS bucket_end
           FROM moved m CROSS JOIN (VALUES ${values}) AS g(grain)
       ), added AS (
         INSERT INTO usage_rollup (grain, service_id, metric, bucket, container_id, sum, count, min, max, sum_sq, sum_rest)
         SELECT grain, service_id, metric, bucket, container_id, SUM(value), COUNT(*), MIN(value), MAX(value), SUM(value * value),
                SUM(value * extract(epoch FROM bucket_end - recorded_at) / 3600.0)
           FROM placed GROUP BY grain, service_id, metric, bucket, container_id
         ON CONFLICT (grain, service_id, metric, bucket, container_id) DO UPDATE SET
           sum = usage_rollup.sum + EXCLUDED.sum, count = usage_rollup.count + EXCLUDED.count,
           min = LEAST(usage_rollup.min, EXCLUDED.min), max = GREATEST(usage_rollup.max, EXCLUDED.max),
           sum_sq = usage_rollup.sum_sq + EXCLUDED.sum_sq, sum_rest = usage_rollup.sum_rest + EXCLUDED.sum_rest
       )
       SELECT COUNT(*) AS n, MAX(id) AS last FROM moved`,
      [batch, after],
    );
    return { moved: Number(rows[0].n), last: rows[0].last };
  }

  // --- used by the worker

  /**
   * The INSERT of `recordMany`, as a data-modifying statement to run inside another statement (the worker records a
   * job's outcome and its usage in one statement, its own transaction; an upload commits its Mfile, key, usage and
   * jobs in one): placeholders from `$firstParam`, written only where `onlyIf` holds (a condition on the enclosing
   * statement, such as "the outcome was recorded"). Same rows and idempotency as `recordMany` (zero values too; a
   * fact without `recordedAt` at the database's `now()`). Undefined when there is nothing to record.
   */
  recordManyStatement(facts: readonly UsageRow[], firstParam: number, onlyIf: string): { sql: string; params: unknown[] } | undefined {
    if (facts.length === 0) return undefined;
    const params: unknown[] = [];
    const param = (value: unknown, type: string) => `$${firstParam + params.push(value) - 1}::${type}`;
    const tuples = facts.map(
      (fact) =>
        `(${[
          param(fact.metric, 'varchar'),
          param(fact.value, 'float8'),
          param(fact.containerId, 'uuid'),
          param(fact.serviceId, 'uuid'),
          param(fact.resourceType ?? null, 'varchar'),
          param(fact.resourceId ?? null, 'uuid'),
          param(fact.idempotencyKey ?? null, 'varchar'),
          fact.recordedAt ? param(fact.recordedAt, 'timestamptz') : 'now()',
        ].join(', ')})`,
    );
    return {
      sql: `INSERT INTO usage (metric, value, container_id, service_id, resource_type, resource_id, idempotency_key, recorded_at)
            SELECT * FROM (VALUES ${tuples.join(', ')}) AS v(metric, value, container_id, service_id, resource_type, resource_id, idempotency_key, recorded_at)
             WHERE ${onlyIf}
            ON CONFLICT DO NOTHING`,
      params,
    };
  }
}

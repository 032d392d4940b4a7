import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { Problems } from '../common/problem';
import { buildSeries, Bucketing, coarsestTiling, countBuckets, GAUGES, Grain, Parts, Series } from './usage-report';

/** Stands for "no service" in rollup keys (container-level facts), so the key needs no NULLs. */
export const NIL_UUID = '00000000-0000-0000-0000-000000000000';

/** Whose usage: the whole provider, a container, a service, or named Mfiles/Jobs/JobOutputs (read from raw facts). */
export type UsageScope =
  | { type: 'provider' }
  | { type: 'container'; id: string }
  | { type: 'service'; id: string }
  | { type: 'resources'; ids: string[] };

export type GroupBy = 'container' | 'service';

export interface UsageQuery {
  metrics?: string[];
  from: Date;
  to: Date;
  bucket: Bucketing;
  groupBy?: GroupBy;
  /** `raw` reads the facts themselves (the rollups' own check, and the benchmark's baseline). */
  source?: 'rollup' | 'raw';
}

export interface UsageReport {
  from: string;
  to: string;
  bucket: Bucketing;
  grain: Grain;
  groupBy: GroupBy | null;
  /** What was read: rollups (plus facts not rolled up yet), or the facts alone (hourly buckets, Mfiles, jobs). */
  source: 'rollup' | 'raw';
  series: Series[];
}

/** Most buckets × series one report may hold. */
export const MAX_CELLS = 200_000;

/** SQL for the UTC start (or end) of the grain's bucket holding `column`. */
const bucketOf = (grain: Grain, column: string, plus = false) =>
  `((date_trunc('${grain}', ${column} AT TIME ZONE 'UTC')${plus ? ` + interval '1 ${grain}'` : ''}) AT TIME ZONE 'UTC')`;

/** The column a report groups by, in rollup rows (nil UUID for "none") or in facts (NULL). */
const groupColumn = (groupBy: GroupBy | undefined, rollup: boolean) =>
  groupBy ? (rollup ? `NULLIF(${groupBy}_id, '${NIL_UUID}')::text` : `${groupBy}_id::text`) : 'NULL::text';

/** Hours from a fact to the end of its bucket. */
const restOf = (grain: Grain) => `(extract(epoch FROM ${bucketOf(grain, 'recorded_at', true)} - recorded_at) / 3600.0)`;

interface Row {
  grp: string | null;
  metric: string;
  bucket: Date;
  sum: number;
  count: string | number;
  min: number;
  max: number;
  sum_sq: number;
  sum_rest: number;
}

/**
 * Reads usage. Service, container and provider scopes read the rollups plus the facts not rolled up yet, in one
 * statement (so one snapshot: a fact is counted in exactly one of them); Mfiles and Jobs read their facts.
 */
@Injectable()
export class UsageQueryService {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  async report(scope: UsageScope, query: UsageQuery, manager: EntityManager = this.dataSource.manager): Promise<UsageReport> {
    const grain: Grain = query.bucket === 'total' ? coarsestTiling(query.from, query.to) : query.bucket;
    const source = scope.type === 'resources' ? 'raw' : (query.source ?? 'rollup');
    // hours are not rolled up: hourly buckets come from the facts themselves (same answer, shorter ranges)
    const fromRollups = source === 'rollup' && grain !== 'hour';
    const params: unknown[] = [];
    const param = (value: unknown) => `$${params.push(value)}`;
    const filters = this.filters(scope, param, query.metrics);
    const group = (rollup: boolean) => groupColumn(query.groupBy, rollup);
    const from = param(query.from);
    const to = param(query.to);
    const rawBuckets = (where: string) =>
      `SELECT ${group(false)} AS grp, metric, ${bucketOf(grain, 'recorded_at')} AS bucket, value AS sum, 1 AS count, value AS min, value AS max, value * value AS sum_sq, value * ${restOf(grain)} AS sum_rest
         FROM usage WHERE ${where} AND ${filters.raw} AND recorded_at >= ${from} AND recorded_at < ${to}`;
    const inner = !fromRollups
        ? rawBuckets('TRUE')
        : `SELECT ${group(true)} AS grp, metric, bucket, sum, count, min, max, sum_sq, sum_rest FROM usage_rollup
            WHERE grain = '${grain}' AND ${filters.rollup} AND bucket >= ${from} AND bucket < ${to}
           UNION ALL ${rawBuckets('NOT rolled_up')}`;
    const rows: Row[] = await manager.query(
      `SELECT grp, metric, bucket, SUM(sum)::float8 AS sum, SUM(count)::bigint AS count, MIN(min)::float8 AS min, MAX(max)::float8 AS max,
              SUM(sum_sq)::float8 AS sum_sq, SUM(sum_rest)::float8 AS sum_rest
         FROM (${inner}) facts GROUP BY grp, metric, bucket`,
      params,
    );
    const levels = await this.levelsBefore(scope, query, source, manager);

    // series: (group, metric) → bucket start → parts
    const key = (grp: string | null, metric: string) => `${grp ?? ''}\u0000${metric}`;
    const cells = new Map<string, { grp: string | null; metric: string; buckets: Map<number, Parts> }>();
    const cell = (grp: string | null, metric: string) => {
      const k = key(grp, metric);
      let found = cells.get(k);
      if (!found) cells.set(k, (found = { grp, metric, buckets: new Map() }));
      return found;
    };
    for (const metric of query.metrics ?? []) if (!query.groupBy) cell(null, metric);
    for (const row of rows) {
      cell(row.grp, row.metric).buckets.set(new Date(row.bucket).getTime(), {
        sum: row.sum, count: Number(row.count), min: row.min, max: row.max, sumSq: row.sum_sq, sumRest: row.sum_rest,
      });
    }
    for (const level of levels) if (level.sum !== 0) cell(level.grp, level.metric);
    const levelOf = new Map(levels.map((level) => [key(level.grp, level.metric), level.sum]));

    const bucketCount = query.bucket === 'total' ? 0 : countBuckets(grain, query.from, query.to);
    if (bucketCount * Math.max(1, cells.size) > MAX_CELLS) {
      throw Problems.badRequest(`the report would hold ${bucketCount} buckets for each of ${cells.size} series: choose a coarser bucket or a shorter range (at most ${MAX_CELLS} cells)`);
    }
    const series = [...cells.values()]
      .map((one) =>
        buildSeries(
          one.metric,
          query.groupBy ? { type: query.groupBy, id: one.grp } : null,
          grain,
          query.from,
          query.to,
          one.buckets,
          GAUGES.has(one.metric) ? (levelOf.get(key(one.grp, one.metric)) ?? 0) : undefined,
          query.bucket !== 'total',
        ),
      )
      .sort((a, b) => a.metric.localeCompare(b.metric) || (a.group?.id ?? '').localeCompare(b.group?.id ?? ''));
    return { from: query.from.toISOString(), to: query.to.toISOString(), bucket: query.bucket, grain, groupBy: query.groupBy ?? null, source: fromRollups ? 'rollup' : 'raw', series };
  }

  /**
   * Gauge levels at `from`: the sum of every change before it. From rollups: months before from's month, then its
   * days before from's day, the facts not rolled up yet before that day, and every fact of from's day before from:
   * each fact once, whatever the alignment of `from`.
   */
  private async levelsBefore(scope: UsageScope, query: UsageQuery, source: 'rollup' | 'raw', manager: EntityManager): Promise<Array<{ grp: string | null; metric: string; sum: number }>> {
    const gauges = [...GAUGES].filter((metric) => !query.metrics || query.metrics.includes(metric));
    if (gauges.length === 0) return [];
    const params: unknown[] = [];
    const param = (value: unknown) => `$${params.push(value)}`;
    const filters = this.filters(scope, param, gauges);
    const group = (rollup: boolean) => groupColumn(query.groupBy, rollup);
    const from = param(query.from);
    const raw = (where: string) => `SELECT ${group(false)} AS grp, metric, value AS sum FROM usage WHERE ${where} AND ${filters.raw} AND recorded_at < ${from}`;
    const month = `(date_trunc('month', ${from}::timestamptz AT TIME ZONE 'UTC') AT TIME ZONE 'UTC')`;
    const day = `(date_trunc('day', ${from}::timestamptz AT TIME ZONE 'UTC') AT TIME ZONE 'UTC')`;
    const rollup = (grain: Grain, range: string) => `SELECT ${group(true)} AS grp, metric, sum FROM usage_rollup WHERE grain = '${grain}' AND ${filters.rollup} AND ${range}`;
    const inner =
      source === 'raw'
        ? raw('TRUE')
        : [
            rollup('month', `bucket < ${month}`),
            rollup('day', `bucket >= ${month} AND bucket < ${day}`),
            raw(`NOT rolled_up AND recorded_at < ${day}`),
            raw(`recorded_at >= ${day}`),
          ].join(' UNION ALL ');
    return manager.query(`SELECT grp, metric, SUM(sum)::float8 AS sum FROM (${inner}) facts GROUP BY grp, metric`, params);
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
   * service or container: what Prometheus exports, and what a deleted service's gauges are zeroed from.
   */
  async totals(
    manager: EntityManager = this.dataSource.manager,
    scope?: { serviceId: string } | { containerId: string },
    metrics?: string[],
  ): Promise<Array<{ containerId: string | null; serviceId: string | null; metric: string; sum: number }>> {
    const params: unknown[] = [];
    const where = [
      ...(scope ? [`${'serviceId' in scope ? 'service_id' : 'container_id'} = $${params.push('serviceId' in scope ? scope.serviceId : scope.containerId)}`] : []),
      ...(metrics ? [`metric = ANY($${params.push(metrics)}::varchar[])`] : []),
    ].join(' AND ');
    return manager.query(
      `SELECT NULLIF(container_id::text, '${NIL_UUID}') AS "containerId", NULLIF(service_id::text, '${NIL_UUID}') AS "serviceId", metric, SUM(value)::float8 AS sum
         FROM (${allTimeFacts(where || 'TRUE')}) facts GROUP BY 1, 2, 3`,
      params,
    );
  }

  /** What an Mfile's or a job's report covers: the resource, the jobs run on an Mfile, and their outputs. */
  async resourcesOf(type: 'mfile' | 'job', id: string): Promise<string[]> {
    const rows: Array<{ id: string }> = await this.dataSource.query(
      type === 'mfile'
        ? `SELECT job_id AS id FROM job_input WHERE mfile_id = $1
           UNION SELECT o.id FROM job_output o JOIN job_input i ON i.job_id = o.job_id WHERE i.mfile_id = $1`
        : 'SELECT id FROM job_output WHERE job_id = $1',
      [id],
    );
    return [id, ...rows.map((row) => row.id)];
  }
}

/**
 * Every fact once, all time: the month rollups plus the facts not rolled up yet, as (container_id, service_id —
 * the nil UUID for none —, metric, value, at). `where` may name container_id, service_id and metric.
 */
export const allTimeFacts = (where: string) => `
  SELECT container_id, service_id, metric, sum AS value, bucket AS at FROM usage_rollup WHERE grain = 'month' AND ${where}
  UNION ALL
  SELECT COALESCE(container_id, '${NIL_UUID}'), COALESCE(service_id, '${NIL_UUID}'), metric, value, recorded_at FROM usage WHERE NOT rolled_up AND ${where}`;

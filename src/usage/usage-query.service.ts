import { Injectable } from '@nestjs/common';
import { EntityManager } from 'typeorm';
import { Problems } from '../common/problem';
import { buildSeries, Bucketing, coarsestTiling, countBuckets, GAUGES, Grain, Parts, Series } from './usage-report';
import { GroupBy, UsageRepository, UsageScope } from './usage.repository';

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

/**
 * Reads usage. Service, container and provider scopes read the rollups plus the facts not rolled up yet, in one
 * statement (so one snapshot: a fact is counted in exactly one of them); Mfiles and Jobs read their facts.
 */
@Injectable()
export class UsageQueryService {
  constructor(private readonly usage: UsageRepository) {}

  async report(scope: UsageScope, query: UsageQuery, manager?: EntityManager): Promise<UsageReport> {
    const grain: Grain = query.bucket === 'total' ? coarsestTiling(query.from, query.to) : query.bucket;
    const source = scope.type === 'resources' ? 'raw' : (query.source ?? 'rollup');
    // hours are not rolled up: hourly buckets come from the facts themselves (same answer, shorter ranges)
    const fromRollups = source === 'rollup' && grain !== 'hour';
    const rows = await this.usage.bucketCells(
      scope,
      { metrics: query.metrics, from: query.from, to: query.to, grain, groupBy: query.groupBy, fromRollups },
      manager,
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
        sum: row.sum,
        count: Number(row.count),
        min: row.min,
        max: row.max,
        sumSq: row.sumSq,
        sumRest: row.sumRest,
      });
    }
    for (const level of levels) if (level.sum !== 0) cell(level.grp, level.metric);
    const levelOf = new Map(levels.map((level) => [key(level.grp, level.metric), level.sum]));

    const bucketCount = query.bucket === 'total' ? 0 : countBuckets(grain, query.from, query.to);
    if (bucketCount * Math.max(1, cells.size) > MAX_CELLS) {
      throw Problems.badRequest(
        `the report would hold ${bucketCount} buckets for each of ${cells.size} series: choose a coarser bucket or a shorter range (at most ${MAX_CELLS} cells)`,
      );
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
    return {
      from: query.from.toISOString(),
      to: query.to.toISOString(),
      bucket: query.bucket,
      grain,
      groupBy: query.groupBy ?? null,
      source: fromRollups ? 'rollup' : 'raw',
      series,
    };
  }

  /**
   * Gauge levels at `from`: the sum of every change before it. From rollups: months before from's month, then its
   * days before from's day, the facts not rolled up yet before that day, and every fact of from's day before from:
   * each fact once, whatever the alignment of `from`.
   */
  private async levelsBefore(
    scope: UsageScope,
    query: UsageQuery,
    source: 'rollup' | 'raw',
    manager?: EntityManager,
  ): Promise<Array<{ grp: string | null; metric: string; sum: number }>> {
    const gauges = [...GAUGES].filter((metric) => !query.metrics || query.metrics.includes(metric));
    if (gauges.length === 0) return [];
    return this.usage.levelsBefore(scope, { gauges, from: query.from, groupBy: query.groupBy, source }, manager);
  }

  /**
   * All-time totals per container, service and metric (gauges are their current level), of everything or of one
   * service or container: what Prometheus exports, and what a deleted service's gauges are zeroed from.
   */
  async totals(
    manager?: EntityManager,
    scope?: { serviceId: string } | { containerId: string },
    metrics?: string[],
  ): Promise<Array<{ containerId: string | null; serviceId: string | null; metric: string; sum: number }>> {
    return this.usage.totals(scope, metrics, manager);
  }

  /** What an Mfile's or a job's report covers: the resource, the jobs run on an Mfile, and their outputs. */
  async resourcesOf(type: 'mfile' | 'job' | 'joboutput', id: string): Promise<string[]> {
    // a job output has nothing below it
    return type === 'joboutput' ? [id] : [id, ...(await this.usage.resourcesUnder(type, id))];
  }
}

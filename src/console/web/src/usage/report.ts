/**
 * The usage report as the API answers it (GET /usage, /containers/:id/usage, /services/:id/usage; see
 * src/usage/usage-report.ts), and what the dashboard reads from it: one value per bucket for a chart, the total
 * beside it, and per-group figures for the consumers and quota tables.
 */
import { formatBytes, formatDuration } from '../format';
import type { BucketFigures, Series } from '../../../../usage/usage-report';
import type { Bucket } from './range';

/** A bucket's figures and a metric's series, as src/usage/usage-report.ts builds them for the API. */
export type { BucketFigures, Series };

export interface UsageReport {
  resource: { type: string; id: string | null };
  from: string;
  to: string;
  bucket: Bucket | 'total';
  grain: Bucket;
  groupBy: 'container' | 'service' | null;
  source: 'rollup' | 'raw';
  series: Series[];
}

export type Scope = { type: 'provider' } | { type: 'container'; id: string } | { type: 'service'; id: string };

export function reportPath(scope: Scope): string {
  return scope.type === 'provider' ? '/usage' : `/${scope.type}s/${scope.id}/usage`;
}

export type Unit = 'bytes' | 'count' | 'seconds';

export interface MetricInfo {
  metric: string;
  label: string;
  unit: Unit;
  /** Gauges chart their level; the others what was added in each bucket. */
  gauge: boolean;
  /** What the number beside the chart is. */
  totalLabel: string;
}

export const METRICS: Record<'disc' | 'ingest' | 'access' | 'jobs' | 'jobruntime', MetricInfo> = {
  disc: { metric: 'disc', label: 'Stored', unit: 'bytes', gauge: true, totalLabel: 'Stored at the end' },
  ingest: { metric: 'ingest', label: 'Ingested', unit: 'bytes', gauge: false, totalLabel: 'Ingested in range' },
  access: { metric: 'access', label: 'Accessed (downloads)', unit: 'bytes', gauge: false, totalLabel: 'Accessed in range' },
  jobs: { metric: 'jobs', label: 'Jobs', unit: 'count', gauge: false, totalLabel: 'Jobs in range' },
  jobruntime: { metric: 'jobruntime', label: 'Job runtime', unit: 'seconds', gauge: false, totalLabel: 'Runtime in range' },
};
export type ChartMetric = keyof typeof METRICS;
export const CHART_METRICS = Object.keys(METRICS) as ChartMetric[];

export function formatValue(unit: Unit, value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '—';
  if (unit === 'bytes') return formatBytes(value);
  // job runtimes are often far below a second: "17 ms" says more than "0.0 s"
  if (unit === 'seconds') return value > 0 && value < 1 ? `${Math.max(1, Math.round(value * 1000))} ms` : formatDuration(value);
  return new Intl.NumberFormat('en').format(value);
}

/** The exact figure (bytes as a whole number with thousands separators), for the line under a rounded one. */
export function exactValue(unit: Unit, value: number): string {
  const text = new Intl.NumberFormat('en', { maximumFractionDigits: 3 }).format(value);
  return unit === 'bytes' ? `${text} bytes` : unit === 'seconds' ? `${text} s` : text;
}

/** A bucket's figure for a chart: a gauge's level at the bucket's end, else the sum recorded in it. */
export function bucketValue(info: MetricInfo, bucket: BucketFigures): number {
  return info.gauge ? (bucket.level ?? 0) : bucket.sum;
}

/** The figure beside a chart: a gauge's level at the end of the range, else the sum over it. */
export function totalValue(info: MetricInfo, series: Series | undefined): number {
  if (!series) return 0;
  return info.gauge ? (series.total.level ?? 0) : series.total.sum;
}

/** The ungrouped series of a metric (reports name only metrics that have facts; absent means zero). */
export function findSeries(report: UsageReport, metric: string, groupId: string | null = null): Series | undefined {
  return report.series.find((one) => one.metric === metric && (one.group?.id ?? null) === groupId);
}

/** Bucket starts in seconds (uPlot's x), from the series or, when a metric has none, from the range. */
export function bucketStarts(report: UsageReport): number[] {
  const withBuckets = report.series.find((one) => one.buckets.length > 0);
  return withBuckets ? withBuckets.buckets.map((bucket) => Date.parse(bucket.start) / 1000) : [];
}

export function chartValues(report: UsageReport, metric: ChartMetric, count: number): number[] {
  const series = findSeries(report, metric);
  if (!series) return new Array(count).fill(0);
  return series.buckets.map((bucket) => bucketValue(METRICS[metric], bucket));
}

export interface GroupFigures {
  id: string;
  values: Record<ChartMetric, number>;
}

/** One row per group (container or service) of a grouped total report; facts outside any group are left out. */
export function groupRows(report: UsageReport): GroupFigures[] {
  const rows = new Map<string, GroupFigures>();
  for (const series of report.series) {
    const id = series.group?.id;
    if (!id || !(series.metric in METRICS)) continue;
    const info = METRICS[series.metric as ChartMetric];
    let row = rows.get(id);
    if (!row) rows.set(id, (row = { id, values: { disc: 0, ingest: 0, access: 0, jobs: 0, jobruntime: 0 } }));
    row.values[series.metric as ChartMetric] = totalValue(info, series);
  }
  return [...rows.values()];
}

/** Rows ranked by one metric, largest first; ties keep a stable order by id. */
export function rankRows(rows: GroupFigures[], by: ChartMetric): GroupFigures[] {
  return [...rows].sort((a, b) => b.values[by] - a.values[by] || a.id.localeCompare(b.id));
}

export interface QuotaUse {
  used: number;
  limit: number | null;
  /** used / limit, 0 without a limit. */
  fraction: number;
  state: 'none' | 'ok' | 'near' | 'full';
}

/** How much of a limit is used: near from 80 %, full at or past the limit (the next upload or job is refused). */
export function quotaUse(used: number, limit: number | null | undefined): QuotaUse {
  if (limit === null || limit === undefined) return { used, limit: null, fraction: 0, state: 'none' };
  const fraction = limit > 0 ? used / limit : used > 0 ? Infinity : 1;
  return { used, limit, fraction, state: fraction >= 1 ? 'full' : fraction >= 0.8 ? 'near' : 'ok' };
}

/**
 * The arithmetic of usage reports, apart from the database: bucket boundaries (UTC), the summary statistics of
 * MServe's `usagesummary` (sum, count, min, max, mean, standard deviation) from additive parts, and the level and
 * time integral of gauge metrics (byte-hours for `disc`).
 */
export const GRAINS = ['hour', 'day', 'month'] as const;
export type Grain = (typeof GRAINS)[number];
/**
 * The grains kept in rollups. Hours are not: an hour holds too few facts per service to be worth a row (measured:
 * the hourly rollup of a year of facts was as large as the facts), and hourly reports span short ranges.
 */
export const ROLLUP_GRAINS = ['day', 'month'] as const satisfies readonly Grain[];
export type Bucketing = Grain | 'total';

/** Metrics whose facts are changes to a level (a gauge): reports add the level and its integral over time. */
export const GAUGES: ReadonlySet<string> = new Set(['disc', 'mfiles', 'services', 'containers']);

const HOUR_MS = 3_600_000;

/** The start of the grain's bucket holding `at` (UTC). */
export function floorTo(grain: Grain, at: Date): Date {
  const d = new Date(at);
  if (grain === 'month') return new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1));
  if (grain === 'day') return new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()));
  return new Date(Math.floor(d.getTime() / HOUR_MS) * HOUR_MS);
}

export function addGrain(grain: Grain, at: Date, n = 1): Date {
  if (grain === 'month') return new Date(Date.UTC(at.getUTCFullYear(), at.getUTCMonth() + n, 1));
  if (grain === 'day') return new Date(at.getTime() + n * 24 * HOUR_MS);
  return new Date(at.getTime() + n * HOUR_MS);
}

/** `at` itself when it starts a bucket, else the next bucket's start. */
export function ceilTo(grain: Grain, at: Date): Date {
  const floor = floorTo(grain, at);
  return floor.getTime() === at.getTime() ? floor : addGrain(grain, floor);
}

export function isAligned(grain: Grain, at: Date): boolean {
  return floorTo(grain, at).getTime() === at.getTime();
}

/** The coarsest grain whose buckets tile [from, to) exactly (both ends hour-aligned at least). */
export function coarsestTiling(from: Date, to: Date): Grain {
  if (isAligned('month', from) && isAligned('month', to)) return 'month';
  if (isAligned('day', from) && isAligned('day', to)) return 'day';
  return 'hour';
}

/** The buckets of [from, to) at a grain; from and to must be aligned to it. */
export function bucketStarts(grain: Grain, from: Date, to: Date): Date[] {
  const starts: Date[] = [];
  for (let at = from; at < to; at = addGrain(grain, at)) starts.push(at);
  return starts;
}

/** How many buckets of the grain [from, to) spans (both aligned). */
export function countBuckets(grain: Grain, from: Date, to: Date): number {
  if (grain === 'month') return (to.getUTCFullYear() - from.getUTCFullYear()) * 12 + to.getUTCMonth() - from.getUTCMonth();
  return Math.ceil((to.getTime() - from.getTime()) / (grain === 'day' ? 86_400_000 : 3_600_000));
}

/** Additive parts of a set of facts: everything the statistics and the integral need, mergeable across buckets. */
export interface Parts {
  sum: number;
  count: number;
  min: number | null;
  max: number | null;
  sumSq: number;
  /** Σ value × (end − time of the fact), in hours, relative to the end of the span the parts cover. */
  sumRest: number;
}

export const EMPTY_PARTS: Parts = Object.freeze({ sum: 0, count: 0, min: null, max: null, sumSq: 0, sumRest: 0 });

/** Merges parts of consecutive spans into the parts of their union ending at `end` (the later span's end). */
export function mergeParts(into: Parts, add: Parts, addEnd: Date, end: Date): Parts {
  const shift = (end.getTime() - addEnd.getTime()) / HOUR_MS;
  return {
    sum: into.sum + add.sum,
    count: into.count + add.count,
    min: add.min === null ? into.min : into.min === null ? add.min : Math.min(into.min, add.min),
    max: add.max === null ? into.max : into.max === null ? add.max : Math.max(into.max, add.max),
    sumSq: into.sumSq + add.sumSq,
    sumRest: into.sumRest + add.sumRest + add.sum * shift,
  };
}

export interface BucketFigures {
  start: string;
  end: string;
  sum: number;
  count: number;
  min: number | null;
  max: number | null;
  mean: number | null;
  /** Population standard deviation of the recorded values (as MServe's usagesummary). */
  stddev: number | null;
  /** Gauges only: the level at the end of the bucket. */
  level?: number;
  /** Gauges only: ∫ level dt over the bucket, in unit-hours (byte-hours for disc). */
  levelHours?: number;
}

/** Figures of one span from its parts; for a gauge, `levelBefore` is its level at the span's start. */
export function figures(start: Date, end: Date, parts: Parts, levelBefore?: number): BucketFigures {
  const mean = parts.count ? parts.sum / parts.count : null;
  const variance = parts.count && mean !== null ? Math.max(0, parts.sumSq / parts.count - mean * mean) : null;
  const out: BucketFigures = {
    start: start.toISOString(),
    end: end.toISOString(),
    sum: parts.sum,
    count: parts.count,
    min: parts.min,
    max: parts.max,
    mean,
    stddev: variance === null ? null : Math.sqrt(variance),
  };
  if (levelBefore !== undefined) {
    out.level = levelBefore + parts.sum;
    out.levelHours = levelBefore * ((end.getTime() - start.getTime()) / HOUR_MS) + parts.sumRest;
  }
  return out;
}

export interface Series {
  metric: string;
  group: { type: 'container' | 'service'; id: string | null } | null;
  total: BucketFigures;
  buckets: BucketFigures[];
}

/**
 * Builds a dense series: every bucket of [from, to) (empty ones included, a gauge's level carried through), and the
 * total over the whole range.
 */
export function buildSeries(
  metric: string,
  group: Series['group'],
  grain: Grain,
  from: Date,
  to: Date,
  byBucket: Map<number, Parts>,
  levelBefore: number | undefined,
  withBuckets: boolean,
): Series {
  const buckets: BucketFigures[] = [];
  let level = levelBefore;
  let total: Parts = { ...EMPTY_PARTS };
  if (!withBuckets) {
    // a total needs the buckets that hold something, in order, not every empty one between: a range of centuries
    // by the hour is tens of millions of them (`bucket=total&to=9999-12-31` ran the api out of memory). An empty
    // bucket adds exactly nothing, so the figures are the same to the last bit.
    for (const startMs of [...byBucket.keys()].sort((a, b) => a - b)) {
      if (startMs < from.getTime() || startMs >= to.getTime()) continue;
      total = mergeParts(total, byBucket.get(startMs)!, addGrain(grain, new Date(startMs)), to);
    }
    return { metric, group, total: figures(from, to, total, levelBefore), buckets };
  }
  for (const start of bucketStarts(grain, from, to)) {
    const end = addGrain(grain, start);
    const parts = byBucket.get(start.getTime()) ?? EMPTY_PARTS;
    buckets.push(figures(start, end, parts, level));
    if (level !== undefined) level += parts.sum;
    total = mergeParts(total, parts, end, to);
  }
  return { metric, group, total: figures(from, to, total, levelBefore), buckets };
}

const CSV_COLUMNS = ['group_type', 'group_id', 'metric', 'start', 'end', 'sum', 'count', 'min', 'max', 'mean', 'stddev', 'level', 'level_hours'];

const csvCell = (value: unknown): string => {
  if (value === null || value === undefined) return '';
  const text = String(value);
  return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
};

/** One line per bucket (or per series total when there are no buckets), RFC 4180. */
export function toCsv(series: Series[]): string {
  const lines = [CSV_COLUMNS.join(',')];
  for (const one of series) {
    for (const bucket of one.buckets.length ? one.buckets : [one.total]) {
      lines.push(
        [
          one.group?.type,
          one.group?.id,
          one.metric,
          bucket.start,
          bucket.end,
          bucket.sum,
          bucket.count,
          bucket.min,
          bucket.max,
          bucket.mean,
          bucket.stddev,
          bucket.level,
          bucket.levelHours,
        ]
          .map(csvCell)
          .join(','),
      );
    }
  }
  return `${lines.join('\r\n')}\r\n`;
}

/**
 * The dashboard's time range and bucket: presets (last 24 h, 7 d, 30 d, 12 months) or a custom from–to, resolved
 * to the UTC bucket boundaries the API reports in (the same arithmetic as the API's: src/usage/usage-report.ts),
 * and kept in the page's query string so a view can be bookmarked and shared. Pure functions.
 */
import { addGrain, ceilTo, countBuckets, floorTo, Grain } from '../../../../usage/usage-report';

export type Bucket = Grain;
export const BUCKETS: readonly Bucket[] = ['hour', 'day', 'month'];
export type Preset = '24h' | '7d' | '30d' | '12m' | 'custom';
export const PRESETS: ReadonlyArray<{ id: Preset; label: string }> = [
  { id: '24h', label: 'Last 24 hours' },
  { id: '7d', label: 'Last 7 days' },
  { id: '30d', label: 'Last 30 days' },
  { id: '12m', label: 'Last 12 months' },
  { id: 'custom', label: 'Custom range' },
];

/** More buckets than this make an unreadable chart and a heavy report: choose a coarser bucket. */
export const MAX_CHART_BUCKETS = 2000;

const LENGTH: Record<Exclude<Preset, 'custom'>, { grain: Grain; count: number; defaultBucket: Bucket }> = {
  '24h': { grain: 'hour', count: 24, defaultBucket: 'hour' },
  '7d': { grain: 'day', count: 7, defaultBucket: 'day' },
  '30d': { grain: 'day', count: 30, defaultBucket: 'day' },
  '12m': { grain: 'month', count: 12, defaultBucket: 'month' },
};

/** What the person chose (as in the query string): custom bounds are `YYYY-MM-DDTHH:mm` in UTC. */
export interface RangeChoice {
  preset: Preset;
  bucket: Bucket;
  from?: string;
  to?: string;
}

export type Resolved = { ok: true; from: Date; to: Date; bucket: Bucket; buckets: number } | { ok: false; error: string; field: 'from' | 'to' | 'bucket' };

/** `YYYY-MM-DDTHH:mm` (a datetime-local value) read as UTC; null when it is not one. */
export function parseUtcInput(text: string | undefined): Date | null {
  const match = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2}))?$/.exec(text ?? '');
  if (!match) return null;
  const [year, month, day, hour, minute] = match.slice(1).map((part) => Number(part ?? 0));
  const date = new Date(Date.UTC(year, month - 1, day, hour, minute));
  // 2026-02-31 rolls over: not a date
  if (date.getUTCMonth() !== month - 1 || date.getUTCDate() !== day || hour > 23 || minute > 59) return null;
  return date;
}

/** A date as a datetime-local value in UTC. */
export function utcInput(date: Date): string {
  return date.toISOString().slice(0, 16);
}

/** The range a preset covers, ending with the bucket that holds `now` (so today's or this month's usage shows). */
export function presetBounds(preset: Exclude<Preset, 'custom'>, bucket: Bucket, now: Date): { from: Date; to: Date } {
  const { grain, count } = LENGTH[preset];
  // + 1 ms: at the very start of a bucket, that bucket is still the current one
  const to = ceilTo(bucket, new Date(now.getTime() + 1));
  // months step to the 1st: twelve months by day start on the first day of the month a year back
  const from = floorTo(bucket, addGrain(grain, to, -count));
  return { from, to };
}

/** Buckets that make a readable chart for a preset (custom ranges: any that fits, see resolveRange). */
export function bucketChoices(preset: Preset): Bucket[] {
  switch (preset) {
    case '24h':
      return ['hour'];
    case '7d':
    case '30d':
      return ['hour', 'day'];
    case '12m':
      return ['day', 'month'];
    case 'custom':
      return [...BUCKETS];
  }
}

export function defaultBucket(preset: Preset): Bucket {
  return preset === 'custom' ? 'day' : LENGTH[preset].defaultBucket;
}

/** From a choice to the exact UTC bounds the API will report on, or what is wrong with it. */
export function resolveRange(choice: RangeChoice, now: Date): Resolved {
  const bucket = choice.bucket;
  if (!BUCKETS.includes(bucket)) return { ok: false, error: 'choose hour, day or month', field: 'bucket' };
  let from: Date;
  let to: Date;
  if (choice.preset === 'custom') {
    const start = parseUtcInput(choice.from);
    const end = parseUtcInput(choice.to);
    if (!start) return { ok: false, error: 'enter a start date and time', field: 'from' };
    if (!end) return { ok: false, error: 'enter an end date and time', field: 'to' };
    if (start >= end) return { ok: false, error: 'the end must be after the start', field: 'to' };
    // the API reports whole buckets: the one holding the start through the one holding the end
    from = floorTo(bucket, start);
    to = ceilTo(bucket, end);
  } else {
    if (!bucketChoices(choice.preset).includes(bucket))
      return { ok: false, error: `${bucket}ly buckets do not suit ${PRESETS.find((p) => p.id === choice.preset)!.label.toLowerCase()}`, field: 'bucket' };
    ({ from, to } = presetBounds(choice.preset, bucket, now));
  }
  const buckets = countBuckets(bucket, from, to);
  if (buckets > MAX_CHART_BUCKETS)
    return {
      ok: false,
      error: `${buckets} ${bucket}s is too many for one chart (at most ${MAX_CHART_BUCKETS}): choose a coarser bucket or a shorter range`,
      field: 'bucket',
    };
  return { ok: true, from, to, bucket, buckets };
}

/** The choice a query string holds, defaults filled in: last 30 days by day. */
export function choiceFromQuery(query: Record<string, string | undefined>): RangeChoice {
  const preset = (PRESETS.some((p) => p.id === query.range) ? query.range : '30d') as Preset;
  const bucket =
    (BUCKETS as readonly string[]).includes(query.bucket ?? '') && bucketChoices(preset).includes(query.bucket as Bucket)
      ? (query.bucket as Bucket)
      : defaultBucket(preset);
  return preset === 'custom' ? { preset, bucket, from: query.from, to: query.to } : { preset, bucket };
}

export function choiceToQuery(choice: RangeChoice): Record<string, string> {
  return choice.preset === 'custom'
    ? { range: 'custom', bucket: choice.bucket, from: choice.from ?? '', to: choice.to ?? '' }
    : { range: choice.preset, bucket: choice.bucket };
}

/** The current calendar month (UTC): the period of the monthly ingest and job-runtime quotas. */
export function quotaMonth(now: Date): { from: Date; to: Date } {
  const from = floorTo('month', now);
  return { from, to: addGrain('month', from) };
}

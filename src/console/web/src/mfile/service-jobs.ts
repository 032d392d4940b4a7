import { applyJobEvent, JobEventData } from './job-events';
import { isFinal, Job } from './types';

/**
 * The model of a service's jobs page, free of the DOM: the filters as the list's query, and the list kept current
 * from the service's job stream (GET /services/:id/jobs/events). An event for a job on the page changes it at once;
 * one for a job not on the page (a new one), or a job that ended (its timings and result), makes the page read its
 * first page again — once per burst.
 */

export const JOB_STATES = ['waiting', 'queued', 'running', 'succeeded', 'failed', 'cancelled', 'skipped'] as const;
export const JOB_TRIGGERS = ['ingest', 'update', 'access', 'periodic', 'manual'] as const;

export interface JobFilters {
  state: string;
  task: string;
  trigger: string;
}

export const NO_FILTERS: JobFilters = { state: '', task: '', trigger: '' };

/** The list's query: newest first, only the filters that are set. */
export function jobsQuery(filters: JobFilters, cursor: string | null, limit: number): Record<string, string | number> {
  const query: Record<string, string | number> = { order: 'newest', limit };
  if (filters.state) query.state = filters.state;
  if (filters.task) query.task = filters.task;
  if (filters.trigger) query.trigger = filters.trigger;
  if (cursor) query.cursor = cursor;
  return query;
}

export function matchesFilters(job: Pick<Job, 'state' | 'task' | 'trigger'>, filters: JobFilters): boolean {
  return (
    (!filters.state || job.state === filters.state) && (!filters.task || job.task === filters.task) && (!filters.trigger || job.trigger === filters.trigger)
  );
}

/**
 * The shown jobs with a first page read again merged in: read jobs replace what was shown (a job that ended on the
 * page stays ended: the stream may be ahead of the read), newest first; jobs that no longer match the filters go.
 */
export function mergeFirstPage(shown: readonly Job[], read: readonly Job[], filters: JobFilters): Job[] {
  const byId = new Map(shown.map((job) => [job.id, job]));
  for (const job of read) {
    const known = byId.get(job.id);
    byId.set(job.id, known && isFinal(known.state) && !isFinal(job.state) ? known : job);
  }
  return [...byId.values()].filter((job) => matchesFilters(job, filters)).sort((a, b) => (a.id < b.id ? 1 : a.id > b.id ? -1 : 0));
}

/**
 * One event of the service stream applied to the shown jobs. `reread` says the first page should be read again: the
 * job is not shown (new, or filtered out until now), or it ended (its timings and result are in the job, not the
 * event). A job whose new state no longer matches the state filter leaves the page.
 */
export function applyServiceEvent(shown: readonly Job[], event: JobEventData, filters: JobFilters): { jobs: Job[]; reread: boolean } {
  const index = shown.findIndex((job) => job.id === event.id);
  if (index < 0) return { jobs: shown as Job[], reread: true };
  const next = applyJobEvent(shown[index], event);
  const jobs = matchesFilters(next, filters) ? shown.map((job, at) => (at === index ? next : job)) : shown.filter((_, at) => at !== index);
  return { jobs, reread: isFinal(next.state) && !isFinal(shown[index].state) };
}

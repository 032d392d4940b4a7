import { isFinal, Job, JobState } from './types';

/**
 * Following jobs live over Server-Sent Events (GET /api/v1/jobs/:id/events): the first `state` event is the whole
 * job, later ones carry {state, progress, error}, `progress` events {progress}; the stream ends after a final state.
 * Pure helpers here; the EventSource plumbing is in live-jobs.ts.
 */

export interface JobEventData {
  id: string;
  state?: JobState;
  progress?: number;
  error?: string | null;
  at?: string;
  /** Present when the event is the whole job (the first one of a stream). */
  task?: string;
}

/** A job with one event applied. A whole-job snapshot replaces it; a later state never goes back to an earlier one. */
export function applyJobEvent(job: Job, event: JobEventData): Job {
  if (event.task !== undefined) return { ...job, ...(event as unknown as Job) };
  if (isFinal(job.state) && event.state !== undefined && !isFinal(event.state)) return job;
  const next: Job = { ...job };
  if (event.state !== undefined) next.state = event.state;
  if (event.progress !== undefined && event.progress !== null)
    next.progress = event.state !== undefined ? event.progress : Math.max(job.progress, event.progress);
  if (event.error !== undefined) next.error = event.error;
  if (event.state === 'running' && !next.startedAt && event.at) next.startedAt = event.at;
  if (event.state !== undefined && isFinal(event.state) && !next.finishedAt && event.at) next.finishedAt = event.at;
  if (event.state === 'succeeded') next.progress = 100;
  return next;
}

/**
 * A list of jobs read again, merged into the one shown: a job a stream already saw end stays ended; a job created
 * here but not listed yet (a read racing its insert) stays. `ended` names the jobs this read is the first to see end
 * (not followed, as only a few are, or ended before their stream said so): the page reacts to them as to a stream's
 * final event, or it would miss what they changed.
 */
export function mergeListedJobs(shown: ReadonlyMap<string, Job>, listed: Job[]): { next: Map<string, Job>; ended: Job[] } {
  const next = new Map<string, Job>();
  const ended: Job[] = [];
  for (const job of listed) {
    const known = shown.get(job.id);
    next.set(job.id, known && isFinal(known.state) && !isFinal(job.state) ? known : job);
    if (known && !isFinal(known.state) && isFinal(job.state)) ended.push(job);
  }
  for (const [id, job] of shown) if (!next.has(id) && !isFinal(job.state)) next.set(id, job);
  return { next, ended };
}

const RANK: Record<string, number> = { running: 0, queued: 1, waiting: 2 };

/**
 * Which unfinished jobs get a stream. A browser keeps only six HTTP/1.1 connections per host, and an open event
 * stream holds one: following every job of a fresh upload (nine in the default profile) would stall the page's
 * other requests and its video. So: at most `limit` streams, running jobs first, then queued, then waiting, oldest
 * first. When a followed job ends, the page re-reads the list and the next ones get the free streams.
 */
export function jobsToFollow(jobs: Job[], limit: number): string[] {
  return jobs
    .filter((job) => !isFinal(job.state))
    .sort((a, b) => (RANK[a.state] ?? 3) - (RANK[b.state] ?? 3) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
    .slice(0, limit)
    .map((job) => job.id);
}

const time = (value: string | null) => (value ? new Date(value).getTime() : Number.POSITIVE_INFINITY);

/**
 * Newest first, as people read a history. The steps of one pipeline run are created in one transaction (the same
 * instant): among them, the order they started in (the pipeline's order), those not started yet last.
 */
export function newestFirst(jobs: Iterable<Job>): Job[] {
  return [...jobs].sort((a, b) => time(b.createdAt) - time(a.createdAt) || time(a.startedAt) - time(b.startedAt) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/** Seconds between two instants, or null when either is missing. */
export function secondsBetween(from: string | null | undefined, to: string | null | undefined): number | null {
  if (!from || !to) return null;
  const ms = new Date(to).getTime() - new Date(from).getTime();
  return Number.isFinite(ms) ? Math.max(0, ms / 1000) : null;
}

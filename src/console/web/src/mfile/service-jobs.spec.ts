import { applyServiceEvent, jobsQuery, matchesFilters, mergeFirstPage, NO_FILTERS } from './service-jobs';
import { makeJob } from './job-fixture';
import type { Job } from './types';

const job = (id: string, patch: Partial<Job> = {}): Job => makeJob(id, { task: 'thumbnail', createdAt: '2026-12-06T00:00:00Z', ...patch });

describe("a service's jobs page", () => {
  it('asks for the newest first, with only the filters that are set', () => {
    expect(jobsQuery(NO_FILTERS, null, 50)).toEqual({ order: 'newest', limit: 50 });
    expect(jobsQuery({ state: 'failed', task: '', trigger: 'update' }, 'abc', 20)).toEqual({
      order: 'newest',
      limit: 20,
      state: 'failed',
      trigger: 'update',
      cursor: 'abc',
    });
  });

  it('matches jobs to the filters', () => {
    expect(matchesFilters(job('1'), NO_FILTERS)).toBe(true);
    expect(matchesFilters(job('1', { state: 'failed' }), { ...NO_FILTERS, state: 'failed' })).toBe(true);
    expect(matchesFilters(job('1'), { ...NO_FILTERS, task: 'md5' })).toBe(false);
  });

  it('merges a first page read again: new jobs on top, an ended job stays ended, filtered-out jobs go', () => {
    const shown = [job('02', { state: 'succeeded', progress: 100 }), job('01', { state: 'running' })];
    const read = [job('03'), job('02', { state: 'running' }), job('01', { state: 'failed', error: 'boom' })];
    expect(mergeFirstPage(shown, read, NO_FILTERS).map((each) => [each.id, each.state])).toEqual([
      ['03', 'queued'],
      ['02', 'succeeded'],
      ['01', 'failed'],
    ]);
    expect(mergeFirstPage(shown, read, { ...NO_FILTERS, state: 'queued' }).map((each) => each.id)).toEqual(['03']);
  });

  it('applies an event to a shown job; an unknown job, or one that ended, asks for the page again', () => {
    const shown = [job('02', { state: 'running', progress: 10 }), job('01', { state: 'succeeded', progress: 100 })];
    const progressed = applyServiceEvent(shown, { id: '02', state: 'running', progress: 60, error: null, at: '2026-12-06T00:00:05Z' }, NO_FILTERS);
    expect(progressed.reread).toBe(false);
    expect(progressed.jobs[0]).toMatchObject({ id: '02', progress: 60 });
    const ended = applyServiceEvent(progressed.jobs, { id: '02', state: 'failed', error: 'ffmpeg exited 1', at: '2026-12-06T00:00:09Z' }, NO_FILTERS);
    expect(ended.reread).toBe(true);
    expect(ended.jobs[0]).toMatchObject({ state: 'failed', error: 'ffmpeg exited 1', finishedAt: '2026-12-06T00:00:09Z' });
    expect(applyServiceEvent(shown, { id: '09', state: 'queued' }, NO_FILTERS)).toEqual({ jobs: shown, reread: true });
    // a late "running" never takes a finished job back
    expect(applyServiceEvent(shown, { id: '01', state: 'running', progress: 50 }, NO_FILTERS).jobs[1]).toMatchObject({ state: 'succeeded', progress: 100 });
    // filtered to running jobs: one that ends leaves the page
    const onlyRunning = applyServiceEvent(shown.slice(0, 1), { id: '02', state: 'succeeded' }, { ...NO_FILTERS, state: 'running' });
    expect(onlyRunning.jobs).toEqual([]);
  });
});

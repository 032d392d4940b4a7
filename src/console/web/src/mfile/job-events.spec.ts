import { mergeListedJobs } from './job-events';
import { makeJob } from './job-fixture';

describe('a list of jobs read again', () => {
  it('names the jobs it is the first to see end, and only those', () => {
    const shown = new Map([
      ['a', makeJob('a', { state: 'running' })],
      ['b', makeJob('b', { state: 'queued' })],
      ['c', makeJob('c', { state: 'succeeded' })],
      ['d', makeJob('d', { state: 'waiting' })],
    ]);
    const listed = [
      makeJob('a', { state: 'succeeded' }),
      makeJob('b', { state: 'failed', error: 'boom' }),
      makeJob('c', { state: 'succeeded' }),
      makeJob('d', { state: 'queued' }),
      makeJob('e', { state: 'succeeded' }),
    ];
    const { next, ended } = mergeListedJobs(shown, listed);
    // a job first seen ended (e) is not a stream's news: the Mfile page reads the file again after its first list
    expect(ended.map((job) => job.id)).toEqual(['a', 'b']);
    expect([...next.values()].map((job) => [job.id, job.state])).toEqual([
      ['a', 'succeeded'],
      ['b', 'failed'],
      ['c', 'succeeded'],
      ['d', 'queued'],
      ['e', 'succeeded'],
    ]);
  });

  it('keeps what a stream already knew and the jobs created here but not listed yet', () => {
    const shown = new Map([
      ['a', makeJob('a', { state: 'succeeded', progress: 100 })],
      ['new', makeJob('new', { state: 'queued' })],
      ['gone', makeJob('gone', { state: 'succeeded' })],
    ]);
    const { next, ended } = mergeListedJobs(shown, [makeJob('a', { state: 'running', progress: 40 })]);
    expect(ended).toEqual([]);
    expect([...next.values()].map((job) => [job.id, job.state])).toEqual([
      ['a', 'succeeded'],
      ['new', 'queued'],
    ]);
  });
});

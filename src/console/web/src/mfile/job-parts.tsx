import { useState } from 'preact/hooks';
import { api, can, contentUrl, describeError } from '../api';
import { formatBytes, formatDate, formatDuration } from '../format';
import { newestFirst, secondsBetween } from './job-events';
import { isFinal, Job, JobOutput } from './types';

/** Pieces the Mfile page and the job page share: state badges, progress, job and output tables. */

const STATE_WORDS: Record<string, string> = {
  waiting: 'waiting',
  queued: 'queued',
  running: 'running',
  succeeded: 'succeeded',
  failed: 'failed',
  cancelled: 'cancelled',
  skipped: 'skipped',
};

export function StateBadge({ state }: { state: string }) {
  return (
    <span class={`job-state job-state-${state}`} data-state={state}>
      {STATE_WORDS[state] ?? state}
    </span>
  );
}

/** A progress bar with its number, labelled for screen readers. */
export function JobProgress({ job, label }: { job: Job; label: string }) {
  const percent = Math.round(job.state === 'succeeded' ? 100 : job.progress);
  if (isFinal(job.state) && job.state !== 'succeeded') return <span class="muted">—</span>;
  return (
    <span class="job-progress">
      <progress max={100} value={job.state === 'waiting' ? undefined : percent} aria-label={label}>
        {percent} %
      </progress>
      <span class="job-progress-text" aria-hidden="true">
        {job.state === 'waiting' ? '—' : `${percent} %`}
      </span>
    </span>
  );
}

/** How long a job took (or has been running, at its last event). */
export function jobDuration(job: Job): string {
  const ran = secondsBetween(job.startedAt, job.finishedAt);
  if (ran !== null) return formatDuration(ran);
  return job.state === 'running' ? 'running' : '—';
}

export function stateCounts(jobs: Job[]): string {
  const counts = new Map<string, number>();
  for (const job of jobs) counts.set(job.state, (counts.get(job.state) ?? 0) + 1);
  return [...counts].map(([state, count]) => `${count} ${STATE_WORDS[state] ?? state}`).join(', ');
}

export function JobsTable({ jobs, following, caption, showFile = false }: { jobs: Job[]; following: string[]; caption: string; showFile?: boolean }) {
  return (
    <div class="table-wrap">
      <table class="jobs-table">
        <caption class="sr-only">{caption}</caption>
        <thead>
          <tr>
            <th scope="col">Task</th>
            {showFile && <th scope="col">File</th>}
            <th scope="col">State</th>
            <th scope="col">Progress</th>
            <th scope="col" class="optional">
              Trigger
            </th>
            <th scope="col" class="optional">
              Queue
            </th>
            <th scope="col" class="optional">
              Created
            </th>
            <th scope="col" class="num">
              Took
            </th>
          </tr>
        </thead>
        <tbody>
          {newestFirst(jobs).map((job) => (
            <tr key={job.id} data-job-id={job.id} data-task={job.task} data-state={job.state}>
              <td>
                <a href={`/jobs/${job.id}`}>{job.task}</a>
                {job.step && job.step !== job.task && <small class="job-step"> step {job.step}</small>}
                {following.includes(job.id) && (
                  <span class="live-dot" title="Followed live">
                    live
                  </span>
                )}
                {job.error && <small class="job-error">{job.error}</small>}
              </td>
              {showFile && (
                <td class="job-file">
                  {job.mfileIds?.[0] ? <a href={`/mfiles/${job.mfileIds[0]}`}>{job.inputs?.[0]?.name ?? 'Open the file'}</a> : <span class="muted">—</span>}
                  {(job.mfileIds?.length ?? 0) > 1 && <small class="muted"> and {(job.mfileIds?.length ?? 0) - 1} more</small>}
                </td>
              )}
              <td>
                <StateBadge state={job.state} />
              </td>
              <td>
                <JobProgress job={job} label={`Progress of ${job.task}`} />
              </td>
              <td class="optional">{job.trigger}</td>
              <td class="optional">{job.queue}</td>
              <td class="optional">{formatDate(job.createdAt)}</td>
              <td class="num">{jobDuration(job)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/**
 * Files and results jobs produced. File outputs download (a same-origin link with the acting key id in `?as=`) and,
 * with joboutput:promote, become Mfiles of their own.
 */
export function OutputsTable({
  outputs,
  jobs,
  onPromoted,
}: {
  outputs: JobOutput[];
  jobs?: Map<string, Job>;
  onPromoted: (output: JobOutput, mfileId: string) => void;
}) {
  const [busy, setBusy] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const promote = async (output: JobOutput) => {
    setBusy(output.id);
    setError(null);
    try {
      const created = await api<{ id: string }>(`/joboutputs/${output.id}/mfile`, { method: 'POST' });
      onPromoted(output, created.id);
    } catch (caught) {
      setError(`${output.name}: ${describeError(caught)}`);
    } finally {
      setBusy(null);
    }
  };
  return (
    <>
      {error && (
        <div class="notice error" role="alert">
          {error}
        </div>
      )}
      <div class="table-wrap">
        <table class="outputs-table">
          <caption class="sr-only">Job outputs</caption>
          <thead>
            <tr>
              <th scope="col">Name</th>
              {jobs && <th scope="col">Made by</th>}
              <th scope="col" class="optional">
                Type
              </th>
              <th scope="col" class="num">
                Size
              </th>
              <th scope="col" class="optional">
                Made
              </th>
              <th scope="col">
                <span class="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {outputs.map((output) => {
              const job = jobs?.get(output.jobId);
              return (
                <tr key={output.id} data-output-id={output.id}>
                  <td class="output-name">{output.name}</td>
                  {jobs && (
                    <td>
                      <a href={`/jobs/${output.jobId}`}>{job?.task ?? 'job'}</a>
                    </td>
                  )}
                  <td class="optional">{output.mimetype ?? (output.hasContent ? '—' : 'result')}</td>
                  <td class="num">{output.size === null ? '—' : formatBytes(output.size)}</td>
                  <td class="optional">{formatDate(output.createdAt)}</td>
                  <td>
                    <div class="actions">
                      {output.hasContent && (
                        <a
                          class="button secondary"
                          href={contentUrl(`/joboutputs/${output.id}/content`)}
                          download={output.name}
                          aria-label={`Download ${output.name}`}
                        >
                          Download
                        </a>
                      )}
                      {output.mfileId ? (
                        <a href={`/mfiles/${output.mfileId}`}>Open as file</a>
                      ) : (
                        output.hasContent &&
                        can('joboutput:promote') && (
                          <button
                            type="button"
                            class="secondary"
                            disabled={busy === output.id}
                            onClick={() => promote(output)}
                            aria-label={`Keep ${output.name} as a file of its own`}
                          >
                            {busy === output.id ? 'Saving…' : 'Keep as file'}
                          </button>
                        )
                      )}
                    </div>
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
    </>
  );
}

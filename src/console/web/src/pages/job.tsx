import '../mfile/mfile.css';
import { useCallback, useEffect, useState } from 'preact/hooks';
import { useLocation, useRoute } from 'preact-iso';
import { actingKey, api, ApiError, can } from '../api';
import { formatDate, formatDuration } from '../format';
import { Card, ErrorNotice, Spinner } from '../components/ui';
import { ConfirmDialog } from '../components/confirm-dialog';
import { secondsBetween } from '../mfile/job-events';
import { JobProgress, JobsTable, OutputsTable, StateBadge } from '../mfile/job-parts';
import { useLiveJob, useLiveJobs } from '../mfile/live-jobs';
import { plainText } from '../mfile/task-form';
import { loadTasks } from '../mfile/tasks';
import { isFinal, JobOutput, Mfile, TaskDefinition } from '../mfile/types';

/** Re-renders every second while `active`, for a "running for" clock (local only: nothing is asked of the server). */
function useNow(active: boolean): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    if (!active) return;
    const timer = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(timer);
  }, [active]);
  return now;
}

function show(value: unknown): string {
  if (value === null || value === undefined) return '—';
  if (typeof value === 'object') return JSON.stringify(value, null, 2);
  return String(value);
}

/**
 * A job: its state and progress (live over SSE), its pipeline run's other steps, timings, error, result, outputs
 * with downloads, and cancel (job:cancel) or delete once it ended.
 */
export default function JobPage() {
  const { params } = useRoute();
  const { route } = useLocation();
  const id = params.id;
  const keyId = actingKey.value?.id;
  const [outputs, setOutputs] = useState<JobOutput[] | null>(null);
  const [outputsError, setOutputsError] = useState<unknown>(null);
  const [tasks, setTasks] = useState<TaskDefinition[] | null>(null);
  const [inputs, setInputs] = useState<Map<string, Mfile | null>>(new Map());
  const [confirm, setConfirm] = useState<'cancel' | 'delete' | null>(null);

  const loadOutputs = useCallback(async () => {
    if (!can('joboutput:read')) return;
    try {
      setOutputs((await api<{ items: JobOutput[] }>(`/jobs/${id}/outputs`, { query: { limit: 500 } })).items);
      setOutputsError(null);
    } catch (caught) {
      setOutputsError(caught);
    }
  }, [id, keyId]);
  const { job, error, reload } = useLiveJob(id, () => void loadOutputs());
  const steps = useLiveJobs(job?.runId ? `/services/${job.serviceId}/jobs` : null, job?.runId ? { runId: job.runId } : {}, () => undefined, 2);

  useEffect(() => {
    loadTasks().then(setTasks, () => setTasks([]));
  }, []);
  useEffect(() => {
    setOutputs(null);
    void loadOutputs();
  }, [loadOutputs]);
  useEffect(() => {
    if (job) document.title = `${job.task} job — MServe`;
  }, [job?.task]);
  // the names of the files it ran on, where the key may read them
  const inputIds = (job?.mfileIds ?? []).slice(0, 20).join(',');
  useEffect(() => {
    if (!inputIds) return;
    let current = true;
    void Promise.all(
      inputIds.split(',').map((mfileId) =>
        api<Mfile>(`/mfiles/${mfileId}`).then(
          (mfile) => [mfileId, mfile] as const,
          () => [mfileId, null] as const,
        ),
      ),
    ).then((pairs) => current && setInputs(new Map(pairs)));
    return () => {
      current = false;
    };
  }, [inputIds, keyId]);

  const now = useNow(job?.state === 'running');

  if (error && !job) {
    return (
      <section>
        <h1>Job</h1>
        <ErrorNotice error={error} />
        {error instanceof ApiError && error.status === 404 && (
          <p>
            The job may have been deleted. <a href="/">Back to the start</a>
          </p>
        )}
      </section>
    );
  }
  if (!job) return <Spinner label="Loading the job…" />;

  const task = tasks?.find((candidate) => candidate.name === job.task);
  const final = isFinal(job.state);
  const waited = secondsBetween(job.createdAt, job.startedAt);
  const ran = job.startedAt ? secondsBetween(job.startedAt, job.finishedAt ?? (job.state === 'running' ? new Date(now).toISOString() : null)) : null;
  const firstInput = job.mfileIds?.[0];

  const cancel = async () => {
    await api(`/jobs/${job.id}/cancel`, { method: 'POST' });
    setConfirm(null);
    await reload();
  };
  const remove = async () => {
    await api(`/jobs/${job.id}`, { method: 'DELETE' });
    setConfirm(null);
    route(firstInput ? `/mfiles/${firstInput}` : '/');
  };

  return (
    <section class="job-page" aria-labelledby="job-title">
      {firstInput && (
        <nav aria-label="Breadcrumb">
          <ol class="breadcrumbs">
            <li>
              <a href={`/mfiles/${firstInput}`}>{inputs.get(firstInput)?.name ?? 'File'}</a>
            </li>
            <li aria-current="page">{job.task} job</li>
          </ol>
        </nav>
      )}
      <header class="mfile-head">
        <h1 id="job-title">{job.task} job</h1>
        <div class="actions">
          {can('job:cancel') && !final && (
            <button type="button" class="danger" onClick={() => setConfirm('cancel')}>
              Cancel job
            </button>
          )}
          {can('job:cancel') && final && (
            <button type="button" class="secondary" onClick={() => setConfirm('delete')}>
              Delete job
            </button>
          )}
        </div>
      </header>

      <Card
        title={
          <>
            State: <StateBadge state={job.state} />
          </>
        }
      >
        <div class="job-status" aria-live="polite">
          <JobProgress job={job} label={`Progress of the ${job.task} job`} />
          {job.state === 'waiting' && <p class="muted">Waiting for the steps it comes after to finish.</p>}
          {job.state === 'queued' && <p class="muted">Queued on {job.queue}; a worker takes it next.</p>}
          {job.state === 'skipped' && <p class="muted">Skipped: the file did not match the step's condition.</p>}
        </div>
        {job.error && (
          <div
            class={`notice ${job.state === 'cancelled' || job.state === 'skipped' ? 'ok' : 'error'} job-error-text`}
            role={job.state === 'failed' ? 'alert' : undefined}
          >
            <span>
              <strong>{job.state === 'failed' ? 'Failed: ' : 'Note: '}</strong>
              {job.error}
            </span>
          </div>
        )}
        {task && <p class="muted">{plainText(task.description)}</p>}
      </Card>

      <div class="mfile-grid">
        <Card title="Details">
          <dl class="facts">
            <dt>Task</dt>
            <dd>{job.task}</dd>
            <dt>Trigger</dt>
            <dd>
              {job.trigger}
              {job.step ? ` · step ${job.step}` : ''}
            </dd>
            <dt>Queue</dt>
            <dd>{job.queue}</dd>
            <dt>Attempts</dt>
            <dd>{job.attempts}</dd>
            <dt>Worker</dt>
            <dd>{job.workerHost ?? '—'}</dd>
            <dt>Files</dt>
            <dd>
              {(job.mfileIds ?? []).length === 0 ? (
                '—'
              ) : (
                <ul class="plain-list">
                  {(job.mfileIds ?? []).map((mfileId) => (
                    <li key={mfileId}>
                      <a href={`/mfiles/${mfileId}`}>{inputs.get(mfileId)?.name ?? mfileId}</a>
                    </li>
                  ))}
                </ul>
              )}
            </dd>
            {Object.keys(job.options).length > 0 && (
              <>
                <dt>Options</dt>
                <dd>
                  <ul class="plain-list">
                    {Object.entries(job.options).map(([name, value]) => (
                      <li key={name}>
                        <code>{name}</code> = {show(value)}
                      </li>
                    ))}
                  </ul>
                </dd>
              </>
            )}
            {job.condition && (
              <>
                <dt>Condition</dt>
                <dd>
                  {[
                    job.condition.mimetypes?.join(', '),
                    job.condition.minSize !== undefined ? `≥ ${job.condition.minSize} B` : '',
                    job.condition.maxSize !== undefined ? `≤ ${job.condition.maxSize} B` : '',
                  ]
                    .filter(Boolean)
                    .join(' · ')}
                </dd>
              </>
            )}
            <dt>ID</dt>
            <dd class="hash">{job.id}</dd>
          </dl>
        </Card>
        <Card title="Timings">
          <dl class="facts">
            <dt>Created</dt>
            <dd>{formatDate(job.createdAt)}</dd>
            <dt>Started</dt>
            <dd>{formatDate(job.startedAt)}</dd>
            <dt>Finished</dt>
            <dd>{formatDate(job.finishedAt)}</dd>
            <dt>Waited</dt>
            <dd>{waited === null ? '—' : formatDuration(waited)}</dd>
            <dt>{job.state === 'running' ? 'Running for' : 'Ran'}</dt>
            <dd data-fact="ran">{ran === null ? '—' : formatDuration(ran)}</dd>
          </dl>
        </Card>
      </div>

      {job.result && Object.keys(job.result).length > 0 && (
        <Card title="Result">
          <div class="table-wrap">
            <table class="result-table">
              <caption class="sr-only">Result of the job</caption>
              <tbody>
                {Object.entries(job.result).map(([name, value]) => (
                  <tr key={name}>
                    <th scope="row">
                      {name}
                      {task?.results[name] && <small class="field-hint">{task.results[name]}</small>}
                    </th>
                    <td>
                      <pre class="result-value">{show(value)}</pre>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </Card>
      )}

      {can('joboutput:read') && (
        <Card title="Outputs">
          <ErrorNotice error={outputsError} />
          {outputs === null ? (
            <Spinner label="Loading the outputs…" />
          ) : outputs.length === 0 ? (
            <p class="muted">
              {final
                ? 'This job made no files.'
                : task && Object.keys(task.outputs).length
                  ? `It will make: ${Object.entries(task.outputs)
                      .map(([name, what]) => `${name} (${what})`)
                      .join(', ')}.`
                  : 'Nothing yet.'}
            </p>
          ) : (
            <OutputsTable
              outputs={outputs}
              onPromoted={(output, mfileId) => setOutputs((current) => (current ?? []).map((item) => (item.id === output.id ? { ...item, mfileId } : item)))}
            />
          )}
        </Card>
      )}

      {job.runId && steps.jobs.length > 1 && (
        <Card title="Pipeline run">
          <p class="muted">The steps {job.trigger === 'manual' ? 'of the manual pipeline' : `the ${job.trigger} trigger`} started on this file together.</p>
          <JobsTable jobs={steps.jobs} following={steps.following} caption="Steps of the pipeline run" />
        </Card>
      )}

      <ConfirmDialog
        open={confirm !== null}
        title={confirm === 'cancel' ? `Cancel the ${job.task} job?` : `Delete the ${job.task} job?`}
        confirmLabel={confirm === 'cancel' ? 'Cancel job' : 'Delete job'}
        busyLabel={confirm === 'cancel' ? 'Cancelling…' : 'Deleting…'}
        dismissLabel="Keep it"
        onConfirm={confirm === 'cancel' ? cancel : remove}
        onClose={() => setConfirm(null)}
      >
        <p>
          {confirm === 'cancel'
            ? 'It is taken off its queue (a running worker drops its result), and the steps that wait for it are cancelled too.'
            : 'The job and the files it made are deleted. This cannot be undone.'}
        </p>
      </ConfirmDialog>
    </section>
  );
}

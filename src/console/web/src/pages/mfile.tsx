import '../mfile/mfile.css';
import { Fragment } from 'preact';
import { useCallback, useEffect, useLayoutEffect, useMemo, useRef, useState } from 'preact/hooks';
import { useLocation, useRoute } from 'preact-iso';
import { actingKey, api, can, contentUrl, describeError, refreshSession } from '../api';
import { formatBytes, formatDate } from '../format';
import { Card, ErrorNotice, Spinner, useLoad } from '../components/ui';
import { ConfirmDialog } from '../components/confirm-dialog';
import { JobsTable, OutputsTable, stateCounts } from '../mfile/job-parts';
import { useLiveJobs } from '../mfile/live-jobs';
import { mediaFacts } from '../mfile/media';
import { folderHref, landingAfterDelete, loadPlace, Place } from '../mfile/place';
import { Preview } from '../mfile/preview';
import { ReplaceContent } from '../mfile/replace-content';
import { RunTask } from '../mfile/run-task';
import { loadTasks } from '../mfile/tasks';
import { isFinal } from '../mfile/types';
import type { Job, JobOutput, Mfile, TaskDefinition } from '../mfile/types';

/**
 * An Mfile: its preview, what is known about it, the jobs that ran on it (live), what they made, a task to run, and
 * rename / replace / download / delete for the keys that may. Everything through the public REST API.
 */
export default function MfilePage() {
  const { params } = useRoute();
  const { route } = useLocation();
  const id = params.id;
  const keyId = actingKey.value?.id;
  const file = useLoad(() => api<Mfile>(`/mfiles/${id}`), [id, keyId]);
  const mfile = file.data;
  const [tasks, setTasks] = useState<TaskDefinition[] | null>(null);
  const [tasksError, setTasksError] = useState<unknown>(null);
  const [place, setPlace] = useState<Place | undefined>(undefined);
  const [outputs, setOutputs] = useState<Map<string, JobOutput[]>>(new Map());
  const [outputsError, setOutputsError] = useState<unknown>(null);
  const requestedOutputs = useRef(new Set<string>());
  const [panel, setPanel] = useState<'rename' | 'replace' | null>(null);
  const [deleting, setDeleting] = useState(false);

  useEffect(() => {
    loadTasks().then(setTasks, setTasksError);
  }, []);
  useEffect(() => {
    if (mfile) document.title = `${mfile.name} — MServe`;
  }, [mfile?.name]);
  useEffect(() => {
    setOutputs(new Map());
    requestedOutputs.current = new Set();
  }, [id, keyId]);
  // the trail above the file; read again when the file moves
  useEffect(() => {
    if (!mfile) return;
    let current = true;
    loadPlace(mfile).then(
      (found) => current && setPlace(found),
      () => current && setPlace({ service: null, folders: [] }),
    );
    return () => {
      current = false;
    };
  }, [mfile?.serviceId, mfile?.folderId, keyId]);

  // the job whose output this file was promoted from, named by its task where the key may read it
  const promotedJobId = mfile?.metadata.promotedFrom?.jobId;
  const [origin, setOrigin] = useState<Job | null>(null);
  useEffect(() => {
    setOrigin(null);
    if (!promotedJobId || !can('job:read')) return;
    let current = true;
    api<Job>(`/jobs/${promotedJobId}`).then(
      (job) => current && setOrigin(job),
      () => undefined,
    );
    return () => {
      current = false;
    };
  }, [promotedJobId, keyId]);

  // a job that ends may have changed the file (mimetype, metadata, renditions) and made outputs: read them
  const onFinished = useCallback(
    (job: Job) => {
      void file.reload();
      if (job.state === 'succeeded') requestedOutputs.current.delete(job.id);
    },
    [file.reload],
  );
  const live = useLiveJobs(can('job:read') ? `/mfiles/${id}/jobs` : null, {}, onFinished);
  // The file and the job list are read at the same time: a job the first list shows ended may have ended after the
  // file was read, its findings (image size, renditions) not in it yet, and no stream will say so. So once the first
  // list is in, the file is read again if any job of it has ended (a read after the list holds all of theirs).
  const readAfterList = useRef<string | null>(null);
  useEffect(() => {
    if (live.loading || readAfterList.current === id) return;
    readAfterList.current = id;
    if (live.jobs.some((job) => isFinal(job.state))) void file.reload();
  }, [live.loading, id]);
  const jobsById = useMemo(() => new Map(live.jobs.map((job) => [job.id, job])), [live.jobs]);

  // outputs of the succeeded jobs whose task makes files (per the registry), each read once
  const producing = useMemo(() => {
    if (!tasks || !can('joboutput:read')) return [];
    const makesFiles = new Set(tasks.filter((task) => Object.keys(task.outputs).length > 0).map((task) => task.name));
    return live.jobs
      .filter((job) => job.state === 'succeeded' && (makesFiles.has(job.task) || !tasks.some((task) => task.name === job.task)))
      .map((job) => job.id);
  }, [live.jobs, tasks, keyId]);
  useEffect(() => {
    for (const jobId of producing) {
      if (requestedOutputs.current.has(jobId)) continue;
      requestedOutputs.current.add(jobId);
      api<{ items: JobOutput[] }>(`/jobs/${jobId}/outputs`, { query: { limit: 500 } }).then(
        (page) => setOutputs((current) => new Map(current).set(jobId, page.items)),
        (error) => {
          requestedOutputs.current.delete(jobId);
          setOutputsError(error);
        },
      );
    }
  }, [producing.join(',')]);

  if (file.error && !mfile) {
    return (
      <section>
        <h1>File</h1>
        <ErrorNotice error={file.error} />
        <p>
          <a href="/">Back to the start</a>
        </p>
      </section>
    );
  }
  if (!mfile) return <Spinner label="Loading the file…" />;

  const allOutputs = [...outputs.values()].flat().sort((a, b) => (a.id < b.id ? 1 : -1));
  const facts = mediaFacts(mfile.metadata);
  const promotedFrom = mfile.metadata.promotedFrom;
  const rest = Object.fromEntries(Object.entries(mfile.metadata).filter(([key]) => key !== 'renditions'));

  const remove = async () => {
    await api(`/mfiles/${mfile.id}`, { method: 'DELETE' });
    const target = landingAfterDelete(place, mfile.folderId);
    // keys on the file went with it; the wallet is read again so the console does not act with one
    await refreshSession().catch(() => undefined);
    setDeleting(false);
    route(target);
  };

  return (
    <section class="mfile-page" aria-labelledby="mfile-title">
      <Breadcrumbs place={place} mfile={mfile} />
      <header class="mfile-head">
        <h1 id="mfile-title">{mfile.name}</h1>
        <div class="actions">
          <a class="button" href={contentUrl(`/mfiles/${mfile.id}/content`, { v: mfile.sha256.slice(0, 16) })} download={mfile.name}>
            Download
          </a>
          {can('mfile:write') && (
            <button type="button" class="secondary" aria-expanded={panel === 'rename'} onClick={() => setPanel(panel === 'rename' ? null : 'rename')}>
              Rename
            </button>
          )}
          {can('mfile:write') && (
            <button type="button" class="secondary" aria-expanded={panel === 'replace'} onClick={() => setPanel(panel === 'replace' ? null : 'replace')}>
              Replace content
            </button>
          )}
          {can('mfile:delete') && (
            <button type="button" class="danger" onClick={() => setDeleting(true)}>
              Delete
            </button>
          )}
        </div>
      </header>
      <ErrorNotice error={file.error} />
      {panel === 'rename' && (
        <RenameForm
          mfile={mfile}
          onDone={(updated) => {
            file.setData(updated);
            setPanel(null);
          }}
          onCancel={() => setPanel(null)}
        />
      )}
      {panel === 'replace' && (
        <ReplaceContent
          mfile={mfile}
          onReplaced={(updated) => {
            file.setData(updated);
            void live.refresh();
          }}
          onClose={() => setPanel(null)}
        />
      )}

      <div class="mfile-grid">
        <Card title="Preview">
          <Preview mfile={mfile} jobs={live.jobs} />
        </Card>
        <Card title="Details">
          <dl class="facts">
            <dt>Type</dt>
            <dd data-fact="mimetype">{mfile.mimetype}</dd>
            <dt>Size</dt>
            <dd data-fact="size">
              {formatBytes(mfile.size)} <small>({mfile.size.toLocaleString()} bytes)</small>
            </dd>
            {facts.map((fact) => (
              <Fragment key={fact.label}>
                <dt>{fact.label}</dt>
                <dd>{fact.value}</dd>
              </Fragment>
            ))}
            <dt>MD5</dt>
            <dd class="hash" data-fact="md5">
              {mfile.md5}
            </dd>
            <dt>SHA-256</dt>
            <dd class="hash" data-fact="sha256">
              {mfile.sha256}
            </dd>
            <dt>Created</dt>
            <dd>{formatDate(mfile.createdAt)}</dd>
            <dt>Content changed</dt>
            <dd>{formatDate(mfile.contentUpdatedAt)}</dd>
            <dt>Last updated</dt>
            <dd>{formatDate(mfile.updatedAt)}</dd>
            {promotedFrom && (
              <>
                <dt>Made by</dt>
                <dd data-fact="made-by">
                  an output of the <a href={`/jobs/${promotedFrom.jobId}`}>{origin ? `${origin.task} job` : `job ${promotedFrom.jobId.slice(0, 8)}…`}</a>
                  {origin?.mfileIds?.[0] && (
                    <>
                      {' '}
                      on <a href={`/mfiles/${origin.mfileIds[0]}`}>its source file</a>
                    </>
                  )}
                </dd>
              </>
            )}
            <dt>ID</dt>
            <dd class="hash">{mfile.id}</dd>
          </dl>
          {Object.keys(rest).length > 0 && (
            <details class="raw-metadata">
              <summary>All metadata</summary>
              <pre tabIndex={0}>{JSON.stringify(rest, null, 2)}</pre>
            </details>
          )}
        </Card>
      </div>

      {can('job:read') && (
        <Card
          title="Jobs"
          actions={
            live.jobs.length > 0 ? (
              <span class="muted" aria-live="polite">
                {stateCounts(live.jobs)}
              </span>
            ) : undefined
          }
        >
          <ErrorNotice error={live.error} />
          {live.loading ? (
            <Spinner label="Loading the jobs…" />
          ) : live.jobs.length === 0 ? (
            <p class="muted">No job has run on this file yet.</p>
          ) : (
            <JobsTable jobs={live.jobs} following={live.following} caption={`Jobs of ${mfile.name}`} />
          )}
          {live.truncated && <p class="muted">Showing the first {live.jobs.length} jobs of this file.</p>}
        </Card>
      )}

      {can('joboutput:read') && can('job:read') && (
        <Card title="Job outputs">
          <ErrorNotice error={outputsError} onDismiss={() => setOutputsError(null)} />
          {allOutputs.length === 0 ? (
            <p class="muted">Nothing made from this file yet (thumbnails, posters, proxies and transcodes appear here).</p>
          ) : (
            <OutputsTable
              outputs={allOutputs}
              jobs={jobsById}
              onPromoted={(output, mfileId) =>
                setOutputs((current) =>
                  new Map(current).set(
                    output.jobId,
                    (current.get(output.jobId) ?? []).map((item) => (item.id === output.id ? { ...item, mfileId } : item)),
                  ),
                )
              }
            />
          )}
        </Card>
      )}

      {can('job:create') && (
        <Card title="Run a task">
          {tasksError ? (
            <ErrorNotice error={tasksError} />
          ) : tasks ? (
            <RunTask mfile={mfile} tasks={tasks} onCreated={(jobs) => jobs.forEach(live.add)} />
          ) : (
            <Spinner label="Loading the tasks…" />
          )}
        </Card>
      )}

      <ConfirmDialog
        open={deleting}
        title={`Delete “${mfile.name}”?`}
        confirmLabel="Delete file"
        busyLabel="Deleting…"
        onConfirm={remove}
        onClose={() => setDeleting(false)}
      >
        <p>The file's content ({formatBytes(mfile.size)}) and the keys that open it are deleted at once. This cannot be undone.</p>
      </ConfirmDialog>
    </section>
  );
}

function Breadcrumbs({ place, mfile }: { place: Place | undefined; mfile: Mfile }) {
  if (!place || (!place.service && place.folders.length === 0)) return null;
  return (
    <nav aria-label="Breadcrumb">
      <ol class="breadcrumbs">
        {place.service && (
          <li>
            <a href={`/services/${place.service.id}`}>{place.service.name}</a>
          </li>
        )}
        {place.folders
          .filter((folder) => folder.parentId !== null || !place.service)
          .map((folder) => (
            <li key={folder.id}>
              <a href={folderHref(place, folder)}>{folder.parentId === null ? 'Root folder' : folder.name}</a>
            </li>
          ))}
        <li aria-current="page">{mfile.name}</li>
      </ol>
    </nav>
  );
}

function RenameForm({ mfile, onDone, onCancel }: { mfile: Mfile; onDone: (mfile: Mfile) => void; onCancel: () => void }) {
  const [name, setName] = useState(mfile.name);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const input = useRef<HTMLInputElement>(null);
  // in the commit that shows the field: typing that starts before a later effect would lose its first characters to
  // the selection (a full run's fill of "sunset.png" became "sunset.png.png")
  useLayoutEffect(() => {
    input.current?.focus();
    input.current?.setSelectionRange(0, mfile.name.lastIndexOf('.') > 0 ? mfile.name.lastIndexOf('.') : mfile.name.length);
  }, []);
  const submit = async (event: Event) => {
    event.preventDefault();
    const trimmed = name.trim();
    if (!trimmed) return setError('Give the file a name.');
    if (/[/\\]/.test(trimmed)) return setError('A name cannot contain / or \\.');
    if (trimmed === mfile.name) return onCancel();
    setBusy(true);
    setError(null);
    try {
      onDone(await api<Mfile>(`/mfiles/${mfile.id}`, { method: 'PATCH', body: { name: trimmed } }));
    } catch (caught) {
      setError(describeError(caught));
    } finally {
      setBusy(false);
    }
  };
  return (
    <form class="inline card rename-form" onSubmit={submit} aria-label="Rename the file" noValidate>
      <div class="field">
        <label for="rename-name">New name</label>
        <input
          id="rename-name"
          ref={input}
          value={name}
          maxLength={255}
          required
          aria-invalid={error ? 'true' : undefined}
          aria-describedby={error ? 'rename-error' : undefined}
          onInput={(event) => setName((event.target as HTMLInputElement).value)}
        />
        {error && (
          <span id="rename-error" class="field-error" role="alert">
            {error}
          </span>
        )}
      </div>
      <div class="actions">
        <button type="submit" disabled={busy}>
          {busy ? 'Saving…' : 'Save name'}
        </button>
        <button type="button" class="secondary" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}

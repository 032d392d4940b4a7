import '../mfile/mfile.css';
import { useEffect, useRef, useState } from 'preact/hooks';
import { useRoute } from 'preact-iso';
import { actingKey, api, can, contentUrl, type Page } from '../api';
import { usePaged } from '../browse/use-paged';
import { LoadMore } from '../browse/widgets';
import { ErrorNotice, Spinner } from '../components/ui';
import type { JobEventData } from '../mfile/job-events';
import { JobsTable, stateCounts } from '../mfile/job-parts';
import { applyServiceEvent, JOB_STATES, JOB_TRIGGERS, JobFilters, jobsQuery, mergeFirstPage, NO_FILTERS } from '../mfile/service-jobs';
import { loadTasks } from '../mfile/tasks';
import { isFinal, Job, TaskDefinition } from '../mfile/types';

/** Jobs a page reads at a time. */
const PAGE = 50;
/** How long a burst of events may last before the first page is read again (once). */
const REREAD_MS = 400;

type Live = 'connecting' | 'live' | 'reconnecting' | 'unavailable';
const LIVE_WORDS: Record<Live, string> = {
  connecting: 'Connecting to live updates…',
  live: 'Live: jobs change here as they run.',
  reconnecting: 'Live updates interrupted; reconnecting…',
  unavailable: 'Live updates are not available to this key; reload to see changes.',
};

/**
 * Every job of a service, newest first, filtered by state, task and trigger, with "Load more" (keyset paging). Kept
 * live by one stream for the whole service (GET /services/:id/jobs/events) rather than a stream per job: a job on
 * the page changes as its events arrive, a new one appears at the top.
 */
export default function ServiceJobs() {
  const { params } = useRoute();
  const serviceId = params.id;
  const keyId = actingKey.value?.id;
  const allowed = can('job:read');
  const [name, setName] = useState<string | null>(null);
  const [tasks, setTasks] = useState<TaskDefinition[]>([]);
  const [filters, setFilters] = useState<JobFilters>(NO_FILTERS);
  const [live, setLive] = useState<Live>('connecting');
  const fetchPage = (cursor: string | null) =>
    allowed ? api<Page<Job>>(`/services/${serviceId}/jobs`, { query: jobsQuery(filters, cursor, PAGE) }) : Promise.resolve({ items: [], nextCursor: null });
  const paged = usePaged<Job>(fetchPage, [serviceId, keyId, allowed, filters.state, filters.task, filters.trigger]);
  const jobs = paged.items;
  // the newest values for the stream's handlers, which are made once per connection
  const current = useRef({ jobs, filters, fetchPage, setItems: paged.setItems });
  current.current = { jobs, filters, fetchPage, setItems: paged.setItems };
  const rereadTimer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);

  useEffect(() => {
    if (!allowed) return;
    api<{ name: string }>(`/services/${serviceId}`).then(
      (service) => setName(service.name),
      () => setName(null),
    );
    loadTasks().then(setTasks, () => setTasks([]));
  }, [serviceId, keyId, allowed]);

  /** The first page read again and merged in: the pages loaded below it stay. */
  const scheduleReread = (delay: number) => {
    clearTimeout(rereadTimer.current);
    rereadTimer.current = setTimeout(() => {
      const { filters: asked, fetchPage: read, setItems } = current.current;
      read(null).then(
        (page) => current.current.filters === asked && setItems((shown) => mergeFirstPage(shown, page.items, asked)),
        () => undefined,
      );
    }, delay);
  };

  useEffect(() => {
    if (!allowed) return;
    setLive('connecting');
    const source = new EventSource(contentUrl(`/services/${serviceId}/jobs/events`));
    // listening: what happened before is read now (and again after every reconnection), so nothing is missed
    source.addEventListener('ready', () => {
      setLive('live');
      scheduleReread(0);
    });
    source.addEventListener('job', (message) => {
      let event: JobEventData;
      try {
        event = JSON.parse((message as MessageEvent<string>).data) as JobEventData;
      } catch {
        return;
      }
      const { jobs: shown, filters: now, setItems } = current.current;
      const applied = applyServiceEvent(shown, event, now);
      if (applied.jobs !== shown) setItems((latest) => applyServiceEvent(latest, event, now).jobs);
      if (applied.reread) scheduleReread(REREAD_MS);
    });
    source.onerror = () => setLive(source.readyState === EventSource.CLOSED ? 'unavailable' : 'reconnecting');
    return () => {
      source.close();
      clearTimeout(rereadTimer.current);
    };
  }, [serviceId, keyId, allowed]);

  if (!allowed) {
    return (
      <section>
        <h1>Jobs</h1>
        <p>
          This key cannot read jobs: that needs the action <code>job:read</code>. <a href={`/services/${serviceId}`}>Back to the service</a>.
        </p>
      </section>
    );
  }

  const select = (field: keyof JobFilters, label: string, options: readonly string[]) => (
    <label>
      {label}
      <select value={filters[field]} onChange={(event) => setFilters({ ...filters, [field]: (event.target as HTMLSelectElement).value })}>
        <option value="">Any</option>
        {options.map((option) => (
          <option key={option} value={option}>
            {option}
          </option>
        ))}
      </select>
    </label>
  );
  const running = jobs.filter((job) => !isFinal(job.state)).map((job) => job.id);

  return (
    <section class="service-jobs" aria-labelledby="service-jobs-title">
      <nav aria-label="Breadcrumb">
        <ol class="breadcrumbs">
          <li>
            <a href={`/services/${serviceId}`}>{name ?? 'Service'}</a>
          </li>
          <li aria-current="page">Jobs</li>
        </ol>
      </nav>
      <h1 id="service-jobs-title">Jobs{name ? ` of ${name}` : ''}</h1>
      <p class="muted live-status" role="status" aria-live="polite" data-live={live}>
        {LIVE_WORDS[live]}
      </p>
      <form class="job-filters" onSubmit={(event) => event.preventDefault()}>
        {select('state', 'State', JOB_STATES)}
        {select(
          'task',
          'Task',
          tasks.map((task) => task.name),
        )}
        {select('trigger', 'Trigger', JOB_TRIGGERS)}
        {(filters.state || filters.task || filters.trigger) && (
          <button type="button" class="link" onClick={() => setFilters(NO_FILTERS)}>
            Clear the filters
          </button>
        )}
      </form>
      <ErrorNotice error={paged.error} onDismiss={paged.clearError} />
      {paged.loading ? (
        <Spinner label="Loading the jobs…" />
      ) : jobs.length === 0 ? (
        <p>
          {filters.state || filters.task || filters.trigger
            ? 'No job matches these filters.'
            : 'No jobs yet: they start when files are uploaded, replaced or read, on a schedule, or on request.'}
        </p>
      ) : (
        <>
          <p class="muted">
            {stateCounts(jobs)} among the {jobs.length} shown.
          </p>
          <JobsTable jobs={jobs} following={live === 'live' ? running : []} caption={`Jobs${name ? ` of ${name}` : ''}, newest first`} showFile />
          <LoadMore paged={paged} noun={['job', 'jobs']} />
        </>
      )}
    </section>
  );
}

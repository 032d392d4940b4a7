import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { api, contentUrl, Page } from '../api';
import { applyJobEvent, JobEventData, jobsToFollow, mergeListedJobs } from './job-events';
import { isFinal, Job } from './types';

/** Streams an Mfile page keeps open at once (see jobsToFollow). */
export const MAX_STREAMS = 3;
/** Jobs of one file the page reads (pages of 200); a longer history is summarised. */
const MAX_LISTED = 1000;

/**
 * Opens the event stream of one job. `onEvent` gets every event; the stream is closed by the caller, or here once
 * the job reached a final state (the server ends the stream then, and EventSource would otherwise reconnect).
 */
export function followJob(id: string, onEvent: (event: JobEventData) => void, onBroken?: () => void): () => void {
  const source = new EventSource(contentUrl(`/jobs/${id}/events`));
  const handle = (message: MessageEvent<string>) => {
    let data: JobEventData;
    try {
      data = JSON.parse(message.data) as JobEventData;
    } catch {
      return;
    }
    onEvent(data);
    if (data.state && isFinal(data.state)) source.close();
  };
  source.addEventListener('state', handle as EventListener);
  source.addEventListener('progress', handle as EventListener);
  // a refused stream (403/404) is closed for good; a dropped one reconnects by itself and starts with a snapshot
  source.onerror = () => {
    if (source.readyState === EventSource.CLOSED) onBroken?.();
  };
  return () => source.close();
}

export async function listAllJobs(path: string, query: Record<string, string> = {}): Promise<{ jobs: Job[]; truncated: boolean }> {
  const jobs: Job[] = [];
  let cursor: string | null = null;
  do {
    const page: Page<Job> = await api<Page<Job>>(path, { query: { ...query, limit: 200, cursor } });
    jobs.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor && jobs.length < MAX_LISTED);
  return { jobs, truncated: cursor !== null };
}

export interface LiveJobs {
  jobs: Job[];
  truncated: boolean;
  error: unknown;
  loading: boolean;
  /** Ids of the jobs followed right now (shown as "live"). */
  following: string[];
  /** A job this page just created: shown and followed at once. */
  add(job: Job): void;
  /** Reads the list again (after a replace, which starts the update pipeline). */
  refresh(): Promise<void>;
}

/**
 * A list of jobs (an Mfile's, a pipeline run's), kept live: the list is read once, unfinished jobs are followed over SSE (a few at a time),
 * and each job that ends makes the list be read again (its dependents may have started) and calls `onFinished`
 * (the page then reads the file's new metadata and the job's outputs), whether a stream or a read of the list saw it end. No polling: every read answers an event.
 */
export function useLiveJobs(path: string | null, query: Record<string, string>, onFinished: (job: Job) => void, maxStreams = MAX_STREAMS): LiveJobs {
  const enabled = path !== null;
  const queryKey = JSON.stringify(query);
  // the jobs live in a ref so an event handler reads the latest state at once; `version` re-renders the page
  const jobs = useRef(new Map<string, Job>());
  const [, setVersion] = useState(0);
  const [truncated, setTruncated] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [loading, setLoading] = useState(enabled);
  const streams = useRef(new Map<string, () => void>());
  const finished = useRef(onFinished);
  finished.current = onFinished;
  const refreshTimer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  const update = (next: Map<string, Job>) => {
    jobs.current = next;
    setVersion((version) => version + 1);
  };

  const refresh = useCallback(async () => {
    if (path === null) return;
    try {
      const listed = await listAllJobs(path, query);
      const { next, ended } = mergeListedJobs(jobs.current, listed.jobs);
      update(next);
      for (const job of ended) finished.current(job);
      setTruncated(listed.truncated);
      setError(null);
    } catch (caught) {
      setError(caught);
    } finally {
      setLoading(false);
    }
  }, [path, queryKey]);

  // several jobs often end together (a pipeline's parallel steps): one read for all of them
  const refreshSoon = useCallback(() => {
    clearTimeout(refreshTimer.current);
    refreshTimer.current = setTimeout(() => void refresh(), 150);
  }, [refresh]);

  useEffect(() => {
    update(new Map());
    setLoading(enabled);
    void refresh();
    const open = streams.current;
    return () => {
      clearTimeout(refreshTimer.current);
      for (const close of open.values()) close();
      open.clear();
    };
  }, [refresh]);

  const onEvent = useCallback(
    (event: JobEventData) => {
      const job = jobs.current.get(event.id);
      if (!job) return;
      const next = applyJobEvent(job, event);
      update(new Map(jobs.current).set(event.id, next));
      if (isFinal(next.state)) {
        streams.current.get(event.id)?.();
        streams.current.delete(event.id);
        if (!isFinal(job.state)) finished.current(next);
        refreshSoon();
      }
    },
    [refreshSoon],
  );

  const list = [...jobs.current.values()];
  const wanted = jobsToFollow(list, maxStreams);
  const wantedKey = wanted.join(',');
  useEffect(() => {
    const open = streams.current;
    for (const [id, close] of open) {
      if (!wanted.includes(id)) {
        close();
        open.delete(id);
      }
    }
    for (const id of wanted) {
      if (!open.has(id)) {
        open.set(
          id,
          followJob(id, onEvent, () => {
            open.delete(id);
            refreshSoon();
          }),
        );
      }
    }
  }, [wantedKey, onEvent]);

  const add = useCallback((job: Job) => update(new Map(jobs.current).set(job.id, job)), []);

  return { jobs: list, truncated, error, loading, following: wanted, add, refresh };
}

/**
 * One job followed live (the job page): read, then every change over SSE until it ends. Each change of state (not
 * mere progress) reads the job again, for its result, error and times, and calls `onStateChange`.
 */
export function useLiveJob(id: string, onStateChange?: () => void): { job: Job | undefined; error: unknown; reload: () => Promise<void> } {
  const [job, setJob] = useState<Job | undefined>(undefined);
  const [error, setError] = useState<unknown>(null);
  const changed = useRef(onStateChange);
  changed.current = onStateChange;
  const reload = useCallback(async () => {
    try {
      setJob(await api<Job>(`/jobs/${id}`));
      setError(null);
    } catch (caught) {
      setError(caught);
    }
  }, [id]);
  useEffect(() => {
    setJob(undefined);
    void reload();
  }, [reload]);
  const live = job !== undefined && !isFinal(job.state);
  useEffect(() => {
    if (!live) return;
    return followJob(
      id,
      (event) => {
        setJob((current) => (current ? applyJobEvent(current, event) : current));
        if (event.state && event.task === undefined) {
          void reload();
          changed.current?.();
        }
      },
      () => void reload(),
    );
  }, [id, live]);
  return { job, error, reload };
}

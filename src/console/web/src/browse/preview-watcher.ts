import { api, contentUrl, type Page } from '../api';
import { isFinal, PREVIEW_TASKS } from './files';
import type { Job, Mfile } from './types';

/**
 * Waits for a file's picture (its thumbnail, or a video's poster) without polling: the file's jobs that make one
 * are followed over the job event stream (GET /api/v1/jobs/:id/events) and, when one ends, the Mfile is read
 * again for its `renditions`. Streams hold a connection each, and browsers open six per host over HTTP/1.1, so at
 * most MAX_STREAMS are open at once; other files wait their turn.
 */

const MAX_STREAMS = 2;
const REOPEN_DELAYS = [1000, 3000, 10000];
let open = 0;
const waiting: Array<() => void> = [];

async function slot(): Promise<() => void> {
  if (open >= MAX_STREAMS) await new Promise<void>((resolve) => waiting.push(resolve));
  open += 1;
  let released = false;
  return () => {
    if (released) return;
    released = true;
    open -= 1;
    waiting.shift()?.();
  };
}

/** Resolves when the job reached a final state (or the watch was stopped). */
function followJob(jobId: string, keyId: string | null, stopped: () => boolean): Promise<void> {
  return new Promise((resolve) => {
    let attempt = 0;
    const connect = async () => {
      const release = await slot();
      if (stopped()) {
        release();
        return resolve();
      }
      const source = new EventSource(contentUrl(`/jobs/${jobId}/events`, {}, keyId ?? undefined));
      const close = () => {
        source.close();
        release();
        clearInterval(guard);
      };
      // a watch stopped while the stream is open (the page was left) closes it
      const guard = setInterval(() => {
        if (stopped()) {
          close();
          resolve();
        }
      }, 1000);
      source.addEventListener('state', (event) => {
        const { state } = JSON.parse((event as MessageEvent<string>).data) as { state: string };
        if (isFinal(state)) {
          close();
          resolve();
        }
      });
      source.onerror = () => {
        // the server ends the stream after a final state; anything else is a lost connection: ask, then reopen
        close();
        void api<Job>(`/jobs/${jobId}`, { keyId })
          .then((job) => {
            if (isFinal(job.state) || stopped()) return resolve();
            if (attempt >= REOPEN_DELAYS.length) return resolve();
            setTimeout(() => void connect(), REOPEN_DELAYS[attempt++]);
          })
          .catch(() => resolve());
      };
    };
    void connect();
  });
}

/**
 * Follows the picture-making jobs of one file; calls `onChange` with the Mfile each time one of them ends (and once
 * at the start when they already ended). Returns a function that stops watching.
 */
export function watchPreview(mfileId: string, keyId: string | null, onChange: (mfile: Mfile) => void, onDone?: () => void): () => void {
  let stop = false;
  const stopped = () => stop;
  const reread = async () => {
    if (stop) return;
    const mfile = await api<Mfile>(`/mfiles/${mfileId}`, { keyId }).catch(() => null);
    if (mfile && !stop) onChange(mfile);
    return mfile;
  };
  void (async () => {
    const jobs = await api<Page<Job>>(`/mfiles/${mfileId}/jobs`, { keyId, query: { limit: 100 } }).catch(() => null);
    const pending = (jobs?.items ?? []).filter((job) => (PREVIEW_TASKS as readonly string[]).includes(job.task) && !isFinal(job.state));
    if (pending.length === 0) {
      await reread();
      return;
    }
    await Promise.all(
      pending.map(async (job) => {
        await followJob(job.id, keyId, stopped);
        const mfile = await reread();
        // stop once the best picture is there, the thumbnail. Any picture was enough before, and an image's poster
        // (the poster task, which may finish first) then stopped the watch: its thumbnail never replaced it (seen in a
        // loaded full run). A video's thumbnail job is skipped at once, so its poster does not wait on it.
        if (mfile?.metadata?.renditions?.thumbnail) stop = true;
      }),
    );
  })().finally(() => onDone?.());
  return () => {
    stop = true;
  };
}

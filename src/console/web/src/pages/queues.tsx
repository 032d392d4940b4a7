import { useEffect, useRef, useState } from 'preact/hooks';
import { actingKey, api } from '../api';
import { Card, ErrorNotice, Spinner } from '../components/ui';
import type { QueueCounts, QueuesStatus } from '../../../../queues/queue-status';

/** How often the view asks again while it is visible and not paused. */
const EVERY_MS = 2000;
const COLUMNS: Array<keyof QueueCounts> = ['waiting', 'active', 'delayed', 'failed', 'completed'];

const number = new Intl.NumberFormat('en');

/** Seconds between a heartbeat and the answer, both by the servers' clocks (the browser's may differ). */
function ago(iso: string, now: number): string {
  const seconds = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  return seconds < 2 ? 'just now' : `${seconds} s ago`;
}

/**
 * The provider's queue view: jobs per queue and state, and the workers online with what they serve. It asks
 * GET /queues again 2 s after each answer while the tab is visible; the person can pause it (moving content is
 * hard to read for some). A queue with work and no worker is called out: nothing will run it.
 */
export default function QueuesPage() {
  const [status, setStatus] = useState<QueuesStatus | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [paused, setPaused] = useState(false);
  const timer = useRef<number | undefined>(undefined);
  const keyId = actingKey.value?.id;
  // the key the shown figures were read with
  const shownFor = useRef<string | undefined | null>(null);

  useEffect(() => {
    let live = true;
    const controller = new AbortController();
    const poll = async () => {
      window.clearTimeout(timer.current);
      if (!live) return;
      if (document.visibilityState === 'visible') {
        try {
          const next = await api<QueuesStatus>('/queues', { signal: controller.signal });
          if (!live) return;
          setStatus(next);
          setError(null);
        } catch (caught) {
          if (!live) return;
          setError(caught);
        }
      }
      if (live && !paused) timer.current = window.setTimeout(poll, EVERY_MS);
    };
    const wake = () => {
      if (document.visibilityState === 'visible' && !paused) void poll();
    };
    // pausing freezes what is shown: no last request on the way in (it could land after the pause); another key
    // is another view, read once even while paused
    const keyChanged = shownFor.current !== keyId;
    shownFor.current = keyId;
    if (!paused || keyChanged) void poll();
    document.addEventListener('visibilitychange', wake);
    return () => {
      live = false;
      controller.abort();
      window.clearTimeout(timer.current);
      document.removeEventListener('visibilitychange', wake);
    };
  }, [paused, keyId]);

  const idle =
    status?.queues.filter((queue) => queue.kind === 'task' && queue.workers === 0 && (queue.counts?.waiting ?? 0) + (queue.counts?.delayed ?? 0) > 0) ?? [];

  return (
    <section class="queues-page">
      <h1>Queues and workers</h1>
      <div class="queues-live">
        <p class="muted" aria-live="off">
          {status ? `Updated ${new Date(status.at).toLocaleTimeString()}${paused ? ' · paused' : ` · every ${EVERY_MS / 1000} s`}` : 'Loading…'}
        </p>
        <button type="button" class="secondary" aria-pressed={paused} onClick={() => setPaused(!paused)}>
          {paused ? 'Resume live updates' : 'Pause live updates'}
        </button>
      </div>
      <ErrorNotice error={error} />
      {idle.length > 0 && (
        <div class="notice error" role="status">
          <span>
            {idle.map((queue) => queue.name).join(', ')}: jobs are waiting but no worker online serves {idle.length > 1 ? 'these queues' : 'this queue'}. Start
            one with
            <code> --queues {idle.map((queue) => `${queue.name}:1`).join(',')}</code>.
          </span>
        </div>
      )}
      {!status && !error && <Spinner />}
      {status && (
        <>
          <Card title="Queues">
            <div class="table-wrap">
              <table class="queues-table">
                <caption class="sr-only">Jobs per queue and state</caption>
                <thead>
                  <tr>
                    <th scope="col">Queue</th>
                    {COLUMNS.map((column) => (
                      <th key={column} scope="col" class={`num${column === 'delayed' || column === 'completed' ? ' optional' : ''}`}>
                        {column[0].toUpperCase() + column.slice(1)}
                      </th>
                    ))}
                    <th scope="col" class="num">
                      Workers
                    </th>
                  </tr>
                </thead>
                <tbody>
                  {status.queues.map((queue) => (
                    <tr key={queue.name} data-queue={queue.name} class={queue.counts && queue.counts.failed > 0 ? 'has-failed' : undefined}>
                      <th scope="row">
                        {queue.name}
                        {queue.kind === 'internal' && <small> (internal)</small>}
                        {queue.error && <small class="field-error"> {queue.error}</small>}
                      </th>
                      {COLUMNS.map((column) => (
                        <td key={column} data-count={column} class={`num${column === 'delayed' || column === 'completed' ? ' optional' : ''}`}>
                          {queue.counts ? number.format(column === 'waiting' ? queue.counts.waiting + queue.counts.paused : queue.counts[column]) : '—'}
                        </td>
                      ))}
                      <td class="num" data-count="workers">
                        {queue.kind === 'internal' ? (
                          <span title="Every worker serves this queue">{queue.workers}</span>
                        ) : (
                          <>
                            {queue.workers}
                            {queue.workers > 0 && <small> ({queue.concurrency} at once)</small>}
                          </>
                        )}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
            <p class="muted">Completed and failed keep the last 1000 and 5000 jobs of each queue; the job list of a service has them all.</p>
          </Card>
          <Card title={`Workers online (${status.workers.length})`}>
            {status.workers.length === 0 ? (
              <p>No worker is online: uploads are stored, and their jobs wait until one starts.</p>
            ) : (
              <div class="table-wrap">
                <table class="workers-table">
                  <caption class="sr-only">Workers online and the queues they serve</caption>
                  <thead>
                    <tr>
                      <th scope="col">Worker (host:pid)</th>
                      <th scope="col">Serves (concurrency)</th>
                      <th scope="col">Last heartbeat</th>
                    </tr>
                  </thead>
                  <tbody>
                    {status.workers.map((worker) => (
                      <tr key={worker.id} data-worker={worker.id}>
                        <th scope="row">
                          <code>{worker.id}</code>
                        </th>
                        <td>
                          <ul class="served">
                            {worker.queues.map((queue) => (
                              <li key={queue.queue}>{`${queue.queue} (${queue.concurrency})`}</li>
                            ))}
                          </ul>
                        </td>
                        <td>{ago(worker.lastSeen, Date.parse(status.at))}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            )}
          </Card>
        </>
      )}
    </section>
  );
}

import type { ComponentChildren } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { api } from '../api';
import { usePaged } from '../browse/use-paged';
import type { Page } from '../browse/paging';
import { ErrorNotice, Spinner, useLoad } from '../components/ui';
import type { ManagedContainer, ManagedService } from './manage-form';
import { QuotaBar } from './quota';
import { quotaMonth } from './range';
import { groupRows, GroupFigures, reportPath, Scope, UsageReport } from './report';

const PAGE = 100;

/** The value once it has stopped changing for `ms`: a list is asked for once per pause in typing, not per key. */
function useDebounced<T>(value: T, ms: number): T {
  const [settled, setSettled] = useState(value);
  useEffect(() => {
    const timer = setTimeout(() => setSettled(value), ms);
    return () => clearTimeout(timer);
  }, [value, ms]);
  return settled;
}

/** This month's use per container or service below a scope: disc now, ingest and job runtime since the 1st (UTC). */
export function useMonthByGroup(scope: Scope, groupBy: 'container' | 'service', refresh: number) {
  return useLoad(async () => {
    const month = quotaMonth(new Date());
    const report = await api<UsageReport>(reportPath(scope), {
      query: { metric: 'disc,ingest,jobruntime', bucket: 'total', groupBy, from: month.from.toISOString(), to: month.to.toISOString() },
    });
    return new Map(groupRows(report).map((row) => [row.id, row]));
  }, [scope.type, 'id' in scope ? scope.id : null, groupBy, refresh]);
}

const ZERO: GroupFigures['values'] = { disc: 0, ingest: 0, access: 0, jobs: 0, jobruntime: 0 };

function QuotaCells({ limits, figures }: { limits: ManagedService | ManagedContainer; figures: GroupFigures['values'] }) {
  return (
    <>
      <td>
        <QuotaBar compact label={`Disk of ${limits.name}`} used={figures.disc} limit={limits.diskQuota} unit="bytes" />
      </td>
      <td>
        <QuotaBar compact label={`Ingest this month of ${limits.name}`} used={figures.ingest} limit={limits.ingestQuota} unit="bytes" />
      </td>
      <td class="optional">
        <QuotaBar compact label={`Job runtime this month of ${limits.name}`} used={figures.jobruntime} limit={limits.jobruntimeQuota} unit="seconds" />
      </td>
    </>
  );
}

/** A table of containers or services with the columns QuotaCells fills, then their state; `children` are its bodies. */
function QuotaTable({ caption, first, children }: { caption: string; first: string; children: ComponentChildren }) {
  return (
    <div class="table-wrap">
      <table class="usage-table">
        <caption class="sr-only">{caption}</caption>
        <thead>
          <tr>
            <th scope="col">{first}</th>
            <th scope="col">Disk</th>
            <th scope="col">Ingest this month</th>
            <th scope="col" class="optional">
              Job runtime this month
            </th>
            <th scope="col">State</th>
          </tr>
        </thead>
        {children}
      </table>
    </div>
  );
}

function MoreButton({ shown, more, loading, onMore }: { shown: number; more: boolean; loading: boolean; onMore: () => void }) {
  if (!more) return null;
  return (
    <p>
      <button type="button" class="secondary" onClick={onMore} disabled={loading}>
        {loading ? 'Loading…' : `Show more (${shown} shown)`}
      </button>
    </p>
  );
}

/** Every service of a container with its quota use this month; each links to its own dashboard, where it is managed. */
export function ServicesTable({ containerId, refresh, caption }: { containerId: string; refresh: number; caption: string }) {
  const services = usePaged<ManagedService>(
    (cursor) => api<Page<ManagedService>>(`/containers/${containerId}/services`, { query: { limit: PAGE, cursor } }),
    [containerId, refresh],
  );
  const month = useMonthByGroup({ type: 'container', id: containerId }, 'service', refresh);
  if (services.loading && services.items.length === 0) return <Spinner label="Loading services…" />;
  return (
    <>
      <ErrorNotice error={services.error ?? month.error} />
      {services.items.length === 0 ? (
        <p class="muted">No services in this container yet.</p>
      ) : (
        <QuotaTable caption={caption} first="Service">
          <tbody>
            {services.items.map((service) => (
              <tr key={service.id}>
                <th scope="row">
                  <a href={`/services/${service.id}/usage`}>{service.name}</a>
                </th>
                <QuotaCells limits={service} figures={month.data?.get(service.id)?.values ?? ZERO} />
                <td>{stateOf(service)}</td>
              </tr>
            ))}
          </tbody>
        </QuotaTable>
      )}
      <MoreButton shown={services.items.length} more={Boolean(services.nextCursor)} loading={services.loadingMore} onMore={() => void services.loadMore()} />
    </>
  );
}

function stateOf(resource: ManagedService | ManagedContainer): string {
  const now = Date.now();
  if (resource.suspended) return 'Suspended';
  if ('startsAt' in resource) {
    if (resource.startsAt && Date.parse(resource.startsAt) > now) return 'Not yet open';
    if (resource.endsAt && Date.parse(resource.endsAt) <= now) return 'Closed';
    if (resource.priority) return 'Active, priority';
  }
  return 'Active';
}

/** The provider's list: every container with its quota use; each opens to its services. */
export function ContainersTable({ refresh }: { refresh: number }) {
  const [filter, setFilter] = useState('');
  const name = useDebounced(filter.trim(), 250);
  const containers = usePaged<ManagedContainer>(
    (cursor) => api<Page<ManagedContainer>>('/containers', { query: { limit: PAGE, cursor, name } }),
    [refresh, name],
  );
  const month = useMonthByGroup({ type: 'provider' }, 'container', refresh);
  const [open, setOpen] = useState<Set<string>>(new Set());
  const toggle = (id: string) =>
    setOpen((current) => {
      const next = new Set(current);
      if (next.has(id)) next.delete(id);
      else next.add(id);
      return next;
    });
  return (
    <>
      <form class="inline containers-filter" role="search" onSubmit={(event) => event.preventDefault()}>
        <label>
          Filter containers by name
          <input type="search" value={filter} autoComplete="off" onInput={(event) => setFilter((event.target as HTMLInputElement).value)} />
        </label>
      </form>
      <ErrorNotice error={containers.error ?? month.error} />
      {containers.loading && containers.items.length === 0 ? (
        <Spinner label="Loading containers…" />
      ) : containers.items.length === 0 ? (
        <p class="muted">{name ? `No container's name contains "${name}".` : 'No containers yet.'}</p>
      ) : (
        <QuotaTable caption="Containers, their quota use, and their services" first="Container">
          {containers.items.map((container) => (
            <tbody key={container.id}>
              <tr>
                <th scope="row">
                  <button
                    type="button"
                    class="link expander"
                    aria-expanded={open.has(container.id)}
                    aria-controls={`services-of-${container.id}`}
                    aria-label={`Services of ${container.name}`}
                    onClick={() => toggle(container.id)}
                  >
                    <span aria-hidden="true">{open.has(container.id) ? '▾' : '▸'}</span>
                  </button>{' '}
                  <a href={`/containers/${container.id}/usage`}>{container.name}</a>
                </th>
                <QuotaCells limits={container} figures={month.data?.get(container.id)?.values ?? ZERO} />
                <td>{stateOf(container)}</td>
              </tr>
              {open.has(container.id) && (
                <tr id={`services-of-${container.id}`} class="nested">
                  <td colSpan={5}>
                    <ServicesTable containerId={container.id} refresh={refresh} caption={`Services of ${container.name}`} />
                  </td>
                </tr>
              )}
            </tbody>
          ))}
        </QuotaTable>
      )}
      <MoreButton
        shown={containers.items.length}
        more={Boolean(containers.nextCursor)}
        loading={containers.loadingMore}
        onMore={() => void containers.loadMore()}
      />
    </>
  );
}

import { useEffect, useMemo, useState } from 'preact/hooks';
import { api, ApiError, contentUrl } from '../api';
import { ErrorNotice, Spinner, useLoad } from '../components/ui';
import { ChartMetric, CHART_METRICS, formatValue, groupRows, METRICS, rankRows, reportPath, Scope, UsageReport } from './report';

/** Names of containers and services by id, fetched once per page load for the rows that are shown. */
const names = new Map<string, Promise<string>>();

function nameOf(type: 'container' | 'service', id: string): Promise<string> {
  const key = `${type}:${id}`;
  let found = names.get(key);
  if (!found) {
    found = api<{ name: string }>(`/${type}s/${id}`)
      .then((resource) => resource.name)
      .catch((error) => (error instanceof ApiError && error.status === 404 ? `(deleted ${type})` : `${type} ${id.slice(0, 8)}…`));
    names.set(key, found);
  }
  return found;
}

function useNames(type: 'container' | 'service', ids: string[]): Map<string, string> {
  const [known, setKnown] = useState<Map<string, string>>(new Map());
  useEffect(() => {
    let live = true;
    void Promise.all(ids.map(async (id) => [id, await nameOf(type, id)] as const)).then((pairs) => {
      if (live) setKnown(new Map(pairs));
    });
    return () => {
      live = false;
    };
  }, [type, ids.join(',')]);
  return known;
}

const TOP = 10;

/** Containers or services below the scope ranked by what they used over the chosen range. */
export function TopConsumers({ scope, from, to, refresh }: { scope: Exclude<Scope, { type: 'service' }>; from: string; to: string; refresh: number }) {
  const [groupBy, setGroupBy] = useState<'service' | 'container'>('service');
  const [rankBy, setRankBy] = useState<ChartMetric>('disc');
  const [all, setAll] = useState(false);
  const query = { metric: CHART_METRICS.join(','), bucket: 'total', groupBy, from, to };
  const report = useLoad(() => api<UsageReport>(reportPath(scope), { query }), [reportPath(scope), groupBy, from, to, refresh]);
  const rows = useMemo(() => (report.data ? rankRows(groupRows(report.data), rankBy) : []), [report.data, rankBy]);
  const shown = all ? rows : rows.slice(0, TOP);
  const resolved = useNames(
    groupBy,
    shown.map((row) => row.id),
  );
  return (
    <>
      <form class="inline consumers-controls" onSubmit={(event) => event.preventDefault()} aria-label="Top consumers options">
        {scope.type === 'provider' && (
          <label>
            Group by
            <select value={groupBy} onChange={(event) => setGroupBy((event.target as HTMLSelectElement).value as 'service' | 'container')}>
              <option value="service">Service</option>
              <option value="container">Container</option>
            </select>
          </label>
        )}
        <label>
          Rank by
          <select value={rankBy} onChange={(event) => setRankBy((event.target as HTMLSelectElement).value as ChartMetric)}>
            {CHART_METRICS.map((metric) => (
              <option key={metric} value={metric}>
                {METRICS[metric].label}
              </option>
            ))}
          </select>
        </label>
        <a class="button secondary" href={contentUrl(reportPath(scope), { ...query, format: 'csv' })} download>
          Download CSV
        </a>
      </form>
      <ErrorNotice error={report.error} />
      {report.loading && !report.data ? (
        <Spinner label="Loading consumers…" />
      ) : rows.length === 0 ? (
        <p class="muted">Nothing used in this range yet.</p>
      ) : (
        <div class="table-wrap">
          <table class="usage-table consumers">
            <caption class="sr-only">{`Top ${groupBy === 'service' ? 'services' : 'containers'} by ${METRICS[rankBy].label.toLowerCase()}`}</caption>
            <thead>
              <tr>
                <th scope="col" class="num">
                  #
                </th>
                <th scope="col">{groupBy === 'service' ? 'Service' : 'Container'}</th>
                {CHART_METRICS.map((metric) => (
                  <th
                    key={metric}
                    scope="col"
                    class={`num${metric === 'access' || metric === 'jobruntime' ? ' optional' : ''}`}
                    aria-sort={metric === rankBy ? 'descending' : undefined}
                  >
                    {METRICS[metric].gauge ? `${METRICS[metric].label} (end)` : METRICS[metric].label}
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {shown.map((row, index) => (
                <tr key={row.id}>
                  <td class="num">{index + 1}</td>
                  <th scope="row">
                    <a href={`/${groupBy}s/${row.id}/usage`}>{resolved.get(row.id) ?? '…'}</a>
                  </th>
                  {CHART_METRICS.map((metric) => (
                    <td key={metric} class={`num${metric === 'access' || metric === 'jobruntime' ? ' optional' : ''}`}>
                      {formatValue(METRICS[metric].unit, row.values[metric])}
                    </td>
                  ))}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {rows.length > TOP && (
        <p>
          <button type="button" class="secondary" onClick={() => setAll(!all)}>
            {all ? `Show the top ${TOP}` : `Show all ${rows.length}`}
          </button>
        </p>
      )}
    </>
  );
}

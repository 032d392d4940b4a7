import { useMemo, useState } from 'preact/hooks';
import { useLocation, useRoute } from 'preact-iso';
import { actingKey, api, can, contentUrl } from '../api';
import { Card, ErrorNotice, Spinner, useLoad } from '../components/ui';
import { ChartSeries, UsageChart } from '../usage/chart';
import { TopConsumers } from '../usage/consumers';
import { ContainersTable, ServicesTable } from '../usage/lists';
import { ContainerManagement, ServiceManagement } from '../usage/manage';
import type { ManagedContainer, ManagedService } from '../usage/manage-form';
import { appQuotaUse, QuotaBars } from '../usage/quota';
import { choiceFromQuery, choiceToQuery, quotaMonth, RangeChoice, resolveRange } from '../usage/range';
import { RangePicker } from '../usage/range-picker';
import {
  bucketStarts,
  ChartMetric,
  CHART_METRICS,
  chartValues,
  exactValue,
  findSeries,
  formatValue,
  METRICS,
  reportPath,
  Scope,
  totalValue,
  UsageReport,
} from '../usage/report';

/** A bucket's start as the table shows it, to the bucket's precision (UTC). */
function bucketLabel(grain: string, iso: string): string {
  return grain === 'month' ? iso.slice(0, 7) : grain === 'day' ? iso.slice(0, 10) : `${iso.slice(0, 10)} ${iso.slice(11, 16)}`;
}

interface Panel {
  id: string;
  title: string;
  metrics: ChartMetric[];
  kinds: Array<ChartSeries['kind']>;
  colors: string[];
}

/** The charts: stored bytes as a level; ingest and access per bucket; jobs per bucket with their runtime on a second axis. */
const PANELS: Panel[] = [
  { id: 'disc', title: 'Stored', metrics: ['disc'], kinds: ['step'], colors: ['--accent'] },
  { id: 'ingest', title: 'Ingested', metrics: ['ingest'], kinds: ['bars'], colors: ['--ok'] },
  { id: 'access', title: 'Accessed (downloads)', metrics: ['access'], kinds: ['bars'], colors: ['--warn'] },
  { id: 'jobs', title: 'Jobs and runtime', metrics: ['jobs', 'jobruntime'], kinds: ['bars', 'step'], colors: ['--accent', '--danger'] },
];

function ChartPanel({ panel, report, scope, query }: { panel: Panel; report: UsageReport; scope: Scope; query: Record<string, string> }) {
  const x = useMemo(() => bucketStarts(report), [report]);
  const end = Date.parse(report.to) / 1000;
  const series = useMemo<ChartSeries[]>(
    () =>
      panel.metrics.map((metric, index) => ({
        label: METRICS[metric].label,
        values: chartValues(report, metric, x.length),
        unit: METRICS[metric].unit,
        kind: panel.kinds[index],
        color: panel.colors[index],
      })),
    [report, x],
  );
  const totals = panel.metrics.map((metric) => ({ metric, info: METRICS[metric], value: totalValue(METRICS[metric], findSeries(report, metric)) }));
  const headingId = `usage-${panel.id}-title`;
  const summary = `${panel.title}, ${x.length} ${report.grain}s (UTC): ${totals.map((total) => `${total.info.totalLabel.toLowerCase()} ${formatValue(total.info.unit, total.value)}`).join(', ')}`;
  return (
    <section class="card usage-panel" aria-labelledby={headingId} data-panel={panel.id}>
      <header>
        <h2 id={headingId}>{panel.title}</h2>
        <div class="actions">
          <a
            class="button secondary"
            href={contentUrl(reportPath(scope), { ...query, metric: panel.metrics.join(','), format: 'csv' })}
            download
            aria-label={`Download ${panel.title} as CSV`}
          >
            CSV
          </a>
        </div>
      </header>
      <div class="usage-panel-body">
        <UsageChart label={summary} x={x} end={end} series={series} />
        <dl class="usage-totals">
          {totals.map((total) => (
            <div key={total.metric} data-metric={total.metric}>
              <dt>{total.info.totalLabel}</dt>
              <dd>
                <strong>{formatValue(total.info.unit, total.value)}</strong>
                <small class="exact">{exactValue(total.info.unit, total.value)}</small>
              </dd>
            </div>
          ))}
        </dl>
      </div>
      <details class="usage-data">
        <summary>{panel.title} as a table</summary>
        <div class="table-wrap">
          <table>
            <caption class="sr-only">{`${panel.title} per ${report.grain} (UTC)`}</caption>
            <thead>
              <tr>
                <th scope="col">{`${report.grain[0].toUpperCase()}${report.grain.slice(1)} (UTC)`}</th>
                {panel.metrics.map((metric) => (
                  <th key={metric} scope="col" class="num">
                    {METRICS[metric].gauge ? `${METRICS[metric].label} at the end` : METRICS[metric].label}
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {x.map((start, index) => (
                <tr key={start}>
                  <th scope="row">{bucketLabel(report.grain, new Date(start * 1000).toISOString())}</th>
                  {series.map((one, column) => (
                    <td key={column} class="num">
                      {formatValue(one.unit, one.values[index])}
                    </td>
                  ))}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </details>
    </section>
  );
}

function scopeOf(path: string, params: Record<string, string>): Scope {
  if (path.startsWith('/containers/')) return { type: 'container', id: params.id };
  if (path.startsWith('/services/')) return { type: 'service', id: params.id };
  return { type: 'provider' };
}

/**
 * Usage dashboards: the provider's (/usage: every container and service), a container's and a service's. Charts
 * over a chosen range and bucket with their totals, quota use this month, top consumers, CSV downloads, and the
 * management actions the acting key may take.
 */
export default function UsagePage() {
  const { params, path } = useRoute();
  const { query, route } = useLocation();
  const scope = scopeOf(path, params);
  const scopeKey = `${scope.type}:${'id' in scope ? scope.id : ''}`;
  const choice = choiceFromQuery(query);
  const [refresh, setRefresh] = useState(0);
  const now = useMemo(() => new Date(), [refresh, choice.preset, choice.bucket, choice.from, choice.to]);
  const resolved = resolveRange(choice, now);
  const rangeQuery: Record<string, string> | null = resolved.ok
    ? { from: resolved.from.toISOString(), to: resolved.to.toISOString(), bucket: resolved.bucket }
    : null;

  const resource = useLoad<ManagedService | ManagedContainer | null>(
    () => (scope.type === 'provider' ? Promise.resolve(null) : api<ManagedService | ManagedContainer>(`/${scope.type}s/${scope.id}`)),
    [scopeKey, refresh],
  );
  const report = useLoad<UsageReport | null>(
    () => (rangeQuery ? api<UsageReport>(reportPath(scope), { query: { ...rangeQuery, metric: CHART_METRICS.join(',') } }) : Promise.resolve(null)),
    [scopeKey, rangeQuery?.from, rangeQuery?.to, rangeQuery?.bucket, refresh],
  );
  // quota use: the provider has no quotas of its own (its containers' and services' are in the lists below)
  // (with the application metrics the resource limits, once it is read)
  const appLimited = Object.keys(resource.data?.appQuotas ?? {}).map((name) => `app/${name}`);
  const month = useLoad<UsageReport | null>(() => {
    if (scope.type === 'provider') return Promise.resolve(null);
    const { from, to } = quotaMonth(new Date());
    return api<UsageReport>(reportPath(scope), {
      query: { metric: ['disc', 'ingest', 'jobruntime', ...appLimited].join(','), bucket: 'total', from: from.toISOString(), to: to.toISOString() },
    });
  }, [scopeKey, refresh, appLimited.join(',')]);

  const change = (next: RangeChoice) => route(`${path}?${new URLSearchParams(choiceToQuery(next))}`, true);
  const key = actingKey.value;
  const name = resource.data?.name;
  const title = scope.type === 'provider' ? 'Usage: all containers and services' : `Usage of ${scope.type} ${name ?? '…'}`;
  const monthTotal = (metric: ChartMetric) => (month.data ? totalValue(METRICS[metric], findSeries(month.data, metric)) : 0);

  return (
    <section class="usage-page">
      <nav aria-label="Breadcrumbs">
        <ol class="breadcrumbs">
          {key?.resource.type === 'provider' && (
            <li>
              <a href="/usage">Provider</a>
            </li>
          )}
          {scope.type === 'service' && resource.data && key && key.resource.type !== 'service' && (
            <li>
              <a href={`/containers/${(resource.data as ManagedService).containerId}/usage`}>Container</a>
            </li>
          )}
          {scope.type !== 'provider' && <li aria-current="page">{name ?? '…'}</li>}
        </ol>
      </nav>
      <h1>{title}</h1>
      {scope.type !== 'provider' && resource.data && (
        <p class="muted">
          <a href={`/${scope.type}s/${scope.id}`}>Open {scope.type}</a>
        </p>
      )}
      <ErrorNotice error={resource.error} />

      <div class="card usage-controls">
        <RangePicker choice={choice} onChange={change} onRefresh={() => setRefresh(refresh + 1)} busy={report.loading} />
        {rangeQuery && (
          <p class="usage-range">
            <span>
              {`${bucketLabel(rangeQuery.bucket, rangeQuery.from)} to ${bucketLabel(rangeQuery.bucket, rangeQuery.to)} (UTC, end exclusive), by ${rangeQuery.bucket}`}
            </span>
            <a class="button secondary" href={contentUrl(reportPath(scope), { ...rangeQuery, metric: CHART_METRICS.join(','), format: 'csv' })} download>
              Download CSV (all metrics)
            </a>
          </p>
        )}
      </div>

      <ErrorNotice error={report.error} />
      {!resolved.ok && (
        <p class="notice error" role="alert">
          This range cannot be shown: {resolved.error}. Choose another above.
        </p>
      )}
      {!resolved.ok ? null : report.loading && !report.data ? (
        <Spinner label="Loading usage…" />
      ) : (
        report.data && (
          <div class="usage-panels" aria-busy={report.loading}>
            {PANELS.map((panel) => (
              <ChartPanel key={panel.id} panel={panel} report={report.data!} scope={scope} query={rangeQuery!} />
            ))}
          </div>
        )
      )}

      {scope.type !== 'provider' && (
        <Card title="Quota use">
          <ErrorNotice error={month.error} />
          {resource.data && month.data ? (
            <>
              <QuotaBars
                limits={resource.data}
                disc={monthTotal('disc')}
                ingest={monthTotal('ingest')}
                jobruntime={monthTotal('jobruntime')}
                app={appQuotaUse(resource.data.appQuotas, (metric) => findSeries(month.data!, metric)?.total.sum ?? 0)}
              />
              <p class="muted">Disk is what is stored now; ingest and job runtime count from the 1st of this month (UTC).</p>
            </>
          ) : (
            <Spinner />
          )}
        </Card>
      )}

      {scope.type === 'service' && resource.data && can('service:manage') && (
        <Card title="Management">
          <ServiceManagement
            service={resource.data as ManagedService}
            onSaved={(saved) => resource.setData({ ...(resource.data as ManagedService), ...saved })}
          />
        </Card>
      )}
      {scope.type === 'container' && resource.data && can('container:create') && (
        <Card title="Management">
          <ContainerManagement
            container={resource.data as ManagedContainer}
            onSaved={(saved) => resource.setData({ ...(resource.data as ManagedContainer), ...saved })}
          />
        </Card>
      )}

      {scope.type !== 'service' && rangeQuery && (
        <Card title="Top consumers">
          <TopConsumers scope={scope} from={rangeQuery.from} to={rangeQuery.to} refresh={refresh} />
        </Card>
      )}
      {scope.type === 'provider' && (
        <Card title="Containers">
          <ContainersTable refresh={refresh} />
        </Card>
      )}
      {scope.type === 'container' && (
        <Card title="Services">
          <ServicesTable containerId={scope.id} refresh={refresh} caption="Services of this container and their quota use" />
        </Card>
      )}
    </section>
  );
}

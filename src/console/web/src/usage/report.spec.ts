import { bucketStarts, chartValues, findSeries, formatValue, groupRows, quotaUse, rankRows, totalValue, METRICS, UsageReport } from './report';

const bucket = (start: string, end: string, sum: number, level?: number) => ({
  start,
  end,
  sum,
  count: 1,
  min: sum,
  max: sum,
  mean: sum,
  stddev: 0,
  ...(level === undefined ? {} : { level, levelHours: 0 }),
});

const report: UsageReport = {
  resource: { type: 'service', id: 's1' },
  from: '2026-03-01T00:00:00.000Z',
  to: '2026-03-03T00:00:00.000Z',
  bucket: 'day',
  grain: 'day',
  groupBy: null,
  source: 'rollup',
  series: [
    {
      metric: 'disc',
      group: null,
      total: bucket('2026-03-01T00:00:00.000Z', '2026-03-03T00:00:00.000Z', 300, 1300),
      buckets: [
        bucket('2026-03-01T00:00:00.000Z', '2026-03-02T00:00:00.000Z', 500, 1500),
        bucket('2026-03-02T00:00:00.000Z', '2026-03-03T00:00:00.000Z', -200, 1300),
      ],
    },
    {
      metric: 'ingest',
      group: null,
      total: bucket('2026-03-01T00:00:00.000Z', '2026-03-03T00:00:00.000Z', 700),
      buckets: [bucket('2026-03-01T00:00:00.000Z', '2026-03-02T00:00:00.000Z', 700), bucket('2026-03-02T00:00:00.000Z', '2026-03-03T00:00:00.000Z', 0)],
    },
  ],
};

describe('reading a report', () => {
  it('charts a gauge by its level and an amount by its sum per bucket', () => {
    expect(bucketStarts(report)).toEqual([Date.parse('2026-03-01T00:00:00Z') / 1000, Date.parse('2026-03-02T00:00:00Z') / 1000]);
    expect(chartValues(report, 'disc', 2)).toEqual([1500, 1300]);
    expect(chartValues(report, 'ingest', 2)).toEqual([700, 0]);
    // a metric without facts is not in the report: zeros
    expect(chartValues(report, 'jobs', 2)).toEqual([0, 0]);
  });

  it('totals: the level at the end for a gauge, the sum for an amount, zero when absent', () => {
    expect(totalValue(METRICS.disc, findSeries(report, 'disc'))).toBe(1300);
    expect(totalValue(METRICS.ingest, findSeries(report, 'ingest'))).toBe(700);
    expect(totalValue(METRICS.access, findSeries(report, 'access'))).toBe(0);
  });

  it('groups a grouped report per container or service and ranks the rows', () => {
    const grouped: UsageReport = {
      ...report,
      groupBy: 'service',
      bucket: 'total',
      series: [
        { metric: 'disc', group: { type: 'service', id: 'a' }, total: bucket(report.from, report.to, 10, 10), buckets: [] },
        { metric: 'ingest', group: { type: 'service', id: 'a' }, total: bucket(report.from, report.to, 50), buckets: [] },
        { metric: 'disc', group: { type: 'service', id: 'b' }, total: bucket(report.from, report.to, 90, 90), buckets: [] },
        // container-level facts (no service) and metrics the dashboard does not show are left out
        { metric: 'disc', group: { type: 'service', id: null }, total: bucket(report.from, report.to, 5, 5), buckets: [] },
        { metric: 'mfiles', group: { type: 'service', id: 'b' }, total: bucket(report.from, report.to, 3, 3), buckets: [] },
      ],
    };
    const rows = groupRows(grouped);
    expect(rows).toEqual([
      { id: 'a', values: { disc: 10, ingest: 50, access: 0, jobs: 0, jobruntime: 0 } },
      { id: 'b', values: { disc: 90, ingest: 0, access: 0, jobs: 0, jobruntime: 0 } },
    ]);
    expect(rankRows(rows, 'disc').map((row) => row.id)).toEqual(['b', 'a']);
    expect(rankRows(rows, 'ingest').map((row) => row.id)).toEqual(['a', 'b']);
    expect(rankRows(rows, 'jobs').map((row) => row.id)).toEqual(['a', 'b']);
  });
});

describe('quota use', () => {
  it('is none without a limit, near from 80 %, full at the limit', () => {
    expect(quotaUse(5, null)).toEqual({ used: 5, limit: null, fraction: 0, state: 'none' });
    expect(quotaUse(79, 100).state).toBe('ok');
    expect(quotaUse(80, 100).state).toBe('near');
    expect(quotaUse(100, 100)).toEqual({ used: 100, limit: 100, fraction: 1, state: 'full' });
    expect(quotaUse(0, 0).state).toBe('full');
  });
});

describe('formatting', () => {
  it('writes sub-second runtimes in milliseconds', () => {
    expect(formatValue('seconds', 0.0172)).toBe('17 ms');
    expect(formatValue('seconds', 0.0001)).toBe('1 ms');
    expect(formatValue('seconds', 0)).toBe('0.0 s');
    expect(formatValue('seconds', 90)).toBe('1 min 30 s');
    expect(formatValue('bytes', 1_000_001)).toBe('976.6 KiB');
    expect(formatValue('count', 12345)).toBe('12,345');
  });
});

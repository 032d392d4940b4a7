// Usage benchmark: RECORDS usage facts (default 10 million) spread over 100 services in 10 containers and a year,
// loaded straight into PostgreSQL; then rolled up by MServe's own rollup code, timed (facts per second); then the
// reports, through the HTTP API: a month by day for one service, and the provider's yearly total (also by month
// per service, the "top consumers" view), each read from the rollups and, as the baseline in the same run, from the
// raw facts (`source=raw`). Both answers must agree. Goal: under 100 ms each with rollups.
//
//   npm run build
//   node_modules/.bin/node test/bench/usage.mjs                   # RECORDS=10000000
//   RECORDS=1000000 node_modules/.bin/node test/bench/usage.mjs   # smoke run
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { fmt, json, median, onCleanup, ROOT, runBench, say, startPlatform, table } from './harness.mjs';

const RECORDS = Number(process.env.RECORDS ?? 10_000_000);
const RUNS = Number(process.env.RUNS ?? 5);
const CHUNK = 1_000_000;
const YEAR = 2025;
const require = createRequire(join(ROOT, 'package.json'));
const { DataSource } = require('typeorm');
const { dataSourceOptions } = require('./dist/src/persistence/data-source.js');
const { UsageRollupService } = require('./dist/src/usage/usage-rollup.service.js');

async function timed(url, key) {
  const started = performance.now();
  const reply = await json('GET', url, key);
  const ms = performance.now() - started;
  if (reply.status !== 200) throw new Error(`${url}: ${reply.status} ${reply.text.slice(0, 300)}`);
  return { ms, body: reply.body };
}

/** Median time of RUNS calls (after one warm-up), and the last answer. */
async function measure(url, key) {
  await timed(url, key);
  const times = [];
  let body;
  for (let run = 0; run < RUNS; run++) ({ ms: times[run], body } = await timed(url, key));
  return { ms: median(times), body };
}

/** The answer without timing noise: series totals by group and metric, rounded to what floating sums keep. */
const digest = (body) =>
  JSON.stringify(
    body.series
      .map((series) => [
        series.group?.id ?? '',
        series.metric,
        Math.round(series.total.sum * 1000) / 1000,
        series.total.count,
        series.total.level === undefined ? null : Math.round(series.total.level),
      ])
      .sort((a, b) => `${a[0]}${a[1]}`.localeCompare(`${b[0]}${b[1]}`)),
  );

await runBench(async () => {
  const varDir = mkdtempSync(join(tmpdir(), 'mserve-bench-usage-'));
  onCleanup('remove the bench folder', () => rmSync(varDir, { recursive: true, force: true }));
  // the api rolls nothing up by itself here: the load is rolled up below, timed, by the same code
  const platform = await startPlatform({ varDir, storageDir: join(varDir, 'storage'), env: { USAGE_ROLLUP_INTERVAL_MS: '0' } });
  const { v1, adminKey } = platform;

  say('creating 10 containers × 10 services');
  const services = [];
  for (let c = 0; c < 10; c++) {
    const container = await json('POST', `${v1}/containers`, adminKey, { name: `bench-${c}` });
    for (let s = 0; s < 10; s++) {
      const service = await json('POST', `${v1}/containers/${container.body.id}/services`, container.body.key, { name: `svc-${s}` });
      services.push({ id: service.body.id, containerId: container.body.id });
    }
  }

  const dataSource = new DataSource(dataSourceOptions(platform.infrastructure.databaseUrl));
  await dataSource.initialize();
  onCleanup('close the database connection', () => dataSource.destroy());
  await dataSource.query('CREATE TEMP TABLE bench_service (idx int PRIMARY KEY, id uuid, container_id uuid)');
  await dataSource.query(
    `INSERT INTO bench_service SELECT ordinality - 1, id, container_id FROM unnest($1::uuid[], $2::uuid[]) WITH ORDINALITY AS t(id, container_id)`,
    [services.map((service) => service.id), services.map((service) => service.containerId)],
  );

  say(`loading ${RECORDS.toLocaleString('en')} usage facts over ${YEAR} (ingest, access, disc, jobs, jobruntime)`);
  const loadStarted = performance.now();
  for (let from = 0; from < RECORDS; from += CHUNK) {
    const to = Math.min(RECORDS, from + CHUNK);
    await dataSource.query(
      `INSERT INTO usage (metric, value, container_id, service_id, resource_type, resource_id, recorded_at)
       SELECT m.metric,
              CASE m.metric WHEN 'jobs' THEN 1
                            WHEN 'jobruntime' THEN round((random() * 100)::numeric, 3)::float8
                            WHEN 'disc' THEN CASE WHEN random() < 0.7 THEN 1 ELSE -1 END * floor(random() * 1e8)
                            ELSE floor(random() * 1e8) END,
              s.container_id, s.id, 'mfile', NULL,
              make_timestamptz(${YEAR}, 1, 1, 0, 0, 0, 'UTC') + random() * interval '365 days'
         FROM generate_series($1::bigint, $2::bigint) AS g(n)
         JOIN bench_service s ON s.idx = g.n % 100
         CROSS JOIN LATERAL (SELECT (ARRAY['ingest', 'access', 'disc', 'jobs', 'jobruntime'])[1 + ((g.n / 100) % 5)] AS metric) m`,
      [from, to - 1],
    );
    say(`  ${to.toLocaleString('en')} facts, ${fmt((performance.now() - loadStarted) / 1000)} s`);
  }
  await dataSource.query('ANALYZE usage');
  const loadSeconds = (performance.now() - loadStarted) / 1000;

  const one = services[17];
  const monthByDay = (source) => `${v1}/services/${one.id}/usage?from=${YEAR}-06-01T00:00:00Z&to=${YEAR}-07-01T00:00:00Z&bucket=day&source=${source}`;
  const yearly = (source) => `${v1}/usage?from=${YEAR}-01-01T00:00:00Z&to=${YEAR + 1}-01-01T00:00:00Z&bucket=total&source=${source}`;
  const topConsumers = (source) =>
    `${v1}/usage?from=${YEAR}-01-01T00:00:00Z&to=${YEAR + 1}-01-01T00:00:00Z&bucket=month&metric=disc,ingest&groupBy=service&source=${source}`;
  const queries = [
    ['month by day, one service', monthByDay],
    ['provider yearly total', yearly],
    ['provider year by month per service (disc, ingest)', topConsumers],
  ];

  say('queries on raw facts (nothing rolled up yet)');
  const raw = [];
  for (const [, url] of queries) raw.push(await measure(url('raw'), adminKey));

  say("rolling up with MServe's rollup service");
  const [{ n: waiting }] = await dataSource.query('SELECT COUNT(*)::int AS n FROM usage WHERE NOT rolled_up');
  const roller = new UsageRollupService(dataSource, { usageRollupIntervalMs: 0 });
  const rollStarted = performance.now();
  const moved = await roller.rollUp(100_000);
  const rollSeconds = (performance.now() - rollStarted) / 1000;
  if (moved !== waiting) throw new Error(`rolled up ${moved} facts, expected ${waiting}`);
  await dataSource.query('ANALYZE usage_rollup');
  await dataSource.query('ANALYZE usage'); // as autovacuum would: the planner learns that (almost) nothing waits
  const [{ n: rollupRows }] = await dataSource.query('SELECT COUNT(*)::int AS n FROM usage_rollup');

  say('queries on rollups');
  const rolled = [];
  for (const [, url] of queries) rolled.push(await measure(url('rollup'), adminKey));
  // and raw again, now that the facts are flagged (the raw path ignores the flag: same work as before)
  const rawAfter = [];
  for (const [, url] of queries) rawAfter.push(await measure(url('raw'), adminKey));

  for (let index = 0; index < queries.length; index++) {
    if (digest(rolled[index].body) !== digest(raw[index].body)) throw new Error(`${queries[index][0]}: rollups and raw facts disagree`);
  }

  console.log(
    `\nUsage reports over ${RECORDS.toLocaleString('en')} facts (100 services, ${YEAR}); ${availableParallelism()} CPUs, load ${loadavg()[0].toFixed(2)}; medians of ${RUNS}, through the HTTP API`,
  );
  console.log(
    `load: ${fmt(loadSeconds)} s (${fmt(RECORDS / loadSeconds / 1000, 0)} k facts/s); rollup: ${fmt(rollSeconds)} s (${fmt(moved / rollSeconds / 1000, 0)} k facts/s) into ${rollupRows.toLocaleString('en')} rollup rows\n`,
  );
  console.log(
    table(
      ['query', 'rollups ms', 'raw ms (before)', 'raw ms (after)', 'rollups/raw', 'goal < 100 ms'],
      queries.map(([name], index) => {
        const baseline = Math.min(raw[index].ms, rawAfter[index].ms);
        return [
          name,
          fmt(rolled[index].ms),
          fmt(raw[index].ms),
          fmt(rawAfter[index].ms),
          fmt(rolled[index].ms / baseline, 4),
          rolled[index].ms < 100 ? 'met' : 'NOT met',
        ];
      }),
    ),
  );
  console.log('\n(answers from rollups and from raw facts are identical)');
});

// Small-file upload cost behind PgBouncer (issue 18): FILES raw REST uploads of 1-4 KiB, CONCURRENCY at a time on
// keep-alive connections, to three api processes on the same embedded PostgreSQL, Redis and storage, one after the
// other, each into its own fresh service, ROUNDS times in alternating order (so drift of the shared machine falls on
// every variant alike):
//   direct     DATABASE_URL = PostgreSQL, named prepared statements on (the default deployment)
//   unnamed    DATABASE_URL = PostgreSQL, DATABASE_PREPARED_STATEMENTS=false (what PgBouncer before 1.21 needs,
//              without PgBouncer: separates the statements' cost from the pooler's)
//   pgbouncer  DATABASE_URL = Debian's pgbouncer in transaction mode (default_pool_size POOL), DATABASE_MIGRATION_URL
//              = PostgreSQL, DATABASE_PREPARED_STATEMENTS=false
// No worker runs: the jobs the uploads queue wait, the figure is the upload's own (request to 201). It prints files/s
// per variant and round, the median of each, and the ratios to `direct`; the last line is a JSON object.
//
//   npm run build
//   node_modules/.bin/node test/bench/pgbouncer.mjs                 # FILES=500 CONCURRENCY=8 ROUNDS=3 POOL=20
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  fmt,
  freePort,
  httpRequest,
  makeTenant,
  median,
  onCleanup,
  ROOT,
  runBench,
  say,
  startCommand,
  startChild,
  startPlatform,
  table,
  waitUntil,
} from './harness.mjs';

const FILES = Number(process.env.FILES ?? 500);
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 8);
const ROUNDS = Number(process.env.ROUNDS ?? 3);
const POOL = Number(process.env.POOL ?? 20);

/** pgbouncer in transaction mode in front of `databaseUrl` (as root it runs as nobody: it refuses root). */
async function startPgBouncer(databaseUrl) {
  const server = new URL(databaseUrl);
  const folder = mkdtempSync(join(tmpdir(), 'mserve-bench-pgbouncer-'));
  chmodSync(folder, 0o755);
  onCleanup('remove the pgbouncer folder', () => rmSync(folder, { recursive: true, force: true }));
  const port = await freePort();
  const user = decodeURIComponent(server.username);
  writeFileSync(join(folder, 'userlist.txt'), `"${user}" "${decodeURIComponent(server.password)}"\n`, { mode: 0o644 });
  writeFileSync(
    join(folder, 'pgbouncer.ini'),
    [
      '[databases]',
      `* = host=${server.hostname} port=${server.port}`,
      '[pgbouncer]',
      'listen_addr = 127.0.0.1',
      `listen_port = ${port}`,
      'unix_socket_dir =',
      'auth_type = md5',
      `auth_file = ${join(folder, 'userlist.txt')}`,
      'pool_mode = transaction',
      `default_pool_size = ${POOL}`,
      'max_client_conn = 500',
      '',
    ].join('\n'),
    { mode: 0o644 },
  );
  const id = (flag) => Number(execFileSync('id', [flag, 'nobody'], { encoding: 'utf8' }));
  const ids = process.getuid?.() === 0 ? { uid: id('-u'), gid: id('-g') } : {};
  const child = startCommand('pgbouncer', 'pgbouncer', [join(folder, 'pgbouncer.ini')], {
    ...ids,
    env: { ...process.env, PATH: `${process.env.PATH}:/usr/sbin` },
  });
  await waitUntil('pgbouncer', child, async () => child.output().includes('process up'));
  const url = new URL(databaseUrl);
  url.port = String(port);
  return url.toString();
}

async function startApi(name, common, env) {
  const port = await freePort();
  const api = startChild(`api (${name})`, [join(ROOT, 'dist', 'src', 'main.js')], {
    cwd: ROOT,
    env: { ...common, PORT: String(port), HOST: '127.0.0.1', ...env },
  });
  const base = `http://127.0.0.1:${port}`;
  await waitUntil(`api (${name})`, api, async () => (await fetch(`${base}/health/ready`)).status === 200);
  return { name, v1: `${base}/api/v1` };
}

/** FILES uploads to a fresh service of `api`, CONCURRENCY at a time: files/s from the first request to the last 201. */
async function uploadRound(api, adminKey, round) {
  const tenant = await makeTenant(api.v1, adminKey, `pgb-${api.name}-${round}`);
  const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  const bodies = Array.from({ length: FILES }, (_, index) => Buffer.alloc(1024 + ((index * 997) % 3072), `${api.name} ${round} ${index} `));
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      for (let index = next++; index < FILES; index = next++) {
        const reply = await httpRequest(`${api.v1}/services/${tenant.serviceId}/mfiles?name=f-${index}.txt`, {
          method: 'POST',
          headers: { authorization: `Bearer ${tenant.customerKey}`, 'content-type': 'application/octet-stream' },
          body: bodies[index],
          agent,
        });
        if (reply.status !== 201) throw new Error(`${api.name}: upload ${index}: ${reply.status} ${reply.body?.toString().slice(0, 300)}`);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  agent.destroy();
  return FILES / seconds;
}

await runBench(async () => {
  const varDir = mkdtempSync(join(tmpdir(), 'mserve-bench-pgb-'));
  onCleanup('remove the bench folder', () => rmSync(varDir, { recursive: true, force: true }));
  const platform = await startPlatform({ varDir, storageDir: join(varDir, 'storage'), env: { JOB_RECONCILER: 'false' } });
  const direct = platform.infrastructure.databaseUrl;
  const bouncer = await startPgBouncer(direct);
  const common = {
    ...process.env,
    NODE_OPTIONS: '',
    REDIS_URL: platform.infrastructure.redisUrl,
    STORAGE_DIR: join(varDir, 'storage'),
    VAR_DIR: varDir,
    ADMIN_KEY: platform.adminKey,
    LOG_LEVEL: 'warn',
    JOB_RECONCILER: 'false',
  };
  const apis = [
    { name: 'direct', v1: platform.v1 },
    await startApi('unnamed', common, { DATABASE_URL: direct, DATABASE_PREPARED_STATEMENTS: 'false' }),
    await startApi('pgbouncer', common, { DATABASE_URL: bouncer, DATABASE_MIGRATION_URL: direct, DATABASE_PREPARED_STATEMENTS: 'false' }),
  ];
  say(`${FILES} uploads of 1-4 KiB, ${CONCURRENCY} at a time, ${ROUNDS} rounds, PgBouncer default_pool_size ${POOL}`);
  const rates = Object.fromEntries(apis.map((api) => [api.name, []]));
  // a warm-up round per api (JIT, pools, plans), not counted
  for (const api of apis) await uploadRound(api, platform.adminKey, 'warm');
  for (let round = 0; round < ROUNDS; round++) {
    const order = round % 2 === 0 ? apis : [...apis].reverse();
    for (const api of order) {
      const rate = await uploadRound(api, platform.adminKey, round);
      rates[api.name].push(rate);
      say(`  round ${round + 1}: ${api.name} ${fmt(rate)} files/s`);
    }
  }
  const medians = Object.fromEntries(Object.entries(rates).map(([name, values]) => [name, median(values)]));
  const rows = apis.map((api) => [
    api.name,
    rates[api.name].map((rate) => fmt(rate)).join(', '),
    fmt(medians[api.name]),
    fmt(medians[api.name] / medians.direct, 3),
  ]);
  process.stdout.write(`${table(['variant', 'files/s per round', 'median', 'ratio to direct'], rows)}\n`);
  process.stdout.write(`${JSON.stringify({ files: FILES, concurrency: CONCURRENCY, rounds: ROUNDS, pool: POOL, rates, medians })}\n`);
});

// Small-file ingest benchmark (issue 17): FILES files of 0.5-16 KiB, as a workflow engine writes them (mostly text,
// JSON and CSV, one in IMAGE_EVERY a tiny PNG or JPEG), uploaded CONCURRENCY at a time on keep-alive connections
// (each MServe path's text files end in 6 bytes of their own, so no path finds another's backup copies):
//   - to Apache httpd mod_dav by PUT (config written by this script), the baseline, once before and once after
//     MServe's paths; the baseline files/s is the mean of the two (both are printed)
//   - to MServe over each of PATHS (default rest,tus,dav), each into its own fresh service with the DEFAULT profile:
//       rest  POST /api/v1/services/:id/mfiles?name=  (raw body)
//       tus   POST /api/v1/services/:id/uploads (creation) + PATCH (as tus-js-client does by default);
//             TUS_MODE=creation-with-upload sends the bytes with the POST
//       dav   PUT /dav/small/<name> (Basic auth, the service's customer key)
// For each path: upload files/s (first request sent to last response), end-to-end files/s (until every job of
// those files is final: the script polls PostgreSQL's job table every 200 ms with an indexed EXISTS), both as
// ratios of Apache's PUT files/s; CPU ms per file of each process (utime + stime from /proc: the api, the
// worker(s), PostgreSQL = the postmaster and every backend below it plus the backends it reaped, redis-server),
// PostgreSQL transactions and rows written per file (pg_stat_database), Redis commands per file (INFO
// commandstats), jobs per file by final state, the api's RSS (VmRSS) before and after. The load average is printed
// at the start and the end. The paths run one after the other; each one's jobs end before the next one starts.
//
//   npm run build
//   FILES=1000 node_modules/.bin/node test/bench/ingest-small.mjs             # quick run
//   node_modules/.bin/node test/bench/ingest-small.mjs                        # FILES=5000 CONCURRENCY=16 PATHS=rest,tus,dav
//
// Options (environment): FILES, CONCURRENCY, PATHS, SEED (file sizes and contents), IMAGE_EVERY (50; 0 = none),
// TUS_MODE, WORKERS (the worker processes' --queues lists, ';'-separated; default what `npm start` runs:
// WORKER_PROCESSES processes, one per core when unset, each with WORKER_QUEUES, default normal:2,priority:1 — the
// before figures on fe8b27a ran one, as its `npm start` did), STALL_S (300: fail when no job ended for that long), PG_STATS=1 (restart PostgreSQL with
// pg_stat_statements and print the statements per file of each path, the heaviest first; PG_STATS_OUT=<file> writes
// them all as JSON), BENCH_CPU_PROF=<dir> and BENCH_HEAP_SIGNAL=<dir> (see harness.mjs), HEAP_SNAPSHOTS=1 (with
// BENCH_HEAP_SIGNAL: a heap snapshot of the api before the first path and after the last, after a forced-GC
// pause). The last line is a JSON object with every figure (to diff runs).
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createRequire } from 'node:module';
import {
  cpuMsTree,
  postgresCpuByRole,
  davServer,
  fmt,
  httpRequest,
  beforeNow,
  launcherWorkers,
  makeTenant,
  mib,
  onCleanup,
  parseCommandStats,
  pgStatements,
  readStatusKb,
  ROOT,
  rssSampler,
  runBench,
  say,
  sleep,
  startApache,
  startPlatform,
  table,
} from './harness.mjs';

const int = (name, fallback, min = 1) => {
  const value = Number(process.env[name] ?? fallback);
  if (!Number.isInteger(value) || value < min) throw new Error(`${name} must be an integer >= ${min}, got ${process.env[name]}`);
  return value;
};
const FILES = int('FILES', 5000);
const CONCURRENCY = int('CONCURRENCY', 16);
const SEED = int('SEED', 17);
const IMAGE_EVERY = int('IMAGE_EVERY', 50, 0);
const STALL_MS = int('STALL_S', 300) * 1000;
const PATHS = (process.env.PATHS ?? 'rest,tus,dav')
  .split(',')
  .map((p) => p.trim())
  .filter(Boolean);
for (const path of PATHS) if (!['rest', 'tus', 'dav'].includes(path)) throw new Error(`PATHS: ${path} is not one of rest, tus, dav`);
const TUS_MODE = process.env.TUS_MODE ?? 'create+patch';
if (!['create+patch', 'creation-with-upload'].includes(TUS_MODE)) throw new Error(`TUS_MODE must be create+patch or creation-with-upload`);
const WORKERS = process.env.WORKERS ? process.env.WORKERS.split(';').filter(Boolean) : launcherWorkers();
const PG_STATS = process.env.PG_STATS === '1';
const HEAP_SNAPSHOTS = process.env.HEAP_SNAPSHOTS === '1';
if (HEAP_SNAPSHOTS && !process.env.BENCH_HEAP_SIGNAL) throw new Error('HEAP_SNAPSHOTS=1 needs BENCH_HEAP_SIGNAL=<dir> (where the api writes them)');

// Figures recorded before issue 17's work, printed as "before → now" beside this run's: the issue's (2,000 files of
// 1-8 KiB over REST, 8 in flight) and this script's on the unchanged code (fe8b27a, whose src/ is 1b93cef's; 2,000
// files (tus: 1,000), 16 in flight, load average 12-19 from other work on the machine: compare the ratios).
const BEFORE = {
  rest: [
    { at: 'issue 17, 8 in flight', uploadRatio: 0.058, e2eRatio: 0.023, cpuMsPerFile: null },
    { at: 'fe8b27a, 2,000 files', uploadRatio: 0.022, e2eRatio: 0.008, cpuMsPerFile: 128.7, statementsPerFile: 146, redisPerFile: 266.7 },
    { at: 'fe8b27a, 5,000 files', uploadRatio: 0.016, e2eRatio: 0.009, cpuMsPerFile: 144.7, redisPerFile: 266.4, apiRssGrowthMiB: 69 },
  ],
  dav: [{ at: 'fe8b27a, 2,000 files', uploadRatio: 0.02, e2eRatio: 0.007, cpuMsPerFile: 152.1, redisPerFile: 267.0 }],
  tus: [{ at: 'fe8b27a, 1,000 files, create+PATCH', uploadRatio: 0.01, e2eRatio: 0.006, cpuMsPerFile: 189.2, redisPerFile: 271.4 }],
};

const require = createRequire(join(ROOT, 'package.json'));
const pg = require('pg');
const Redis = require('ioredis');

// ---------------------------------------------------------------------------------------------------------------
// Test data: sizes and contents from a seeded PRNG (mulberry32), the same files for every server
// ---------------------------------------------------------------------------------------------------------------
function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const WORDS = 'task step run input output status ok failed retry node edge queue shard batch record value key count sum mean'.split(' ');

function textFile(random, size, kind, index) {
  const lines = [];
  let length = 0;
  for (let line = 0; length < size; line++) {
    const word = () => WORDS[Math.floor(random() * WORDS.length)];
    const value = () => Math.floor(random() * 1e6);
    const text =
      kind === 'json'
        ? `{"file":${index},"line":${line},"${word()}":${value()},"${word()}":"${word()}-${value()}"}`
        : kind === 'csv'
          ? `${index},${line},${word()},${value()},${(random() * 1000).toFixed(3)}`
          : `2026-12-07T05:${String(line % 60).padStart(2, '0')}:00Z ${word()} ${word()} ${value()} ${word()}`;
    lines.push(text);
    length += text.length + 1;
  }
  return Buffer.from(lines.join('\n') + '\n').subarray(0, size);
}

async function makeFiles() {
  const random = prng(SEED);
  const sharp = require('sharp');
  const files = [];
  for (let i = 0; i < FILES; i++) {
    const size = 512 + Math.floor(random() * (16 * 1024 - 512 + 1));
    const image = IMAGE_EVERY > 0 && i % IMAGE_EVERY === IMAGE_EVERY - 1;
    let body;
    let ext;
    if (image) {
      const side = 24 + Math.floor(random() * 40);
      const pixels = Buffer.alloc(side * side * 3);
      for (let p = 0; p < pixels.length; p++) pixels[p] = (p * 7 + Math.floor(random() * 64)) & 255;
      ext = (i / IMAGE_EVERY) % 2 < 1 ? 'png' : 'jpg';
      const picture = sharp(pixels, { raw: { width: side, height: side, channels: 3 } });
      body = await (ext === 'png' ? picture.png() : picture.jpeg({ quality: 80 })).toBuffer();
    } else {
      ext = ['txt', 'json', 'csv', 'log'][i % 4];
      body = textFile(random, size, ext, i);
    }
    files.push({ name: `f-${String(i).padStart(6, '0')}.${ext}`, body, image });
  }
  return files;
}

// ---------------------------------------------------------------------------------------------------------------
// Clients: one keep-alive agent per server, CONCURRENCY requests in flight
// ---------------------------------------------------------------------------------------------------------------
const expectStatus = (what, response, ...statuses) => {
  if (!statuses.includes(response.status))
    throw new Error(`${what}: HTTP ${response.status} (expected ${statuses.join('/')}) ${response.text.slice(0, 600).trim()}`);
  return response;
};

/** Sends every file with `send(file, agent)`, CONCURRENCY at a time; ms from the first request to the last response. */
async function sendAll(label, files, send) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  const started = performance.now();
  let next = 0;
  let done = 0;
  const every = Math.max(1000, Math.round(files.length / 5 / 1000) * 1000);
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      for (let i = next++; i < files.length; i = next++) {
        await send(files[i], agent);
        if (++done % every === 0) say(`  ${label}: ${done} files (${fmt(done / ((performance.now() - started) / 1000), 0)}/s)`);
      }
    }),
  );
  const ms = performance.now() - started;
  agent.destroy();
  return ms;
}

function senders({ v1, apiBase, tenant }) {
  const bearer = `Bearer ${tenant.customerKey}`;
  const dav = davServer('MServe', `${apiBase}/dav/`, 'Basic ' + Buffer.from(`x:${tenant.customerKey}`).toString('base64'));
  const tus = { 'tus-resumable': '1.0.0' };
  return {
    rest: async (file, agent) =>
      expectStatus(
        `REST upload ${file.name}`,
        await httpRequest(`${v1}/services/${tenant.serviceId}/mfiles?name=${encodeURIComponent(file.name)}`, {
          method: 'POST',
          headers: { authorization: bearer, 'content-type': 'application/octet-stream' },
          body: file.body,
          agent,
        }),
        201,
      ),
    tus: async (file, agent) => {
      const metadata = `filename ${Buffer.from(file.name).toString('base64')}`;
      const url = `${v1}/services/${tenant.serviceId}/uploads`;
      if (TUS_MODE === 'creation-with-upload') {
        const created = expectStatus(
          `tus creation-with-upload ${file.name}`,
          await httpRequest(url, {
            method: 'POST',
            headers: {
              ...tus,
              authorization: bearer,
              'upload-length': String(file.body.length),
              'upload-metadata': metadata,
              'content-type': 'application/offset+octet-stream',
            },
            body: file.body,
            agent,
          }),
          201,
        );
        if (Number(created.headers['upload-offset']) !== file.body.length)
          throw new Error(`tus ${file.name}: Upload-Offset ${created.headers['upload-offset']} after creation-with-upload`);
        return created;
      }
      const created = expectStatus(
        `tus creation ${file.name}`,
        await httpRequest(url, {
          method: 'POST',
          headers: { ...tus, authorization: bearer, 'upload-length': String(file.body.length), 'upload-metadata': metadata },
          agent,
        }),
        201,
      );
      return expectStatus(
        `tus PATCH ${file.name}`,
        await httpRequest(new URL(created.headers.location, v1).href, {
          method: 'PATCH',
          headers: { ...tus, authorization: bearer, 'upload-offset': '0', 'content-type': 'application/offset+octet-stream' },
          body: file.body,
          agent,
        }),
        204,
      );
    },
    dav: async (file, agent) => expectStatus(`WebDAV PUT ${file.name}`, await dav.put(`small/${file.name}`, file.body, agent), 201, 204),
    davSetup: async () => expectStatus('WebDAV MKCOL small/', await dav.mkcol('small/'), 201),
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Counters: CPU per process, PostgreSQL, Redis
// ---------------------------------------------------------------------------------------------------------------
function cpuSnapshot(platform) {
  const workers = platform.workers.map((w) => cpuMsTree(w.pid));
  return {
    api: cpuMsTree(platform.api.pid),
    worker: workers.reduce((a, b) => a + b, 0),
    postgres: cpuMsTree(platform.postmasterPid()),
    redis: cpuMsTree(platform.redisPid()),
  };
}
const cpuDelta = (after, before) => Object.fromEntries(Object.keys(after).map((k) => [k, after[k] - before[k]]));

async function pgCounters(pool) {
  const { rows } = await pool.query(
    `SELECT xact_commit::bigint + xact_rollback::bigint AS xacts, tup_inserted::bigint AS inserted, tup_updated::bigint AS updated,
            tup_deleted::bigint AS deleted FROM pg_stat_database WHERE datname = current_database()`,
  );
  return Object.fromEntries(Object.entries(rows[0]).map(([k, v]) => [k, Number(v)]));
}

async function redisCalls(redis) {
  return parseCommandStats(await redis.info('commandstats'));
}
function callsDelta(after, before) {
  const delta = {};
  for (const [command, calls] of Object.entries(after)) if (calls - (before[command] ?? 0) > 0) delta[command] = calls - (before[command] ?? 0);
  return delta;
}

/**
 * Waits until no job of the service is waiting, queued or running (jobs are made in the upload's transaction, so
 * they all exist once the uploads are answered). Polls PostgreSQL every 200 ms with an EXISTS on the
 * (service_id, state) index, and counts what is left every 5 s (progress, stall detection): the benchmark's own
 * queries stay a negligible share of PostgreSQL's CPU. They carry the comment bench-poll (left out of PG_STATS).
 */
async function jobsEnded(pool, serviceId, label) {
  const open = ['waiting', 'queued', 'running'];
  let lastLeft = -1;
  let lastProgress = performance.now();
  let lastCount = 0;
  for (;;) {
    const { rows } = await pool.query(`SELECT /* bench-poll */ EXISTS (SELECT 1 FROM job WHERE service_id = $1 AND state = ANY($2)) AS busy`, [
      serviceId,
      open,
    ]);
    const now = performance.now();
    if (!rows[0].busy) return now;
    if (now - lastCount > 5000) {
      lastCount = now;
      const left = (await pool.query(`SELECT /* bench-poll */ count(*)::int AS n FROM job WHERE service_id = $1 AND state = ANY($2)`, [serviceId, open]))
        .rows[0].n;
      if (left !== lastLeft) {
        lastLeft = left;
        lastProgress = now;
      } else if (now - lastProgress > STALL_MS) throw new Error(`${label}: no job ended for ${STALL_MS / 1000} s (${left} not final)`);
      say(`  ${label}: ${left} jobs not final yet`);
    }
    await sleep(200);
  }
}

async function heapSnapshot(platform, dir, label) {
  const before = new Set(readdirSync(dir));
  process.kill(platform.api.pid, 'SIGUSR2');
  for (let waited = 0; waited < 600000; waited += 500) {
    await sleep(500);
    const made = readdirSync(dir).filter((f) => f.endsWith('.heapsnapshot') && !before.has(f));
    if (made.length) {
      // written when its size stops changing
      const file = join(dir, made[0]);
      let size = -1;
      for (;;) {
        const now = statSync(file).size;
        if (now === size && now > 0) break;
        size = now;
        await sleep(1000);
      }
      say(`  heap snapshot (${label}): ${file} (${fmt(size / 1e6, 1)} MB)`);
      return file;
    }
  }
  throw new Error('the api wrote no heap snapshot within 10 minutes of SIGUSR2');
}

// ---------------------------------------------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------------------------------------------
async function main() {
  const loadStart = loadavg();
  let commit = 'unknown';
  try {
    // HEAD, and the last commit that changed src/ (what is measured: the benchmark's own commits do not count)
    const head = execFileSync('git', ['-C', ROOT, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
    const src = execFileSync('git', ['-C', ROOT, 'log', '-1', '--format=%h', '--', 'src'], { encoding: 'utf8' }).trim();
    commit = `${head} (src/ last changed in ${src})`;
    if (execFileSync('git', ['-C', ROOT, 'status', '--porcelain', '--', 'src'], { encoding: 'utf8' }).trim()) commit += '+dirty';
  } catch {
    /* not a git checkout */
  }
  const tempRoot = mkdtempSync(join(tmpdir(), 'mserve-bench-ingest-small-'));
  onCleanup('remove temp dir', async () => rmSync(tempRoot, { recursive: true, force: true }));
  chmodSync(tempRoot, 0o711); // Apache's children (www-data when root) traverse it to their folders
  const apacheDir = join(tempRoot, 'apache');
  mkdirSync(apacheDir);
  chmodSync(apacheDir, 0o755);

  say(`making ${FILES} files (seed ${SEED})`);
  const files = await makeFiles();
  const bytes = files.reduce((a, f) => a + f.body.length, 0);
  const images = files.filter((f) => f.image).length;

  const apache = await startApache(apacheDir, { writtenBy: 'test/bench/ingest-small.mjs' });
  const platform = await startPlatform({ varDir: join(tempRoot, 'var'), storageDir: join(tempRoot, 'storage'), workers: WORKERS, pgStatStatements: PG_STATS });
  const pool = new pg.Pool({ connectionString: platform.infrastructure.databaseUrl, max: 2 });
  onCleanup('close pg pool', () => pool.end());
  const redis = new Redis(platform.infrastructure.redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await redis.connect();
  onCleanup('close redis', () => redis.quit());
  const apacheDav = davServer('Apache', apache.base, 'Basic ' + Buffer.from('x:unused').toString('base64'));

  // Warm-up (untimed): 50 files through Apache and every MServe path (their own services), jobs included
  const warm = files.slice(0, Math.min(50, files.length));
  expectStatus('Apache MKCOL warm/', await apacheDav.mkcol('warm/'), 201);
  await sendAll('Apache warm-up', warm, async (file, agent) =>
    expectStatus(`Apache PUT ${file.name}`, await apacheDav.put(`warm/${file.name}`, file.body, agent), 201, 204),
  );
  for (const path of PATHS) {
    const tenant = await makeTenant(platform.v1, platform.adminKey, `warm-${path}`);
    const send = senders({ ...platform, tenant });
    if (path === 'dav') await send.davSetup();
    await sendAll(`${path} warm-up`, warm, send[path]);
    await jobsEnded(pool, tenant.serviceId, `${path} warm-up`);
  }

  const apacheRun = async (label, list = files) => {
    expectStatus(`Apache MKCOL ${label}/`, await apacheDav.mkcol(`${label}/`), 201);
    const cpuBefore = cpuMsTree(apache.child.pid);
    const ms = await sendAll(`Apache ${label}`, list, async (file, agent) =>
      expectStatus(`Apache PUT ${file.name}`, await apacheDav.put(`${label}/${file.name}`, file.body, agent), 201, 204),
    );
    const cpu = cpuMsTree(apache.child.pid) - cpuBefore;
    say(`  Apache ${label}: ${fmt(ms / 1000, 2)} s, ${fmt(list.length / (ms / 1000), 0)} files/s, ${fmt(cpu / list.length, 3)} CPU ms/file`);
    return { ms, filesPerS: list.length / (ms / 1000), cpuMsPerFile: cpu / list.length };
  };
  // as MServe's paths get theirs: a freshly started httpd spawns its worker threads under the first load (measured:
  // 697–1,313 files/s cold against 1,370–2,791 in the same run's second measurement), which is not its steady rate
  await apacheRun('apache-warm-up', files.slice(0, Math.min(FILES, 500)));

  const heapDir = process.env.BENCH_HEAP_SIGNAL;
  const heap = {};
  if (HEAP_SNAPSHOTS) heap.before = await heapSnapshot(platform, heapDir, 'before');

  say(`Apache mod_dav PUT: ${FILES} files, ${CONCURRENCY} in flight`);
  const apacheBefore = await apacheRun('apache-1');
  const apiRssStartKb = readStatusKb(platform.api.pid, 'VmRSS');
  const results = {};
  const pgStatementsByPath = {};
  for (const path of PATHS) {
    const tenant = await makeTenant(platform.v1, platform.adminKey, `small-${path}`);
    const send = senders({ ...platform, tenant });
    if (path === 'dav') await send.davSetup();
    execFileSync('sync');
    say(`MServe ${path}${path === 'tus' ? ` (${TUS_MODE})` : ''}: ${FILES} files, ${CONCURRENCY} in flight`);
    const load = loadavg()[0];
    if (PG_STATS) await pgStatements(pool, { reset: true });
    const rssBeforeKb = readStatusKb(platform.api.pid, 'VmRSS');
    const workerRssBeforeKb = platform.workers.reduce((a, w) => a + readStatusKb(w.pid, 'VmRSS'), 0);
    const sampler = rssSampler(platform.api.pid, 100);
    const cpu0 = cpuSnapshot(platform);
    const pgRoles0 = postgresCpuByRole(platform.postmasterPid());
    const pg0 = await pgCounters(pool);
    const redis0 = await redisCalls(redis);
    const started = performance.now();
    // each path gets bytes no other path sent (the last bytes of a text file carry the path's name): the backup store
    // is content-addressed, so a second path sending the same bytes would find its backup copies already made
    const own = files.map((file) =>
      file.image ? file : { ...file, body: Buffer.concat([file.body.subarray(0, file.body.length - 6), Buffer.from(`\n#${path.padEnd(4)}`)]) },
    );
    const uploadMs = await sendAll(`${path}`, own, send[path]);
    const cpu1 = cpuSnapshot(platform);
    say(`  ${path}: uploads done in ${fmt(uploadMs / 1000, 2)} s (${fmt(FILES / (uploadMs / 1000), 0)} files/s); waiting for the jobs`);
    const endedAt = await jobsEnded(pool, tenant.serviceId, path);
    const e2eMs = endedAt - started;
    const cpu2 = cpuSnapshot(platform);
    const pgRoles = cpuDelta(postgresCpuByRole(platform.postmasterPid()), pgRoles0);
    const pg2 = await pgCounters(pool);
    const redis2 = await redisCalls(redis);
    const { peakKb } = sampler.stop();
    const rssAfterKb = readStatusKb(platform.api.pid, 'VmRSS');
    const jobs = (
      await pool.query(`SELECT task, state, count(*)::int AS n FROM job WHERE service_id = $1 GROUP BY task, state ORDER BY task, state`, [tenant.serviceId])
    ).rows;
    if (PG_STATS)
      pgStatementsByPath[path] = (await pgStatements(pool)).filter((r) => !r.query.includes('bench-poll') && !r.query.includes('pg_stat_statements'));
    const cpuAll = cpuDelta(cpu2, cpu0);
    const cpuUpload = cpuDelta(cpu1, cpu0);
    const redisDelta = callsDelta(redis2, redis0);
    const pgDelta = cpuDelta(pg2, pg0);
    results[path] = {
      uploadMs,
      e2eMs,
      load,
      cpuAll,
      cpuUpload,
      pgRoles,
      redisDelta,
      pgDelta,
      jobs,
      rss: { beforeKb: rssBeforeKb, peakKb, afterKb: rssAfterKb },
      workerRss: { beforeKb: workerRssBeforeKb, afterKb: platform.workers.reduce((a, w) => a + readStatusKb(w.pid, 'VmRSS'), 0) },
    };
    say(
      `  ${path}: every job final after ${fmt(e2eMs / 1000, 2)} s (${fmt(FILES / (e2eMs / 1000), 0)} files/s); CPU ms/file ${fmt(Object.values(cpuAll).reduce((a, b) => a + b, 0) / FILES, 2)}`,
    );
  }
  const apiRssEndKb = readStatusKb(platform.api.pid, 'VmRSS');
  execFileSync('sync');
  say(`Apache mod_dav PUT again (drift check)`);
  const apacheAfter = await apacheRun('apache-2');
  if (HEAP_SNAPSHOTS) heap.after = await heapSnapshot(platform, heapDir, 'after');
  const loadEnd = loadavg();

  // Report
  const apacheFilesPerS = (apacheBefore.filesPerS + apacheAfter.filesPerS) / 2;
  const perFile = (n) => n / FILES;
  const sum = (o) => Object.values(o).reduce((a, b) => a + b, 0);
  const out = [''];
  out.push(`MServe small-file ingest benchmark (issue 17) at ${commit}`);
  out.push(`machine: ${availableParallelism()} CPUs (${cpus()[0]?.model ?? 'unknown'}); node ${process.version}; ${apache.version} mpm_event + mod_dav_fs`);
  out.push(
    `load average (1/5/15 min): start ${loadStart.map((l) => fmt(l, 2)).join(' ')}, end ${loadEnd.map((l) => fmt(l, 2)).join(' ')} (includes this benchmark)`,
  );
  out.push(
    `files: ${FILES} of 0.5-16 KiB (seed ${SEED}, ${fmt(bytes / FILES / 1024, 1)} KiB average, ${images} tiny PNG/JPEG, the rest text/JSON/CSV/log), ${CONCURRENCY} in flight on keep-alive connections`,
  );
  out.push(`MServe: api + ${WORKERS.length} worker process(es) (--queues ${WORKERS.join(' / ')}), default profile, a fresh service per path; tus: ${TUS_MODE}`);
  out.push(
    `Apache PUT: ${fmt(apacheBefore.filesPerS, 0)} files/s before MServe's runs, ${fmt(apacheAfter.filesPerS, 0)} after; baseline = mean ${fmt(apacheFilesPerS, 0)} files/s (Apache CPU ${fmt((apacheBefore.cpuMsPerFile + apacheAfter.cpuMsPerFile) / 2, 3)} ms/file)`,
  );
  out.push('end to end = first upload sent to every job of those files final (the job table in PostgreSQL polled every 200 ms)');
  out.push('');
  out.push(
    table(
      ['path', 'upload/s', 'vs Apache', 'e2e/s', 'vs Apache', 'upload s', 'e2e s', 'load1'],
      PATHS.map((p) => {
        const r = results[p];
        const up = FILES / (r.uploadMs / 1000);
        const e2e = FILES / (r.e2eMs / 1000);
        return [
          p,
          fmt(up, 0),
          fmt(up / apacheFilesPerS, 3),
          fmt(e2e, 0),
          fmt(e2e / apacheFilesPerS, 3),
          fmt(r.uploadMs / 1000, 1),
          fmt(r.e2eMs / 1000, 1),
          fmt(r.load, 2),
        ];
      }),
    ),
  );
  out.push('');
  out.push(
    table(
      ['CPU ms per file', 'api', 'worker', 'postgres', 'redis', 'sum', 'sum during uploads'],
      PATHS.map((p) => {
        const c = results[p].cpuAll;
        return [
          p,
          fmt(perFile(c.api), 2),
          fmt(perFile(c.worker), 2),
          fmt(perFile(c.postgres), 2),
          fmt(perFile(c.redis), 2),
          fmt(perFile(sum(c)), 2),
          fmt(perFile(sum(results[p].cpuUpload)), 2),
        ];
      }),
    ),
  );
  out.push('');
  out.push(
    table(
      ['PostgreSQL CPU ms per file', 'backends', 'autovacuum', 'walwriter', 'checkpointer', 'bgwriter', 'other (postmaster, reaped)'],
      PATHS.map((p) => {
        const r = results[p].pgRoles;
        return [p, ...['backends', 'autovacuum', 'walwriter', 'checkpointer', 'bgwriter', 'other'].map((k) => fmt(perFile(r[k]), 2))];
      }),
    ),
  );
  out.push('');
  out.push(
    table(
      ['per file', 'pg xacts', 'rows ins', 'rows upd', 'rows del', 'redis cmds', 'jobs', 'api RSS MiB before → peak → after'],
      PATHS.map((p) => {
        const r = results[p];
        const jobs = r.jobs.reduce((a, j) => a + j.n, 0);
        return [
          p,
          fmt(perFile(r.pgDelta.xacts), 1),
          fmt(perFile(r.pgDelta.inserted), 1),
          fmt(perFile(r.pgDelta.updated), 1),
          fmt(perFile(r.pgDelta.deleted), 1),
          fmt(perFile(sum(r.redisDelta)), 1),
          fmt(perFile(jobs), 2),
          `${fmt(mib(r.rss.beforeKb), 0)} → ${fmt(mib(r.rss.peakKb), 0)} → ${fmt(mib(r.rss.afterKb), 0)}`,
        ];
      }),
    ),
  );
  for (const p of PATHS) {
    const r = results[p];
    const states = {};
    for (const j of r.jobs) states[j.state] = (states[j.state] ?? 0) + j.n;
    const top = Object.entries(r.redisDelta)
      .sort((a, b) => b[1] - a[1])
      .slice(0, 8)
      .map(([c, n]) => `${c} ${fmt(perFile(n), 1)}`)
      .join(', ');
    out.push(
      `${p}: jobs by state ${Object.entries(states)
        .map(([s, n]) => `${s} ${n}`)
        .join(', ')}; worker RSS ${fmt(mib(r.workerRss.beforeKb), 0)} → ${fmt(mib(r.workerRss.afterKb), 0)} MiB; redis per file: ${top}`,
    );
  }
  out.push(
    `api RSS over MServe's paths: ${fmt(mib(apiRssStartKb), 0)} → ${fmt(mib(apiRssEndKb), 0)} MiB (${apiRssEndKb - apiRssStartKb >= 0 ? '+' : ''}${fmt(mib(apiRssEndKb - apiRssStartKb), 0)})`,
  );
  out.push('');
  out.push('before → now (recorded figures: BEFORE in test/bench/ingest-small.mjs; goals: upload ≥ 0.5, end to end ≥ 0.25 of Apache, CPU ≤ 5 ms/file):');
  for (const p of PATHS) {
    const r = results[p];
    const before = BEFORE[p] ?? [];
    out.push(
      ...beforeNow([
        {
          figure: `${p} upload files/s vs Apache`,
          better: 'higher',
          digits: 3,
          before: before.map((b) => ({ at: b.at, value: b.uploadRatio })),
          now: FILES / (r.uploadMs / 1000) / apacheFilesPerS,
        },
        {
          figure: `${p} end to end files/s vs Apache`,
          better: 'higher',
          digits: 3,
          before: before.map((b) => ({ at: b.at, value: b.e2eRatio })),
          now: FILES / (r.e2eMs / 1000) / apacheFilesPerS,
        },
        {
          figure: `${p} CPU ms per file (sum)`,
          better: 'lower',
          digits: 1,
          before: before.map((b) => ({ at: b.at, value: b.cpuMsPerFile })),
          now: perFile(sum(r.cpuAll)),
        },
        {
          figure: `${p} Redis commands per file`,
          better: 'lower',
          digits: 1,
          before: before.map((b) => ({ at: b.at, value: b.redisPerFile })),
          now: perFile(sum(r.redisDelta)),
        },
      ]),
    );
  }
  if (PG_STATS) {
    out.push('');
    for (const p of PATHS) {
      const rows = pgStatementsByPath[p];
      const calls = rows.reduce((a, r) => a + r.calls, 0);
      const execMs = rows.reduce((a, r) => a + r.ms, 0);
      const planMs = rows.reduce((a, r) => a + (r.planMs ?? 0), 0);
      out.push(
        `${p}: ${fmt(perFile(calls), 1)} statements per file (pg_stat_statements, every backend, uploads + jobs); ` +
          `${fmt(perFile(execMs), 2)} ms executing and ${fmt(perFile(planMs), 2)} ms planning per file; the most frequent:`,
      );
      for (const r of rows.slice(0, 18))
        out.push(
          `  ${fmt(perFile(r.calls), 2).padStart(6)}/file ${fmt(r.ms / r.calls, 3).padStart(7)} ms ${fmt((r.planMs ?? 0) / r.calls, 3).padStart(6)} plan  ${r.query.replace(/\s+/g, ' ').slice(0, 150)}`,
        );
    }
    if (process.env.PG_STATS_OUT) {
      mkdirSync(dirname(process.env.PG_STATS_OUT), { recursive: true });
      writeFileSync(process.env.PG_STATS_OUT, JSON.stringify({ commit, files: FILES, paths: pgStatementsByPath }, null, 1));
      out.push(`all statements: ${process.env.PG_STATS_OUT}`);
    }
  }
  if (HEAP_SNAPSHOTS) out.push(`api heap snapshots: before ${heap.before}, after ${heap.after}`);
  out.push('');
  const round = (n, d = 3) => (Number.isFinite(n) ? Number(n.toFixed(d)) : null);
  const perFileObject = (o) => Object.fromEntries(Object.entries(o).map(([k, v]) => [k, round(perFile(v))]));
  out.push(
    JSON.stringify({
      bench: 'ingest-small',
      commit,
      files: FILES,
      concurrency: CONCURRENCY,
      bytes,
      images,
      workers: WORKERS,
      tusMode: TUS_MODE,
      load: { start: loadStart.map((l) => round(l, 2)), end: loadEnd.map((l) => round(l, 2)) },
      apache: { filesPerS: round(apacheFilesPerS, 1), before: round(apacheBefore.filesPerS, 1), after: round(apacheAfter.filesPerS, 1) },
      paths: Object.fromEntries(
        PATHS.map((p) => {
          const r = results[p];
          return [
            p,
            {
              uploadFilesPerS: round(FILES / (r.uploadMs / 1000), 1),
              uploadRatio: round(FILES / (r.uploadMs / 1000) / apacheFilesPerS),
              e2eFilesPerS: round(FILES / (r.e2eMs / 1000), 1),
              e2eRatio: round(FILES / (r.e2eMs / 1000) / apacheFilesPerS),
              cpuMsPerFile: { ...perFileObject(r.cpuAll), sum: round(perFile(sum(r.cpuAll))) },
              cpuMsPerFileDuringUploads: { ...perFileObject(r.cpuUpload), sum: round(perFile(sum(r.cpuUpload))) },
              pgPerFile: perFileObject(r.pgDelta),
              postgresCpuMsPerFileByRole: perFileObject(r.pgRoles),
              redisCommandsPerFile: round(perFile(sum(r.redisDelta)), 2),
              redisByCommand: perFileObject(r.redisDelta),
              jobs: r.jobs.reduce((by, j) => ({ ...by, [j.task]: { ...by[j.task], [j.state]: j.n } }), {}),
              apiRssMiB: { before: round(mib(r.rss.beforeKb), 1), peak: round(mib(r.rss.peakKb), 1), after: round(mib(r.rss.afterKb), 1) },
              workerRssMiB: { before: round(mib(r.workerRss.beforeKb), 1), after: round(mib(r.workerRss.afterKb), 1) },
              load1: round(r.load, 2),
            },
          ];
        }),
      ),
      apiRssMiB: { start: round(mib(apiRssStartKb), 1), end: round(mib(apiRssEndKb), 1) },
    }),
  );
  process.stdout.write(out.join('\n') + '\n');
}

await runBench(main);

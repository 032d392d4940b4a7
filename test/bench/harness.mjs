// Shared by the benchmarks: cleanup on exit and signals, free ports, child processes, JSON calls, starting the
// platform (embedded PostgreSQL + local redis-server + the built api and workers) in a temp folder, CPU and RSS
// from /proc, pg_stat_statements and Redis commandstats, an HTTP client, WebDAV requests, Apache httpd mod_dav
// from a written config (the baseline of webdav.mjs and ingest-small.mjs), and "before → now" lines.
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chownSync, createReadStream, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { availableParallelism } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

export const say = (line) => process.stderr.write(`[bench] ${line}\n`);

// ---------------------------------------------------------------------------------------------------------------
// Cleanup registry: everything started or created is registered here and undone in reverse order, on success,
// on failure and on SIGINT/SIGTERM.
// ---------------------------------------------------------------------------------------------------------------
const cleanups = [];
let cleaning;
export function cleanupAll() {
  cleaning ??= (async () => {
    for (const step of cleanups.reverse()) {
      try {
        await step.run();
      } catch (error) {
        say(`cleanup (${step.what}) failed: ${error?.message ?? error}`);
      }
    }
  })();
  return cleaning;
}
export const onCleanup = (what, run) => cleanups.push({ what, run });
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    say(`${signal}: cleaning up`);
    void cleanupAll().finally(() => process.exit(130));
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------------------------
export function freePort() {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolvePort(port));
    });
  });
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Starts a child process, keeps the tail of its output, and registers its termination. */
export function startChild(what, args, options) {
  return startCommand(what, process.execPath, args, options);
}

/** startChild for any executable (`file`), not only this Node. */
export function startCommand(what, file, args, options) {
  const child = spawn(file, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const keep = (chunk) => {
    output = (output + chunk.toString()).slice(-20000);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const exited = new Promise((r) => child.once('exit', (code, signal) => r({ code, signal })));
  child.exited = exited;
  child.output = () => output;
  onCleanup(`stop ${what}`, async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const done = await Promise.race([exited, sleep(15000).then(() => undefined)]);
    if (!done) {
      say(`${what} ignored SIGTERM for 15 s: SIGKILL`);
      child.kill('SIGKILL');
      await exited;
    }
  });
  return child;
}

export async function waitUntil(what, child, probe, timeoutMs = 120000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`${what}: the process exited (${child.signalCode ?? child.exitCode}) while starting:\n${child.output().trim().slice(-4000)}`);
    }
    if (await probe().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`${what}: not ready within ${timeoutMs} ms:\n${child.output().trim().slice(-4000)}`);
    await sleep(100);
  }
}

export async function json(method, url, key, body) {
  const headers = {};
  if (key) headers.authorization = `Bearer ${key}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await response.text();
  let parsed = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    /* not JSON */
  }
  return { status: response.status, body: parsed, text };
}

// ---------------------------------------------------------------------------------------------------------------
// RSS sampling from /proc, statistics and tables (the same as transfer.mjs's, for the other benchmarks)
// ---------------------------------------------------------------------------------------------------------------
export function readStatusKb(pid, field) {
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Number(match[1]) : NaN;
}

/** `pid` and all its descendants (through /proc/<pid>/task/<tid>/children). */
export function processTree(pid) {
  const all = [pid];
  for (let i = 0; i < all.length; i++) {
    let tids = [];
    try {
      tids = readdirSync(`/proc/${all[i]}/task`);
    } catch {
      continue; /* gone */
    }
    for (const tid of tids) {
      try {
        for (const child of readFileSync(`/proc/${all[i]}/task/${tid}/children`, 'utf8').split(' ')) if (child.trim()) all.push(Number(child));
      } catch {
        /* gone */
      }
    }
  }
  return all;
}

/** Sum of VmRSS (kB) of `pid`, or of `pid` and its descendants when `tree` (shared pages are counted per process). */
export function rssKb(pid, tree = false) {
  let kb = 0;
  for (const one of tree ? processTree(pid) : [pid]) {
    try {
      const oneKb = readStatusKb(one, 'VmRSS');
      if (Number.isFinite(oneKb)) kb += oneKb;
    } catch {
      /* gone */
    }
  }
  return kb;
}

/** Polls VmRSS every `everyMs` until stop(); stop() returns the peak (kB) and the number of samples. */
export function rssSampler(pid, everyMs = 50, { tree = false } = {}) {
  let peakKb = 0;
  let samples = 0;
  const sample = () => {
    try {
      const kb = tree ? rssKb(pid, true) : readStatusKb(pid, 'VmRSS');
      samples++;
      if (kb > peakKb) peakKb = kb;
    } catch {
      /* process gone */
    }
  };
  sample();
  const timer = setInterval(sample, everyMs);
  return {
    stop() {
      clearInterval(timer);
      sample();
      return { peakKb, samples };
    },
  };
}

export const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};
export const mbps = (bytes, ms) => bytes / 1e6 / (ms / 1000);
export const mib = (kb) => kb / 1024;
export const fmt = (n, digits = 1) => (Number.isFinite(n) ? n.toFixed(digits) : 'n/a');

export function table(headers, rows) {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
  const line = (cells) => cells.map((c, i) => (i === 0 ? String(c).padEnd(widths[i]) : String(c).padStart(widths[i]))).join('  ');
  return [line(headers), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

/**
 * The worker processes `npm start` runs by default (src/launcher.ts): WORKER_PROCESSES of them (0 or unset: one per
 * core, os.availableParallelism()), each consuming WORKER_QUEUES (default normal:2,priority:1). One `--queues` list
 * per process, for startPlatform's `workers`.
 */
export function launcherWorkers() {
  const count = Number(process.env.WORKER_PROCESSES ?? 0);
  const processes = Number.isInteger(count) && count > 0 ? count : availableParallelism();
  return Array.from({ length: processes }, () => process.env.WORKER_QUEUES ?? 'normal:2,priority:1');
}

/**
 * Starts embedded PostgreSQL and a local redis-server in `varDir`, then the built api and the given workers
 * (each a `--queues` list) against them. Everything is stopped by cleanupAll().
 *
 * Opt-in diagnostics (environment of the benchmark):
 *   BENCH_CPU_PROF=<dir>     the api and every worker run with --cpu-prof; each writes <role>.cpuprofile (api, worker-1…) into
 *                            <dir> when it exits (the harness stops them with SIGTERM: a clean exit writes it)
 *   BENCH_HEAP_SIGNAL=<dir>  the api and workers run with --heapsnapshot-signal=SIGUSR2 --diagnostic-dir=<dir>
 *   BENCH_NODE_FLAGS='...'   more node flags for the api and workers (space-separated)
 *   pgStatStatements: true   (option) PostgreSQL is restarted once with pg_stat_statements preloaded and the
 *                            extension is created in MServe's database (see pgStatements() below)
 */
export async function startPlatform({ varDir, storageDir, workers = [], env = {}, pgStatStatements = false }) {
  const distMain = join(ROOT, 'dist', 'src', 'main.js');
  if (!existsSync(distMain)) throw new Error('dist/ is missing: run `npm run build` first');
  mkdirSync(varDir, { recursive: true });
  mkdirSync(storageDir, { recursive: true });
  const require = createRequire(import.meta.url);
  const { loadConfig } = require('../../dist/src/config/config.js');
  const { ensureInfrastructure } = require('../../dist/src/infrastructure/infrastructure.js');
  say('starting embedded PostgreSQL and redis-server');
  const started = performance.now();
  const infraConfig = loadConfig({ VAR_DIR: varDir, EMBEDDED_POSTGRES_PORT: String(await freePort()), EMBEDDED_REDIS_PORT: String(await freePort()) });
  let infrastructure = await ensureInfrastructure(infraConfig, (line) => say(`  infra: ${line}`));
  if (pgStatStatements) {
    // shared_preload_libraries needs a restart: set it with ALTER SYSTEM, stop, start again on the same folder
    const pg = require('pg');
    const admin = new pg.Client({ connectionString: infrastructure.databaseUrl });
    await admin.connect();
    await admin.query(`ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'`);
    await admin.query(`ALTER SYSTEM SET pg_stat_statements.track = 'all'`);
    await admin.query(`ALTER SYSTEM SET pg_stat_statements.track_planning = on`);
    await admin.end();
    await infrastructure.stop();
    infrastructure = await ensureInfrastructure(infraConfig, (line) => say(`  infra: ${line}`));
    const db = new pg.Client({ connectionString: infrastructure.databaseUrl });
    await db.connect();
    await db.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
    await db.end();
    say('  PostgreSQL restarted with pg_stat_statements');
  }
  const infra = infrastructure;
  onCleanup('stop infrastructure', () => infra.stop());
  say(`  ready in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  const adminKey = 'msk_' + randomBytes(32).toString('base64url');
  const apiPort = await freePort();
  const common = {
    ...process.env,
    NODE_OPTIONS: '',
    DATABASE_URL: infrastructure.databaseUrl,
    REDIS_URL: infrastructure.redisUrl,
    STORAGE_DIR: storageDir,
    VAR_DIR: varDir,
    ADMIN_KEY: adminKey,
    LOG_LEVEL: 'warn',
    ...env,
  };
  const nodeFlags = (role) => {
    const flags = [];
    if (process.env.BENCH_CPU_PROF) {
      mkdirSync(process.env.BENCH_CPU_PROF, { recursive: true });
      flags.push('--cpu-prof', `--cpu-prof-dir=${resolve(process.env.BENCH_CPU_PROF)}`, `--cpu-prof-name=${role}.cpuprofile`);
    }
    if (process.env.BENCH_HEAP_SIGNAL) {
      mkdirSync(process.env.BENCH_HEAP_SIGNAL, { recursive: true });
      flags.push('--heapsnapshot-signal=SIGUSR2', `--diagnostic-dir=${resolve(process.env.BENCH_HEAP_SIGNAL)}`);
    }
    // anything else for the api and workers' node (e.g. --trace-gc, --max-semi-space-size=64)
    if (process.env.BENCH_NODE_FLAGS) flags.push(...process.env.BENCH_NODE_FLAGS.split(' ').filter(Boolean));
    return flags;
  };
  const api = startChild('api', [...nodeFlags('api'), distMain], { cwd: ROOT, env: { ...common, PORT: String(apiPort), HOST: '127.0.0.1' } });
  const apiBase = `http://127.0.0.1:${apiPort}`;
  say(`starting the api (pid ${api.pid}) on ${apiBase}`);
  await waitUntil('api', api, async () => (await fetch(`${apiBase}/health/ready`)).status === 200);
  // as the launcher does: every worker is told how many share the machine (sharp's threads divide the cores)
  const workerEnv = { WORKER_PROCESSES: String(Math.max(1, workers.length)), ...common };
  const workerProcesses = workers.map((queues, index) =>
    startChild(`worker ${index + 1}`, [...nodeFlags(`worker-${index + 1}`), join(ROOT, 'dist', 'src', 'worker.js'), '--queues', queues], {
      cwd: ROOT,
      env: workerEnv,
    }),
  );
  if (workerProcesses.length) {
    await waitUntil('workers', workerProcesses[0], async () => (await (await fetch(`${apiBase}/health/ready`)).json()).workers >= workerProcesses.length);
  }
  const postmasterPid = () => Number(readFileSync(join(varDir, 'postgres', 'postmaster.pid'), 'utf8').split('\n')[0]);
  const redisPid = () => Number(readFileSync(join(varDir, 'redis', 'redis-server.pid'), 'utf8').trim());
  return { infrastructure, api, apiBase, v1: `${apiBase}/api/v1`, adminKey, workers: workerProcesses, postmasterPid, redisPid };
}

// ---------------------------------------------------------------------------------------------------------------
// CPU time from /proc (utime + stime, in ms) of a process, or of a process and all its descendants
// ---------------------------------------------------------------------------------------------------------------
const CLOCK_TICKS = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();
/** utime + stime of one process, ms (its exited, waited-for children are not included: see cpuMsTree). */
export function cpuMs(pid) {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
  } catch {
    return 0;
  }
}
/**
 * utime + stime of `pid` and its live descendants, plus cutime + cstime of `pid` (children that exited and were
 * waited for: short-lived PostgreSQL backends are reaped by the postmaster, so their time lands there). ms.
 */
export function cpuMsTree(pid) {
  let ms = 0;
  for (const { ms: one } of cpuMsOfTree(pid)) ms += one;
  return ms;
}

/** Each live process of `pid`'s tree with its CPU ms (the root's with its reaped children's, as in cpuMsTree). */
function* cpuMsOfTree(pid) {
  for (const one of processTree(pid)) {
    try {
      const fields = readFileSync(`/proc/${one}/stat`, 'utf8').split(') ')[1].split(' ');
      let ticks = Number(fields[11]) + Number(fields[12]);
      if (one === pid) ticks += Number(fields[13]) + Number(fields[14]);
      yield { pid: one, ms: (ticks * 1000) / CLOCK_TICKS };
    } catch {
      /* gone */
    }
  }
}

/**
 * utime + stime (ms) of the PostgreSQL processes under the postmaster `pid`, by role from their process titles:
 * `backends` (client connections), `autovacuum`, `walwriter`, `checkpointer`, `bgwriter`, `other` (the postmaster,
 * the launchers, the stats and the reaped children: exited backends and autovacuum workers land there).
 */
export function postgresCpuByRole(pid) {
  const roles = { backends: 0, autovacuum: 0, walwriter: 0, checkpointer: 0, bgwriter: 0, other: 0 };
  for (const { pid: one, ms } of cpuMsOfTree(pid)) {
    let title = '';
    try {
      title = readFileSync(`/proc/${one}/cmdline`, 'utf8').replace(/\0/g, ' ');
    } catch {
      /* gone: counted as other */
    }
    const role =
      one === pid
        ? 'other'
        : /autovacuum worker/.test(title)
          ? 'autovacuum'
          : /walwriter/.test(title)
            ? 'walwriter'
            : /checkpointer/.test(title)
              ? 'checkpointer'
              : /background writer/.test(title)
                ? 'bgwriter'
                : /postgres: \S+ \S+ [\d.]+\(\d+\)/.test(title)
                  ? 'backends'
                  : 'other';
    roles[role] += ms;
  }
  return roles;
}

/** pg_stat_statements rows (calls, total ms, rows, query text), most called first; null without the extension. */
export async function pgStatements(pool, { reset = false } = {}) {
  if (reset) {
    await pool.query('SELECT pg_stat_statements_reset()');
    return null;
  }
  const { rows } = await pool.query(
    `SELECT calls::int, total_exec_time::float AS ms, total_plan_time::float AS "planMs", plans::int, rows::int, query FROM pg_stat_statements
      WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) ORDER BY calls DESC, total_exec_time DESC`,
  );
  return rows;
}

/** Redis INFO commandstats as { command: calls }. */
export function parseCommandStats(info) {
  const calls = {};
  for (const line of info.split('\n')) {
    const match = /^cmdstat_([^:]+):calls=(\d+)/.exec(line.trim());
    if (match) calls[match[1]] = Number(match[2]);
  }
  return calls;
}

// ---------------------------------------------------------------------------------------------------------------
// HTTP client and WebDAV (shared by webdav.mjs and ingest-small.mjs)
// ---------------------------------------------------------------------------------------------------------------
// The properties a directory listing asks for (what file managers and rclone ask for), not allprop.
export const PROPFIND_BODY =
  '<?xml version="1.0" encoding="utf-8"?>\n<D:propfind xmlns:D="DAV:"><D:prop><D:resourcetype/><D:getcontentlength/><D:getlastmodified/><D:getetag/><D:getcontenttype/></D:prop></D:propfind>';

/**
 * One request. The body is a Buffer/string or { file, size } (streamed from disk with Content-Length). The response
 * body is kept as text (up to `keep` bytes) or, with `discard`, only counted. Resolves when the response has ended.
 */
export function httpRequest(url, { method = 'GET', headers = {}, body, discard = false, keep = 64 * 1024, agent, onChunk, idleTimeoutMs = 600000 } = {}) {
  return new Promise((resolveRequest, reject) => {
    const started = performance.now();
    const allHeaders = { ...headers };
    if (body?.file) allHeaders['content-length'] = String(body.size);
    else if (body !== undefined) allHeaders['content-length'] = String(Buffer.byteLength(body));
    const req = http.request(url, { method, headers: allHeaders, agent });
    req.setTimeout(idleTimeoutMs, () => req.destroy(new Error(`${method} ${url}: no activity for ${idleTimeoutMs / 1000} s`)));
    req.on('error', reject);
    req.on('response', (response) => {
      const chunks = [];
      let kept = 0;
      let bytes = 0;
      response.on('data', (chunk) => {
        bytes += chunk.length;
        onChunk?.(chunk);
        if (!discard && kept < keep) {
          chunks.push(chunk);
          kept += chunk.length;
        }
      });
      response.on('error', reject);
      response.on('end', () => {
        const ms = performance.now() - started;
        resolveRequest({ status: response.statusCode, headers: response.headers, bytes, text: Buffer.concat(chunks).toString('utf8'), ms });
      });
    });
    if (body?.file) {
      const source = createReadStream(body.file, { highWaterMark: 1024 * 1024 });
      source.on('error', (error) => {
        req.destroy(error);
        reject(error);
      });
      source.pipe(req);
    } else req.end(body);
  });
}

/** A WebDAV server under test: its DAV base URL (ending in /), the headers every request carries. */
export function davServer(name, base, authorization, { idleTimeoutMs = 600000 } = {}) {
  const request = (url, options) => httpRequest(url, { idleTimeoutMs, ...options });
  const headers = { authorization };
  const url = (path) => base + path.split('/').map(encodeURIComponent).join('/');
  return {
    name,
    base,
    headers,
    url,
    put: (path, body, agent) => request(url(path), { method: 'PUT', headers: { ...headers, 'content-type': 'application/octet-stream' }, body, agent }),
    get: (path, options = {}) => request(url(path), { method: 'GET', headers, ...options }),
    del: (path) => request(url(path), { method: 'DELETE', headers }),
    mkcol: (path) => request(url(path), { method: 'MKCOL', headers }),
    propfind: (path, depth, keep = 64 * 1024) =>
      request(url(path), {
        method: 'PROPFIND',
        headers: { ...headers, depth: String(depth), 'content-type': 'application/xml; charset=utf-8' },
        body: PROPFIND_BODY,
        keep,
      }),
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Apache httpd with mod_dav + mod_dav_fs, from a config written into `dir` (-DFOREGROUND -f), stopped by cleanupAll().
// As root, its children run as www-data (or nobody): `dir`'s parents must be traversable (o+x) and the DAV folder
// and lock folder are chowned to that user. APACHE= and APACHE_MODULES= override Debian's paths.
// ---------------------------------------------------------------------------------------------------------------
export async function startApache(dir, { writtenBy = 'a benchmark' } = {}) {
  const APACHE = process.env.APACHE ?? '/usr/sbin/apache2';
  const APACHE_MODULES = process.env.APACHE_MODULES ?? '/usr/lib/apache2/modules';
  if (!existsSync(APACHE)) throw new Error(`${APACHE} not found (Debian: apt-get install apache2; or set APACHE=)`);
  for (const module of ['mod_mpm_event.so', 'mod_authz_core.so', 'mod_dav.so', 'mod_dav_fs.so']) {
    if (!existsSync(join(APACHE_MODULES, module))) throw new Error(`${join(APACHE_MODULES, module)} not found (set APACHE_MODULES=)`);
  }
  const docroot = join(dir, 'docroot');
  const davDir = join(docroot, 'dav');
  const runDir = join(dir, 'run');
  const lockDir = join(dir, 'lock');
  for (const d of [davDir, runDir, lockDir]) mkdirSync(d, { recursive: true });
  // As root, Apache's children run as www-data: they need to traverse the temp folders and write the DAV folder
  // and the lock database. Not as root, Apache ignores User/Group and runs as the caller.
  let userLines = '';
  let owner;
  if (process.getuid?.() === 0) {
    const passwd = readFileSync('/etc/passwd', 'utf8');
    const entry = ['www-data', 'nobody'].map((user) => passwd.split('\n').find((line) => line.startsWith(`${user}:`))).find(Boolean);
    if (!entry) throw new Error('running as root but neither www-data nor nobody exists for Apache to run as');
    const [user, , uid, gid] = entry.split(':');
    owner = { uid: Number(uid), gid: Number(gid) };
    userLines = `User ${user}\nGroup #${gid}\n`;
    for (const d of [davDir, lockDir]) chownSync(d, owner.uid, owner.gid);
    // its children must be able to traverse every folder above the DAV folder (mkdtemp makes 0700 folders)
    for (let parent = dirname(davDir); ; parent = dirname(parent)) {
      if ((statSync(parent).mode & 0o001) === 0)
        throw new Error(
          `Apache's children run as ${user} and cannot traverse ${parent} (mode ${(statSync(parent).mode & 0o777).toString(8)}): chmod o+x it, or run with TMPDIR=/tmp`,
        );
      if (parent === dirname(parent)) break;
    }
  }
  const port = await freePort();
  const conf = join(dir, 'httpd.conf');
  const logs = join(dir, 'logs');
  mkdirSync(logs, { recursive: true });
  writeFileSync(
    conf,
    `# written by ${writtenBy}
ServerRoot ${dir}
ServerName 127.0.0.1
DefaultRuntimeDir ${runDir}
PidFile ${runDir}/httpd.pid
Mutex file:${runDir} default
ErrorLog ${logs}/error.log
LogLevel warn
LogFormat "%m %>s %B %D %U" bench
CustomLog ${logs}/access.log bench
Listen 127.0.0.1:${port}
LoadModule mpm_event_module ${APACHE_MODULES}/mod_mpm_event.so
LoadModule authz_core_module ${APACHE_MODULES}/mod_authz_core.so
LoadModule dav_module ${APACHE_MODULES}/mod_dav.so
LoadModule dav_fs_module ${APACHE_MODULES}/mod_dav_fs.so
${userLines}DavLockDB ${lockDir}/DavLock
DocumentRoot ${docroot}
LimitRequestBody 0
Timeout 600
<Directory />
  Require all denied
</Directory>
<Directory ${docroot}>
  Require all granted
</Directory>
<Directory ${davDir}>
  Dav On
  Require all granted
</Directory>
`,
  );
  try {
    execFileSync(APACHE, ['-t', '-f', conf], { stdio: 'pipe' });
  } catch (error) {
    throw new Error(`apache2 -t rejected ${conf}: ${error.stderr?.toString() ?? error.message}`);
  }
  const child = startCommand('apache2', APACHE, ['-DFOREGROUND', '-f', conf], { cwd: dir, env: { ...process.env, LANG: 'C' } });
  const base = `http://127.0.0.1:${port}/dav/`;
  say(`starting Apache httpd mod_dav (pid ${child.pid}) on ${base}`);
  const probe = davServer('apache', base, 'Basic ' + Buffer.from('x:unused').toString('base64'));
  try {
    await waitUntil('apache2', child, async () => (await probe.propfind('', 0)).status === 207, 30000);
  } catch (error) {
    let log = '';
    try {
      log = readFileSync(join(logs, 'error.log'), 'utf8').slice(-3000);
    } catch {
      /* none */
    }
    throw new Error(`${error.message}\n${log}`);
  }
  const version = execFileSync(APACHE, ['-v'], { encoding: 'utf8' }).split('\n')[0].replace('Server version: ', '');
  return { child, base, davDir, owner, accessLog: join(logs, 'access.log'), errorLog: join(logs, 'error.log'), conf, version };
}

/** A container and a service, with the service admin and customer keys. */
export async function makeTenant(v1, adminKey, name) {
  const container = await json('POST', `${v1}/containers`, adminKey, { name: `${name}-${Date.now()}` });
  if (container.status !== 201) throw new Error(`create container: ${container.status} ${container.text}`);
  const service = await json('POST', `${v1}/containers/${container.body.id}/services`, container.body.key, { name: `${name}-svc` });
  if (service.status !== 201) throw new Error(`create service: ${service.status} ${service.text}`);
  return { serviceId: service.body.id, serviceAdminKey: service.body.key, customerKey: service.body.customerKey };
}

/** Runs a benchmark's main: its failure is reported and sets the exit code; everything it started is stopped. */
export async function runBench(main) {
  try {
    await main();
  } catch (error) {
    process.exitCode = 1;
    say(`FAILED: ${error?.stack ?? error}`);
  } finally {
    say('cleaning up');
    await cleanupAll();
    say('done');
  }
  // embedded-postgres's exit hook calls process.exit(0) on beforeExit, which would turn a failure into success
  if (process.exitCode) process.exit(process.exitCode);
}

/**
 * "before → now" lines: each figure's recorded values (a benchmark's table of constants, each named with the
 * commit or the issue it was measured at) and this run's. `better` says which way is an improvement.
 *   beforeNow([{ figure: 'small PUTs vs Apache', better: 'higher', digits: 3, before: [{ at: 'fe8b27a', value: 0.03 }], now: 0.05 }])
 */
export function beforeNow(rows) {
  return rows.map((row) => {
    const digits = row.digits ?? 2;
    const history = row.before.filter((b) => b.value !== null && b.value !== undefined).map((b) => `${fmt(b.value, digits)} (${b.at})`);
    const now = Number.isFinite(row.now) ? fmt(row.now, digits) : 'n/a';
    const last = row.before.at(-1)?.value;
    let verdict = '';
    if (Number.isFinite(row.now) && Number.isFinite(last) && last !== 0) {
      const change = row.now / last;
      verdict = ` (x${fmt(change, 2)} vs the last; ${row.better} is better)`;
    }
    return `  ${row.figure}: ${[...history, `${now} now`].join(' → ')}${verdict}`;
  });
}

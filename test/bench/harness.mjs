// Shared by the benchmarks: cleanup on exit and signals, free ports, child processes, JSON calls, and starting the
// platform (embedded PostgreSQL + local redis-server + the built api and workers) in a temp folder.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
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
 * Starts embedded PostgreSQL and a local redis-server in `varDir`, then the built api and the given workers
 * (each a `--queues` list) against them. Everything is stopped by cleanupAll().
 */
export async function startPlatform({ varDir, storageDir, workers = [], env = {} }) {
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
  const infrastructure = await ensureInfrastructure(infraConfig, (line) => say(`  infra: ${line}`));
  onCleanup('stop infrastructure', () => infrastructure.stop());
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
  const api = startChild('api', [distMain], { cwd: ROOT, env: { ...common, PORT: String(apiPort), HOST: '127.0.0.1' } });
  const apiBase = `http://127.0.0.1:${apiPort}`;
  say(`starting the api (pid ${api.pid}) on ${apiBase}`);
  await waitUntil('api', api, async () => (await fetch(`${apiBase}/health/ready`)).status === 200);
  const workerProcesses = workers.map((queues, index) =>
    startChild(`worker ${index + 1}`, [join(ROOT, 'dist', 'src', 'worker.js'), '--queues', queues], { cwd: ROOT, env: common }),
  );
  if (workerProcesses.length) {
    await waitUntil('workers', workerProcesses[0], async () => (await (await fetch(`${apiBase}/health/ready`)).json()).workers >= workerProcesses.length);
  }
  return { infrastructure, api, apiBase, v1: `${apiBase}/api/v1`, adminKey, workers: workerProcesses };
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

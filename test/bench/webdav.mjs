// WebDAV benchmark: MServe's /dav/ against Apache httpd mod_dav (dav_fs) on the same machine, the same filesystem
// and the same client code, in one run:
//   1. PUT of a SIZE_MIB file (streamed from disk with node:http), MB/s
//   2. GET of that file (body discarded), MB/s
//   3. MKCOL + ENTRIES PUTs of 256 bytes, PUT_CONCURRENCY (16) at a time, seconds (on MServe these make the
//      collection of step 4; Apache's collection of step 4 is written straight into its folder)
//   4. PROPFIND Depth: 1 of a collection with ENTRIES files, seconds of the PROPFIND alone (1 untimed, RUNS timed)
//   5. `rclone copy` of a tree of TREE_FILES small files (1-64 KiB) with --transfers 8, seconds (to a new folder
//      each run). rclone 1.60's webdav backend spaces its calls >= 10 ms apart and makes about 3 calls per file
//      (MKCOL of the parent, PUT, PROPFIND), so Apache's time is mostly that floor: the figure only shows a server
//      slower than it.
// Also samples the api process's RSS (and, for context, the sum over Apache's processes).
//
//   npm run build
//   SIZE_MIB=16 ENTRIES=200 TREE_FILES=50 RUNS=1 node_modules/.bin/node test/bench/webdav.mjs   # smoke run
//   node_modules/.bin/node test/bench/webdav.mjs        # SIZE_MIB=512 ENTRIES=10000 TREE_FILES=1000 RUNS=3
//
// Needs apache2 (Debian: /usr/sbin/apache2, modules in /usr/lib/apache2/modules) and rclone. Apache runs from a
// config file this script writes into its temp folder (-DFOREGROUND -f), as www-data when started as root.
// MServe is reached with Basic auth (user name ignored, password = the service's customer key), so /dav/ is the
// service's root folder. Apache's DAV folder is /dav/ too, so both servers see the same paths.
//
// AA_TEST=1 points the "MServe" half at Apache as well (an A/A run: how far the ratios stray from 1.00 on their
// own; the api RSS rows then describe an idle api).
//
// When MServe's /dav/ does not answer PROPFIND with 207, the Apache half still runs and is printed, MServe's
// figures are n/a and the exit code is 1. A failing MServe step is recorded, the rest still runs.
import { execFileSync, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, chownSync, createWriteStream, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { availableParallelism, cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import {
  beforeNow,
  davServer as sharedDavServer,
  fmt,
  httpRequest,
  json,
  makeTenant,
  mbps,
  median,
  mib,
  onCleanup,
  readStatusKb,
  ROOT,
  rssKb,
  rssSampler,
  runBench,
  say,
  startApache,
  startPlatform,
  table,
} from './harness.mjs';

const MIB = 1024 * 1024;

// Figures recorded before issue 17's work, printed as "before → now" beside this run's. Ratios: throughput
// MServe / Apache, times Apache / MServe (higher is better for MServe in both), measured in the same run.
const BEFORE = [
  // README / issue 17: SIZE_MIB=512 ENTRIES=10000 TREE_FILES=1000 RUNS=3, load 2-5
  {
    at: 'issue 17, 512 MiB / 10,000 entries / 1,000 files',
    put: 0.34,
    get: 0.58,
    propfind: 1.19,
    smallput: 0.03,
    smallPutsPerS: 49,
    rclone: 0.98,
    apiRssGrowthMiB: 285,
  },
  // the unchanged code, measured by the perf-bench helper at SIZE_MIB=64 ENTRIES=1000 TREE_FILES=100 RUNS=1 with load
  // average 15-18 from other work (empty profile: the small PUTs pay no job, only the upload's own bookkeeping)
  {
    at: 'fe8b27a, 64 MiB / 1,000 entries / 100 files',
    put: 0.5,
    get: 0.26,
    propfind: 1.83,
    smallput: 0.014,
    smallPutsPerS: 15,
    rclone: 0.79,
    apiRssGrowthMiB: 198,
  },
];
const number = (name, fallback) => {
  const value = Number(process.env[name] ?? fallback);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} must be a positive number, got ${process.env[name]}`);
  return value;
};
const SIZE_MIB = number('SIZE_MIB', 512);
const ENTRIES = Math.round(number('ENTRIES', 10000));
const TREE_FILES = Math.round(number('TREE_FILES', 1000));
const TREE_FOLDERS = Math.min(TREE_FILES, Math.round(number('TREE_FOLDERS', 20)));
const RUNS = Math.round(number('RUNS', 3));
const PUT_CONCURRENCY = Math.round(number('PUT_CONCURRENCY', 16));
const RCLONE_TRANSFERS = Math.round(number('RCLONE_TRANSFERS', 8));
const REQUEST_IDLE_TIMEOUT_MS = number('REQUEST_TIMEOUT_S', 600) * 1000;
const RCLONE_TIMEOUT_MS = number('RCLONE_TIMEOUT_S', 1200) * 1000;
const RCLONE = process.env.RCLONE ?? 'rclone';
const AA_TEST = process.env.AA_TEST === '1';
const SIZE = Math.round(SIZE_MIB * MIB);
const ENTRY_BYTES = 256;

/** Writes `size` random bytes in 8 MiB chunks; returns the sha256 of what was written. */
async function writeRandomFile(path, size) {
  const sha256 = createHash('sha256');
  const out = createWriteStream(path);
  const failed = new Promise((_, reject) => out.once('error', reject));
  failed.catch(() => undefined);
  for (let written = 0; written < size;) {
    const buffer = randomBytes(Math.min(8 * MIB, size - written));
    sha256.update(buffer);
    written += buffer.length;
    if (!out.write(buffer)) await Promise.race([new Promise((r) => out.once('drain', r)), failed]);
  }
  await Promise.race([new Promise((r) => out.end(r)), failed]);
  return sha256.digest('hex');
}

/** TREE_FILES files of 1-64 KiB (sizes from a fixed seed, contents random) in TREE_FOLDERS folders. */
function writeTree(dir) {
  let seed = 12345;
  const next = () => (seed = (seed * 1103515245 + 12345) >>> 0);
  const perFolder = Math.ceil(TREE_FILES / TREE_FOLDERS);
  let files = 0;
  let bytes = 0;
  for (let f = 0; files < TREE_FILES; f++) {
    const folder = join(dir, `folder-${String(f).padStart(3, '0')}`);
    mkdirSync(folder, { recursive: true });
    for (let i = 0; i < perFolder && files < TREE_FILES; i++, files++) {
      const size = 1024 + (next() % (63 * 1024 + 1));
      writeFileSync(join(folder, `file-${String(i).padStart(4, '0')}.bin`), randomBytes(size));
      bytes += size;
    }
  }
  return { files, bytes, folders: Math.ceil(TREE_FILES / perFolder) };
}

/** Forces dirty pages to disk so the next measurement does not pay for the previous one's writeback. */
function settle() {
  execFileSync('sync');
}

// ---------------------------------------------------------------------------------------------------------------
// The one client used for every measurement.
// ---------------------------------------------------------------------------------------------------------------
const keepAlive = new http.Agent({ keepAlive: true, maxSockets: PUT_CONCURRENCY });
const request = (url, options) => httpRequest(url, { idleTimeoutMs: REQUEST_IDLE_TIMEOUT_MS, ...options });
const davServer = (name, base, authorization) => sharedDavServer(name, base, authorization, { idleTimeoutMs: REQUEST_IDLE_TIMEOUT_MS });

const expect = (what, response, ...statuses) => {
  if (!statuses.includes(response.status))
    throw new Error(`${what}: HTTP ${response.status} (expected ${statuses.join('/')}) ${response.text.slice(0, 600).trim()}`);
  return response;
};

/** Number of <response> elements in a multistatus body, whatever the namespace prefix. */
const countResponses = (xml) => (xml.match(/<([A-Za-z][\w.-]*:)?response[\s>]/g) ?? []).length;

/** Requests in Apache's access log since `fromLine`, by method. */
function apacheRequests(accessLog, fromLine) {
  const lines = readFileSync(accessLog, 'utf8').split('\n').filter(Boolean);
  const byMethod = {};
  for (const line of lines.slice(fromLine)) {
    const [method] = line.split(' ');
    byMethod[method] = (byMethod[method] ?? 0) + 1;
  }
  return { total: lines.length - fromLine, byMethod };
}
const accessLogLines = (accessLog) => readFileSync(accessLog, 'utf8').split('\n').filter(Boolean).length;

// ---------------------------------------------------------------------------------------------------------------
// rclone
// ---------------------------------------------------------------------------------------------------------------
function run(file, args, { timeoutMs, env } = {}) {
  return new Promise((resolveRun, reject) => {
    const started = performance.now();
    const child = spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'], env: env ?? process.env });
    let output = '';
    const keep = (chunk) => (output = (output + chunk.toString()).slice(-20000));
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    let timedOut = false;
    const timer = timeoutMs ? setTimeout(() => ((timedOut = true), child.kill('SIGKILL')), timeoutMs) : undefined;
    onCleanup(`stop ${file}`, async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      resolveRun({ code, signal, timedOut, output, ms: performance.now() - started });
    });
  });
}

function rclone(env) {
  const common = (server) => [
    `--webdav-url=${server.base}`,
    '--webdav-vendor=other',
    '--webdav-user=x',
    `--webdav-pass=${server.obscuredPass}`,
    '--retries=1',
    '--low-level-retries=1',
    '--stats=0',
  ];
  return {
    async copy(server, source, path) {
      const result = await run(RCLONE, ['copy', source, `:webdav:${path}`, ...common(server), `--transfers=${RCLONE_TRANSFERS}`], {
        timeoutMs: RCLONE_TIMEOUT_MS,
        env,
      });
      if (result.timedOut) throw new Error(`rclone copy to ${server.name}: killed after ${RCLONE_TIMEOUT_MS / 1000} s\n${result.output.slice(-3000)}`);
      if (result.code !== 0) throw new Error(`rclone copy to ${server.name}: exit ${result.code ?? result.signal}\n${result.output.slice(-3000)}`);
      return result;
    },
    async size(server, path) {
      const result = await run(RCLONE, ['size', '--json', `:webdav:${path}`, ...common(server)], { timeoutMs: RCLONE_TIMEOUT_MS, env });
      if (result.code !== 0) throw new Error(`rclone size on ${server.name}: exit ${result.code}\n${result.output.slice(-3000)}`);
      return JSON.parse(
        result.output
          .trim()
          .split('\n')
          .filter((l) => l.startsWith('{'))
          .pop(),
      );
    },
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------------------------------------------
async function main() {
  const loadBefore = loadavg();
  if (loadBefore[0] > 0.5 * availableParallelism())
    say(`warning: 1-min load average is ${fmt(loadBefore[0], 2)} on ${availableParallelism()} CPUs: other work may skew the numbers`);
  let rcloneVersion;
  try {
    rcloneVersion = execFileSync(RCLONE, ['version'], { encoding: 'utf8' }).split('\n')[0];
  } catch (error) {
    throw new Error(`rclone is needed (Debian: apt-get install rclone; or set RCLONE=): ${error.message}`);
  }
  const tempRoot = mkdtempSync(join(tmpdir(), 'mserve-bench-webdav-'));
  onCleanup('remove temp dir', async () => rmSync(tempRoot, { recursive: true, force: true }));
  chmodSync(tempRoot, 0o711); // Apache's children (www-data) traverse it to their folders
  const varDir = join(tempRoot, 'var');
  const storageDir = join(tempRoot, 'storage');
  const clientDir = join(tempRoot, 'client');
  const apacheDir = join(tempRoot, 'apache');
  const treeDir = join(clientDir, 'tree');
  for (const dir of [varDir, storageDir, clientDir, apacheDir, treeDir]) mkdirSync(dir, { recursive: true });
  chmodSync(apacheDir, 0o755);
  const sourceFile = join(clientDir, 'source.bin');

  say(`writing ${SIZE_MIB} MiB of random bytes to ${sourceFile}`);
  let t = performance.now();
  const sourceSha = await writeRandomFile(sourceFile, SIZE);
  const tree = writeTree(treeDir);
  settle();
  say(`  done in ${fmt((performance.now() - t) / 1000, 1)} s; tree: ${tree.files} files in ${tree.folders} folders, ${fmt(tree.bytes / MIB, 1)} MiB`);

  const apache = await startApache(apacheDir, { writtenBy: 'test/bench/webdav.mjs' });
  const platform = await startPlatform({ varDir, storageDir });
  const { api, apiBase, adminKey, v1 } = platform;

  // A tenant with an empty ingest profile: this benchmark measures WebDAV, not the task engine.
  const { serviceId, customerKey, serviceAdminKey } = await makeTenant(v1, adminKey, 'webdav');
  const emptied = await json('PUT', `${v1}/services/${serviceId}/profile`, serviceAdminKey, { ingest: { steps: [] } });
  if (emptied.status !== 200) throw new Error(`profile: ${emptied.status} ${emptied.text}`);

  if (AA_TEST) {
    mkdirSync(join(apache.davDir, 'aa'));
    if (apache.owner) chownSync(join(apache.davDir, 'aa'), apache.owner.uid, apache.owner.gid);
    say('AA_TEST=1: the "MServe" half runs against Apache too (its /dav/aa/ folder)');
  }
  const ours = davServer('MServe', AA_TEST ? `${apache.base}aa/` : `${apiBase}/dav/`, 'Basic ' + Buffer.from(`x:${customerKey}`).toString('base64'));
  const theirs = davServer('Apache', apache.base, 'Basic ' + Buffer.from('x:unused').toString('base64'));
  ours.obscuredPass = execFileSync(RCLONE, ['obscure', customerKey], { encoding: 'utf8' }).trim();
  theirs.obscuredPass = execFileSync(RCLONE, ['obscure', 'unused'], { encoding: 'utf8' }).trim();
  const rcloneConfig = join(clientDir, 'rclone.conf');
  writeFileSync(rcloneConfig, '');
  const rc = rclone({ ...process.env, RCLONE_CONFIG: rcloneConfig });

  // MServe's /dav/: a clear error, and the Apache half alone, when it is not there.
  const errors = [];
  let oursUp = false;
  {
    let probe;
    try {
      probe = await ours.propfind('', 0);
    } catch (error) {
      probe = { status: 0, text: String(error?.message ?? error) };
    }
    if (probe.status === 207) oursUp = true;
    else {
      const built = existsSync(join(ROOT, 'dist', 'src', 'dav'))
        ? ''
        : ' (dist/src/dav/ does not exist: is dist/ built from a tree with the WebDAV module? npm run build)';
      const message = `MServe's WebDAV endpoint is missing or broken: PROPFIND ${ours.base} (Depth: 0, Basic auth with a service key) answered HTTP ${probe.status}, expected 207${built}: ${probe.text.slice(0, 300).trim()}`;
      errors.push({ step: 'probe', error: message });
      say(`ERROR: ${message}`);
      say('measuring Apache alone; MServe figures will be n/a');
    }
  }
  /** Runs one MServe step; a failure is recorded and turns the rest of MServe's steps of that phase off. */
  const failed = new Set();
  async function oursStep(phase, fn) {
    if (!oursUp || failed.has(phase)) return undefined;
    try {
      return await fn();
    } catch (error) {
      failed.add(phase);
      const message = String(error?.message ?? error);
      errors.push({ step: phase, error: message });
      say(`  MServe ${phase} FAILED: ${message.slice(0, 2000)}`);
      return undefined;
    }
  }

  // Warm-up (untimed): a small PUT, GET and PROPFIND on both, so first-request costs are not measured.
  {
    const small = randomBytes(256 * 1024);
    await oursStep('warm-up', async () => {
      expect('MServe warm-up PUT', await ours.put('warmup.bin', small), 201, 204);
      const got = expect('MServe warm-up GET', await ours.get('warmup.bin', { discard: true }), 200);
      if (got.bytes !== small.length) throw new Error(`MServe warm-up GET: ${got.bytes} bytes, expected ${small.length}`);
      expect('MServe warm-up PROPFIND', await ours.propfind('', 1), 207);
    });
    expect('Apache warm-up PUT', await theirs.put('warmup.bin', small), 201, 204);
    expect('Apache warm-up GET', await theirs.get('warmup.bin', { discard: true }), 200);
    expect('Apache warm-up PROPFIND', await theirs.propfind('', 1), 207);
    settle();
  }

  const apiRssBeforeKb = readStatusKb(api.pid, 'VmRSS');
  const apiHwmBeforeKb = readStatusKb(api.pid, 'VmHWM');
  const apacheRssBeforeKb = rssKb(apache.child.pid, true);
  const apiSampler = rssSampler(api.pid);
  const apacheSampler = rssSampler(apache.child.pid, 200, { tree: true });

  const results = {
    ours: { put: [], get: [], smallput: [], propfind: [], rclone: [] },
    theirs: { put: [], get: [], smallput: [], propfind: [], rclone: [] },
  };
  const extra = {};
  // The api's RSS per phase: peak while it ran, and RSS at its end.
  const phases = [];
  let phase;
  const endPhase = () => {
    if (!phase) return;
    const { peakKb } = phase.sampler.stop();
    phases.push({ name: phase.name, peakKb, endKb: readStatusKb(api.pid, 'VmRSS') });
    phase = undefined;
  };
  const startPhase = (name) => {
    endPhase();
    phase = { name, sampler: rssSampler(api.pid) };
  };
  startPhase('PUT/GET');

  // 1 + 2: PUT and GET of the big file
  for (let runNo = 1; runNo <= RUNS; runNo++) {
    say(`PUT/GET ${SIZE_MIB} MiB, run ${runNo}/${RUNS}`);
    const name = `big-${runNo}.bin`;
    for (const [server, bucket] of [
      [ours, results.ours],
      [theirs, results.theirs],
    ]) {
      const step = async () => {
        const up = expect(`${server.name} PUT ${name}`, await server.put(name, { file: sourceFile, size: SIZE }), 201, 204);
        bucket.put.push(up.ms);
        say(`  ${server.name.padEnd(7)} PUT  ${fmt(mbps(SIZE, up.ms))} MB/s (HTTP ${up.status})`);
        settle();
        const down = expect(`${server.name} GET ${name}`, await server.get(name, { discard: true }), 200);
        if (down.bytes !== SIZE) throw new Error(`${server.name} GET ${name}: ${down.bytes} bytes, expected ${SIZE}`);
        bucket.get.push(down.ms);
        say(`  ${server.name.padEnd(7)} GET  ${fmt(mbps(SIZE, down.ms))} MB/s`);
        if (runNo > 1) expect(`${server.name} DELETE ${name}`, await server.del(name), 200, 204);
        settle();
      };
      if (server === ours) await oursStep('PUT/GET', step);
      else await step();
    }
  }
  // One untimed check per server: the first big file, downloaded again, has the source's sha256.
  say('verifying the sha256 of one download per server (untimed)');
  const verify = async (server) => {
    const hash = createHash('sha256');
    const got = expect(`${server.name} GET big-1.bin`, await server.get('big-1.bin', { discard: true, onChunk: (chunk) => hash.update(chunk) }), 200);
    const sha = hash.digest('hex');
    if (got.bytes !== SIZE || sha !== sourceSha)
      throw new Error(`${server.name}: big-1.bin read back as ${got.bytes} bytes, sha256 ${sha}; the source has ${SIZE} bytes, ${sourceSha}`);
    return true;
  };
  const shaOk = { ours: (await oursStep('PUT/GET', () => verify(ours))) ?? false, theirs: await verify(theirs) };
  await oursStep('PUT/GET', async () => expect('MServe DELETE big-1.bin', await ours.del('big-1.bin'), 200, 204));
  expect('Apache DELETE big-1.bin', await theirs.del('big-1.bin'), 200, 204);
  settle();

  // 3 + 4: small PUTs, PROPFIND Depth: 1 of a collection with ENTRIES entries
  startPhase('small PUTs');
  say(`small PUTs and PROPFIND: ${ENTRIES} entries`);
  const entryName = (i) => `entry-${String(i).padStart(6, '0')}.txt`;
  const entryBody = (i) => Buffer.from(`entry ${i} `.padEnd(ENTRY_BYTES, 'x'));
  {
    const dir = join(apache.davDir, 'entries');
    mkdirSync(dir);
    for (let i = 0; i < ENTRIES; i++) writeFileSync(join(dir, entryName(i)), entryBody(i));
    if (apache.owner) chownSync(dir, apache.owner.uid, apache.owner.gid);
  }
  settle();
  /** MKCOL `dir`, then ENTRIES small PUTs into it, PUT_CONCURRENCY at a time on kept-alive connections; ms. */
  const putMany = async (server, dir) => {
    const started = performance.now();
    expect(`${server.name} MKCOL ${dir}`, await server.mkcol(dir), 201);
    let next = 0;
    let done = 0;
    await Promise.all(
      Array.from({ length: PUT_CONCURRENCY }, async () => {
        for (let i = next++; i < ENTRIES; i = next++) {
          expect(`${server.name} PUT ${dir}${entryName(i)}`, await server.put(`${dir}${entryName(i)}`, entryBody(i), keepAlive), 201, 204);
          if (++done % 2000 === 0) say(`  ${server.name.padEnd(7)} ${done} small PUTs (${fmt(done / ((performance.now() - started) / 1000), 0)}/s)`);
        }
      }),
    );
    const ms = performance.now() - started;
    say(
      `  ${server.name.padEnd(7)} MKCOL + ${ENTRIES} PUTs of ${ENTRY_BYTES} B (${PUT_CONCURRENCY} at a time): ${fmt(ms / 1000, 2)} s, ${fmt(ENTRIES / (ms / 1000), 0)}/s`,
    );
    return ms;
  };
  // MServe's PUTs make the collection PROPFIND lists; Apache's go to another one (its listed one is on disk).
  await oursStep('small PUTs', async () => results.ours.smallput.push(await putMany(ours, 'entries/')));
  if (!results.ours.smallput.length) failed.add('PROPFIND'); // nothing to list
  settle();
  results.theirs.smallput.push(await putMany(theirs, 'small-puts/'));
  settle();
  startPhase('PROPFIND');
  extra.propfindBytes = {};
  extra.propfindFirst = {};
  const listing = async (server, bucket, label) => {
    const response = expect(`${server.name} PROPFIND entries/`, await server.propfind('entries/', 1, Infinity), 207);
    const count = countResponses(response.text);
    if (count !== ENTRIES + 1)
      throw new Error(`${server.name} PROPFIND entries/: ${count} <response> elements, expected ${ENTRIES + 1} (the collection and its ${ENTRIES} entries)`);
    if (bucket) bucket.push(response.ms);
    extra.propfindBytes[server === ours ? 'ours' : 'theirs'] = response.bytes;
    say(`  ${server.name.padEnd(7)} PROPFIND ${label}: ${fmt(response.ms / 1000, 3)} s, ${fmt(response.bytes / 1e6, 2)} MB`);
    return response.ms;
  };
  extra.propfindFirst.ours = await oursStep('PROPFIND', () => listing(ours, undefined, 'first (untimed warm-up)'));
  extra.propfindFirst.theirs = await listing(theirs, undefined, 'first (untimed warm-up)');
  for (let runNo = 1; runNo <= RUNS; runNo++) {
    await oursStep('PROPFIND', () => listing(ours, results.ours.propfind, `run ${runNo}/${RUNS}`));
    await listing(theirs, results.theirs.propfind, `run ${runNo}/${RUNS}`);
  }

  // 5: rclone copy of the small-file tree, a fresh destination each run
  startPhase('rclone');
  say(`rclone copy: ${tree.files} files in ${tree.folders} folders, --transfers ${RCLONE_TRANSFERS}`);
  extra.apacheRequestsPerCopy = [];
  for (let runNo = 1; runNo <= RUNS; runNo++) {
    for (const [server, bucket] of [
      [ours, results.ours],
      [theirs, results.theirs],
    ]) {
      const step = async () => {
        const fromLine = server === theirs ? accessLogLines(apache.accessLog) : 0;
        const copied = await rc.copy(server, treeDir, `tree-${runNo}`);
        bucket.rclone.push(copied.ms);
        let requests = '';
        if (server === theirs) {
          const seen = apacheRequests(apache.accessLog, fromLine);
          extra.apacheRequestsPerCopy.push(seen);
          requests = ` (${seen.total} requests: ${Object.entries(seen.byMethod)
            .map(([m, n]) => `${m} ${n}`)
            .join(', ')})`;
        }
        say(`  ${server.name.padEnd(7)} rclone copy run ${runNo}/${RUNS}: ${fmt(copied.ms / 1000, 2)} s${requests}`);
        const size = await rc.size(server, `tree-${runNo}`);
        if (size.count !== tree.files || size.bytes !== tree.bytes)
          throw new Error(
            `${server.name}: after rclone copy, tree-${runNo} holds ${size.count} files / ${size.bytes} bytes; the source has ${tree.files} / ${tree.bytes}`,
          );
        settle();
      };
      if (server === ours) await oursStep('rclone', step);
      else await step();
    }
  }

  endPhase();
  const apiRss = apiSampler.stop();
  const apacheRss = apacheSampler.stop();
  const apiHwmAfterKb = readStatusKb(api.pid, 'VmHWM');
  const apiRssAfterKb = readStatusKb(api.pid, 'VmRSS');
  // (rclone's MKCOLs of a folder whose parent is not there yet are expected 409s)
  const apacheErrors = readFileSync(apache.errorLog, 'utf8')
    .split('\n')
    .filter((l) => /:(error|crit|alert|emerg)\]/.test(l) && !l.includes('intermediate collection does not exist'));

  // Report
  const med = (list) => (list.length ? median(list) : NaN);
  const figure = {
    put: (list) => mbps(SIZE, med(list)),
    get: (list) => mbps(SIZE, med(list)),
    smallput: (list) => med(list) / 1000,
    propfind: (list) => med(list) / 1000,
    rclone: (list) => med(list) / 1000,
  };
  const perRun = (key, list) =>
    list.map((ms) => (key === 'put' || key === 'get' ? fmt(mbps(SIZE, ms), 0) : fmt(ms / 1000, key === 'propfind' ? 3 : 2))).join(' / ') || 'n/a';
  const KEYS = ['put', 'get', 'smallput', 'propfind', 'rclone'];
  const summary = {};
  for (const key of KEYS) {
    const a = figure[key](results.ours[key]);
    const b = figure[key](results.theirs[key]);
    // higher is better for MServe in both cases: throughput ours / Apache, time Apache / ours
    summary[key] = { ours: a, theirs: b, ratio: key === 'put' || key === 'get' ? a / b : b / a };
  }
  const labels = {
    put: [`PUT ${SIZE_MIB} MiB (MB/s)`, 'MServe / Apache'],
    get: [`GET ${SIZE_MIB} MiB (MB/s)`, 'MServe / Apache'],
    smallput: [`MKCOL + ${ENTRIES} PUTs of ${ENTRY_BYTES} B, ${PUT_CONCURRENCY} at a time (s)`, 'Apache / MServe'],
    propfind: [`PROPFIND Depth 1, ${ENTRIES} entries (s)`, 'Apache / MServe'],
    rclone: [`rclone copy ${tree.files} files (s)`, 'Apache / MServe'],
  };
  const out = [];
  out.push('');
  out.push('MServe WebDAV benchmark');
  if (AA_TEST) out.push('AA_TEST=1: the MServe column is Apache as well (A/A run); its RSS row is an idle api');
  out.push(
    `machine: nproc ${execFileSync('nproc', { encoding: 'utf8' }).trim()} (availableParallelism ${availableParallelism()}), ${cpus()[0]?.model ?? 'unknown cpu'}, ${fmt(totalmem() / 1024 ** 3, 1)} GiB RAM`,
  );
  out.push(
    `node ${process.version} (${process.execPath}); ${apache.version}, mpm_event, mod_dav + mod_dav_fs, defaults otherwise (config: LimitRequestBody 0); ${rcloneVersion}`,
  );
  out.push(
    `load average (1/5/15 min): at start ${loadBefore.map((l) => fmt(l, 2)).join(' ')}, at end ${loadavg()
      .map((l) => fmt(l, 2))
      .join(' ')} (includes this benchmark)`,
  );
  out.push(
    `big file: ${SIZE_MIB} MiB (${SIZE} bytes) random, ${RUNS} run(s); PROPFIND: ${ENTRIES} files of ${ENTRY_BYTES} bytes, 1 untimed + ${RUNS} timed; rclone: ${tree.files} files of 1-64 KiB (${fmt(tree.bytes / MIB, 1)} MiB) in ${tree.folders} folders, ${RUNS} run(s); temp dir ${tmpdir()}`,
  );
  out.push(
    'client: node:http; PUT streams the file from disk (Content-Length), GET discards the body; `sync` (untimed) between transfers; PROPFIND asks for resourcetype, getcontentlength, getlastmodified, getetag, getcontenttype and reads the whole 207 body',
  );
  out.push(
    `the collection PROPFIND lists is made by the timed small PUTs on MServe; on Apache it is written straight into its folder (its timed PUTs go to another collection)`,
  );
  out.push('MB/s = 10^6 bytes per second; s = wall time from request start to the end of the response (rclone: of the whole command)');
  out.push('');
  out.push(
    table(
      ['figure (median)', 'MServe', 'Apache', 'ratio', 'ratio is', 'MServe per run', 'Apache per run'],
      KEYS.map((key) => [
        labels[key][0],
        fmt(summary[key].ours, key === 'propfind' ? 3 : key === 'put' || key === 'get' ? 1 : 2),
        fmt(summary[key].theirs, key === 'propfind' ? 3 : key === 'put' || key === 'get' ? 1 : 2),
        fmt(summary[key].ratio, 2),
        labels[key][1],
        perRun(key, results.ours[key]),
        perRun(key, results.theirs[key]),
      ]),
    ),
  );
  out.push('(ratio > 1: MServe is faster; throughput ratios are MServe / Apache, time ratios Apache / MServe)');
  out.push('');
  out.push(
    `first PROPFIND (untimed warm-up): MServe ${fmt((extra.propfindFirst.ours ?? NaN) / 1000, 3)} s, Apache ${fmt(extra.propfindFirst.theirs / 1000, 3)} s; body MServe ${fmt((extra.propfindBytes.ours ?? NaN) / 1e6, 2)} MB, Apache ${fmt(extra.propfindBytes.theirs / 1e6, 2)} MB`,
  );
  out.push(`small PUTs per second: MServe ${fmt(ENTRIES / summary.smallput.ours, 0)}, Apache ${fmt(ENTRIES / summary.smallput.theirs, 0)}`);
  const lastCopy = extra.apacheRequestsPerCopy.at(-1);
  if (lastCopy)
    out.push(
      `rclone made ${lastCopy.total} requests to Apache per copy (${Object.entries(lastCopy.byMethod)
        .map(([m, n]) => `${m} ${n}`)
        .join(', ')}); rclone ${rcloneVersion.split(' ')[1]}'s webdav pacer spaces calls >= 10 ms apart`,
    );
  out.push('');
  out.push(
    table(
      ['RSS (MiB)', 'before', 'peak (polls)', 'growth', 'after', 'VmHWM before', 'VmHWM after'],
      [
        [
          'MServe api',
          fmt(mib(apiRssBeforeKb)),
          fmt(mib(apiRss.peakKb)),
          fmt(mib(apiRss.peakKb - apiRssBeforeKb)),
          fmt(mib(apiRssAfterKb)),
          fmt(mib(apiHwmBeforeKb)),
          fmt(mib(apiHwmAfterKb)),
        ],
        [
          'Apache (sum over its processes)',
          fmt(mib(apacheRssBeforeKb)),
          fmt(mib(apacheRss.peakKb)),
          fmt(mib(apacheRss.peakKb - apacheRssBeforeKb)),
          fmt(mib(rssKb(apache.child.pid, true))),
          '',
          '',
        ],
      ],
    ),
  );
  out.push(`MServe api RSS by phase (peak / at its end, MiB): ${phases.map((p) => `${p.name} ${fmt(mib(p.peakKb))} / ${fmt(mib(p.endKb))}`).join('; ')}`);
  out.push(
    `(${apiRss.samples} api RSS samples every 50 ms, ${apacheRss.samples} Apache samples every 200 ms; VmHWM is the kernel's high-water mark, including start-up)`,
  );
  out.push(`sha256 of a ${SIZE_MIB} MiB download verified (untimed): MServe ${shaOk.ours ? 'OK' : 'n/a'}, Apache ${shaOk.theirs ? 'OK' : 'n/a'}`);
  if (apacheErrors.length) out.push(`Apache error log: ${apacheErrors.length} error line(s), last: ${apacheErrors.at(-1)}`);
  if (errors.length) {
    out.push('');
    out.push(`MServe errors (${errors.length}):`);
    for (const { step, error } of errors) out.push(`  ${step}: ${error.split('\n').slice(0, 6).join(' | ').slice(0, 1500)}`);
  }
  out.push('');
  const round = (n, digits) => (Number.isFinite(n) ? Number(n.toFixed(digits)) : null);
  const ms = (list, key) => list.map((v) => (key === 'put' || key === 'get' ? round(mbps(SIZE, v), 1) : round(v / 1000, 3)));
  const jsonLine = {
    bench: 'webdav',
    aaTest: AA_TEST,
    sizeMiB: SIZE_MIB,
    entries: ENTRIES,
    treeFiles: tree.files,
    treeBytes: tree.bytes,
    runs: RUNS,
    mserve: {
      putMBps: round(summary.put.ours, 1),
      getMBps: round(summary.get.ours, 1),
      propfindS: round(summary.propfind.ours, 3),
      smallPutsS: round(summary.smallput.ours, 2),
      rcloneS: round(summary.rclone.ours, 2),
      perRun: Object.fromEntries(Object.entries(results.ours).map(([k, v]) => [k, ms(v, k)])),
      propfindFirstS: round((extra.propfindFirst.ours ?? NaN) / 1000, 3),
      propfindBytes: extra.propfindBytes.ours ?? null,
    },
    apache: {
      putMBps: round(summary.put.theirs, 1),
      getMBps: round(summary.get.theirs, 1),
      propfindS: round(summary.propfind.theirs, 3),
      smallPutsS: round(summary.smallput.theirs, 2),
      rcloneS: round(summary.rclone.theirs, 2),
      perRun: Object.fromEntries(Object.entries(results.theirs).map(([k, v]) => [k, ms(v, k)])),
      propfindFirstS: round(extra.propfindFirst.theirs / 1000, 3),
      propfindBytes: extra.propfindBytes.theirs ?? null,
      requestsPerRcloneCopy: lastCopy?.total ?? null,
    },
    ratios: {
      putOursOverApache: round(summary.put.ratio, 3),
      getOursOverApache: round(summary.get.ratio, 3),
      smallPutsApacheOverOurs: round(summary.smallput.ratio, 3),
      propfindApacheOverOurs: round(summary.propfind.ratio, 3),
      rcloneApacheOverOurs: round(summary.rclone.ratio, 3),
    },
    apiRssMiB: {
      before: round(mib(apiRssBeforeKb), 1),
      peak: round(mib(apiRss.peakKb), 1),
      growth: round(mib(apiRss.peakKb - apiRssBeforeKb), 1),
      after: round(mib(apiRssAfterKb), 1),
      hwmBefore: round(mib(apiHwmBeforeKb), 1),
      hwmAfter: round(mib(apiHwmAfterKb), 1),
      byPhase: Object.fromEntries(phases.map((p) => [p.name, { peak: round(mib(p.peakKb), 1), end: round(mib(p.endKb), 1) }])),
    },
    apacheRssMiB: { before: round(mib(apacheRssBeforeKb), 1), peak: round(mib(apacheRss.peakKb), 1) },
    shaOk,
    errors,
  };
  out.push('before → now (recorded figures: BEFORE in test/bench/webdav.mjs; ratios are MServe / Apache in the same run, higher is better):');
  out.push(
    ...beforeNow([
      ...['put', 'get', 'smallput', 'propfind', 'rclone'].map((key) => ({
        figure: `${labels[key][0]} ratio`,
        better: 'higher',
        digits: key === 'smallput' ? 3 : 2,
        before: BEFORE.map((b) => ({ at: b.at, value: b[key] })),
        now: summary[key].ratio,
      })),
      {
        figure: 'small PUTs per second (MServe)',
        better: 'higher',
        digits: 0,
        before: BEFORE.map((b) => ({ at: b.at, value: b.smallPutsPerS })),
        now: ENTRIES / summary.smallput.ours,
      },
      {
        figure: 'api RSS growth (MiB, peak - before)',
        better: 'lower',
        digits: 0,
        before: BEFORE.map((b) => ({ at: b.at, value: b.apiRssGrowthMiB })),
        now: mib(apiRss.peakKb - apiRssBeforeKb),
      },
    ]),
  );
  out.push('');
  out.push(JSON.stringify(jsonLine));
  process.stdout.write(out.join('\n') + '\n');
  if (errors.length) throw new Error(`MServe's WebDAV failed ${errors.length} step(s): ${errors.map((e) => e.step).join(', ')} (details above)`);
}

await runBench(main);

// Transfer benchmark: MServe raw-body and tus uploads and content download against a bare Node http server on the same
// machine, the same filesystem and the same client code. Also samples the api process's peak RSS.
//
//   npm run build
//   SIZE_MIB=64 RUNS=1 node_modules/.bin/node test/bench/transfer.mjs    # smoke run
//   node_modules/.bin/node test/bench/transfer.mjs                       # 1024 MiB, 3 runs
//
// Every timed transfer streams from / to disk: the client pipes fs.createReadStream into a node:http request
// (with Content-Length) and pipes responses into fs.createWriteStream. Between transfers the script runs an
// untimed `sync`, so dirty pages left by one transfer are not written back during the next one.
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { unlink } from 'node:fs/promises';
import http from 'node:http';
import { availableParallelism, cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  beforeNow,
  fmt,
  freePort,
  json,
  makeTenant,
  mbps,
  median,
  mib,
  onCleanup,
  readStatusKb,
  rssSampler,
  runBench,
  say,
  startChild,
  startPlatform,
  table,
  waitUntil,
} from './harness.mjs';

const MIB = 1024 * 1024;

// Figures recorded before issue 17's work (the README's: 1 GiB, 3 runs, a quiet 2-vCPU machine), printed as
// "before → now" beside this run's ratios (medians, measured against the bare server in the same run). Issue 17:
// large uploads and downloads keep these; tus reaches >= 0.9 of the simple upload.
const BEFORE = [
  { at: 'issue 17, 1 GiB', upVsPlainSync: 0.85, upVsHashSync: 1.26, tusVsSimple: 0.52, tusChunkedVsSimple: 0.53, download: 0.99, apiRssGrowthMiB: 86 },
];
const SIZE_MIB = Number(process.env.SIZE_MIB ?? 1024);
const RUNS = Number(process.env.RUNS ?? 3);
if (!Number.isFinite(SIZE_MIB) || SIZE_MIB <= 0) throw new Error(`SIZE_MIB must be a positive number, got ${process.env.SIZE_MIB}`);
if (!Number.isInteger(RUNS) || RUNS < 1) throw new Error(`RUNS must be a positive integer, got ${process.env.RUNS}`);
const SIZE = Math.round(SIZE_MIB * MIB);

/** Writes `size` random bytes in 8 MiB chunks; returns md5 and sha256 of what was written. */
async function writeRandomFile(path, size) {
  const chunk = 8 * MIB;
  const md5 = createHash('md5');
  const sha256 = createHash('sha256');
  const out = createWriteStream(path);
  const failed = new Promise((_, reject) => out.once('error', reject));
  failed.catch(() => undefined);
  let written = 0;
  while (written < size) {
    const buffer = randomBytes(Math.min(chunk, size - written));
    md5.update(buffer);
    sha256.update(buffer);
    written += buffer.length;
    if (!out.write(buffer)) await Promise.race([new Promise((r) => out.once('drain', r)), failed]);
  }
  await Promise.race([new Promise((r) => out.end(r)), failed]);
  return { md5: md5.digest('hex'), sha256: sha256.digest('hex') };
}

/** Forces dirty pages to disk so the next measurement does not pay for the previous one's writeback. */
function settle() {
  execFileSync('sync');
}

// ---------------------------------------------------------------------------------------------------------------
// The one client used for every measurement.
// ---------------------------------------------------------------------------------------------------------------

/** Streams a file from disk as the raw request body (Content-Length set). Resolves when the response has ended. */
function uploadFile(url, method, filePath, size, headers = {}, range = undefined) {
  return new Promise((resolveUpload, reject) => {
    const started = performance.now();
    const request = http.request(url, {
      method,
      headers: { 'content-type': 'application/octet-stream', 'content-length': String(size), ...headers },
    });
    request.on('error', reject);
    request.on('response', (response) => {
      const chunks = [];
      response.on('data', (c) => chunks.push(c));
      response.on('error', reject);
      response.on('end', () => {
        const ms = performance.now() - started;
        const text = Buffer.concat(chunks).toString();
        let body = text;
        try {
          body = JSON.parse(text);
        } catch {
          /* not JSON */
        }
        resolveUpload({ status: response.statusCode, headers: response.headers, body, text, ms });
      });
    });
    const source = createReadStream(filePath, range ? { start: range.start, end: range.end, highWaterMark: 1024 * 1024 } : { highWaterMark: 1024 * 1024 });
    source.on('error', (error) => {
      request.destroy(error);
      reject(error);
    });
    source.pipe(request);
  });
}

/** Streams a response body into a file (or into `sink` when given). Resolves with status, bytes and time. */
function downloadTo(url, destination, headers = {}, sink) {
  return new Promise((resolveDownload, reject) => {
    const started = performance.now();
    const request = http.get(url, { headers }, (response) => {
      if (response.statusCode !== 200) {
        const chunks = [];
        response.on('data', (c) => chunks.push(c));
        response.on('end', () => reject(new Error(`GET ${url}: ${response.statusCode} ${Buffer.concat(chunks).toString().slice(0, 500)}`)));
        return;
      }
      let bytes = 0;
      response.on('data', (c) => (bytes += c.length));
      pipeline(response, sink ?? createWriteStream(destination)).then(
        () => resolveDownload({ status: response.statusCode, bytes, ms: performance.now() - started }),
        reject,
      );
    });
    request.on('error', reject);
  });
}

const TUS_CHUNK = Math.min(SIZE, 64 * MIB);

/** A tus 1.0 upload from a file: creation, then PATCHes of `chunkSize` bytes. Resolves with the Mfile and the time. */
async function tusUpload(v1, serviceId, auth, filePath, name, chunkSize) {
  const started = performance.now();
  const tus = { 'tus-resumable': '1.0.0' };
  const created = await fetch(`${v1}/services/${serviceId}/uploads`, {
    method: 'POST',
    headers: { ...auth, ...tus, 'upload-length': String(SIZE), 'upload-metadata': `filename ${Buffer.from(name).toString('base64')}` },
  });
  if (created.status !== 201) throw new Error(`tus creation: ${created.status} ${await created.text()}`);
  const location = new URL(created.headers.get('location'), v1).href;
  let mfileId;
  for (let offset = 0; offset < SIZE; offset += chunkSize) {
    const end = Math.min(SIZE, offset + chunkSize) - 1;
    const patch = await uploadFile(
      location,
      'PATCH',
      filePath,
      end - offset + 1,
      { ...auth, ...tus, 'content-type': 'application/offset+octet-stream', 'upload-offset': String(offset) },
      { start: offset, end },
    );
    if (patch.status !== 204) throw new Error(`tus PATCH at ${offset}: ${patch.status} ${patch.text.slice(0, 500)}`);
    mfileId = patch.headers['mfile-id'];
  }
  const ms = performance.now() - started;
  if (!mfileId) throw new Error('tus: the last PATCH did not name the Mfile');
  const mfile = await json('GET', `${v1}/mfiles/${mfileId}`, auth.authorization.slice('Bearer '.length));
  if (mfile.status !== 200) throw new Error(`tus: GET mfile ${mfile.status} ${mfile.text}`);
  return { mfile: mfile.body, ms };
}

// ---------------------------------------------------------------------------------------------------------------
// The bare Node baseline server (written to the temp dir, run as a child process).
// ---------------------------------------------------------------------------------------------------------------
const BASELINE_SERVER = `
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { open, rename, stat } from 'node:fs/promises';
import http from 'node:http';
import { join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';

const dir = process.env.BASE_DIR;
const fileOf = (name) => join(dir, name.replace(/[^A-Za-z0-9._-]/g, '_'));

function hasher() {
  const md5 = createHash('md5');
  const sha256 = createHash('sha256');
  let size = 0;
  const transform = new Transform({
    transform(chunk, _encoding, callback) {
      size += chunk.length;
      md5.update(chunk);
      sha256.update(chunk);
      callback(null, chunk);
    },
  });
  return { transform, result: () => ({ size, md5: md5.digest('hex'), sha256: sha256.digest('hex') }) };
}

async function fsyncPath(path, flags) {
  const handle = await open(path, flags);
  try { await handle.sync(); } finally { await handle.close(); }
}

const server = http.createServer(async (request, response) => {
  try {
    const [, mode, name] = request.url.split('/');
    if (request.method === 'PUT' && mode === 'plain') {
      // plain: request piped straight to the file
      await pipeline(request, createWriteStream(fileOf(name)));
      const { size } = await stat(fileOf(name));
      response.writeHead(201, { 'content-type': 'application/json' }).end(JSON.stringify({ size }));
    } else if (request.method === 'PUT' && mode === 'plainsync') {
      // plainsync: the same, durably: temp file, fsync, rename, fsync of the folder (no hashing)
      const temp = fileOf(name) + '.tmp';
      await pipeline(request, createWriteStream(temp));
      await fsyncPath(temp, 'r+');
      await rename(temp, fileOf(name));
      await fsyncPath(dir, 'r');
      const { size } = await stat(fileOf(name));
      response.writeHead(201, { 'content-type': 'application/json' }).end(JSON.stringify({ size }));
    } else if (request.method === 'PUT' && mode === 'hash') {
      // hash: md5 + sha256 computed on the way
      const h = hasher();
      await pipeline(request, h.transform, createWriteStream(fileOf(name)));
      response.writeHead(201, { 'content-type': 'application/json' }).end(JSON.stringify(h.result()));
    } else if (request.method === 'PUT' && mode === 'hashsync') {
      // hashsync: md5 + sha256, temp file, fsync, rename, fsync of the folder (what MServe's store does)
      const h = hasher();
      const temp = fileOf(name) + '.tmp';
      await pipeline(request, h.transform, createWriteStream(temp));
      await fsyncPath(temp, 'r+');
      await rename(temp, fileOf(name));
      await fsyncPath(dir, 'r');
      response.writeHead(201, { 'content-type': 'application/json' }).end(JSON.stringify(h.result()));
    } else if (request.method === 'GET' && mode === 'files') {
      const path = fileOf(name);
      const { size } = await stat(path);
      response.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(size) });
      await pipeline(createReadStream(path), response);
    } else {
      response.writeHead(404).end();
    }
  } catch (error) {
    if (!response.headersSent) response.writeHead(500, { 'content-type': 'text/plain' }).end(String(error));
    else response.destroy(error);
  }
});
server.requestTimeout = 0;
server.headersTimeout = 0;
server.timeout = 0;
server.listen(Number(process.env.PORT), '127.0.0.1', () => process.stdout.write('listening\\n'));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
`;

// ---------------------------------------------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------------------------------------------
async function main() {
  const loadBefore = loadavg();
  if (loadBefore[0] > 0.5 * availableParallelism())
    say(`warning: 1-min load average is ${fmt(loadBefore[0], 2)} on ${availableParallelism()} CPUs: other work may skew the numbers`);
  const tempRoot = mkdtempSync(join(tmpdir(), 'mserve-bench-'));
  onCleanup('remove temp dir', async () => rmSync(tempRoot, { recursive: true, force: true }));
  const varDir = join(tempRoot, 'var');
  const storageDir = join(tempRoot, 'storage');
  const baselineDir = join(tempRoot, 'baseline-storage');
  const clientDir = join(tempRoot, 'client');
  for (const dir of [varDir, storageDir, baselineDir, clientDir]) mkdirSync(dir, { recursive: true });
  const sourceFile = join(clientDir, 'source.bin');

  say(`writing ${SIZE_MIB} MiB of random bytes to ${sourceFile}`);
  let t = performance.now();
  const source = await writeRandomFile(sourceFile, SIZE);
  settle();
  say(`  done in ${fmt((performance.now() - t) / 1000, 1)} s (sha256 ${source.sha256.slice(0, 16)}...)`);

  const platform = await startPlatform({ varDir, storageDir });
  const { api, apiBase, adminKey } = platform;

  // The baseline server.
  const baselinePort = await freePort();
  const baselineScript = join(tempRoot, 'baseline-server.mjs');
  writeFileSync(baselineScript, BASELINE_SERVER);
  const baseline = startChild('baseline server', [baselineScript], {
    cwd: tempRoot,
    env: { ...process.env, NODE_OPTIONS: '', PORT: String(baselinePort), BASE_DIR: baselineDir },
  });
  const baselineBase = `http://127.0.0.1:${baselinePort}`;
  say(`starting the baseline server (pid ${baseline.pid}) on ${baselineBase}`);
  await waitUntil('baseline server', baseline, async () => baseline.output().includes('listening'));

  // A tenant, with an empty ingest profile: this benchmark measures transfers, not the task engine.
  const v1 = platform.v1;
  const { serviceId, customerKey, serviceAdminKey } = await makeTenant(v1, adminKey, 'bench');
  const emptied = await json('PUT', `${v1}/services/${serviceId}/profile`, serviceAdminKey, { ingest: { steps: [] } });
  if (emptied.status !== 200) throw new Error(`profile: ${emptied.status} ${emptied.text}`);
  const auth = { authorization: `Bearer ${customerKey}` };

  // Warm-up (untimed): one small upload + download through both servers, so first-request costs are not measured.
  {
    const warmFile = join(clientDir, 'warm.bin');
    writeFileSync(warmFile, randomBytes(256 * 1024));
    const up = await uploadFile(`${v1}/services/${serviceId}/mfiles?name=warmup.bin`, 'POST', warmFile, 256 * 1024, auth);
    if (up.status !== 201) throw new Error(`warm-up upload: ${up.status} ${up.text}`);
    await downloadTo(`${v1}/mfiles/${up.body.id}/content`, join(clientDir, 'warm.out'), auth);
    for (const mode of ['plain', 'plainsync', 'hash', 'hashsync']) {
      const b = await uploadFile(`${baselineBase}/${mode}/warmup.bin`, 'PUT', warmFile, 256 * 1024);
      if (b.status !== 201) throw new Error(`warm-up baseline ${mode}: ${b.status} ${b.text}`);
    }
    await downloadTo(`${baselineBase}/files/warmup.bin`, join(clientDir, 'warm.out'));
    settle();
  }

  const apiRssBeforeKb = readStatusKb(api.pid, 'VmRSS');
  const apiHwmBeforeKb = readStatusKb(api.pid, 'VmHWM');
  const baselineRssBeforeKb = readStatusKb(baseline.pid, 'VmRSS');
  const apiSampler = rssSampler(api.pid);
  const baselineSampler = rssSampler(baseline.pid);

  const results = {
    mserveUp: [],
    mserveTusUp: [],
    mserveTusChunkedUp: [],
    mserveDown: [],
    basePlainUp: [],
    basePlainSyncUp: [],
    baseHashUp: [],
    baseHashSyncUp: [],
    baseDown: [],
  };
  let firstMfile;
  const downloadFile = join(clientDir, 'download.bin');

  for (let run = 1; run <= RUNS; run++) {
    say(`run ${run}/${RUNS}`);

    // (a) MServe upload
    const up = await uploadFile(
      `${v1}/services/${serviceId}/mfiles?name=${encodeURIComponent(`bench-${run}-${randomUUID()}.bin`)}`,
      'POST',
      sourceFile,
      SIZE,
      auth,
    );
    if (up.status !== 201) throw new Error(`MServe upload: ${up.status} ${up.text.slice(0, 1000)}`);
    if (up.body.size !== SIZE) throw new Error(`MServe upload stored ${up.body.size} bytes, expected ${SIZE}`);
    if (up.body.sha256 !== source.sha256 || up.body.md5 !== source.md5) throw new Error(`MServe upload digests differ from the source's`);
    results.mserveUp.push(up.ms);
    say(`  MServe upload            ${fmt(mbps(SIZE, up.ms))} MB/s`);
    settle();

    // (a2) MServe tus upload: creation, then the whole file in one PATCH (what tus-js-client does by default)
    for (const [bucket, chunkSize, label] of [
      [results.mserveTusUp, SIZE, 'MServe tus (one PATCH)'],
      [results.mserveTusChunkedUp, TUS_CHUNK, `MServe tus (${TUS_CHUNK / MIB} MiB PATCHes)`],
    ]) {
      const tus = await tusUpload(v1, serviceId, auth, sourceFile, `tus-${run}-${randomUUID()}.bin`, chunkSize);
      if (tus.mfile.sha256 !== source.sha256 || tus.mfile.md5 !== source.md5 || tus.mfile.size !== SIZE)
        throw new Error(`${label}: stored ${tus.mfile.size} bytes, digests ${tus.mfile.sha256} / ${tus.mfile.md5}`);
      bucket.push(tus.ms);
      say(`  ${label.padEnd(24)} ${fmt(mbps(SIZE, tus.ms))} MB/s`);
      const removed = await json('DELETE', `${v1}/mfiles/${tus.mfile.id}`, customerKey);
      if (removed.status !== 204) say(`  (could not delete mfile ${tus.mfile.id}: ${removed.status})`);
      settle();
    }

    // (b) MServe download to a file
    const down = await downloadTo(`${v1}/mfiles/${up.body.id}/content`, downloadFile, auth);
    if (down.bytes !== SIZE || statSync(downloadFile).size !== SIZE) throw new Error(`MServe download: ${down.bytes} bytes, expected ${SIZE}`);
    results.mserveDown.push(down.ms);
    say(`  MServe download          ${fmt(mbps(SIZE, down.ms))} MB/s`);
    await unlink(downloadFile);
    settle();

    if (run === 1) firstMfile = up.body;
    else {
      const removed = await json('DELETE', `${v1}/mfiles/${up.body.id}`, up.body.key ?? customerKey);
      if (removed.status !== 204) say(`  (could not delete mfile ${up.body.id}: ${removed.status}; left for the temp dir cleanup)`);
      settle();
    }

    // Baseline uploads: plain, hashing, hashing + fsync
    for (const [mode, bucket, label] of [
      ['plain', results.basePlainUp, 'baseline upload (plain)'],
      ['plainsync', results.basePlainSyncUp, 'baseline upload (fsync)'],
      ['hash', results.baseHashUp, 'baseline upload (hash)'],
      ['hashsync', results.baseHashSyncUp, 'baseline upload (hash+fsync)'],
    ]) {
      const b = await uploadFile(`${baselineBase}/${mode}/run-${run}-${mode}.bin`, 'PUT', sourceFile, SIZE);
      if (b.status !== 201) throw new Error(`baseline ${mode} upload: ${b.status} ${b.text.slice(0, 1000)}`);
      if (b.body.size !== SIZE) throw new Error(`baseline ${mode} upload stored ${b.body.size} bytes, expected ${SIZE}`);
      if (b.body.sha256 && b.body.sha256 !== source.sha256) throw new Error(`baseline ${mode} sha256 differs from the source's`);
      bucket.push(b.ms);
      say(`  ${label.padEnd(24)} ${fmt(mbps(SIZE, b.ms))} MB/s`);
      settle();
    }

    // Baseline download (of the plain upload) to a file
    const bd = await downloadTo(`${baselineBase}/files/run-${run}-plain.bin`, downloadFile);
    if (bd.bytes !== SIZE || statSync(downloadFile).size !== SIZE) throw new Error(`baseline download: ${bd.bytes} bytes, expected ${SIZE}`);
    results.baseDown.push(bd.ms);
    say(`  baseline download        ${fmt(mbps(SIZE, bd.ms))} MB/s`);
    await unlink(downloadFile);
    for (const mode of ['plain', 'plainsync', 'hash', 'hashsync']) rmSync(join(baselineDir, `run-${run}-${mode}.bin`), { force: true });
    settle();
  }

  const apiRss = apiSampler.stop();
  const baselineRss = baselineSampler.stop();
  const apiHwmAfterKb = readStatusKb(api.pid, 'VmHWM');

  // One untimed verification: download the first MServe file again, hashing it in the client.
  say('verifying the sha256 of one MServe download (untimed)');
  const verifyHash = createHash('sha256');
  const verified = await downloadTo(
    `${v1}/mfiles/${firstMfile.id}/content`,
    undefined,
    auth,
    new Writable({
      write(chunk, _encoding, callback) {
        verifyHash.update(chunk);
        callback();
      },
    }),
  );
  const downloadedSha = verifyHash.digest('hex');
  const shaOk = verified.bytes === SIZE && downloadedSha === firstMfile.sha256 && downloadedSha === source.sha256;
  if (!shaOk)
    throw new Error(
      `sha256 verification failed: downloaded ${downloadedSha} (${verified.bytes} bytes), reported ${firstMfile.sha256}, source ${source.sha256}`,
    );

  // Report
  const med = Object.fromEntries(Object.entries(results).map(([k, v]) => [k, mbps(SIZE, median(v))]));
  const row = (label, key) => {
    const speeds = results[key].map((ms) => mbps(SIZE, ms));
    return [label, fmt(med[key]), fmt(Math.min(...speeds)), fmt(Math.max(...speeds)), speeds.map((s) => fmt(s, 0)).join(' / ')];
  };
  let diskInfo = '';
  try {
    diskInfo = execFileSync('df', ['-hT', tempRoot], { encoding: 'utf8' }).trim().split('\n').pop().split(/\s+/).slice(0, 2).join(' ');
  } catch {
    /* no df */
  }
  const out = [];
  out.push('');
  out.push('MServe transfer benchmark');
  out.push(
    `machine: nproc ${execFileSync('nproc', { encoding: 'utf8' }).trim()} (availableParallelism ${availableParallelism()}), ${cpus()[0]?.model ?? 'unknown cpu'}, ${fmt(totalmem() / 1024 ** 3, 1)} GiB RAM`,
  );
  out.push(`node ${process.version} (${process.execPath})`);
  out.push(
    `load average (1/5/15 min): at start ${loadBefore.map((l) => fmt(l, 2)).join(' ')}, at end ${loadavg()
      .map((l) => fmt(l, 2))
      .join(' ')} (includes this benchmark)`,
  );
  out.push(`file: ${SIZE_MIB} MiB (${SIZE} bytes) random, ${RUNS} run(s); temp filesystem: ${diskInfo || 'unknown'} (${tmpdir()})`);
  out.push('client: node:http, fs.createReadStream piped into the request / response piped into fs.createWriteStream; `sync` (untimed) between transfers');
  out.push('MB/s = 10^6 bytes per second, wall time from request start to response end (upload) / file written (download)');
  out.push('');
  out.push(
    table(
      ['transfer', 'median MB/s', 'min', 'max', 'per run'],
      [
        row('MServe upload (raw body, md5+sha256, fsync, DB commit)', 'mserveUp'),
        row('MServe tus upload (one PATCH, resumable md5+sha256 state)', 'mserveTusUp'),
        row(`MServe tus upload (${TUS_CHUNK / MIB} MiB PATCHes)`, 'mserveTusChunkedUp'),
        row('MServe download (to file)', 'mserveDown'),
        row('baseline upload (plain)', 'basePlainUp'),
        row('baseline upload (plain+fsync+rename)', 'basePlainSyncUp'),
        row('baseline upload (md5+sha256)', 'baseHashUp'),
        row('baseline upload (md5+sha256+fsync+rename)', 'baseHashSyncUp'),
        row('baseline download (to file)', 'baseDown'),
      ],
    ),
  );
  out.push('');
  out.push(
    table(
      ['ratio (median MB/s)', 'MServe / baseline'],
      [
        ['upload vs baseline plain', fmt(med.mserveUp / med.basePlainUp, 2)],
        ['upload vs baseline plain+fsync (durable)', fmt(med.mserveUp / med.basePlainSyncUp, 2)],
        ['tus (one PATCH) vs baseline plain', fmt(med.mserveTusUp / med.basePlainUp, 2)],
        ['tus (one PATCH) vs baseline plain+fsync', fmt(med.mserveTusUp / med.basePlainSyncUp, 2)],
        [`tus (${TUS_CHUNK / MIB} MiB PATCHes) vs baseline plain`, fmt(med.mserveTusChunkedUp / med.basePlainUp, 2)],
        ['upload vs baseline md5+sha256', fmt(med.mserveUp / med.baseHashUp, 2)],
        ['upload vs baseline md5+sha256+fsync', fmt(med.mserveUp / med.baseHashSyncUp, 2)],
        ['download vs baseline', fmt(med.mserveDown / med.baseDown, 2)],
      ],
    ),
  );
  out.push('');
  out.push(
    table(
      ['RSS (MiB)', 'before', 'peak (50 ms polls)', 'growth', 'VmHWM before', 'VmHWM after'],
      [
        [
          'MServe api',
          fmt(mib(apiRssBeforeKb)),
          fmt(mib(apiRss.peakKb)),
          fmt(mib(apiRss.peakKb - apiRssBeforeKb)),
          fmt(mib(apiHwmBeforeKb)),
          fmt(mib(apiHwmAfterKb)),
        ],
        ['baseline server', fmt(mib(baselineRssBeforeKb)), fmt(mib(baselineRss.peakKb)), fmt(mib(baselineRss.peakKb - baselineRssBeforeKb)), '', ''],
      ],
    ),
  );
  out.push(`(${apiRss.samples} api RSS samples; VmHWM is the kernel's high-water mark, including start-up)`);
  out.push('');
  out.push('before → now (recorded figures: BEFORE in test/bench/transfer.mjs; MServe / baseline of the medians, higher is better):');
  const history = (key) => BEFORE.map((b) => ({ at: b.at, value: b[key] }));
  out.push(
    ...beforeNow([
      { figure: 'upload vs baseline plain+fsync', better: 'higher', before: history('upVsPlainSync'), now: med.mserveUp / med.basePlainSyncUp },
      { figure: 'upload vs baseline md5+sha256+fsync', better: 'higher', before: history('upVsHashSync'), now: med.mserveUp / med.baseHashSyncUp },
      { figure: 'tus (one PATCH) vs the simple upload', better: 'higher', before: history('tusVsSimple'), now: med.mserveTusUp / med.mserveUp },
      {
        figure: `tus (${TUS_CHUNK / MIB} MiB PATCHes) vs the simple upload`,
        better: 'higher',
        before: history('tusChunkedVsSimple'),
        now: med.mserveTusChunkedUp / med.mserveUp,
      },
      { figure: 'download vs baseline', better: 'higher', before: history('download'), now: med.mserveDown / med.baseDown },
      { figure: 'api RSS growth (MiB)', better: 'lower', digits: 0, before: history('apiRssGrowthMiB'), now: mib(apiRss.peakKb - apiRssBeforeKb) },
    ]),
  );
  out.push(`sha256 of an MServe download verified (untimed): ${shaOk ? 'OK' : 'MISMATCH'}`);
  out.push('');
  process.stdout.write(out.join('\n') + '\n');
}

await runBench(main);

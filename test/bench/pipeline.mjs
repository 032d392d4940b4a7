// Pipeline benchmark: N JPEGs of about 700 KB (2-4 MP) uploaded through the REST API, with the ingest profile
// md5, sha256, mime, thumbnail, poster, timed until every job has finished; in the same run, a bare Node script
// doing the same work with 2 worker threads on the same files. Also the seed's test 2 (15 pictures, 8 operations
// each), whose old design took 16 s.
//
// MServe runs what `npm start` runs by default: the api and WORKER_PROCESSES worker processes (unset or 0: one per
// core), each consuming WORKER_QUEUES (default normal:2,priority:1) and told WORKER_PROCESSES as the launcher tells
// them (sharp's threads divide the cores). MSERVE_WORKERS=<--queues list>;<--queues list>;... overrides the worker
// processes (e.g. MSERVE_WORKERS=normal:2 for the single worker process that the before figures were measured with).
//
//   npm run build
//   node_modules/.bin/node test/bench/pipeline.mjs            # COUNT=500
//   COUNT=50 node_modules/.bin/node test/bench/pipeline.mjs   # smoke run
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { beforeNow, cpuMsTree, json, launcherWorkers, makeTenant, onCleanup, readStatusKb, ROOT, runBench, say, startPlatform } from './harness.mjs';

// Figures recorded before issue 17's work, printed as "before → now" beside this run's (ratios are measured
// against the bare script in the same run; CPU ms per picture from /proc, for the MServe run).
const BEFORE = [
  // the issue's and the README's figures (500 pictures, 2 vCPU)
  {
    at: 'issue 17',
    count: 500,
    picturesPerS: 10.2,
    ratio: 0.33,
    cpuMsPerPicture: { worker: 97.2, api: 19.6, postgres: 19.2, redis: 3.4 },
    apiRssGrowthMiB: null,
  },
  // measured by the perf-bench helper on the unchanged code (load average noted)
  // (load average 18.6-20.3 from other work: absolute rates 5x lower than the issue's, the ratio lower too)
  { at: 'fe8b27a', count: 100, picturesPerS: 1.9, ratio: 0.23, cpuMsPerPicture: { worker: 114.5, api: 40.0, postgres: 48.2, redis: 5.1 }, apiRssGrowthMiB: 86 },
];

const COUNT = Number(process.env.COUNT ?? 500);
const CONCURRENCY = Number(process.env.UPLOAD_CONCURRENCY ?? 4);
const WORKER_CONCURRENCY = 2;
const MSERVE_WORKERS = process.env.MSERVE_WORKERS ? process.env.MSERVE_WORKERS.split(';').filter(Boolean) : launcherWorkers();
const require = createRequire(join(ROOT, 'package.json'));
const sharp = require('sharp');
const pg = require('pg');

/** A photo-like JPEG: smooth gradients plus grain, so it compresses like a photograph (about 700 KB at 2-4 MP). */
async function makePicture(index) {
  const width = 1800 + ((index * 131) % 600);
  const height = 1200 + ((index * 71) % 500);
  const pixels = Buffer.alloc(width * height * 3);
  let seed = index * 7919 + 1;
  for (let y = 0, i = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      seed = (seed * 1103515245 + 12345) >>> 0;
      const grain = (seed >>> 27) - 16;
      pixels[i++] = Math.max(0, Math.min(255, 128 + 100 * Math.sin((x + index * 13) / 90) + grain));
      pixels[i++] = Math.max(0, Math.min(255, 128 + 90 * Math.cos((y + index * 7) / 70) + grain));
      pixels[i++] = Math.max(0, Math.min(255, ((x + y) / (width + height)) * 255 + grain));
    }
  }
  return sharp(pixels, { raw: { width, height, channels: 3 } })
    .jpeg({ quality: 82 })
    .toBuffer();
}

async function pictures(count) {
  const dir = join(tmpdir(), `mserve-bench-pictures-v1-${count}`);
  mkdirSync(dir, { recursive: true });
  const have = new Set(readdirSync(dir));
  let made = 0;
  for (let i = 0; i < count; i++) {
    const name = `picture-${String(i).padStart(4, '0')}.jpg`;
    if (!have.has(name)) {
      writeFileSync(join(dir, name), await makePicture(i));
      made++;
    }
  }
  if (made) say(`made ${made} pictures in ${dir} (kept for the next run)`);
  return Array.from({ length: count }, (_, i) => join(dir, `picture-${String(i).padStart(4, '0')}.jpg`));
}

const BASELINE_WORKER = `
import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { parentPort, workerData } from 'node:worker_threads';
const require = createRequire(workerData.packageJson);
const sharp = require('sharp');
const { fileTypeFromBuffer } = await import(require.resolve('file-type'));
parentPort.on('message', async (path) => {
  const bytes = await readFile(path);
  const md5 = createHash('md5').update(bytes).digest('hex');
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  const type = await fileTypeFromBuffer(bytes.subarray(0, 4100));
  const thumb = await sharp(path).rotate().resize({ width: 210, height: 128, fit: 'inside', withoutEnlargement: true }).jpeg({ quality: 80, mozjpeg: true }).toBuffer();
  const poster = await sharp(path).rotate().resize({ width: 420, height: 256, fit: 'inside', withoutEnlargement: true }).jpeg({ quality: 80, mozjpeg: true }).toBuffer();
  await writeFile(workerData.out + '/' + sha256 + '.thumb.jpg', thumb);
  await writeFile(workerData.out + '/' + sha256 + '.poster.jpg', poster);
  parentPort.postMessage({ md5, mime: type?.mime });
});
`;

/** The bare script: the same five operations per file, on WORKER_CONCURRENCY worker threads. */
async function baseline(files, workDir) {
  const { Worker } = await import('node:worker_threads');
  const script = join(workDir, 'baseline-worker.mjs');
  writeFileSync(script, BASELINE_WORKER);
  const out = join(workDir, 'baseline-out');
  mkdirSync(out, { recursive: true });
  const started = performance.now();
  const queue = [...files];
  await Promise.all(
    Array.from({ length: WORKER_CONCURRENCY }, async () => {
      const worker = new Worker(script, { workerData: { packageJson: join(ROOT, 'package.json'), out } });
      let pending;
      worker.on('message', (result) => pending?.resolve(result));
      worker.on('error', (error) => pending?.reject(error));
      try {
        for (let file = queue.shift(); file; file = queue.shift()) {
          const done = new Promise((resolve, reject) => (pending = { resolve, reject }));
          worker.postMessage(file);
          const result = await done;
          if (result.mime !== 'image/jpeg') throw new Error(`baseline: ${file} is ${result.mime}`);
        }
      } finally {
        await worker.terminate();
      }
    }),
  );
  return (performance.now() - started) / 1000;
}

/** Uploads the files (bounded concurrency) and waits until PostgreSQL has every job of the service final. */
async function throughMserve({ v1, pool, tenant, files, label }) {
  const started = performance.now();
  const queue = files.map((path, index) => ({ path, name: `${label}-${index}.jpg` }));
  let uploadsDone = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      for (let file = queue.shift(); file; file = queue.shift()) {
        const body = readFileSync(file.path);
        const response = await fetch(`${v1}/services/${tenant.serviceId}/mfiles?name=${encodeURIComponent(file.name)}`, {
          method: 'POST',
          headers: { authorization: `Bearer ${tenant.customerKey}`, 'content-type': 'application/octet-stream' },
          body,
        });
        if (response.status !== 201) throw new Error(`upload ${file.name}: ${response.status} ${await response.text()}`);
        const created = await response.json();
        if (created.md5 !== createHash('md5').update(body).digest('hex')) throw new Error(`upload ${file.name}: md5 differs`);
        uploadsDone++;
      }
    }),
  );
  const uploadSeconds = (performance.now() - started) / 1000;
  for (;;) {
    const { rows } = await pool.query(
      `SELECT count(*)::int AS total, count(*) FILTER (WHERE state IN ('succeeded', 'failed', 'cancelled', 'skipped'))::int AS final,
              count(*) FILTER (WHERE state = 'failed')::int AS failed FROM job WHERE service_id = $1`,
      [tenant.serviceId],
    );
    const { total, final, failed } = rows[0];
    if (uploadsDone === files.length && total > 0 && total === final) {
      if (failed) throw new Error(`${label}: ${failed} job(s) failed`);
      return { seconds: (performance.now() - started) / 1000, uploadSeconds, jobs: total };
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * CPU seconds (user + system) used so far by this run's own processes, by role (from /proc, by pid: other
 * benchmarks' processes on the same machine are not counted).
 */
function cpuSeconds(platform) {
  return {
    api: cpuMsTree(platform.api.pid) / 1000,
    worker: platform.workers.reduce((sum, w) => sum + cpuMsTree(w.pid), 0) / 1000,
    postgres: cpuMsTree(platform.postmasterPid()) / 1000,
    redis: cpuMsTree(platform.redisPid()) / 1000,
  };
}

async function main() {
  const loadBefore = loadavg();
  const workDir = mkdtempSync(join(tmpdir(), 'mserve-bench-pipeline-'));
  onCleanup('remove temp dir', async () => rmSync(workDir, { recursive: true, force: true }));
  const files = await pictures(COUNT);
  const sizes = files.map((file) => statSync(file).size);
  const megapixels = await Promise.all(
    files.slice(0, 20).map(async (file) => {
      const meta = await sharp(file).metadata();
      return (meta.width * meta.height) / 1e6;
    }),
  );
  const platform = await startPlatform({
    varDir: join(workDir, 'var'),
    storageDir: join(workDir, 'storage'),
    workers: MSERVE_WORKERS,
    env: process.env.PLATFORM_NODE_OPTIONS ? { NODE_OPTIONS: process.env.PLATFORM_NODE_OPTIONS } : {},
  });
  const pool = new pg.Pool({ connectionString: platform.infrastructure.databaseUrl, max: 2 });
  onCleanup('close pg pool', () => pool.end());

  // Five operations per picture, as the bare script does them.
  const tenant = await makeTenant(platform.v1, platform.adminKey, 'pipeline');
  const five = { ingest: { steps: [{ task: 'mime' }, { task: 'md5' }, { task: 'sha256' }, { task: 'thumbnail' }, { task: 'poster' }] } };
  const saved = await json('PUT', `${platform.v1}/services/${tenant.serviceId}/profile`, tenant.serviceAdminKey, five);
  if (saved.status !== 200) throw new Error(`profile: ${saved.status} ${saved.text}`);

  // warm-up (untimed): a few pictures through both
  const warmTenant = await makeTenant(platform.v1, platform.adminKey, 'warm');
  await json('PUT', `${platform.v1}/services/${warmTenant.serviceId}/profile`, warmTenant.serviceAdminKey, five);
  await throughMserve({ v1: platform.v1, pool, tenant: warmTenant, files: files.slice(0, 4), label: 'warm' });
  await baseline(files.slice(0, 4), workDir);

  say(`MServe: ${COUNT} pictures, 5 operations each`);
  const cpuBefore = cpuSeconds(platform);
  const apiRssBeforeKb = readStatusKb(platform.api.pid, 'VmRSS');
  const ours = await throughMserve({ v1: platform.v1, pool, tenant, files, label: 'p' });
  const apiRssAfterKb = readStatusKb(platform.api.pid, 'VmRSS');
  const cpuAfter = cpuSeconds(platform);
  const cpu = Object.fromEntries(Object.keys(cpuAfter).map((role) => [role, cpuAfter[role] - cpuBefore[role]]));
  say(`  ${ours.seconds.toFixed(1)} s (uploads done after ${ours.uploadSeconds.toFixed(1)} s)`);
  const perTask = (
    await pool.query(
      `SELECT task, count(*)::int AS jobs, avg(extract(epoch FROM finished_at - started_at) * 1000)::float AS run_ms,
              avg(extract(epoch FROM started_at - created_at) * 1000)::float AS wait_ms
         FROM job WHERE service_id = $1 GROUP BY task ORDER BY task`,
      [tenant.serviceId],
    )
  ).rows;
  say(`bare script: ${COUNT} pictures, 5 operations each, ${WORKER_CONCURRENCY} worker threads`);
  const bareCpuBefore = process.cpuUsage();
  const bare = await baseline(files, workDir);
  const bareCpu = process.cpuUsage(bareCpuBefore);
  // this process and its worker threads, sharp's own threads included (the main thread only waits)
  const bareCpuMsPerPicture = (bareCpu.user + bareCpu.system) / 1000 / COUNT;
  say(`  ${bare.toFixed(1)} s`);

  // The seed's test 2: 15 pictures, 8 operations each (5 feature extractions, 3 adaptations).
  const seedTenant = await makeTenant(platform.v1, platform.adminKey, 'seed2');
  const eight = {
    ingest: {
      steps: [
        { task: 'mime' },
        { task: 'image-metadata' },
        { task: 'md5' },
        { task: 'sha256' },
        { task: 'fixity' },
        { task: 'thumbnail' },
        { task: 'poster' },
        { name: 'preview', task: 'poster', options: { width: 1024, height: 768, format: 'webp' } },
      ],
    },
  };
  await json('PUT', `${platform.v1}/services/${seedTenant.serviceId}/profile`, seedTenant.serviceAdminKey, eight);
  const seed = await throughMserve({ v1: platform.v1, pool, tenant: seedTenant, files: files.slice(0, 15), label: 'seed' });

  const mb = sizes.reduce((a, b) => a + b, 0) / 1e6;
  const ratio = bare / ours.seconds;
  const lines = [
    '',
    'MServe pipeline benchmark',
    `machine: ${availableParallelism()} CPUs (${cpus()[0]?.model ?? 'unknown'}), load average at start ${loadBefore.map((l) => l.toFixed(2)).join(' ')}`,
    `pictures: ${COUNT} JPEGs, ${(mb / COUNT).toFixed(2)} MB average (${(Math.min(...sizes) / 1e6).toFixed(2)}-${(Math.max(...sizes) / 1e6).toFixed(2)}), ${Math.min(...megapixels).toFixed(1)}-${Math.max(...megapixels).toFixed(1)} MP`,
    `MServe: api + ${MSERVE_WORKERS.length} worker process(es) (--queues ${MSERVE_WORKERS.join(' / ')}), uploads ${CONCURRENCY} at a time through the REST API; profile mime, md5, sha256, thumbnail 210x128, poster 420x256`,
    `bare: one Node process, ${WORKER_CONCURRENCY} worker threads reading the files from disk, same five operations, same sharp settings`,
    '',
    `| | seconds | pictures/s | operations/s |`,
    `| --- | --- | --- | --- |`,
    `| MServe (upload + ${ours.jobs} jobs) | ${ours.seconds.toFixed(1)} | ${(COUNT / ours.seconds).toFixed(1)} | ${(ours.jobs / ours.seconds).toFixed(1)} |`,
    `| bare script | ${bare.toFixed(1)} | ${(COUNT / bare).toFixed(1)} | ${((COUNT * 5) / bare).toFixed(1)} |`,
    '',
    `throughput ratio MServe / bare: ${ratio.toFixed(2)}`,
    `CPU seconds during the MServe run (2 CPUs x ${ours.seconds.toFixed(1)} s = ${(2 * ours.seconds).toFixed(1)} available): ${Object.entries(cpu)
      .map(([role, seconds]) => `${role} ${seconds.toFixed(1)}`)
      .join(', ')}`,
    `CPU ms per picture: MServe ${((Object.values(cpu).reduce((a, b) => a + b, 0) * 1000) / COUNT).toFixed(1)} (${Object.entries(cpu)
      .map(([role, seconds]) => `${role} ${((seconds * 1000) / COUNT).toFixed(1)}`)
      .join(', ')}), bare script ${bareCpuMsPerPicture.toFixed(1)}`,
    `MServe per task (run = claimed to recorded, wait = created to claimed): ${perTask.map((row) => (row.run_ms === null ? `${row.task} recorded as a fact at commit (no run)` : `${row.task} ${row.run_ms.toFixed(0)} ms run / ${row.wait_ms.toFixed(0)} ms wait`)).join('; ')}`,
    `seed test 2 (15 pictures x 8 operations = ${seed.jobs} jobs, upload to last job): ${seed.seconds.toFixed(1)} s (the seed's mprocessor: 16 s, its polling design: 65 s)`,
    `api RSS over the MServe run: ${(apiRssBeforeKb / 1024).toFixed(0)} → ${(apiRssAfterKb / 1024).toFixed(0)} MiB (${((apiRssAfterKb - apiRssBeforeKb) / 1024).toFixed(0)})`,
    `load average at the end ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
    '',
    'before → now (recorded figures: BEFORE in test/bench/pipeline.mjs; pictures/s depends on the machine and its load, the ratio less so):',
    ...beforeNow([
      {
        figure: 'pictures/s, MServe / bare script',
        better: 'higher',
        digits: 2,
        before: BEFORE.map((b) => ({ at: `${b.at}, ${b.count} pictures`, value: b.ratio })),
        now: ratio,
      },
      { figure: 'pictures/s', better: 'higher', digits: 1, before: BEFORE.map((b) => ({ at: b.at, value: b.picturesPerS })), now: COUNT / ours.seconds },
      ...['worker', 'api', 'postgres', 'redis'].map((role) => ({
        figure: `CPU ms per picture, ${role}`,
        better: 'lower',
        digits: 1,
        before: BEFORE.map((b) => ({ at: b.at, value: b.cpuMsPerPicture[role] })),
        now: (cpu[role] * 1000) / COUNT,
      })),
      {
        figure: 'api RSS growth (MiB)',
        better: 'lower',
        digits: 0,
        before: BEFORE.map((b) => ({ at: b.at, value: b.apiRssGrowthMiB })),
        now: (apiRssAfterKb - apiRssBeforeKb) / 1024,
      },
    ]),
    '',
    JSON.stringify({
      bench: 'pipeline',
      count: COUNT,
      seconds: Number(ours.seconds.toFixed(2)),
      uploadSeconds: Number(ours.uploadSeconds.toFixed(2)),
      bareSeconds: Number(bare.toFixed(2)),
      bareCpuMsPerPicture: Number(bareCpuMsPerPicture.toFixed(1)),
      picturesPerS: Number((COUNT / ours.seconds).toFixed(2)),
      ratio: Number(ratio.toFixed(3)),
      cpuMsPerPicture: Object.fromEntries(Object.entries(cpu).map(([role, seconds]) => [role, Number(((seconds * 1000) / COUNT).toFixed(1))])),
      apiRssMiB: { before: Math.round(apiRssBeforeKb / 1024), after: Math.round(apiRssAfterKb / 1024) },
      seedTest2Seconds: Number(seed.seconds.toFixed(2)),
      load: { start: loadBefore.map((l) => Number(l.toFixed(2))), end: loadavg().map((l) => Number(l.toFixed(2))) },
    }),
    '',
  ];
  process.stdout.write(lines.join('\n'));
}

await runBench(main);

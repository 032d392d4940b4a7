// Storage benchmark (issue 18): MServe on each storage adapter against the same bytes sent straight to the same store
// in the same run.
//   filesystem  MServe with STORAGE_DIR               vs  a bare write to the same disk (stream + fsync) and a bare read
//   s3          MServe with STORAGE=s3 on an s3rver   vs  the AWS SDK straight to that s3rver (lib-storage Upload with
//                                                         MServe's part size and queue, GetObject)
// For each adapter:
//   - one large file of SIZE_MIB (default 1024): upload (REST raw body, Content-Length) and download (GET content),
//     MB/s, each against the direct figure;
//   - FILES (default 2000) small files of 0.5-16 KiB, CONCURRENCY (16) in flight on keep-alive connections: upload
//     files/s against the direct PUTs / writes, and end to end (every default ingest job ended);
//   - IMAGES (default 40) JPEG photos through the default ingest (thumbnail, poster, metadata): on s3 the peak of the
//     bytes in the worker's local temp folder (STORAGE_DIR/tmp: copies for tools that need a path) while they run.
// The load average is printed at the start and the end; the last line is a JSON object with every figure.
//
//   npm run build
//   SIZE_MIB=64 FILES=300 IMAGES=10 node_modules/.bin/node test/bench/storage.mjs     # quick run
//   node_modules/.bin/node test/bench/storage.mjs                                     # 1 GiB, 2,000 files, 40 photos
//
// Options (environment): SIZE_MIB, FILES, CONCURRENCY, IMAGES, ADAPTERS (filesystem,s3).
import { execFileSync, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { open } from 'node:fs/promises';
import http from 'node:http';
import { createRequire } from 'node:module';
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fmt, freePort, makeTenant, mbps, onCleanup, ROOT, runBench, say, sleep, startPlatform, table, launcherWorkers } from './harness.mjs';

const require = createRequire(import.meta.url);
const MIB = 1024 * 1024;
const SIZE = Math.round(Number(process.env.SIZE_MIB ?? 1024) * MIB);
const FILES = Number(process.env.FILES ?? 2000);
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 16);
const IMAGES = Number(process.env.IMAGES ?? 40);
const ADAPTERS = (process.env.ADAPTERS ?? 'filesystem,s3').split(',').filter(Boolean);
for (const [name, value] of Object.entries({ SIZE, FILES, CONCURRENCY, IMAGES }))
  if (!Number.isInteger(value) || value < (name === 'IMAGES' ? 0 : 1)) throw new Error(`${name} must be a positive integer`);
const BUCKET = 'bench';
// as MServe's S3 adapter uploads (src/storage/s3-store.ts): the direct figure uses the same parts and parallelism
const PART_BYTES = 8 * MIB;
const QUEUE_SIZE = 4;
const S3_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
const discard = () => new Writable({ write: (_chunk, _encoding, done) => done() });

/** One HTTP request with a body from a stream or a buffer; resolves with the status and the parsed JSON answer. */
function request(url, { method = 'GET', headers = {}, body, sink } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers, agent }, (res) => {
      if (sink && res.statusCode === 200) {
        pipeline(res, sink).then(() => resolve({ status: res.statusCode }), reject);
        return;
      }
      const chunks = [];
      res.on('data', (chunk) => chunks.push(chunk));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString();
        let json;
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode, text, body: json });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    if (body && typeof body.pipe === 'function') pipeline(body, req).catch(reject);
    else req.end(body);
  });
}

async function timed(run) {
  const started = performance.now();
  const value = await run();
  return { ms: performance.now() - started, value };
}

/** `count` small files of 0.5-16 KiB (text-like, each with its own last bytes so no two are the same content). */
function smallFiles(count, tag) {
  const random = randomBytes(count * 4);
  return Array.from({ length: count }, (_, index) => {
    const size = 512 + (random.readUInt32LE(index * 4) % (16 * 1024 - 512));
    const line = `${tag} file ${index} of a storage benchmark\n`;
    const bytes = Buffer.alloc(size, line);
    bytes.write(`${tag}${String(index).padStart(6, '0')}`, size - 12);
    return { name: `${tag}-${index}.txt`, bytes };
  });
}

async function inParallel(items, concurrency, work) {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < items.length) await work(items[next++]);
    }),
  );
}

async function writeRandomFile(path, size) {
  const out = await open(path, 'w');
  const sha256 = createHash('sha256');
  for (let written = 0; written < size; written += 8 * MIB) {
    const chunk = randomBytes(Math.min(8 * MIB, size - written));
    sha256.update(chunk);
    await out.write(chunk);
  }
  await out.close();
  return sha256.digest('hex');
}

function startS3rver(dir, port) {
  mkdirSync(dir, { recursive: true });
  const child = spawn(process.execPath, [join(ROOT, 'node_modules', 's3rver', 'bin', 's3rver.js'), '-d', dir, '-a', '127.0.0.1', '-p', String(port), '-s'], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  onCleanup('stop s3rver', () => child.kill('SIGKILL'));
  return child;
}

/** Bytes under a folder now (0 when it does not exist). */
function bytesUnder(dir) {
  let total = 0;
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return 0;
  }
  for (const entry of entries) {
    const path = join(dir, entry.name);
    try {
      total += entry.isDirectory() ? bytesUnder(path) : statSync(path).size;
    } catch {
      // removed meanwhile
    }
  }
  return total;
}

/** The direct baseline: the same operations straight to the store, without MServe. */
function directStore(adapter, { dir, endpoint }) {
  if (adapter === 'filesystem') {
    mkdirSync(dir, { recursive: true });
    return {
      async putFile(path, key) {
        const target = join(dir, key);
        const out = createWriteStream(target);
        await pipeline(createReadStream(path, { highWaterMark: 1024 * 1024 }), out);
        const handle = await open(target, 'r');
        await handle.sync();
        await handle.close();
      },
      async getFile(key) {
        await pipeline(createReadStream(join(dir, key), { highWaterMark: 1024 * 1024 }), discard());
      },
      async putSmall(key, bytes) {
        const handle = await open(join(dir, key), 'w');
        await handle.write(bytes);
        await handle.sync();
        await handle.close();
      },
    };
  }
  const { S3Client, PutObjectCommand, GetObjectCommand, CreateBucketCommand } = require('@aws-sdk/client-s3');
  const { Upload } = require('@aws-sdk/lib-storage');
  const client = new S3Client({ endpoint, region: 'us-east-1', credentials: S3_CREDENTIALS, forcePathStyle: true });
  const bucket = `${BUCKET}-direct`;
  let made;
  const ensureBucket = () => (made ??= client.send(new CreateBucketCommand({ Bucket: bucket })).catch(() => undefined));
  return {
    async putFile(path, key) {
      await ensureBucket();
      await new Upload({
        client,
        params: { Bucket: bucket, Key: key, Body: createReadStream(path, { highWaterMark: 1024 * 1024 }) },
        partSize: PART_BYTES,
        queueSize: QUEUE_SIZE,
      }).done();
    },
    async getFile(key) {
      const answer = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      await pipeline(answer.Body, discard());
    },
    async putSmall(key, bytes) {
      await ensureBucket();
      await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: bytes }));
    },
  };
}

async function jpegs(count) {
  const sharp = require('sharp');
  return Promise.all(
    Array.from({ length: count }, async (_, index) => {
      const width = 1600 + (index % 5) * 200;
      const height = 1200;
      const noise = await sharp({ create: { width: width / 8, height: height / 8, channels: 3, noise: { type: 'gaussian', mean: 128, sigma: 40 } } })
        .png()
        .toBuffer();
      const bytes = await sharp(noise).resize(width, height).jpeg({ quality: 88 }).toBuffer();
      return { name: `photo-${index}.jpg`, bytes };
    }),
  );
}

async function waitForJobs(pool, serviceId) {
  for (;;) {
    const { rows } = await pool.query(`SELECT EXISTS (SELECT 1 FROM job WHERE service_id = $1 AND state = ANY($2)) AS busy`, [
      serviceId,
      ['waiting', 'queued', 'running'],
    ]);
    if (!rows[0].busy) return;
    await sleep(100);
  }
}

async function benchAdapter(adapter, work, bigFile, small, photos, s3) {
  say(`== ${adapter}`);
  const storageDir = join(work, `${adapter}-storage`);
  const env =
    adapter === 's3'
      ? {
          STORAGE: 's3',
          S3_ENDPOINT: s3.endpoint,
          S3_BUCKET: BUCKET,
          S3_REGION: 'us-east-1',
          S3_ACCESS_KEY_ID: S3_CREDENTIALS.accessKeyId,
          S3_SECRET_ACCESS_KEY: S3_CREDENTIALS.secretAccessKey,
          S3_FORCE_PATH_STYLE: 'true',
          S3_CREATE_BUCKET: 'true',
        }
      : {};
  const platform = await startPlatform({ varDir: join(work, `${adapter}-var`), storageDir, workers: launcherWorkers(), env });
  const pg = require('pg');
  const pool = new pg.Pool({ connectionString: platform.infrastructure.databaseUrl, max: 2 });
  onCleanup(`close ${adapter} pool`, () => pool.end());
  const tenant = await makeTenant(platform.v1, platform.adminKey, `storage-${adapter}`);
  const auth = { authorization: `Bearer ${tenant.customerKey}` };
  const direct = directStore(adapter, { dir: join(work, `${adapter}-direct`), endpoint: s3?.endpoint });
  const figures = {};

  // one large file, each way, MServe then direct
  execFileSync('sync');
  const up = await timed(() =>
    request(`${platform.v1}/services/${tenant.serviceId}/mfiles?name=big.bin`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/octet-stream', 'content-length': String(SIZE) },
      body: createReadStream(bigFile.path, { highWaterMark: 1024 * 1024 }),
    }),
  );
  if (up.value.status !== 201) throw new Error(`large upload: ${up.value.status} ${up.value.text}`);
  if (up.value.body.sha256 !== bigFile.sha256) throw new Error('large upload: other bytes stored');
  execFileSync('sync');
  const directUp = await timed(() => direct.putFile(bigFile.path, 'big.bin'));
  execFileSync('sync');
  const down = await timed(() => request(`${platform.v1}/mfiles/${up.value.body.id}/content`, { headers: auth, sink: discard() }));
  if (down.value.status !== 200) throw new Error(`large download: ${down.value.status}`);
  const directDown = await timed(() => direct.getFile('big.bin'));
  figures.large = {
    uploadMBps: mbps(SIZE, up.ms),
    directUploadMBps: mbps(SIZE, directUp.ms),
    uploadRatio: directUp.ms / up.ms,
    downloadMBps: mbps(SIZE, down.ms),
    directDownloadMBps: mbps(SIZE, directDown.ms),
    downloadRatio: directDown.ms / down.ms,
  };
  await waitForJobs(pool, tenant.serviceId);

  // small files: MServe (REST), then direct
  const smallTenant = await makeTenant(platform.v1, platform.adminKey, `storage-${adapter}-small`);
  const smallAuth = { authorization: `Bearer ${smallTenant.customerKey}` };
  const uploads = await timed(() =>
    inParallel(small, CONCURRENCY, async (file) => {
      const answer = await request(`${platform.v1}/services/${smallTenant.serviceId}/mfiles?name=${encodeURIComponent(file.name)}`, {
        method: 'POST',
        headers: { ...smallAuth, 'content-type': 'application/octet-stream', 'content-length': String(file.bytes.length) },
        body: file.bytes,
      });
      if (answer.status !== 201) throw new Error(`small upload ${file.name}: ${answer.status} ${answer.text}`);
    }),
  );
  const ended = await timed(() => waitForJobs(pool, smallTenant.serviceId));
  const directSmall = await timed(() => inParallel(small, CONCURRENCY, (file) => direct.putSmall(file.name, file.bytes)));
  figures.small = {
    files: small.length,
    uploadFilesPerS: small.length / (uploads.ms / 1000),
    endToEndFilesPerS: small.length / ((uploads.ms + ended.ms) / 1000),
    directFilesPerS: small.length / (directSmall.ms / 1000),
    uploadRatio: directSmall.ms / uploads.ms,
    endToEndRatio: directSmall.ms / (uploads.ms + ended.ms),
  };

  // photos through the default ingest: the worker's local temp folder, sampled while their jobs run
  if (photos.length) {
    const photoTenant = await makeTenant(platform.v1, platform.adminKey, `storage-${adapter}-photos`);
    const photoAuth = { authorization: `Bearer ${photoTenant.customerKey}` };
    let peak = 0;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        peak = Math.max(peak, bytesUnder(join(storageDir, 'tmp')));
        await sleep(20);
      }
    })();
    const ingest = await timed(async () => {
      await inParallel(photos, 4, async (photo) => {
        const answer = await request(`${platform.v1}/services/${photoTenant.serviceId}/mfiles?name=${photo.name}`, {
          method: 'POST',
          headers: { ...photoAuth, 'content-type': 'image/jpeg', 'content-length': String(photo.bytes.length) },
          body: photo.bytes,
        });
        if (answer.status !== 201) throw new Error(`photo upload: ${answer.status} ${answer.text}`);
      });
      await waitForJobs(pool, photoTenant.serviceId);
    });
    sampling = false;
    await sampler;
    const failed = await pool.query(`SELECT count(*)::int AS n FROM job WHERE service_id = $1 AND state = 'failed'`, [photoTenant.serviceId]);
    figures.photos = {
      count: photos.length,
      picturesPerS: photos.length / (ingest.ms / 1000),
      failedJobs: failed.rows[0].n,
      workerTempPeakMiB: peak / MIB,
    };
  }
  return figures;
}

await runBench(async () => {
  const work = mkdtempSync(join(tmpdir(), 'mserve-bench-storage-'));
  onCleanup('remove the work folder', () => rmSync(work, { recursive: true, force: true }));
  say(
    `${cpus().length} cores (${availableParallelism()} available), load ${loadavg()
      .map((n) => n.toFixed(2))
      .join(' ')}`,
  );
  const loadStart = loadavg();
  say(`making a ${SIZE / MIB} MiB file, ${FILES} small files and ${IMAGES} photos`);
  const bigPath = join(work, 'big.bin');
  const bigFile = { path: bigPath, sha256: await writeRandomFile(bigPath, SIZE) };
  const small = { filesystem: smallFiles(FILES, 'fs'), s3: smallFiles(FILES, 's3') };
  const photos = await jpegs(IMAGES);
  let s3;
  if (ADAPTERS.includes('s3')) {
    const port = await freePort();
    startS3rver(join(work, 's3rver'), port);
    s3 = { endpoint: `http://127.0.0.1:${port}` };
    for (let attempt = 0; ; attempt++) {
      try {
        await fetch(s3.endpoint);
        break;
      } catch {
        if (attempt > 100) throw new Error('s3rver did not start');
        await sleep(100);
      }
    }
  }
  const results = {};
  for (const adapter of ADAPTERS) results[adapter] = await benchAdapter(adapter, work, bigFile, small[adapter], photos, s3);
  const loadEnd = loadavg();

  console.log(`\nstorage benchmark: ${SIZE / MIB} MiB large file, ${FILES} small files (${CONCURRENCY} in flight), ${IMAGES} photos`);
  console.log(`load average at start ${loadStart.map((n) => n.toFixed(2)).join(' ')}, at end ${loadEnd.map((n) => n.toFixed(2)).join(' ')}\n`);
  console.log(
    table(
      ['adapter', 'large up MB/s (direct)', 'ratio', 'large down MB/s (direct)', 'ratio', 'small files/s (direct)', 'ratio', 'end to end files/s', 'ratio'],
      Object.entries(results).map(([adapter, r]) => [
        adapter,
        `${fmt(r.large.uploadMBps)} (${fmt(r.large.directUploadMBps)})`,
        fmt(r.large.uploadRatio, 2),
        `${fmt(r.large.downloadMBps)} (${fmt(r.large.directDownloadMBps)})`,
        fmt(r.large.downloadRatio, 2),
        `${fmt(r.small.uploadFilesPerS)} (${fmt(r.small.directFilesPerS)})`,
        fmt(r.small.uploadRatio, 3),
        fmt(r.small.endToEndFilesPerS),
        fmt(r.small.endToEndRatio, 3),
      ]),
    ),
  );
  if (results.filesystem && results.s3)
    console.log(
      `\nsmall files on s3 vs on the filesystem (issue 18: hold within 0.8): upload ${fmt(results.s3.small.uploadFilesPerS / results.filesystem.small.uploadFilesPerS, 2)}, end to end ${fmt(results.s3.small.endToEndFilesPerS / results.filesystem.small.endToEndFilesPerS, 2)}`,
    );
  for (const [adapter, r] of Object.entries(results))
    if (r.photos)
      console.log(
        `photos on ${adapter}: ${fmt(r.photos.picturesPerS)} pictures/s end to end, ${r.photos.failedJobs} failed jobs, worker temp folder peak ${fmt(r.photos.workerTempPeakMiB)} MiB`,
      );
  console.log(
    JSON.stringify({
      bench: 'storage',
      sizeMiB: SIZE / MIB,
      files: FILES,
      concurrency: CONCURRENCY,
      images: IMAGES,
      load: { start: loadStart, end: loadEnd },
      results,
    }),
  );
});

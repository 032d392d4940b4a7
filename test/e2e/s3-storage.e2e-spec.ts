import { DeleteObjectCommand, GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import Redis from 'ioredis';
import sharp from 'sharp';
import { FINAL_JOB_STATES, JobRow } from '../support/app-with-worker';
import { Client, makeTenant } from '../support/client';
import { dav, davPath } from '../support/dav';
import { freePort } from '../support/free-port';
import { testClip } from '../support/media';
import { eventually, startRole } from '../support/processes';
import { S3RVER_CREDENTIALS, S3Server, startS3Server } from '../support/s3-server';
import { filesUnder, storedBlobs } from '../support/storage-files';
import { startTestApp, TestApp } from '../support/test-app';

const BUCKET = 'mserve-e2e';
const TUS = { 'tus-resumable': '1.0.0' };
const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

/**
 * STORAGE=s3 end to end: the real api (in process) and a real worker process, each with its own STORAGE_DIR (they
 * share no filesystem, only PostgreSQL, Redis and the S3 server, a real s3rver process started here). Uploads of
 * every REST kind land in the bucket, downloads keep their HTTP semantics, replace and delete remove the objects,
 * and a picture's ingest jobs run on the worker, which has nothing but the bucket to read from.
 */
describe('object storage (STORAGE=s3): api and worker sharing only the engines and the bucket', () => {
  let s3: S3Server;
  let bucket: S3Client;
  let app: TestApp;
  let admin: Client;
  let worker: ReturnType<typeof startRole>;
  let workerDir: string;
  /** The worker's own BACKUP_DIR (not the api's): with STORAGE=s3 neither may be used. */
  let workerBackupDir: string;
  let redis: Redis;

  beforeAll(async () => {
    s3 = await startS3Server();
    bucket = s3.client();
    app = await startTestApp(s3.env(BUCKET));
    admin = new Client(app.api, app.adminKey);
    workerDir = mkdtempSync(join(process.env.VAR_DIR!, 'worker-storage-'));
    workerBackupDir = mkdtempSync(join(process.env.VAR_DIR!, 'worker-backup-'));
    redis = new Redis(process.env.REDIS_URL!, { lazyConnect: true });
    await redis.connect();
    worker = startRole(
      'worker',
      { ...s3.env(BUCKET), STORAGE_DIR: workerDir, BACKUP_DIR: workerBackupDir, QUEUE_PREFIX: app.config.queuePrefix, LOG_LEVEL: 'warn' },
      ['--queues', 'normal:2,priority:1'],
    );
    await eventually(async () => (await redis.keys(`${app.config.queuePrefix}:workers:*:${worker.pid}`)).length === 1, 'the worker heartbeat', 60_000);
  });
  afterAll(async () => {
    if (worker && worker.exitCode === null) worker.kill('SIGKILL');
    redis?.disconnect();
    await app?.close();
    bucket?.destroy();
    await s3?.stop();
    if (workerDir) rmSync(workerDir, { recursive: true, force: true });
    if (workerBackupDir) rmSync(workerBackupDir, { recursive: true, force: true });
  });

  const objects = async (prefix?: string) =>
    ((await bucket.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: prefix }))).Contents ?? []).map((object) => object.Key!);
  const objectOf = async (mfileId: string) => {
    const [{ blob_key }] = await app.dataSource.query('SELECT blob_key FROM mfile WHERE id = $1', [mfileId]);
    return `blobs/${blob_key as string}`;
  };
  const objectBytes = async (key: string) =>
    Buffer.from(await (await bucket.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }))).Body!.transformToByteArray());
  const gone = (key: string) =>
    eventually(
      () =>
        bucket.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key })).then(
          () => false,
          (error: { name?: string }) => error.name === 'NotFound',
        ),
      `object ${key} to be removed from the bucket`,
    );
  /** The jobs of a file's ingest run, by step, once all `count` of them have ended. */
  const endedJobsBy = async (client: Client, mfileId: string, count: number, what: string) => {
    const jobs = await eventually(
      async () => {
        const items = (await client.get(`/mfiles/${mfileId}/jobs`)).body.items as JobRow[];
        return items.length === count && items.every((job) => FINAL_JOB_STATES.includes(job.state)) ? items : undefined;
      },
      what,
      120_000,
      200,
    );
    return Object.fromEntries(jobs.map((job) => [job.step, job]));
  };

  it('is ready: the readiness check probes the bucket', async () => {
    const reply = await fetch(`${app.baseUrl}/health/ready`);
    expect(reply.status).toBe(200);
  });

  it('stores a REST upload as an object (none on the api node), and downloads it with ETag, conditionals and ranges', async () => {
    const tenant = await makeTenant(admin);
    const customer = admin.as(tenant.customerKey);
    const bytes = randomBytes(300_000);
    const file = await customer.upload(tenant.serviceId, 'data.bin', bytes);
    expect(file.status).toBe(201);
    expect(file.body).toMatchObject({ size: bytes.length, sha256: sha256(bytes) });
    const key = await objectOf(file.body.id);
    expect((await objectBytes(key)).equals(bytes)).toBe(true);
    // the api's STORAGE_DIR holds no content: its blobs folder is empty, its temp folder too
    expect(filesUnder(join(app.config.storageDir, 'blobs'))).toEqual([]);
    expect(filesUnder(join(app.config.storageDir, 'tmp'))).toEqual([]);

    const url = `${app.api}/mfiles/${file.body.id}/content`;
    const auth = { authorization: `Bearer ${customer.key}` };
    const full = await fetch(url, { headers: auth });
    expect(full.status).toBe(200);
    const etag = full.headers.get('etag')!;
    expect(etag).toBe(`"${sha256(bytes)}"`);
    expect(Buffer.from(await full.arrayBuffer()).equals(bytes)).toBe(true);
    expect((await fetch(url, { headers: { ...auth, 'if-none-match': etag } })).status).toBe(304);
    const part = await fetch(url, { headers: { ...auth, range: 'bytes=1000-1999' } });
    expect(part.status).toBe(206);
    expect(part.headers.get('content-range')).toBe(`bytes 1000-1999/${bytes.length}`);
    expect(Buffer.from(await part.arrayBuffer()).equals(bytes.subarray(1000, 2000))).toBe(true);
    const first = await fetch(url, { headers: { ...auth, range: 'bytes=0-0' } });
    expect(Buffer.from(await first.arrayBuffer()).equals(bytes.subarray(0, 1))).toBe(true);
    const suffix = await fetch(url, { headers: { ...auth, range: 'bytes=-10' } });
    expect(Buffer.from(await suffix.arrayBuffer()).equals(bytes.subarray(bytes.length - 10))).toBe(true);
    const multi = await fetch(url, { headers: { ...auth, range: 'bytes=0-9,100-109' } });
    expect(multi.status).toBe(206);
    expect(multi.headers.get('content-type')).toMatch(/^multipart\/byteranges; boundary=/);
    const body = Buffer.from(await multi.arrayBuffer());
    expect(body.includes(bytes.subarray(0, 10))).toBe(true);
    expect(body.includes(bytes.subarray(100, 110))).toBe(true);
  });

  it('replaces content (the old object is removed) and deletes a file (its object is removed)', async () => {
    const tenant = await makeTenant(admin);
    const customer = admin.as(tenant.customerKey);
    const file = await customer.upload(tenant.serviceId, 'doc.txt', new TextEncoder().encode('version one'));
    const before = await objectOf(file.body.id);
    const next = new TextEncoder().encode('version two, longer');
    const replaced = await customer.put(`/mfiles/${file.body.id}/content`, next, { 'content-type': 'application/octet-stream' });
    expect(replaced.status).toBe(200);
    expect(replaced.body).toMatchObject({ size: next.length, sha256: sha256(next) });
    const after = await objectOf(file.body.id);
    expect(after).not.toBe(before);
    expect((await objectBytes(after)).toString()).toBe('version two, longer');
    expect((await customer.get(`/mfiles/${file.body.id}/content`)).text).toBe('version two, longer');
    await gone(before);
    expect((await customer.delete(`/mfiles/${file.body.id}`)).status).toBe(204);
    await gone(after);
    expect(await objects()).not.toContain(after);
  });

  it('stages a tus upload in the bucket, not on the api node, and completes it into one object', async () => {
    const tenant = await makeTenant(admin);
    const customer = admin.as(tenant.customerKey);
    const bytes = randomBytes(200_000);
    const created = await customer.post(`/services/${tenant.serviceId}/uploads`, undefined, {
      ...TUS,
      'upload-length': String(bytes.length),
      'upload-metadata': `filename ${Buffer.from('staged.bin').toString('base64')}`,
    });
    expect(created.status).toBe(201);
    const url = `${app.baseUrl}${created.headers.get('location')!}`;
    const octets = { ...TUS, 'content-type': 'application/offset+octet-stream' };
    expect((await customer.request('PATCH', url, bytes.subarray(0, 100_000), { ...octets, 'upload-offset': '0' })).status).toBe(204);
    const last = await customer.request('PATCH', url, bytes.subarray(100_000), { ...octets, 'upload-offset': '100000' });
    expect(last.status).toBe(204);
    const mfileId = last.headers.get('mfile-id')!;
    expect((await objectBytes(await objectOf(mfileId))).equals(bytes)).toBe(true);
    expect(filesUnder(join(app.config.storageDir, 'uploads'))).toEqual([]);
    expect((await customer.get(`/mfiles/${mfileId}`)).body).toMatchObject({ size: bytes.length, sha256: sha256(bytes) });
  });

  it('assembles Content-Range chunks sent out of order into one object', async () => {
    const tenant = await makeTenant(admin);
    const customer = admin.as(tenant.customerKey);
    const data = randomBytes(300_000);
    const send = (path: string, start: number, end: number, method = 'PUT') =>
      customer.request(method, path, data.subarray(start, end + 1), {
        'content-range': `bytes ${start}-${end}/${data.length}`,
        'content-type': 'application/octet-stream',
      });
    const first = await send(`/services/${tenant.serviceId}/chunked-uploads?name=ranges.bin`, 200_000, 299_999, 'POST');
    expect(first.status).toBe(201);
    const path = `/services/${tenant.serviceId}/chunked-uploads/${first.body.id}`;
    expect((await send(path, 0, 99_999)).status).toBe(200);
    const last = await send(path, 100_000, 199_999);
    expect(last.status).toBe(201);
    expect(last.body.mfile.sha256).toBe(sha256(data));
    expect((await objectBytes(await objectOf(last.body.mfile.id))).equals(data)).toBe(true);
    expect(filesUnder(join(app.config.storageDir, 'uploads'))).toEqual([]);
  });

  it('takes WebDAV PUT (with a length and chunked), COPY (a server-side copy: a second object) and DELETE', async () => {
    const tenant = await makeTenant(admin);
    const key = tenant.customerKey;
    const customer = admin.as(key);
    expect((await dav(app.baseUrl, key, 'PUT', davPath('w.txt'), { body: 'webdav bytes' })).status).toBe(201);
    const chunked = [Buffer.from('in '), Buffer.from('three '), Buffer.from('chunks')];
    expect((await dav(app.baseUrl, key, 'PUT', davPath('c.txt'), { chunks: chunked })).status).toBe(201);
    expect((await dav(app.baseUrl, key, 'GET', davPath('c.txt'))).text).toBe('in three chunks');
    const copy = await dav(app.baseUrl, key, 'COPY', davPath('w.txt'), { headers: { destination: `${app.baseUrl}${davPath('w-copy.txt')}` } });
    expect(copy.status).toBe(201);
    const listed = (await customer.get(`/services/${tenant.serviceId}/mfiles`)).body.items as Array<{ id: string; name: string }>;
    const id = (name: string) => listed.find((file) => file.name === name)!.id;
    const original = await objectOf(id('w.txt'));
    const copied = await objectOf(id('w-copy.txt'));
    expect(copied).not.toBe(original);
    expect((await objectBytes(copied)).toString()).toBe('webdav bytes');
    expect((await dav(app.baseUrl, key, 'DELETE', davPath('w.txt'))).status).toBe(204);
    await gone(original);
    expect((await dav(app.baseUrl, key, 'GET', davPath('w-copy.txt'))).text).toBe('webdav bytes');
  });

  it("runs a picture's ingest on a worker that has only the bucket: metadata, md5, a thumbnail made and downloadable; no local copy left", async () => {
    const tenant = await makeTenant(admin);
    const customer = admin.as(tenant.customerKey);
    await admin.as(tenant.serviceAdminKey).put(`/services/${tenant.serviceId}/profile`, {
      ingest: {
        steps: [
          { name: 'mime', task: 'mime', verify: true },
          { name: 'md5', task: 'md5', after: ['mime'] },
          { name: 'image-metadata', task: 'image-metadata', after: ['mime'] },
          { name: 'thumbnail', task: 'thumbnail', after: ['mime'] },
        ],
      },
    });
    const picture = await sharp({ create: { width: 1200, height: 800, channels: 3, background: { r: 40, g: 120, b: 200 } } })
      .jpeg({ quality: 85 })
      .toBuffer();
    const file = await customer.upload(tenant.serviceId, 'sky.jpg', picture);
    expect(file.status).toBe(201);
    const byStep = await endedJobsBy(customer, file.body.id, 4, 'the ingest run to finish');
    for (const step of ['mime', 'md5', 'image-metadata', 'thumbnail'])
      expect([step, byStep[step].state, byStep[step].error]).toEqual([step, 'succeeded', null]);
    const mfile = (await customer.get(`/mfiles/${file.body.id}`)).body;
    expect(mfile.metadata.image).toMatchObject({ width: 1200, height: 800 });
    const [output] = (await customer.get(`/jobs/${byStep.thumbnail.id}/outputs`)).body.items;
    const thumbnail = Buffer.from(
      await (await fetch(`${app.api}/joboutputs/${output.id}/content`, { headers: { authorization: `Bearer ${customer.key}` } })).arrayBuffer(),
    );
    const info = await sharp(thumbnail).metadata();
    expect(info.format).toBe('jpeg');
    expect(Math.max(info.width!, info.height!)).toBeLessThanOrEqual(256);
    // the output is an object too, and neither node keeps content or a local copy
    const [{ blob_key }] = await app.dataSource.query('SELECT blob_key FROM job_output WHERE id = $1', [output.id]);
    expect((await objectBytes(`blobs/${blob_key as string}`)).equals(thumbnail)).toBe(true);
    expect(filesUnder(join(workerDir, 'blobs'))).toEqual([]);
    expect(filesUnder(join(workerDir, 'tmp'))).toEqual([]);
    expect(filesUnder(join(app.config.storageDir, 'blobs'))).toEqual([]);
  });

  it('runs video tasks on local copies the worker makes and removes: ffprobe metadata and an ffmpeg poster', async () => {
    const tenant = await makeTenant(admin);
    const customer = admin.as(tenant.customerKey);
    await admin.as(tenant.serviceAdminKey).put(`/services/${tenant.serviceId}/profile`, {
      ingest: {
        steps: [
          { name: 'video-metadata', task: 'video-metadata' },
          { name: 'video-poster', task: 'video-poster' },
        ],
      },
    });
    const clip = join(workerDir, '..', `clip-${process.pid}.mp4`);
    await testClip(clip, 2, '320x240');
    const bytes = readFileSync(clip);
    rmSync(clip);
    const file = await customer.upload(tenant.serviceId, 'clip.mp4', bytes);
    expect(file.status).toBe(201);
    const byStep = await endedJobsBy(customer, file.body.id, 2, 'the video ingest run to finish');
    expect([byStep['video-metadata'].state, byStep['video-metadata'].error]).toEqual(['succeeded', null]);
    expect([byStep['video-poster'].state, byStep['video-poster'].error]).toEqual(['succeeded', null]);
    expect((await customer.get(`/mfiles/${file.body.id}`)).body.metadata.video).toMatchObject({ video: { width: 320, height: 240 } });
    const [poster] = (await customer.get(`/jobs/${byStep['video-poster'].id}/outputs`)).body.items;
    const image = Buffer.from(
      await (await fetch(`${app.api}/joboutputs/${poster.id}/content`, { headers: { authorization: `Bearer ${customer.key}` } })).arrayBuffer(),
    );
    expect((await sharp(image).metadata()).format).toBe('jpeg');
    expect(filesUnder(join(workerDir, 'tmp'))).toEqual([]);
    expect(filesUnder(join(workerDir, 'blobs'))).toEqual([]);
  });

  it('keeps backup copies in the bucket under backup/ (none in either BACKUP_DIR): made at commit and by the worker, restored by fixity and retrieve on the worker', async () => {
    const tenant = await makeTenant(admin);
    const customer = admin.as(tenant.customerKey);
    // the default ingest: mime, md5 and backup; a small file's copy is made by the api at its commit (a fact), a
    // larger one's by the backup job on the worker
    const small = randomBytes(1100);
    const large = randomBytes(300 * 1024);
    const smallFile = (await customer.upload(tenant.serviceId, 'small.bin', small)).body;
    const largeFile = (await customer.upload(tenant.serviceId, 'large.bin', large)).body;
    const smallJobs = await endedJobsBy(customer, smallFile.id, 3, 'the small ingest run to finish');
    const largeJobs = await endedJobsBy(customer, largeFile.id, 3, 'the large ingest run to finish');
    expect(smallJobs.backup).toMatchObject({ state: 'succeeded', workerHost: null, result: { created: true, size: small.length } });
    expect(largeJobs.backup).toMatchObject({ state: 'succeeded', workerHost: expect.any(String), result: { created: true, size: large.length } });
    const copyOf = (sha: string) => `backup/${sha.slice(0, 2)}/${sha}`;
    // (the earlier tests' uploads have their copies there too)
    expect(await objects('backup/')).toEqual(expect.arrayContaining([copyOf(sha256(small)), copyOf(sha256(large))]));
    expect((await objectBytes(copyOf(sha256(small)))).equals(small)).toBe(true);
    expect((await objectBytes(copyOf(sha256(large)))).equals(large)).toBe(true);
    // each copy is metered once as the backup's disc, as on the filesystem
    const backupDisc = await app.dataSource.query(
      `SELECT resource_id, value::float AS bytes FROM usage WHERE service_id = $1 AND metric = 'disc' AND resource_type = 'backup' ORDER BY value`,
      [tenant.serviceId],
    );
    expect(backupDisc.map((row: { bytes: number }) => row.bytes)).toEqual([small.length, large.length]);

    const runTask = async (mfileId: string, task: string) => {
      const job = await customer.post('/jobs', { mfileIds: [mfileId], task });
      expect(job.status).toBe(201);
      return eventually(async () => {
        const current = (await customer.get(`/jobs/${job.body.id}`)).body;
        return ['succeeded', 'failed'].includes(current.state) ? current : undefined;
      }, task);
    };
    const content = async (mfileId: string) =>
      Buffer.from(await (await fetch(`${app.api}/mfiles/${mfileId}/content`, { headers: { authorization: `Bearer ${customer.key}` } })).arrayBuffer());

    // bit rot in the bucket: fixity on the worker finds it and restores the bytes from the copy
    expect((await runTask(largeFile.id, 'fixity')).result).toMatchObject({ ok: true, restored: false });
    await bucket.send(new PutObjectCommand({ Bucket: BUCKET, Key: await objectOf(largeFile.id), Body: Buffer.from('rotten') }));
    expect(await runTask(largeFile.id, 'fixity')).toMatchObject({ state: 'succeeded', result: { ok: false, restored: true, size: 6 } });
    expect((await content(largeFile.id)).equals(large)).toBe(true);
    expect((await runTask(largeFile.id, 'fixity')).result).toMatchObject({ ok: true, restored: false });
    // a lost object: retrieve on the worker brings it back from the copy the api made at commit
    await bucket.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: await objectOf(smallFile.id) }));
    expect(await runTask(smallFile.id, 'retrieve')).toMatchObject({ state: 'succeeded', result: { storedWasDamaged: true, size: small.length } });
    expect((await content(smallFile.id)).equals(small)).toBe(true);
    // no copy left: a damaged file is data loss, the job fails saying so
    await bucket.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: copyOf(sha256(small)) }));
    await bucket.send(new PutObjectCommand({ Bucket: BUCKET, Key: await objectOf(smallFile.id), Body: Buffer.from('rotten again') }));
    expect(await runTask(smallFile.id, 'fixity')).toMatchObject({ state: 'failed', error: expect.stringContaining('no backup to restore them from') });

    // the copies were verified and renamed in the bucket: no temporary copy left, nothing on either node's disk
    expect((await objects('backup/')).filter((key) => key.startsWith('backup/tmp/'))).toEqual([]);
    expect(filesUnder(app.config.backupDir)).toEqual([]);
    expect(filesUnder(workerBackupDir)).toEqual([]);
    expect(filesUnder(join(workerDir, 'tmp'))).toEqual([]);
    // a copy stays until its service is deleted (and then goes, when no other service holds the same bytes)
    expect((await customer.delete(`/mfiles/${largeFile.id}`)).status).toBe(204);
    expect(await objects('backup/')).toContain(copyOf(sha256(large)));
    expect((await admin.as(tenant.containerKey).delete(`/services/${tenant.serviceId}`)).status).toBe(204);
    await gone(copyOf(sha256(large)));
  });
});

describe('object storage (STORAGE=s3) that cannot be reached', () => {
  let app: TestApp;
  let admin: Client;

  beforeAll(async () => {
    // the endpoint of a server that is not there: nothing listens on a free port
    const nowhere = `http://127.0.0.1:${await freePort()}`;
    app = await startTestApp({
      STORAGE: 's3',
      S3_ENDPOINT: nowhere,
      S3_BUCKET: BUCKET,
      S3_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId,
      S3_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey,
      S3_FORCE_PATH_STYLE: 'true',
    });
    admin = new Client(app.api, app.adminKey);
  });
  afterAll(() => app?.close());

  it('answers an upload with 503 and Retry-After (dependency "storage"), and readiness says the storage is down', async () => {
    const tenant = await makeTenant(admin);
    const reply = await admin.as(tenant.customerKey).upload(tenant.serviceId, 'x.bin', randomBytes(1000));
    expect(reply.status).toBe(503);
    expect(Number(reply.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(reply.body).toMatchObject({ status: 503, dependency: 'storage' });
    expect((await fetch(`${app.baseUrl}/health/ready`)).status).toBe(503);
  });
});

describe('object storage (STORAGE=s3) that goes down mid-run and comes back', () => {
  let s3: S3Server;
  let app: TestApp;
  let admin: Client;

  beforeAll(async () => {
    s3 = await startS3Server();
    app = await startTestApp(s3.env(BUCKET));
    admin = new Client(app.api, app.adminKey);
  });
  afterAll(async () => {
    await app?.close();
    await s3?.stop();
  });

  it('answers 503 with Retry-After (dependency "storage") while s3rver is killed, and serves and stores again once it is back', async () => {
    const tenant = await makeTenant(admin);
    const customer = admin.as(tenant.customerKey);
    const kept = randomBytes(50_000);
    const before = await customer.upload(tenant.serviceId, 'before.bin', kept);
    expect(before.status).toBe(201);

    await s3.kill();
    const refused = await customer.upload(tenant.serviceId, 'during.bin', randomBytes(50_000));
    expect([refused.status, refused.body]).toEqual([503, expect.objectContaining({ status: 503, dependency: 'storage' })]);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    const download = await customer.get(`/mfiles/${before.body.id}/content`);
    expect([download.status, download.body]).toEqual([503, expect.objectContaining({ status: 503, dependency: 'storage' })]);
    expect(Number(download.headers.get('retry-after'))).toBeGreaterThan(0);
    expect((await fetch(`${app.baseUrl}/health/ready`)).status).toBe(503);
    // the refused upload left no file behind
    expect((await customer.get(`/services/${tenant.serviceId}/mfiles`)).body.items.map((item: { name: string }) => item.name)).toEqual(['before.bin']);

    await s3.restart();
    await eventually(async () => (await fetch(`${app.baseUrl}/health/ready`)).status === 200, 'readiness once s3rver is back');
    const again = await fetch(`${app.api}/mfiles/${before.body.id}/content`, { headers: { authorization: `Bearer ${customer.key}` } });
    expect(Buffer.from(await again.arrayBuffer()).equals(kept)).toBe(true);
    const after = randomBytes(50_000);
    const stored = await customer.upload(tenant.serviceId, 'after.bin', after);
    expect(stored.body).toMatchObject({ size: after.length, sha256: sha256(after) });
    expect(await storedBlobs(app.config)).toHaveLength(2);
  });
});

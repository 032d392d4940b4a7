import { createCipheriv, createHash } from 'node:crypto';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import * as tus from 'tus-js-client';
import { Client, makeTenant } from '../support/client';
import { dav, davPath } from '../support/dav';
import { eventually, startRole, waitForExit } from '../support/processes';
import { filesUnder } from '../support/storage-files';
import { startTestApp, TestApp } from '../support/test-app';
import { readEvents } from '../../src/cli/sse';
import { UsageRollupService } from '../../src/usage/usage-rollup.service';

/** Seeded pseudo-random bytes (AES-CTR keystream): incompressible, reproducible, never sniffed as an image. */
function bytesFor(seed: string, size: number): Buffer {
  const cipher = createCipheriv('aes-128-ctr', createHash('md5').update(seed).digest(), Buffer.alloc(16));
  return Buffer.concat([Buffer.from('usage\n'), cipher.update(Buffer.alloc(Math.max(0, size - 6)))]).subarray(0, size);
}

/** Bytes of every regular file under these folders, by their apparent size (what `du --apparent-size -b` adds). */
const bytesOnDisk = (...roots: string[]) =>
  roots.reduce((sum, root) => sum + filesUnder(root).reduce((inner, path) => inner + statSync(join(root, path)).size, 0), 0);

type Protocol = 'rest' | 'tus' | 'dav';

/**
 * Metering against the real platform: an api, a worker process, PostgreSQL and the disk. What the clients sent
 * and received, and what is on disk, are counted independently of the server and compared with its usage.
 */
describe('usage metering', () => {
  let app: TestApp;
  let admin: Client;
  let backupDir: string;
  let worker: ReturnType<typeof startRole>;

  beforeAll(async () => {
    backupDir = mkdtempSync(join(process.env.VAR_DIR!, 'backup-'));
    // every service of the run in /metrics (its default keeps the top 50 per metric; this suite looks for its own)
    app = await startTestApp({ BACKUP_DIR: backupDir, METRICS_USAGE_TOP_SERVICES: '10000' });
    admin = new Client(app.api, app.adminKey);
    worker = startRole('worker', { STORAGE_DIR: app.config.storageDir, BACKUP_DIR: backupDir, QUEUE_PREFIX: app.config.queuePrefix, LOG_LEVEL: 'warn' }, [
      '--queues',
      'normal:3,priority:1',
    ]);
  });
  afterAll(async () => {
    if (worker.exitCode === null) {
      worker.kill('SIGTERM');
      await waitForExit(worker).catch(() => worker.kill('SIGKILL'));
    }
    await app.close();
    rmSync(backupDir, { recursive: true, force: true });
  });

  const unfinishedJobs = async (serviceIds: string[]) =>
    Number(
      (
        await app.dataSource.query("SELECT COUNT(*) AS n FROM job WHERE service_id = ANY($1::uuid[]) AND state IN ('queued', 'running', 'waiting')", [
          serviceIds,
        ])
      )[0].n,
    );

  const total = async (path: string, metrics: string, source: 'rollup' | 'raw' = 'rollup') => {
    const reply = await admin.get(`${path}?bucket=total&metric=${metrics}&from=2020-01-01T00:00:00Z&to=2100-01-01T00:00:00Z&source=${source}`);
    expect(reply.status).toBe(200);
    return Object.fromEntries(reply.body.series.map((series: { metric: string; total: { sum: number; level?: number } }) => [series.metric, series.total]));
  };

  it('20 clients over REST, tus and WebDAV at once: ingest = bytes sent, access = bytes received, disc = bytes on disk', async () => {
    const one = await makeTenant(admin);
    const second = await admin.as(one.containerKey).post(`/containers/${one.containerId}/services`, { name: 'second' });
    expect(second.status).toBe(201);
    const services = [
      { id: one.serviceId, key: one.customerKey },
      { id: second.body.id as string, key: second.body.customerKey as string },
    ];
    const png = await sharp({ create: { width: 640, height: 400, channels: 3, background: { r: 200, g: 40, b: 90 } } })
      .png()
      .toBuffer();
    let sent = 0;
    let received = 0;

    const client = async (index: number) => {
      const protocol: Protocol = (['rest', 'tus', 'dav'] as const)[index % 3];
      const service = services[index % 2];
      const api = admin.as(service.key);
      const files = [
        { name: `c${index}-a.bin`, bytes: bytesFor(`a${index}`, 1000 + ((index * 7919) % 900_000)) },
        {
          name: `c${index}-b.${index % 5 === 0 ? 'png' : 'bin'}`,
          bytes: index % 5 === 0 ? Buffer.concat([png, Buffer.from(`#${index}`)]) : bytesFor(`b${index}`, 6000 + ((index * 104_729) % 1_300_000)),
        },
      ];
      const ids: string[] = [];
      for (const file of files) {
        if (protocol === 'rest') {
          const reply = await api.upload(service.id, file.name, file.bytes);
          expect(reply.status).toBe(201);
          ids.push(reply.body.id);
        } else if (protocol === 'tus') {
          ids.push(
            await new Promise<string>((resolve, reject) => {
              let mfileId: string | undefined;
              new tus.Upload(file.bytes, {
                endpoint: `${app.api}/services/${service.id}/uploads`,
                chunkSize: 256 * 1024,
                uploadSize: file.bytes.length,
                metadata: { filename: file.name },
                headers: { authorization: `Bearer ${service.key}` },
                onAfterResponse: (_request, response) => {
                  mfileId = response.getHeader('Mfile-Id') ?? mfileId;
                },
                onError: reject,
                onSuccess: () => (mfileId ? resolve(mfileId) : reject(new Error('no Mfile-Id'))),
              }).start();
            }),
          );
        } else {
          const reply = await dav(app.baseUrl, service.key, 'PUT', davPath(file.name), { body: file.bytes });
          expect(reply.status).toBe(201);
          const listed = await api.get(`/services/${service.id}/mfiles?name=${encodeURIComponent(file.name)}`);
          ids.push(listed.body.items.find((item: { name: string }) => item.name === file.name).id);
        }
        sent += file.bytes.length;
      }
      // downloads: one whole, one range, each through the client's own protocol (tus clients read over REST)
      if (protocol === 'dav') {
        const whole = await dav(app.baseUrl, service.key, 'GET', davPath(files[0].name));
        const part = await dav(app.baseUrl, service.key, 'GET', davPath(files[1].name), { headers: { range: 'bytes=100-4099' } });
        expect([whole.status, part.status]).toEqual([200, 206]);
        expect(whole.body.equals(files[0].bytes)).toBe(true);
        received += whole.body.length + part.body.length;
      } else {
        const whole = await fetch(`${app.api}/mfiles/${ids[0]}/content`, { headers: { authorization: `Bearer ${service.key}` } });
        const part = await fetch(`${app.api}/mfiles/${ids[1]}/content`, { headers: { authorization: `Bearer ${service.key}`, range: 'bytes=100-4099' } });
        expect([whole.status, part.status]).toEqual([200, 206]);
        const bodies = [Buffer.from(await whole.arrayBuffer()), Buffer.from(await part.arrayBuffer())];
        expect(bodies[0].equals(files[0].bytes)).toBe(true);
        received += bodies[0].length + bodies[1].length;
      }
    };
    await Promise.all(Array.from({ length: 20 }, (_, index) => client(index)));
    expect(received).toBeGreaterThan(0);

    // the ingest pipelines (checksums, thumbnails and posters of the PNGs, backup copies) run to their end
    const serviceIds = services.map((service) => service.id);
    await eventually(async () => (await unfinishedJobs(serviceIds)) === 0, 'the ingest pipelines to finish', 120_000, 250);
    const failed = await app.dataSource.query("SELECT task, error FROM job WHERE service_id = ANY($1::uuid[]) AND state = 'failed'", [serviceIds]);
    expect(failed).toEqual([]);
    const outputs = Number(
      (await app.dataSource.query('SELECT COUNT(*) AS n FROM job_output WHERE service_id = ANY($1::uuid[]) AND blob_key IS NOT NULL', [serviceIds]))[0].n,
    );
    expect(outputs).toBeGreaterThanOrEqual(8); // a thumbnail and a poster of each of the 4 PNGs
    // downloads of job outputs are access too
    const outputIds: Array<{ id: string }> = await app.dataSource.query(
      'SELECT id FROM job_output WHERE service_id = ANY($1::uuid[]) AND blob_key IS NOT NULL',
      [serviceIds],
    );
    await Promise.all(
      outputIds.map(async ({ id }) => {
        const reply = await fetch(`${app.api}/joboutputs/${id}/content`, { headers: { authorization: `Bearer ${app.adminKey}` } });
        expect(reply.status).toBe(200);
        received += (await reply.arrayBuffer()).byteLength;
      }),
    );

    // access is metered after each answer: wait until it arrives, then it must be exact
    const container = `/containers/${one.containerId}/usage`;
    await eventually(async () => (await total(container, 'access')).access?.sum === received, `access usage to reach ${received}`, 10_000);
    const onDisk = bytesOnDisk(app.config.storageDir, backupDir);
    for (const source of ['raw', 'rollup'] as const) {
      const figures = await total(container, 'ingest,access,disc,mfiles', source);
      expect({ source, ingest: figures.ingest.sum, access: figures.access.sum, disc: figures.disc.level, mfiles: figures.mfiles.level }).toEqual({
        source,
        ingest: sent,
        access: received,
        disc: onDisk,
        mfiles: 40,
      });
    }
    // the same after the facts were rolled up (no fact counted twice or lost on the way)
    await app.app.get(UsageRollupService).rollUp();
    expect((await total(container, 'ingest,access,disc')).disc.level).toBe(onDisk);
    expect((await total(container, 'ingest')).ingest.sum).toBe(sent);
    // per service, the two parts add up to the container
    const perService = await Promise.all(serviceIds.map((id) => total(`/services/${id}/usage`, 'disc')));
    expect(perService.reduce((sum, figures) => sum + figures.disc.level, 0)).toBe(onDisk);

    // Prometheus carries the per-service totals for the admin key's scrape, and no tenant's figures for anyone else
    expect(await (await fetch(`${app.baseUrl}/metrics`)).text()).not.toContain(serviceIds[0]);
    expect((await fetch(`${app.baseUrl}/metrics`, { headers: { authorization: `Bearer ${one.customerKey}` } })).status).toBe(200);
    expect(await (await fetch(`${app.baseUrl}/metrics`, { headers: { authorization: `Bearer ${one.customerKey}` } })).text()).not.toContain(serviceIds[0]);
    const metrics = await (await fetch(`${app.baseUrl}/metrics`, { headers: { authorization: `Bearer ${app.adminKey}` } })).text();
    const line = metrics
      .split('\n')
      .find((text) => text.startsWith('mserve_usage_total{') && text.includes(`service="${serviceIds[0]}"`) && text.includes('metric="disc"'));
    expect(Number(line?.split(' ').pop())).toBe(perService[0].disc.level);

    // deleting a job takes its outputs' bytes off disc
    const [withOutputs] = await app.dataSource.query(
      'SELECT j.id, SUM(o.size)::float8 AS bytes FROM job j JOIN job_output o ON o.job_id = j.id WHERE j.service_id = $1 AND o.blob_key IS NOT NULL GROUP BY j.id LIMIT 1',
      [serviceIds[0]],
    );
    expect(withOutputs.bytes).toBeGreaterThan(0);
    expect((await admin.delete(`/jobs/${withOutputs.id}`)).status).toBe(204);
    const kept = perService[0].disc.level - withOutputs.bytes;
    expect((await total(`/services/${serviceIds[0]}/usage`, 'disc')).disc.level).toBe(kept);
    expect(bytesOnDisk(app.config.storageDir, backupDir)).toBe(onDisk - withOutputs.bytes);

    // deleting a service takes its bytes (files, outputs, backup copies) off disc, in the usage and on the disk alike
    expect((await admin.delete(`/services/${serviceIds[1]}`)).status).toBe(204);
    const after = await total(container, 'disc,mfiles,services');
    expect(after).toMatchObject({ disc: { level: kept }, mfiles: { level: 20 }, services: { level: 1 } });
    // the deleted service stays in the container's history (billed for the time it existed), at zero now
    const grouped = await admin.get(`${container}?bucket=total&metric=disc&groupBy=service&from=2020-01-01T00:00:00Z&to=2100-01-01T00:00:00Z`);
    const gone = grouped.body.series.find((series: { group: { id: string } }) => series.group.id === serviceIds[1]);
    expect(gone.total.level).toBe(0);
    expect(gone.total.levelHours).toBeGreaterThan(0);
    expect(bytesOnDisk(app.config.storageDir, backupDir)).toBe(after.disc.level);
  }, 300_000);

  it('jobs: runtime, bytes and outcome per job; the monthly job-runtime quota stops new jobs with a 429 that names it', async () => {
    const tenant = await makeTenant(admin);
    const customer = admin.as(tenant.customerKey);
    const provider = admin.as(tenant.containerKey);
    const mfile = await customer.upload(tenant.serviceId, 'data.bin', bytesFor('jobs', 200_000));
    await eventually(async () => (await unfinishedJobs([tenant.serviceId])) === 0, 'the ingest pipeline', 60_000, 200);
    const job = await customer.post('/jobs', { mfileIds: [mfile.body.id], task: 'sha256' });
    expect(job.status).toBe(201);
    await eventually(async () => (await customer.get(`/jobs/${job.body.id}`)).body.state === 'succeeded', 'the sha256 job', 60_000, 100);
    const usage = await customer.get(`/jobs/${job.body.id}/usage?bucket=total`);
    const byMetric = Object.fromEntries(usage.body.series.map((series: { metric: string; total: { sum: number } }) => [series.metric, series.total.sum]));
    expect(byMetric).toMatchObject({ jobbytes: 200_000, 'task/sha256/success': 1, jobs: 1 });
    expect(byMetric.jobruntime).toBeGreaterThan(0);
    // the Mfile's usage holds its own bytes and the jobs run on it
    const mfileUsage = await customer.get(`/mfiles/${mfile.body.id}/usage?bucket=total&metric=disc,ingest,jobs`);
    const mfileFigures = Object.fromEntries(
      mfileUsage.body.series.map((series: { metric: string; total: { sum: number } }) => [series.metric, series.total.sum]),
    );
    expect(mfileFigures.ingest).toBe(200_000);
    expect(mfileFigures.jobs).toBeGreaterThanOrEqual(2);

    // a quota below what was used: manual jobs are refused up front, queued pipeline jobs fail saying why
    expect((await provider.patch(`/services/${tenant.serviceId}`, { jobruntimeQuota: 0.000001 })).status).toBe(200);
    const refused = await customer.post('/jobs', { mfileIds: [mfile.body.id], task: 'md5' });
    expect(refused.status).toBe(429);
    expect(refused.headers.get('content-type')).toMatch(/problem\+json/);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(refused.body.quota).toMatchObject({ name: 'jobruntimeQuota', scope: 'service', limit: 0.000001, period: 'month' });
    expect(refused.body.quota.used).toBeGreaterThan(0);
    expect(refused.body.detail).toMatch(/job runtime quota/);
    const second = await customer.upload(tenant.serviceId, 'more.bin', bytesFor('more', 1000));
    expect(second.status).toBe(201);
    await eventually(async () => (await unfinishedJobs([tenant.serviceId])) === 0, 'the refused pipeline', 60_000, 200);
    const refusedJobs = await customer.get(`/mfiles/${second.body.id}/jobs`);
    expect(refusedJobs.body.items.length).toBeGreaterThan(0);
    // mime and md5 are facts recorded at commit (they run nothing); the first step that would run is refused, those
    // after it fail with it
    for (const item of refusedJobs.body.items)
      expect([item.step, item.state]).toEqual([item.step, ['mime', 'md5'].includes(item.step) ? 'succeeded' : 'failed']);
    expect(refusedJobs.body.items.find((item: { task: string }) => item.task === 'backup')).toMatchObject({
      error: expect.stringMatching(/job runtime quota is used up/),
    });
    // lifting it takes effect on the next request
    expect((await provider.patch(`/services/${tenant.serviceId}`, { jobruntimeQuota: null })).status).toBe(200);
    expect((await customer.post('/jobs', { mfileIds: [mfile.body.id], task: 'md5' })).status).toBe(201);
  }, 180_000);

  it('a job whose outputs would exceed the disk quota fails and keeps nothing', async () => {
    const tenant = await makeTenant(admin);
    const customer = admin.as(tenant.customerKey);
    const png = await sharp({ create: { width: 1200, height: 800, channels: 3, background: { r: 10, g: 120, b: 200 } } })
      .png()
      .toBuffer();
    // room for the image and not much more: its thumbnail or poster cannot both fit
    expect((await admin.as(tenant.containerKey).patch(`/services/${tenant.serviceId}`, { diskQuota: png.length + 10 })).status).toBe(200);
    const mfile = await customer.upload(tenant.serviceId, 'photo.png', png);
    expect(mfile.status).toBe(201);
    await eventually(async () => (await unfinishedJobs([tenant.serviceId])) === 0, 'the ingest pipeline', 60_000, 200);
    const jobs = (await customer.get(`/mfiles/${mfile.body.id}/jobs`)).body.items as Array<{ task: string; state: string; error: string | null }>;
    const thumbnail = jobs.find((job) => job.task === 'thumbnail')!;
    expect(thumbnail).toMatchObject({ state: 'failed', error: expect.stringMatching(/disk quota/) });
    const disc = (await total(`/services/${tenant.serviceId}/usage`, 'disc')).disc.level;
    expect(disc).toBeLessThanOrEqual(png.length + 10);
    const stored = await app.dataSource.query('SELECT COALESCE(SUM(size), 0)::float AS n FROM job_output WHERE service_id = $1 AND blob_key IS NOT NULL', [
      tenant.serviceId,
    ]);
    expect(disc).toBe(png.length + stored[0].n);
  }, 120_000);

  it("an application's own metrics: recorded once per idempotency key, reported with MServe's, per service and per file", async () => {
    const tenant = await makeTenant(admin);
    const other = await makeTenant(admin);
    const customer = admin.as(tenant.customerKey);
    const file = await customer.upload(tenant.serviceId, 'page.html', new TextEncoder().encode('<p>hi</p>'));
    const path = `/services/${tenant.serviceId}/usage`;
    const first = await customer.post(path, {
      items: [
        { metric: 'pages-rendered', value: 3, idempotencyKey: 'render-1' },
        { metric: 'pages-rendered', value: 2, idempotencyKey: 'render-2', at: '2026-01-05T10:00:00Z' },
      ],
    });
    expect([first.status, first.body]).toEqual([201, { recorded: 2, repeated: 0 }]);
    // a retried request records nothing twice; a new key in it still counts
    const retried = await customer.post(path, {
      items: [
        { metric: 'pages-rendered', value: 3, idempotencyKey: 'render-1' },
        { metric: 'pages-rendered', value: 4, idempotencyKey: 'render-3' },
      ],
    });
    expect(retried.body).toEqual({ recorded: 1, repeated: 1 });
    // keys are the service's own: another service's render-1 is another fact
    expect(
      (
        await admin
          .as(other.customerKey)
          .post(`/services/${other.serviceId}/usage`, { items: [{ metric: 'pages-rendered', value: 7, idempotencyKey: 'render-1' }] })
      ).body,
    ).toEqual({
      recorded: 1,
      repeated: 0,
    });
    // per file: in the file's usage and in its service's; a file's keys are its own (a file key cannot take the
    // service's render-1)
    expect((await customer.post(`/mfiles/${file.body.id}/usage`, { items: [{ metric: 'views', value: 1, idempotencyKey: 'render-1' }] })).body).toEqual({
      recorded: 1,
      repeated: 0,
    });
    for (const source of ['raw', 'rollup'] as const) {
      const service = await total(path, 'app/pages-rendered,app/views,ingest', source);
      expect([service['app/pages-rendered'].sum, service['app/views'].sum, service.ingest.sum]).toEqual([9, 1, 9]);
    }
    await app.app.get(UsageRollupService).rollUp();
    expect((await total(path, 'app/pages-rendered'))['app/pages-rendered'].sum).toBe(9);
    expect((await total(`/mfiles/${file.body.id}/usage`, 'app/views'))['app/views'].sum).toBe(1);
    expect((await total(`/services/${other.serviceId}/usage`, 'app/pages-rendered'))['app/pages-rendered'].sum).toBe(7);
    // by month, and in the CSV export
    const january = await admin.get(`${path}?metric=app/pages-rendered&bucket=month&from=2026-01-01T00:00:00Z&to=2026-02-01T00:00:00Z`);
    expect(january.body.series[0].buckets[0]).toMatchObject({ sum: 2, count: 1 });
    const csv = await admin.get(`${path}?metric=app/pages-rendered&bucket=total&from=2020-01-01T00:00:00Z&to=2100-01-01T00:00:00Z&format=csv`);
    expect(csv.text).toContain('app/pages-rendered');

    // what is wrong is said, and nothing of the request is recorded
    const refusals: Array<[unknown, RegExp]> = [
      [{ items: [{ metric: 'bad name!', value: 1, idempotencyKey: 'x' }] }, /metric must be 1 to 64 letters/],
      [{ items: [{ metric: 'ok', value: 'many', idempotencyKey: 'x' }] }, /value must be a number/],
      [{ items: [{ metric: 'ok', value: 1 }] }, /idempotencyKey must be 1 to 200 visible ASCII characters/],
      [{ items: [{ metric: 'ok', value: 1, idempotencyKey: 'x', at: '2999-01-01T00:00:00Z' }] }, /items\[0\]\.at lies in the future/],
      [{ items: [] }, /items must contain at least 1 elements/],
      // an array is no fact, even nested (found by rest-fuzz: Array.prototype.at was taken for a date)
      [{ items: [[[[]]]] }, /each of items must be an object/],
      [{ items: Array.from({ length: 501 }, (_, i) => ({ metric: 'ok', value: 1, idempotencyKey: `k${i}` })) }, /items must contain no more than 500 elements/],
    ];
    for (const [body, message] of refusals) {
      const refused = await customer.post(path, body);
      expect([refused.status, refused.headers.get('content-type'), refused.text]).toEqual([
        400,
        expect.stringMatching(/problem\+json/),
        expect.stringMatching(message),
      ]);
    }
    expect((await total(path, 'app/ok'))['app/ok']).toMatchObject({ count: 0, sum: 0 });
  });
  it("quotas on an application's own metrics: set by the provider side, refused with 429 naming them, never overshot by racing records, told as quota.exceeded", async () => {
    const tenant = await makeTenant(admin);
    const second = await admin.as(tenant.containerKey).post(`/containers/${tenant.containerId}/services`, { name: 'second' });
    const customer = admin.as(tenant.customerKey);
    const provider = admin.as(tenant.containerKey);
    const path = `/services/${tenant.serviceId}/usage`;
    let n = 0;
    const record = (value: number, metric = 'pages-rendered', where = path, as = customer) =>
      as.post(where, { items: [{ metric, value, idempotencyKey: `q-${++n}` }] });

    // only keys with service:manage set a service's, only the provider a container's; bad maps say what is wrong
    expect((await customer.patch(`/services/${tenant.serviceId}`, { appQuotas: { 'pages-rendered': 10 } })).status).toBe(403);
    for (const [appQuotas, message] of [
      [{ 'bad name!': 1 }, /appQuotas has "bad name!", which is not a metric name/],
      [{ 'pages-rendered': -1 }, /limit of "pages-rendered" must be a finite number/],
      [[1], /appQuotas must be an object/],
    ] as const) {
      const refused = await provider.patch(`/services/${tenant.serviceId}`, { appQuotas });
      expect([refused.status, refused.body.detail]).toEqual([400, expect.stringMatching(message)]);
    }
    const set = await provider.patch(`/services/${tenant.serviceId}`, { appQuotas: { 'pages-rendered': 10 } });
    expect([set.status, set.body.appQuotas]).toEqual([200, { 'pages-rendered': 10 }]);
    expect((await customer.get(`/services/${tenant.serviceId}`)).body.appQuotas).toEqual({ 'pages-rendered': 10 });

    // follow the service's events, to hear the refusal
    const abort = new AbortController();
    const stream = await fetch(`${app.api}/services/${tenant.serviceId}/events`, {
      headers: { authorization: `Bearer ${tenant.customerKey}` },
      signal: abort.signal,
    });
    const heard: Array<{ type: string; data: { quota: { name: string }; refused: { operation: string } } }> = [];
    let ready = false;
    const reading = (async () => {
      for await (const event of readEvents(stream)) {
        if (event.event === 'ready') ready = true;
        if (event.event === 'quota.exceeded') heard.push({ type: event.event, ...JSON.parse(event.data) });
      }
    })().catch(() => undefined);
    await eventually(async () => ready, 'the event stream');

    expect((await record(6)).body).toEqual({ recorded: 1, repeated: 0 });
    const over = await record(5);
    expect([over.status, over.headers.get('content-type'), Number(over.headers.get('retry-after')) > 0]).toEqual([
      429,
      expect.stringMatching(/problem\+json/),
      true,
    ]);
    expect(over.body).toMatchObject({
      detail: "recording 5 more app/pages-rendered would exceed the service's monthly quota for it (limit 10, 6 used this month): nothing was recorded",
      quota: { name: 'app/pages-rendered', scope: 'service', limit: 10, used: 6, requested: 5, period: 'month' },
    });
    expect((await total(path, 'app/pages-rendered'))['app/pages-rendered'].sum).toBe(6);
    // a repeated key adds nothing, so it is never refused; up to the limit exactly is fine; another metric is not limited
    expect((await customer.post(path, { items: [{ metric: 'pages-rendered', value: 6, idempotencyKey: 'q-1' }] })).body).toEqual({ recorded: 0, repeated: 1 });
    expect((await record(4)).status).toBe(201);
    expect((await record(1)).status).toBe(429);
    expect((await record(50, 'other-metric')).status).toBe(201);
    // a fact dated in an earlier month counts there, against that month's use: backdating does not escape the limit
    const lastMonth = new Date(Date.UTC(new Date().getUTCFullYear(), new Date().getUTCMonth() - 1, 2)).toISOString();
    const backdated = (value: number) => customer.post(path, { items: [{ metric: 'pages-rendered', value, idempotencyKey: `old-${++n}`, at: lastMonth }] });
    expect((await backdated(8)).status).toBe(201);
    const earlier = await backdated(5);
    expect([earlier.status, earlier.body.detail]).toEqual([429, expect.stringMatching(/limit 10, 8 used in \d{4}-\d{2}\): nothing was recorded$/)]);
    // a metric named like a member of every JavaScript object is not limited by accident, and cannot be limited
    expect((await record(5, 'valueOf')).status).toBe(201);
    const reserved = await provider.patch(`/services/${tenant.serviceId}`, { appQuotas: { toString: 1 } });
    expect([reserved.status, reserved.body.detail]).toEqual([400, expect.stringMatching(/"toString", a name reserved by JavaScript objects/)]);
    await eventually(async () => heard.length >= 2, 'quota.exceeded events');
    expect(heard[0].data).toMatchObject({ quota: { name: 'app/pages-rendered', scope: 'service' }, refused: { operation: 'usage' } });

    // the container's limit holds across its services, and racing records never overshoot it
    expect((await provider.patch(`/containers/${tenant.containerId}`, { appQuotas: { views: 5 } })).status).toBe(403);
    expect((await admin.patch(`/containers/${tenant.containerId}`, { appQuotas: { views: 5 } })).body.appQuotas).toEqual({ views: 5 });
    const services = [
      { where: `/services/${tenant.serviceId}/usage`, as: customer },
      { where: `/services/${second.body.id}/usage`, as: admin.as(second.body.customerKey) },
    ];
    const raced = await Promise.all(Array.from({ length: 12 }, (_, i) => record(1, 'views', services[i % 2].where, services[i % 2].as)));
    expect(raced.map((reply) => reply.status).sort()).toEqual([...Array(5).fill(201), ...Array(7).fill(429)]);
    expect(raced.find((reply) => reply.status === 429)!.body.quota).toMatchObject({ name: 'app/views', scope: 'container', limit: 5 });
    expect((await total(`/containers/${tenant.containerId}/usage`, 'app/views'))['app/views'].sum).toBe(5);
    // cleared: no limit
    expect((await provider.patch(`/services/${tenant.serviceId}`, { appQuotas: null })).body.appQuotas).toBeNull();
    expect((await record(100)).status).toBe(201);
    abort.abort();
    await reading;
  });
});

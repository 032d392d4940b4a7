import { createCipheriv, createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Browser, Locator } from 'playwright-core';
import { contextPool, launchBrowser, openWithKey, screenshot } from '../support/browser';
import { Client, makeTenant } from '../support/client';
import { eventually, startRole, waitForExit } from '../support/processes';
import { sharedWith, startTestApp, TestApp } from '../support/test-app';
import { accessMetered } from '../support/usage';
import { formatBytes } from '../../src/console/web/src/format';

/** Seeded incompressible bytes (never sniffed as an image or video, so the md5-only profile is all that runs). */
function bytesFor(seed: string, size: number): Buffer {
  const cipher = createCipheriv('aes-128-ctr', createHash('md5').update(seed).digest(), Buffer.alloc(16));
  return cipher.update(Buffer.alloc(size));
}

/** The exact figure under a chart's rounded total, as a number ("1,000,001 bytes" → 1000001). */
async function exactTotal(panel: Locator, metric: string): Promise<number> {
  const text = await panel.locator(`[data-metric="${metric}"] .exact`).textContent();
  return Number((text ?? '').replace(/[^0-9.]/g, ''));
}

/** The CSV the API sends for a link: sums per metric, and each gauge's level in its last bucket. */
function readCsv(text: string): { sums: Map<string, number>; lastLevel: Map<string, number>; rows: number } {
  const [header, ...lines] = text.trim().split(/\r?\n/);
  const columns = header.split(',');
  const at = (name: string) => columns.indexOf(name);
  const sums = new Map<string, number>();
  const lastLevel = new Map<string, number>();
  for (const line of lines) {
    const cells = line.split(',');
    const metric = cells[at('metric')];
    sums.set(metric, (sums.get(metric) ?? 0) + Number(cells[at('sum')]));
    if (cells[at('level')] !== '') lastLevel.set(metric, Number(cells[at('level')]));
  }
  return { sums, lastLevel, rows: lines.length };
}

/** A chart that was drawn: its canvas has a size and painted pixels. */
async function expectDrawnChart(panel: Locator): Promise<void> {
  const canvas = panel.locator('canvas').first();
  await canvas.waitFor();
  const box = await canvas.boundingBox();
  expect(box!.width).toBeGreaterThan(100);
  expect(box!.height).toBeGreaterThan(50);
  const painted = await canvas.evaluate((element) => {
    const c = element as unknown as {
      width: number;
      height: number;
      getContext(kind: '2d'): { getImageData(x: number, y: number, w: number, h: number): { data: Uint8ClampedArray } };
    };
    const data = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    let count = 0;
    for (let i = 3; i < data.length; i += 4) if (data[i] > 0) count++;
    return count;
  });
  expect(painted).toBeGreaterThan(100);
}

describe('console: usage dashboards, management actions and the queue view (Chromium, real api and worker)', () => {
  let app: TestApp;
  let admin: Client;
  let worker: ReturnType<typeof startRole>;
  let browser: Browser;
  const contexts = contextPool(
    () => browser,
    () => app.baseUrl,
  );
  const context = contexts.open;

  beforeAll(async () => {
    app = await startTestApp();
    admin = new Client(app.api, app.adminKey);
    worker = startRole('worker', { ...sharedWith(app.config), LOG_LEVEL: 'warn' }, ['--queues', 'normal:2,priority:1']);
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await contexts.closeAll();
    await browser?.close();
    if (worker && worker.exitCode === null) {
      worker.kill('SIGTERM');
      await waitForExit(worker).catch(() => worker.kill('SIGKILL'));
    }
    await app?.close();
  });

  /** A tenant whose service runs md5 alone on ingest, so stored bytes are exactly the bytes uploaded. */
  // a service whose uploads are checked again by a real md5 job (verify: the default records the upload's own md5 as a
  // fact at commit, which no worker runs): one job per file, on the normal queue, with a run time
  const md5Tenant = async () => {
    const tenant = await makeTenant(admin);
    expect((await admin.put(`/services/${tenant.serviceId}/profile`, { ingest: { steps: [{ name: 'md5', task: 'md5', verify: true }] } })).status).toBe(200);
    return tenant;
  };
  const jobsDone = (serviceId: string, count: number) =>
    eventually(
      async () => {
        const jobs = (await admin.get(`/services/${serviceId}/jobs`)).body.items as Array<{ state: string }>;
        return jobs.length === count && jobs.every((job) => job.state === 'succeeded');
      },
      `${count} jobs succeeded`,
      60_000,
      200,
    );

  it('GET /queues: the provider sees counts per queue change as jobs are queued and run, and the worker online; others get a problem', async () => {
    const status = () =>
      admin.get('/queues').then(
        (reply) =>
          reply.body as {
            queues: Array<{ name: string; kind: string; counts: Record<string, number>; workers: number; concurrency: number }>;
            workers: Array<{ id: string; queues: Array<{ queue: string; concurrency: number }> }>;
          },
      );
    const online = await eventually(
      async () => {
        const now = await status();
        return now.workers.find((one) => one.id.endsWith(`:${worker.pid}`)) ? now : undefined;
      },
      'the worker online',
      60_000,
      200,
    );
    const me = online.workers.find((one) => one.id.endsWith(`:${worker.pid}`))!;
    expect(me.queues).toEqual([
      { queue: 'normal', concurrency: 2 },
      { queue: 'priority', concurrency: 1 },
    ]);
    expect(online.queues.map((queue) => queue.name)).toEqual(expect.arrayContaining(['normal', 'priority', 'scheduler', 'webhooks']));
    expect(online.queues.find((queue) => queue.name === 'normal')).toMatchObject({ kind: 'task', workers: 1, concurrency: 2 });

    // jobs on a device queue no worker serves wait there, counted
    const tenant = await md5Tenant();
    const customer = new Client(app.api, tenant.customerKey);
    const before = (await status()).queues.find((queue) => queue.name === 'normal')!.counts.completed;
    const file = await customer.upload(tenant.serviceId, 'one.bin', bytesFor('queue', 10_000));
    expect(file.status).toBe(201);
    await jobsDone(tenant.serviceId, 1);
    // the worker ran it: one more completed on normal
    await eventually(async () => (await status()).queues.find((queue) => queue.name === 'normal')!.counts.completed === before + 1, 'normal completed +1');
    for (let n = 0; n < 2; n++)
      expect((await admin.post('/jobs', { mfileIds: [file.body.id], task: 'sha256', queue: 'hardware.usage-test' })).status).toBe(201);
    const queued = (await status()).queues.find((queue) => queue.name === 'hardware.usage-test');
    expect(queued).toMatchObject({ kind: 'task', workers: 0, concurrency: 0, counts: { waiting: 2, active: 0, failed: 0 } });

    // the provider's alone
    for (const key of [tenant.containerKey, tenant.serviceAdminKey, tenant.customerKey]) {
      const refused = await admin.as(key).get('/queues');
      expect(refused.status).toBe(403);
      expect(refused.headers.get('content-type')).toContain('application/problem+json');
      expect(refused.body.detail).toMatch(/provider/);
    }
    expect((await new Client(app.api).get('/queues')).status).toBe(401);
  });

  it('usage dashboards show the bytes uploaded and stored, for the provider and the service, with CSV downloads that match', async () => {
    const tenant = await md5Tenant();
    const customer = new Client(app.api, tenant.customerKey);
    const sizes = [300_000, 700_001];
    const uploaded = sizes.reduce((sum, size) => sum + size, 0);
    const files = [];
    for (const [index, size] of sizes.entries()) {
      const reply = await customer.upload(tenant.serviceId, `file-${index}.bin`, bytesFor(`usage-${index}`, size));
      expect(reply.status).toBe(201);
      files.push(reply.body);
    }
    // one download: access is metered after the response
    const download = await fetch(`${app.api}/mfiles/${files[0].id}/content`, { headers: { authorization: `Bearer ${tenant.customerKey}` } });
    expect((await download.arrayBuffer()).byteLength).toBe(sizes[0]);
    expect(await accessMetered(app.dataSource, files[0].id, sizes[0])).toBe(sizes[0]);
    await jobsDone(tenant.serviceId, sizes.length);

    // the customer's view of its service
    const customerContext = await context();
    const page = await openWithKey(customerContext, tenant.customerKey);
    await page.goto(`/services/${tenant.serviceId}/usage`);
    await page.getByRole('heading', { level: 1, name: /^Usage of service t-.*-svc$/ }).waitFor();
    const stored = page.getByRole('region', { name: 'Stored' });
    const ingested = page.getByRole('region', { name: 'Ingested' });
    const accessed = page.getByRole('region', { name: 'Accessed (downloads)' });
    const jobs = page.getByRole('region', { name: 'Jobs and runtime' });
    await expectDrawnChart(stored);
    await expectDrawnChart(ingested);
    await expectDrawnChart(jobs);
    expect(await exactTotal(ingested, 'ingest')).toBe(uploaded);
    expect(await exactTotal(stored, 'disc')).toBe(uploaded);
    expect(await exactTotal(accessed, 'access')).toBe(sizes[0]);
    expect(await exactTotal(jobs, 'jobs')).toBe(sizes.length);
    expect(await exactTotal(jobs, 'jobruntime')).toBeGreaterThan(0);
    expect(await ingested.locator('[data-metric="ingest"] strong').textContent()).toBe(formatBytes(uploaded));
    // the table alternative holds the same figures: today's bucket has every byte
    await ingested.getByText('Ingested as a table').click();
    const today = new Date().toISOString().slice(0, 10);
    await expect(
      ingested
        .getByRole('row', { name: new RegExp(`^${today} `) })
        .getByRole('cell')
        .textContent(),
    ).resolves.toBe(formatBytes(uploaded));
    // quota use without limits: the numbers, no bar to fill
    const quota = page.getByRole('progressbar', { name: 'Disk' });
    expect(await quota.getAttribute('aria-valuetext')).toBe(`${formatBytes(uploaded)} used · no limit`);
    // a customer does not manage its own service
    expect(await page.getByRole('form', { name: /^Manage service/ }).count()).toBe(0);
    await screenshot(page, 'usage-service');

    // the CSV link downloads the same numbers
    const [csv] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: 'Download CSV (all metrics)' }).click()]);
    const parsed = readCsv(readFileSync((await csv.path())!, 'utf8'));
    expect(csv.suggestedFilename()).toMatch(new RegExp(`^usage-service-${tenant.serviceId}-.*\\.csv$`));
    expect(parsed.rows).toBe(5 * 30);
    expect(parsed.sums.get('ingest')).toBe(uploaded);
    expect(parsed.sums.get('access')).toBe(sizes[0]);
    expect(parsed.sums.get('jobs')).toBe(sizes.length);
    expect(parsed.lastLevel.get('disc')).toBe(uploaded);
    const [ingestCsv] = await Promise.all([page.waitForEvent('download'), ingested.getByRole('link', { name: 'Download Ingested as CSV' }).click()]);
    const ingestOnly = readCsv(readFileSync((await ingestCsv.path())!, 'utf8'));
    expect([...ingestOnly.sums.keys()]).toEqual(['ingest']);
    expect(ingestOnly.sums.get('ingest')).toBe(uploaded);

    // another range and bucket: the last 24 hours by hour, kept in the address
    await page.getByLabel('Time range').selectOption('24h');
    await page.waitForURL(/range=24h&bucket=hour/);
    await eventually(async () => (await page.locator('.usage-range').textContent())?.includes('by hour'), 'hourly buckets');
    await eventually(async () => (await exactTotal(ingested, 'ingest')) === uploaded, 'the hourly total');
    expect(await exactTotal(stored, 'disc')).toBe(uploaded);
    // twelve months by month: this month's bucket holds it all
    await page.getByLabel('Time range').selectOption('12m');
    await page.waitForURL(/range=12m&bucket=month/);
    await eventually(async () => (await page.locator('.usage-range').textContent())?.includes('by month'), 'monthly buckets');
    await eventually(async () => (await exactTotal(ingested, 'ingest')) === uploaded, 'the monthly total');
    expect(await exactTotal(stored, 'disc')).toBe(uploaded);
    await page.getByLabel('Time range').selectOption('24h');
    await page.waitForURL(/range=24h&bucket=hour/);
    // the page shows the applied range before the next pick (the address changes first)
    await eventually(async () => (await page.locator('.usage-range').textContent())?.includes('by hour'), 'hourly buckets again');
    // a custom range is checked before it is asked for
    await page.getByLabel('Time range').selectOption('custom');
    await page.getByLabel('From (UTC)').fill('2026-02-01T00:00');
    await page.getByLabel('To (UTC)').fill('2026-01-01T00:00');
    await page.getByRole('button', { name: 'Apply' }).click();
    await page.getByText('the end must be after the start').waitFor();
    expect(await page.getByLabel('To (UTC)').getAttribute('aria-invalid')).toBe('true');
    expect(page.url()).toContain('range=24h');
    // a range edited into the address that cannot be shown says so
    await page.goto(`/services/${tenant.serviceId}/usage?range=custom&bucket=day&from=2026-02-01T00:00&to=2025-02-01T00:00`);
    await page.getByRole('alert').filter({ hasText: 'This range cannot be shown: the end must be after the start' }).waitFor();
    // on a phone the dashboard fits the screen
    await page.setViewportSize({ width: 375, height: 800 });
    await page.goto(`/services/${tenant.serviceId}/usage?range=7d&bucket=day`);
    await expectDrawnChart(page.getByRole('region', { name: 'Stored' }));
    // (the header's key switch is the layout's; the dashboard itself must fit)
    expect(await page.evaluate(() => (globalThis as any).document.querySelector('main').scrollWidth)).toBeLessThanOrEqual(375);
    await screenshot(page, 'usage-service-phone');
    expect(customerContext.consoleErrors).toEqual([]);

    // the provider's view: every container and service; the totals are the API's own, and this service is among them
    const providerContext = await context();
    const provider = await openWithKey(providerContext, app.adminKey);
    await provider.goto('/usage');
    await provider.getByRole('heading', { level: 1, name: 'Usage: all containers and services' }).waitFor();
    const providerIngest = provider.getByRole('region', { name: 'Ingested' });
    await expectDrawnChart(providerIngest);
    await expectDrawnChart(provider.getByRole('region', { name: 'Stored' }));
    const csvHref = await provider.getByRole('link', { name: 'Download CSV (all metrics)' }).getAttribute('href');
    const query = new URL(csvHref!, app.baseUrl).searchParams;
    const api = (await admin.get(`/usage?metric=disc,ingest&bucket=total&from=${query.get('from')}&to=${query.get('to')}`)).body;
    const apiTotal = (metric: string) => api.series.find((one: { metric: string }) => one.metric === metric).total;
    expect(await exactTotal(providerIngest, 'ingest')).toBe(apiTotal('ingest').sum);
    expect(await exactTotal(provider.getByRole('region', { name: 'Stored' }), 'disc')).toBe(apiTotal('disc').level);
    expect(apiTotal('ingest').sum).toBeGreaterThanOrEqual(uploaded);
    // top consumers by ingest: this service with its bytes
    const consumers = provider.getByRole('table', { name: /^Top services by/ });
    await provider.getByLabel('Rank by').selectOption('ingest');
    if (await provider.getByRole('button', { name: /^Show all/ }).count()) await provider.getByRole('button', { name: /^Show all/ }).click();
    const serviceName = (await admin.get(`/services/${tenant.serviceId}`)).body.name as string;
    const row = consumers.getByRole('row', { name: new RegExp(serviceName) });
    await row.waitFor();
    expect(await row.getByRole('cell').nth(2).textContent()).toBe(formatBytes(uploaded));
    // the containers list opens to their services, with quota use
    const containerName = (await admin.get(`/containers/${tenant.containerId}`)).body.name as string;
    await provider.getByLabel('Filter containers by name').fill(containerName);
    await provider.getByRole('button', { name: `Services of ${containerName}` }).click();
    await provider
      .getByRole('table', { name: `Services of ${containerName}` })
      .getByRole('link', { name: serviceName })
      .waitFor();
    await screenshot(provider, 'usage-provider');
    expect(providerContext.consoleErrors).toEqual([]);
  });

  it('management: the provider sets a disk quota from the dashboard and the customer is refused an upload (507 shown); refusals show the problem', async () => {
    const tenant = await md5Tenant();
    const customer = new Client(app.api, tenant.customerKey);
    const first = await customer.upload(tenant.serviceId, 'first.bin', bytesFor('first', 1_000_000));
    expect(first.status).toBe(201);

    const providerContext = await context();
    const page = await openWithKey(providerContext, app.adminKey);
    await page.goto(`/services/${tenant.serviceId}/usage`);
    const form = page.getByRole('form', { name: /^Manage service/ });
    await form.waitFor();
    const diskQuota = form.getByLabel('Disk quota');
    // inline validation: nothing is sent while a field is wrong
    await diskQuota.fill('1 gigs');
    await diskQuota.blur();
    await form.getByText('unknown unit "gigs"').waitFor();
    expect(await diskQuota.getAttribute('aria-invalid')).toBe('true');
    await form.getByRole('button', { name: /^Save/ }).click();
    expect((await admin.get(`/services/${tenant.serviceId}`)).body.diskQuota).toBeNull();
    // 1 MiB: 48,576 bytes of room left
    await diskQuota.fill('1 MiB');
    await form.getByText('= 1,048,576 bytes').waitFor();
    await form.getByLabel('Access speed').fill('512 KiB/s');
    await form.getByLabel('Available until').fill('2099-12-31T23:00');
    // limits on the application's own metrics: a line that is not one says so
    const appQuotas = form.getByLabel('Monthly quotas on application metrics');
    await appQuotas.fill('pages-rendered 10000');
    await appQuotas.blur();
    await form.getByText('line 1: write one metric per line as name = limit').waitFor();
    await appQuotas.fill('pages-rendered = 10000\nviews = 500');
    await form.getByRole('button', { name: 'Save 4 changes' }).click();
    await form.getByText('Saved: diskQuota, appQuotas, accessSpeed, endsAt.').waitFor();
    expect((await admin.get(`/services/${tenant.serviceId}`)).body).toMatchObject({
      diskQuota: 1024 * 1024,
      accessSpeed: 512 * 1024,
      endsAt: '2099-12-31T23:00:00.000Z',
      appQuotas: { 'pages-rendered': 10000, views: 500 },
      suspended: false,
    });
    // the application's use of what it limits is a bar like the built-in quotas
    expect((await customer.post(`/services/${tenant.serviceId}/usage`, { items: [{ metric: 'views', value: 120, idempotencyKey: 'v1' }] })).status).toBe(201);
    await page.reload();
    const views = page.getByRole('progressbar', { name: 'app/views' });
    await eventually(async () => (await views.getAttribute('aria-valuetext')) === '120 of 500 this month (24 %)', 'the application quota bar');
    expect(await page.getByRole('progressbar', { name: 'app/pages-rendered' }).getAttribute('aria-valuetext')).toBe('0 of 10,000 this month (0 %)');
    const bar = page.getByRole('progressbar', { name: 'Disk' });
    await eventually(
      async () => (await bar.getAttribute('aria-valuetext')) === `${formatBytes(1_000_000)} of ${formatBytes(1024 * 1024)} (95 %)`,
      'the quota bar to show the new limit',
    );
    await screenshot(page, 'management');

    // the customer uploads on the service page with the file picker: refused, with the API's words
    const customerContext = await context();
    const customerPage = await openWithKey(customerContext, tenant.customerKey);
    await customerPage.locator('#file-picker').setInputFiles({ name: 'second.bin', mimeType: 'application/octet-stream', buffer: bytesFor('second', 100_000) });
    const failed = customerPage.locator('li.upload-item[data-upload-name="second.bin"][data-state="failed"]');
    await failed.waitFor({ timeout: 30_000 });
    expect(await failed.locator('.upload-error').textContent()).toMatch(/^Insufficient Storage \(507\): .*disk quota \(limit 1048576 bytes, 1000000 in use\)/);
    expect((await customer.get(`/services/${tenant.serviceId}/mfiles`)).body.items).toHaveLength(1);

    // a refusal from the API is shown as the problem it sent: the container was suspended meanwhile, so its
    // admin's change to the service is refused
    const containerContext = await context();
    const containerPage = await openWithKey(containerContext, tenant.containerKey);
    await containerPage.goto(`/services/${tenant.serviceId}/usage`);
    const containerForm = containerPage.getByRole('form', { name: /^Manage service/ });
    await containerForm.waitFor();
    expect((await admin.patch(`/containers/${tenant.containerId}`, { suspended: true })).status).toBe(200);
    await containerForm.getByLabel('Suspended (read-only: uploads, changes and jobs are refused)').check();
    await containerForm.getByRole('button', { name: 'Save 1 change' }).click();
    await containerForm.getByRole('alert').filter({ hasText: 'Forbidden (403): the container is suspended' }).waitFor();
    expect((await admin.get(`/services/${tenant.serviceId}`)).body.suspended).toBe(false);
    // the container's own limits are the provider's: no form for its admin, a form for the provider
    await containerPage.goto(`/containers/${tenant.containerId}/usage`);
    await containerPage.getByRole('table', { name: 'Services of this container and their quota use' }).waitFor();
    expect(await containerPage.getByRole('form', { name: /^Manage container/ }).count()).toBe(0);
    await page.goto(`/containers/${tenant.containerId}/usage`);
    const containerLimits = page.getByRole('form', { name: /^Manage container/ });
    expect(await containerLimits.getByLabel('Suspended (every service inside is read-only)').isChecked()).toBe(true);
    await containerLimits.getByLabel('Suspended (every service inside is read-only)').uncheck();
    await containerLimits.getByLabel('Monthly ingest quota').fill('10 GB');
    await containerLimits.getByRole('button', { name: 'Save 2 changes' }).click();
    await containerLimits.getByText('Saved: ingestQuota, suspended.').waitFor();
    expect((await admin.get(`/containers/${tenant.containerId}`)).body).toMatchObject({ suspended: false, ingestQuota: 10_000_000_000 });
    for (const ctx of [providerContext, customerContext, containerContext])
      expect(ctx.consoleErrors.filter((text) => !/status of (403|507)/.test(text))).toEqual([]);
  });

  it('the queue view shows the worker online and the queues, live', async () => {
    const ctx = await context();
    const page = await openWithKey(ctx, app.adminKey);
    await page.getByRole('link', { name: 'Queues' }).click();
    await page.waitForURL('**/queues');
    await page.getByRole('heading', { name: 'Queues and workers', level: 1 }).waitFor();
    const workerRow = page.locator(`tr[data-worker$=":${worker.pid}"]`);
    await workerRow.waitFor();
    expect(await workerRow.getByRole('listitem').allTextContents()).toEqual(['normal (2)', 'priority (1)']);
    await page.locator('tr[data-queue="normal"]').waitFor();
    expect(await page.locator('tr[data-queue="normal"] td[data-count="workers"]').textContent()).toMatch(/^1/);
    // the device queue of the first test has work and no worker: called out
    expect(await page.locator('tr[data-queue="hardware.usage-test"] td[data-count="waiting"]').textContent()).toBe('2');
    await page.getByText('hardware.usage-test: jobs are waiting but no worker online serves this queue').waitFor();

    // live: a new job on that queue shows without a reload
    const tenant = await md5Tenant();
    const file = await new Client(app.api, tenant.customerKey).upload(tenant.serviceId, 'live.bin', bytesFor('live', 1000));
    expect((await admin.post('/jobs', { mfileIds: [file.body.id], task: 'sha256', queue: 'hardware.usage-test' })).status).toBe(201);
    await eventually(
      async () => (await page.locator('tr[data-queue="hardware.usage-test"] td[data-count="waiting"]').textContent()) === '3',
      'the new job counted',
      30_000,
      200,
    );
    await screenshot(page, 'queues');
    // paused, it stops asking
    await page.getByRole('button', { name: 'Pause live updates' }).click();
    expect(await page.getByRole('button', { name: 'Resume live updates' }).getAttribute('aria-pressed')).toBe('true');
    expect((await admin.post('/jobs', { mfileIds: [file.body.id], task: 'sha256', queue: 'hardware.usage-test' })).status).toBe(201);
    await page.waitForTimeout(3000);
    expect(await page.locator('tr[data-queue="hardware.usage-test"] td[data-count="waiting"]').textContent()).toBe('3');
    await page.getByRole('button', { name: 'Resume live updates' }).click();
    await eventually(
      async () => (await page.locator('tr[data-queue="hardware.usage-test"] td[data-count="waiting"]').textContent()) === '4',
      'counts again after resuming',
      30_000,
      200,
    );

    // another key gets the API's refusal, not an empty page
    const customer = await openWithKey(await context(), tenant.customerKey);
    await customer.goto('/queues');
    await customer.getByRole('alert').filter({ hasText: 'Forbidden (403)' }).waitFor();
    expect(ctx.consoleErrors).toEqual([]);
  });
});

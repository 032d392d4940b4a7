import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import sharp from 'sharp';
import { launchBrowser, newContext, openWithKey, screenshot } from '../support/browser';
import { Client, makeTenant } from '../support/client';
import { run, testClip } from '../support/media';
import { eventually, startRole } from '../support/processes';
import { sharedWith, startTestApp, TestApp } from '../support/test-app';

const FINAL = ['succeeded', 'failed', 'cancelled', 'skipped'];
const LONG = 90_000;

/** The jobs table of an Mfile page, as a person sees it: task and state of each row. */
async function jobRows(page: Page): Promise<Array<{ task: string; state: string; id: string }>> {
  return page.$$eval('table.jobs-table tbody tr', (rows) =>
    rows.map((row) => ({ task: row.getAttribute('data-task') ?? '', state: row.getAttribute('data-state') ?? '', id: row.getAttribute('data-job-id') ?? '' })),
  );
}

/** Waits until the jobs table holds `count` rows, every one in a final state. */
async function jobsAllFinal(page: Page, count: number): Promise<void> {
  await page.waitForFunction(
    ({ final, count }) => {
      const rows = [...document.querySelectorAll('table.jobs-table tbody tr')];
      return rows.length === count && rows.every((row) => final.includes(row.getAttribute('data-state') ?? ''));
    },
    { final: FINAL, count },
    { timeout: LONG },
  );
}

const picture = (width: number, height: number, colour: { r: number; g: number; b: number }) =>
  sharp({ create: { width, height, channels: 3, background: colour } })
    .composite([
      {
        input: { create: { width: Math.round(width / 2), height: Math.round(height / 2), channels: 3, background: { r: 255, g: 255, b: 255 } } },
        left: 4,
        top: 4,
      },
    ])
    .png()
    .toBuffer();

/**
 * The Mfile page and the job page in Chromium, against the real api and a real worker: live job states over SSE,
 * the video proxy playing with its poster, previews, the run-a-task form generated from the registry, replace,
 * rename and delete, and what a read-only key does not see.
 */
describe('console: the Mfile page and jobs (Chromium, real api and worker)', () => {
  let app: TestApp;
  let admin: Client;
  let browser: Browser;
  let context: BrowserContext & { consoleErrors: string[] };
  let page: Page;
  let worker: ReturnType<typeof startRole> | undefined;
  let redis: Redis;
  let tenant: Awaited<ReturnType<typeof makeTenant>>;
  let owner: Client;
  let video: { id: string; sha256: string };
  const scratch = mkdtempSync(join(tmpdir(), 'mserve-console-mfile-'));

  beforeAll(async () => {
    app = await startTestApp();
    admin = new Client(app.api, app.adminKey);
    redis = new Redis(process.env.REDIS_URL!, { lazyConnect: true });
    await redis.connect();
    tenant = await makeTenant(admin);
    owner = admin.as(tenant.serviceAdminKey);
    browser = await launchBrowser();
    context = await newContext(browser, app.baseUrl);
    page = await openWithKey(context, tenant.serviceAdminKey);
  });
  afterAll(async () => {
    if (worker && worker.exitCode === null) worker.kill('SIGKILL');
    await browser?.close();
    redis?.disconnect();
    await app?.close();
    rmSync(scratch, { recursive: true, force: true });
  });

  /** The first test starts the worker itself, after its page opened; a test run alone starts it here. */
  const ensureWorker = async () => {
    if (worker) return;
    worker = startRole('worker', { ...sharedWith(app.config) }, ['--queues', 'normal:3']);
    await eventually(async () => (await redis.keys(`${app.config.queuePrefix}:workers:*:${worker!.pid}`)).length === 1, 'the worker heartbeat');
  };

  it('follows a fresh video’s ingest jobs live to the end, then plays its proxy with the poster', async () => {
    const clipPath = join(scratch, 'clip.mp4');
    await testClip(clipPath, 2, '320x240');
    const uploaded = await owner.upload(tenant.serviceId, 'clip.mp4', new Uint8Array(readFileSync(clipPath)));
    expect(uploaded.status).toBe(201);
    video = { id: uploaded.body.id, sha256: uploaded.body.sha256 };

    // no worker yet: the page opens on jobs that cannot have ended
    await page.goto(`/mfiles/${video.id}`);
    await page.getByRole('heading', { level: 1, name: 'clip.mp4' }).waitFor();
    // the steps a video takes (the image steps are left out when the run is made); mime, md5 and the backup of this
    // small file are facts of the upload
    await page.waitForFunction(() => document.querySelectorAll('table.jobs-table tbody tr').length >= 6);
    const before = await jobRows(page);
    const facts = ['mime', 'md5', 'backup'];
    expect(before.map((row) => row.task).sort()).toEqual(['backup', 'md5', 'mime', 'video-metadata', 'video-poster', 'video-proxy']);
    expect(before.filter((row) => facts.includes(row.task)).every((row) => row.state === 'succeeded')).toBe(true);
    expect(before.filter((row) => !facts.includes(row.task)).every((row) => ['queued', 'waiting'].includes(row.state))).toBe(true);
    await expect(page.locator('.preview-note').first().textContent()).resolves.toMatch(/streaming copy is being made|cannot play/);
    // a mark in the page's memory: it must survive to the end (no reload, no navigation)
    await page.evaluate(() => ((window as unknown as { __sameDocument: boolean }).__sameDocument = true));

    await ensureWorker();

    await jobsAllFinal(page, 6);
    expect(await page.evaluate(() => (window as unknown as { __sameDocument?: boolean }).__sameDocument)).toBe(true);
    const after = Object.fromEntries((await jobRows(page)).map((row) => [row.task, row.state]));
    expect(after).toEqual({
      mime: 'succeeded',
      md5: 'succeeded',
      'video-metadata': 'succeeded',
      'video-poster': 'succeeded',
      'video-proxy': 'succeeded',
      backup: 'succeeded',
    });
    // the page agrees with the api
    const listed = await owner.get(`/mfiles/${video.id}/jobs`);
    for (const job of listed.body.items) expect(after[job.task]).toBe(job.state);

    // the player appears without a reload: the proxy output as its source, the video-poster output as its poster
    const file = (await owner.get(`/mfiles/${video.id}`)).body;
    const { proxy, poster } = file.metadata.renditions;
    const player = page.locator('video.preview-video');
    await player.waitFor({ timeout: LONG });
    expect(await player.getAttribute('src')).toContain(`/api/v1/joboutputs/${proxy.jobOutputId}/content`);
    expect(await player.getAttribute('poster')).toContain(`/api/v1/joboutputs/${poster.jobOutputId}/content`);
    const posterSize = await page.evaluate(
      async (url) => {
        const image = new Image();
        image.src = url;
        await image.decode();
        return { width: image.naturalWidth, height: image.naturalHeight };
      },
      (await player.getAttribute('poster'))!,
    );
    expect(posterSize).toEqual({ width: poster.width, height: poster.height });
    await page.evaluate(async () => {
      const element = document.querySelector<HTMLVideoElement>('video.preview-video')!;
      element.muted = true;
      await element.play();
    });
    await page.waitForFunction(
      () => {
        const element = document.querySelector<HTMLVideoElement>('video.preview-video')!;
        return element.currentTime > 0 && element.readyState >= 2;
      },
      undefined,
      { timeout: LONG },
    );
    await page.evaluate(() => document.querySelector<HTMLVideoElement>('video.preview-video')!.pause());

    // details from the video-metadata task, read again when it ended
    await expect(page.locator('dl.facts').first().textContent()).resolves.toContain('320 × 240');
    await expect(page.locator('[data-fact="sha256"]').textContent()).resolves.toBe(video.sha256);

    // outputs, each downloadable with the session (the key id rides in ?as=)
    const outputs = page.locator('table.outputs-table tbody tr');
    await eventually(async () => (await outputs.count()) === 2, 'two outputs listed', LONG);
    const names = await page.locator('table.outputs-table .output-name').allTextContents();
    expect(names.sort()).toEqual(['clip.poster.jpg', 'clip.proxy.mp4']);
    const href = await page.getByRole('link', { name: 'Download clip.proxy.mp4' }).getAttribute('href');
    const download = await page.request.get(href!);
    expect(download.status()).toBe(200);
    expect((await download.body()).length).toBe(proxy.size);
    expect(context.consoleErrors).toEqual([]);
    await screenshot(page, 'mfile-video');
  });

  it('runs a task from the form made from the registry: checks the options first, then shows the job to the end', async () => {
    await page.goto(`/mfiles/${video.id}`);
    const form = page.getByRole('form', { name: 'Run a task' });
    await form.waitFor();
    const task = form.getByLabel('Task', { exact: true });
    // the video's own tasks come first, each with its options as labelled inputs
    await task.selectOption('video-poster');
    const at = form.getByLabel('At', { exact: true });
    expect(await at.inputValue()).toBe('10');
    expect(await form.getByLabel('Width', { exact: true }).inputValue()).toBe('420');
    await at.fill('150');
    const jobsBefore = (await owner.get(`/mfiles/${video.id}/jobs`)).body.items.length;
    await form.getByRole('button', { name: 'Run task' }).click();
    await expect(form.locator('.field-error').first().textContent()).resolves.toBe('At must be between 0 and 100');
    expect(await at.getAttribute('aria-invalid')).toBe('true');
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('run-task-at');
    expect((await owner.get(`/mfiles/${video.id}/jobs`)).body.items.length).toBe(jobsBefore); // nothing was sent
    await at.fill('50');
    expect(await form.locator('.field-error').count()).toBe(0); // cleared as it is typed

    // a checksum: no options, runs and is followed live
    await task.selectOption('sha256');
    await expect(form.textContent()).resolves.toContain('This task has no options.');
    await form.getByRole('button', { name: 'Run task' }).click();
    const row = page.locator('table.jobs-table tr[data-task="sha256"]');
    await row.waitFor();
    await page.waitForSelector('table.jobs-table tr[data-task="sha256"][data-state="succeeded"]', { timeout: LONG });
    const created = (await owner.get(`/mfiles/${video.id}/jobs?task=sha256`)).body.items;
    expect(created).toHaveLength(1);
    expect(created[0]).toMatchObject({ trigger: 'manual', state: 'succeeded', result: { sha256: video.sha256, matchesRecorded: true } });

    // the job page: state, result described by the registry, timings
    await row.getByRole('link', { name: 'sha256' }).click();
    await page.waitForURL(`**/jobs/${created[0].id}`);
    await page.getByRole('heading', { level: 1, name: 'sha256 job' }).waitFor();
    await expect(page.locator('.job-state').first().textContent()).resolves.toBe('succeeded');
    const result = await page.locator('table.result-table').textContent();
    expect(result).toContain(video.sha256);
    expect(result).toContain('whether it equals the SHA-256 recorded at ingest');
    expect(await page.locator('[data-fact="ran"]').textContent()).toMatch(/s$/);
  });

  it('shows a job page with its outputs, its pipeline run, and cancels a queued job live', async () => {
    const proxyJob = (await owner.get(`/mfiles/${video.id}/jobs?task=video-proxy`)).body.items[0];
    await page.goto(`/jobs/${proxyJob.id}`);
    await page.getByRole('heading', { level: 1, name: 'video-proxy job' }).waitFor();
    await page.locator('table.outputs-table .output-name', { hasText: 'clip.proxy.mp4' }).waitFor();
    const steps = page.locator('table.jobs-table tbody tr');
    await eventually(async () => (await steps.count()) === 6, 'the six steps of the ingest run');
    await expect(page.getByRole('link', { name: 'clip.mp4' }).first().getAttribute('href')).resolves.toBe(`/mfiles/${video.id}`);
    await expect(page.locator('.job-page').textContent()).resolves.toContain('height = 480');
    await screenshot(page, 'job');

    // an output kept as a file of its own: linked both ways
    await page.getByRole('button', { name: 'Keep clip.proxy.mp4 as a file of its own' }).click();
    await page.getByRole('link', { name: 'Open as file' }).click();
    await page.getByRole('heading', { level: 1, name: 'clip.proxy.mp4' }).waitFor();
    const madeBy = page.locator('[data-fact="made-by"]');
    await madeBy.getByRole('link', { name: 'video-proxy job' }).waitFor();
    expect(await madeBy.getByRole('link', { name: 'its source file' }).getAttribute('href')).toBe(`/mfiles/${video.id}`);
    const promoted = (await owner.get(`/services/${tenant.serviceId}/mfiles?name=clip.proxy`)).body.items;
    expect(promoted).toHaveLength(1);
    expect(page.url()).toContain(`/mfiles/${promoted[0].id}`);
    expect(promoted[0].metadata.promotedFrom).toMatchObject({ jobId: proxyJob.id });

    // a job on a queue no worker serves stays queued until cancelled through the page
    const stuck = await owner.post('/jobs', { mfileIds: [video.id], task: 'md5', queue: 'hardware.nobody' });
    expect(stuck.status).toBe(201);
    await page.goto(`/jobs/${stuck.body.id}`);
    await page.getByRole('heading', { level: 1, name: 'md5 job' }).waitFor();
    await expect(page.locator('.job-state').first().textContent()).resolves.toBe('queued');
    await page.getByRole('button', { name: 'Cancel job' }).click();
    const dialog = page.getByRole('dialog', { name: 'Cancel the md5 job?' });
    await dialog.waitFor();
    await dialog.getByRole('button', { name: 'Cancel job' }).click();
    await page.waitForSelector('.job-state[data-state="cancelled"]', { timeout: LONG });
    expect((await owner.get(`/jobs/${stuck.body.id}`)).body.state).toBe('cancelled');
    // a finished job can be deleted (with its outputs); the page goes back to the file
    await page.getByRole('button', { name: 'Delete job' }).click();
    await page.getByRole('dialog', { name: 'Delete the md5 job?' }).getByRole('button', { name: 'Delete job' }).click();
    await page.waitForURL(`**/mfiles/${video.id}`);
    expect((await owner.get(`/jobs/${stuck.body.id}`)).status).toBe(404);
  });

  it('previews an image and a text, replaces content with progress, renames, and deletes with confirmation', async () => {
    await ensureWorker();
    const folder = await owner.post(`/mfolders/${tenant.rootFolderId}/mfolders`, { name: 'Pictures' });
    expect(folder.status).toBe(201);
    const png = await picture(640, 480, { r: 30, g: 120, b: 200 });
    const image = await owner.upload(tenant.serviceId, 'photo.png', new Uint8Array(png), `?folderId=${folder.body.id}`);
    expect(image.status).toBe(201);
    await page.goto(`/mfiles/${image.body.id}`);
    // breadcrumbs: the service, then the folder
    const trail = page.getByRole('navigation', { name: 'Breadcrumb' });
    await trail.getByRole('link', { name: 'Pictures' }).waitFor();
    expect(await trail.getByRole('link', { name: 'Pictures' }).getAttribute('href')).toBe(`/services/${tenant.serviceId}/folders/${folder.body.id}`);
    const preview = page.locator('img.preview-image');
    await page.waitForFunction(() => (document.querySelector<HTMLImageElement>('img.preview-image')?.naturalWidth ?? 0) > 0, undefined, { timeout: LONG });
    expect(await preview.evaluate((element: HTMLImageElement) => [element.naturalWidth, element.naturalHeight])).toEqual([640, 480]);
    // the image tasks run live; their metadata and thumbnail/poster outputs appear
    await jobsAllFinal(page, 6);
    await page.locator('dl.facts', { hasText: '640 × 480 px' }).waitFor({ timeout: LONG });
    await eventually(async () => (await page.locator('table.outputs-table tbody tr').count()) === 2, 'thumbnail and poster outputs', LONG);
    await screenshot(page, 'mfile-image');

    // at phone width nothing of the page sticks out sideways
    await page.setViewportSize({ width: 375, height: 800 });
    // (the page's own content; wide tables scroll inside their .table-wrap)
    expect(await page.evaluate(() => document.querySelector('main')!.scrollWidth)).toBeLessThanOrEqual(375);
    await page.setViewportSize({ width: 1280, height: 860 });

    // replace: the new bytes go up with a progress bar, the page shows the new content and the update jobs
    const replacement = await picture(320, 200, { r: 200, g: 40, b: 40 });
    await page.getByRole('button', { name: 'Replace content' }).click();
    await page.evaluate(() => {
      const seen = { progress: false };
      (window as unknown as { __replace: typeof seen }).__replace = seen;
      new MutationObserver(() => {
        if (document.querySelector('.replace-progress progress')) seen.progress = true;
      }).observe(document.body, { subtree: true, childList: true });
    });
    await page.getByLabel('New content').setInputFiles({ name: 'other.png', mimeType: 'image/png', buffer: replacement });
    await page.getByRole('button', { name: 'Upload and replace' }).click();
    await page.getByText('The content was replaced.').waitFor();
    expect(await page.evaluate(() => (window as unknown as { __replace: { progress: boolean } }).__replace.progress)).toBe(true);
    const replaced = (await owner.get(`/mfiles/${image.body.id}`)).body;
    expect(replaced).toMatchObject({ name: 'photo.png', size: replacement.length });
    await expect(page.locator('[data-fact="sha256"]').textContent()).resolves.toBe(replaced.sha256);
    await page.waitForFunction((sha) => document.querySelector<HTMLImageElement>('img.preview-image')?.src.includes(`v=${sha.slice(0, 16)}`), replaced.sha256);
    await page.waitForFunction(() => (document.querySelector<HTMLImageElement>('img.preview-image')?.naturalWidth ?? 0) === 320, undefined, { timeout: LONG });
    await jobsAllFinal(page, 12);
    const triggers = (await owner.get(`/mfiles/${image.body.id}/jobs?trigger=update`)).body.items;
    expect(triggers.map((job: { task: string }) => job.task).sort()).toEqual(['backup', 'image-metadata', 'md5', 'mime', 'poster', 'thumbnail']);

    // rename
    await page.getByRole('button', { name: 'Rename' }).click();
    await page.getByLabel('New name').fill('sunset.png');
    await page.getByRole('button', { name: 'Save name' }).click();
    await page.getByRole('heading', { level: 1, name: 'sunset.png' }).waitFor();
    expect((await owner.get(`/mfiles/${image.body.id}`)).body.name).toBe('sunset.png');

    // delete: asked first (cancel keeps it), then the file goes and the page lands in its folder
    await page.getByRole('button', { name: 'Delete' }).click();
    const dialog = page.getByRole('dialog', { name: 'Delete “sunset.png”?' });
    await dialog.waitFor();
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await dialog.waitFor({ state: 'hidden' });
    expect((await owner.get(`/mfiles/${image.body.id}`)).status).toBe(200);
    await page.getByRole('button', { name: 'Delete' }).click();
    await dialog.getByRole('button', { name: 'Delete file' }).click();
    await page.waitForURL(`**/services/${tenant.serviceId}/folders/${folder.body.id}`);
    expect((await owner.get(`/mfiles/${image.body.id}`)).status).toBe(404);

    // a text shows its first 64 KiB, read with one Range request
    const text = Buffer.from('0123456789abcdef\n'.repeat(6000));
    const notes = await owner.upload(tenant.serviceId, 'notes.txt', new Uint8Array(text));
    await page.goto(`/mfiles/${notes.body.id}`);
    const pre = page.locator('pre.preview-text');
    await pre.waitFor();
    expect(await pre.textContent()).toBe(text.subarray(0, 64 * 1024).toString());
    await expect(page.locator('.mfile-preview figcaption').textContent()).resolves.toContain('The first 64.0 KiB of 99.6 KiB');
    // a task that does not take the file's type fails, and the page says why, in the row and on the job page
    const form = page.getByRole('form', { name: 'Run a task' });
    await form.getByLabel('Task', { exact: true }).selectOption('video-metadata');
    await form.getByRole('button', { name: 'Run task' }).click();
    const failedRow = page.locator('table.jobs-table tr[data-task="video-metadata"][data-state="failed"]');
    await failedRow.waitFor({ timeout: LONG });
    expect(await failedRow.locator('.job-error').textContent()).toBe('video-metadata accepts video/*, audio/*; "notes.txt" is text/plain');
    await failedRow.getByRole('link', { name: 'video-metadata' }).click();
    await page.getByRole('heading', { level: 1, name: 'video-metadata job' }).waitFor();
    await expect(page.getByRole('alert').textContent()).resolves.toBe('Failed: video-metadata accepts video/*, audio/*; "notes.txt" is text/plain');
    await page.getByRole('link', { name: 'notes.txt' }).first().click();
    await page.getByRole('heading', { level: 1, name: 'notes.txt' }).waitFor();

    // a root-folder file goes back to the service page when deleted
    await page.getByRole('button', { name: 'Delete' }).click();
    await page.getByRole('dialog', { name: 'Delete “notes.txt”?' }).getByRole('button', { name: 'Delete file' }).click();
    await page.waitForURL(`**/services/${tenant.serviceId}`);

    // audio plays in a player of its own
    const tonePath = join(scratch, 'tone.m4a');
    await run('ffmpeg', ['-v', 'error', '-y', '-f', 'lavfi', '-i', 'sine=frequency=440:duration=2', '-c:a', 'aac', tonePath]);
    const tone = await owner.upload(tenant.serviceId, 'tone.m4a', new Uint8Array(readFileSync(tonePath)));
    await page.goto(`/mfiles/${tone.body.id}`);
    await page.locator('.mfile-preview audio').waitFor();
    await page.evaluate(() => document.querySelector<HTMLAudioElement>('.mfile-preview audio')!.play());
    await page.waitForFunction(() => document.querySelector<HTMLAudioElement>('.mfile-preview audio')!.currentTime > 0, undefined, { timeout: LONG });
    expect(context.consoleErrors).toEqual([]);
  });

  it('hides what a read-only key may not do', async () => {
    const derived = await owner.post('/keys', { roles: ['mfilereadonly'], resource: { type: 'mfile', id: video.id } });
    expect(derived.status).toBe(201);
    const reader = await newContext(browser, app.baseUrl);
    const readerPage = await openWithKey(reader, derived.body.key);
    await readerPage.waitForURL(`**/mfiles/${video.id}`);
    await readerPage.getByRole('heading', { level: 1, name: 'clip.mp4' }).waitFor();
    // no joboutput:read: the player takes the original (an MP4 a browser plays), not the proxy it may not read
    const player = readerPage.locator('video.preview-video');
    await player.waitFor();
    expect(await player.getAttribute('src')).toContain(`/api/v1/mfiles/${video.id}/content`);
    expect(await player.getAttribute('poster')).toBeNull();
    await readerPage.getByRole('link', { name: 'Download' }).first().waitFor();
    for (const name of ['Rename', 'Replace content', 'Delete']) expect(await readerPage.getByRole('button', { name, exact: true }).count()).toBe(0);
    expect(await readerPage.getByRole('form', { name: 'Run a task' }).count()).toBe(0);
    expect(await readerPage.getByRole('heading', { name: 'Jobs' }).count()).toBe(0);
    const content = await readerPage.request.get((await readerPage.getByRole('link', { name: 'Download' }).first().getAttribute('href'))!);
    expect(content.status()).toBe(200);
    expect(reader.consoleErrors).toEqual([]);
    await reader.close();
  });
  it("a service's jobs page: newest first with the file's name, new jobs appear and run live, filters by state", async () => {
    await ensureWorker();
    const own = await makeTenant(admin);
    const customer = admin.as(own.customerKey);
    await admin.as(own.serviceAdminKey).put(`/services/${own.serviceId}/profile`, {
      ingest: {
        steps: [
          { name: 'mime', task: 'mime' },
          { name: 'md5', task: 'md5', after: ['mime'] },
        ],
      },
    });
    const earlier = await customer.upload(own.serviceId, 'earlier.txt', Buffer.from('first file\n'));
    const ctx = await newContext(browser, app.baseUrl);
    const jobsPage = await openWithKey(ctx, own.customerKey);
    await jobsPage.getByRole('link', { name: 'Jobs', exact: true }).click();
    await jobsPage.waitForURL(`**/services/${own.serviceId}/jobs`);
    await jobsPage.getByRole('heading', { level: 1, name: /^Jobs of / }).waitFor();
    await jobsPage.locator('.live-status[data-live="live"]').waitFor();
    await jobsPage.waitForFunction(() => document.querySelectorAll('table.jobs-table tbody tr[data-state="succeeded"]').length === 2, undefined, {
      timeout: 60_000,
    });
    expect(await jobsPage.locator('table.jobs-table td.job-file a').first().textContent()).toBe('earlier.txt');

    // a file uploaded now: its jobs appear at the top and run to the end without a reload
    const later = await customer.upload(own.serviceId, 'later.txt', Buffer.from('second file\n'));
    await jobsPage.waitForFunction(() => document.querySelectorAll('table.jobs-table tbody tr[data-state="succeeded"]').length === 4, undefined, {
      timeout: 60_000,
    });
    const files = await jobsPage.locator('table.jobs-table td.job-file a').allTextContents();
    expect(files).toEqual(['later.txt', 'later.txt', 'earlier.txt', 'earlier.txt']);
    expect(await jobsPage.locator('table.jobs-table td.job-file a').first().getAttribute('href')).toBe(`/mfiles/${later.body.id}`);
    await screenshot(jobsPage, 'service-jobs');

    // filtered to failures: none yet; a job that fails shows up there live
    await jobsPage.getByLabel('State').selectOption('failed');
    await jobsPage.getByText('No job matches these filters.').waitFor();
    const failing = await customer.post('/jobs', { mfileIds: [earlier.body.id], task: 'transcode', options: { preset: 'h264-480p' } });
    expect(failing.status).toBe(201);
    const row = jobsPage.locator(`table.jobs-table tr[data-job-id="${failing.body.id}"][data-state="failed"]`);
    await row.waitFor({ timeout: 60_000 });
    expect(await row.locator('.job-error').textContent()).toContain('transcode accepts video/*, audio/*');
    expect(await jobsPage.locator('table.jobs-table tbody tr').count()).toBe(1);
    await jobsPage.getByRole('button', { name: 'Clear the filters' }).click();
    await jobsPage.waitForFunction(() => document.querySelectorAll('table.jobs-table tbody tr').length === 5);
    expect(ctx.consoleErrors).toEqual([]);
    await ctx.close();
  });
});

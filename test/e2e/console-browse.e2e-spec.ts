import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import sharp from 'sharp';
import { contextPool, launchBrowser, openWithKey, screenshot } from '../support/browser';
import { Client, makeTenant } from '../support/client';
import { eventually, startRole } from '../support/processes';
import { sharedWith, startTestApp, TestApp } from '../support/test-app';

interface DropFile {
  name: string;
  type: string;
  bytes: Buffer;
}

/**
 * Drops files on the folder view the way a person's drag from the desktop arrives: a DataTransfer holding Files,
 * with dragenter, dragover and drop on the drop zone.
 */
async function dropFiles(page: Page, files: DropFile[]): Promise<void> {
  const payload = files.map((file) => ({ name: file.name, type: file.type, base64: file.bytes.toString('base64') }));
  const dataTransfer = await page.evaluateHandle((list) => {
    const g = globalThis as any;
    const transfer = new g.DataTransfer();
    for (const file of list) {
      const binary = atob(file.base64);
      const bytes = new Uint8Array(binary.length);
      for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
      transfer.items.add(new g.File([bytes], file.name, { type: file.type }));
    }
    return transfer;
  }, payload);
  const zone = '[data-testid=dropzone]';
  await page.dispatchEvent(zone, 'dragenter', { dataTransfer });
  await page.dispatchEvent(zone, 'dragover', { dataTransfer });
  await page.dispatchEvent(zone, 'drop', { dataTransfer });
}

/** The upload rate of the page's network, so progress can be seen between 0 and 100 (-1: no limit). */
async function throttleUploads(page: Page, bytesPerSecond: number): Promise<void> {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Network.enable');
  await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: bytesPerSecond });
}

const progressOf = (page: Page, name: string) => page.locator(`progress[aria-label="Upload of ${name}"]`);
const uploadRow = (page: Page, name: string, state?: string) =>
  page.locator(`li.upload-item[data-upload-name="${name}"]${state ? `[data-state="${state}"]` : ''}`);

async function picture(width: number, height: number, format: 'png' | 'jpeg', shade: number): Promise<Buffer> {
  const image = sharp({ create: { width, height, channels: 3, background: { r: shade, g: 140, b: 255 - shade } } });
  return format === 'png' ? image.png().toBuffer() : image.jpeg({ quality: 85 }).toBuffer();
}

describe('console: browsing and uploading (Chromium, real api and worker)', () => {
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
    worker = startRole('worker', { ...sharedWith(app.config), LOG_LEVEL: 'warn' }, ['--queues', 'normal:4,priority:1']);
    browser = await launchBrowser();
  });
  // each test's pages go with it: no stream or upload of one test holds connections in the next
  afterEach(async () => {
    await contexts.closeAll();
  });
  afterAll(async () => {
    await browser?.close();
    if (worker && worker.exitCode === null) worker.kill('SIGKILL');
    await app?.close();
  });

  it('a provider finds containers by name, creates a container and a service, and is shown each new key once', async () => {
    const stamp = Date.now().toString(36);
    for (const name of [`alpha-${stamp}`, `beta-${stamp}`]) expect((await admin.post('/containers', { name })).status).toBe(201);
    const ctx = await context();
    const page = await openWithKey(ctx, app.adminKey);
    expect(new URL(page.url()).pathname).toBe('/containers');
    await page.getByRole('heading', { name: 'Containers', level: 1 }).waitFor();

    // search by name
    await page.getByLabel('Search by name').fill(`beta-${stamp}`);
    await page.getByRole('link', { name: `beta-${stamp}`, exact: true }).waitFor();
    await eventually(async () => (await page.getByRole('link', { name: `alpha-${stamp}`, exact: true }).count()) === 0, 'the search to hide alpha');

    // create a container: its containeradmin key is shown once and works
    const name = `gallery-${stamp}`;
    await page.getByLabel('Name', { exact: true }).fill(name);
    await page.getByLabel('Description (optional)').fill('Photos of the summer');
    await page.getByRole('button', { name: 'Create container' }).click();
    const secret = page.getByLabel('Containeradmin key');
    await secret.waitFor();
    const containerKey = await secret.inputValue();
    expect(containerKey.length).toBeGreaterThan(30);
    const listed = await admin.get(`/containers?name=${name}`);
    expect(listed.body.items).toHaveLength(1);
    const containerId = listed.body.items[0].id as string;
    const asContainer = await new Client(app.api, containerKey).get(`/containers/${containerId}`);
    expect(asContainer.status).toBe(200);
    expect(asContainer.body).toMatchObject({ name, description: 'Photos of the summer' });
    await page.getByLabel('Search by name').fill('');
    await page.getByRole('link', { name, exact: true }).waitFor();
    await screenshot(page, 'containers');
    await page.getByRole('button', { name: 'I have saved it' }).click();
    expect(await page.getByLabel('Containeradmin key').count()).toBe(0);

    // its page: details, then a service with its serviceadmin and servicecustomer keys
    await page.getByRole('link', { name, exact: true }).click();
    await page.waitForURL(`**/containers/${containerId}`);
    await page.getByRole('heading', { name, level: 1 }).waitFor();
    await page.getByText('Photos of the summer').first().waitFor();
    expect(await page.locator('main .page-title').getByRole('link', { name: 'Usage' }).getAttribute('href')).toBe(`/containers/${containerId}/usage`);
    await page.getByLabel('Service name').fill('customer-one');
    await page.getByRole('button', { name: 'Create service' }).click();
    const adminSecret = await page.getByLabel('Serviceadmin key').inputValue();
    const customerSecret = await page.getByLabel('Servicecustomer key').inputValue();
    const services = await admin.get(`/containers/${containerId}/services`);
    expect(services.body.items.map((service: { name: string }) => service.name)).toEqual(['customer-one']);
    const serviceId = services.body.items[0].id as string;
    for (const key of [adminSecret, customerSecret]) expect((await new Client(app.api, key).get(`/services/${serviceId}`)).status).toBe(200);
    // the customer key cannot change the service; the serviceadmin key can
    expect((await new Client(app.api, customerSecret).patch(`/services/${serviceId}`, { description: 'x' })).status).toBe(403);
    expect((await new Client(app.api, adminSecret).patch(`/services/${serviceId}`, { description: 'first customer' })).status).toBe(200);
    const row = page.locator(`tr[data-service-id="${serviceId}"]`);
    await row.getByRole('link', { name: 'customer-one', exact: true }).waitFor();
    expect(await row.getByRole('link', { name: 'Settings of customer-one' }).getAttribute('href')).toBe(`/services/${serviceId}/settings`);
    await screenshot(page, 'container');
    expect(ctx.consoleErrors).toEqual([]);
  });

  it('drag-and-drop of three files: progress to 100 %, thumbnails appear without a reload, files stored with their sizes', async () => {
    const tenant = await makeTenant(admin);
    const customer = new Client(app.api, tenant.customerKey);
    const files: DropFile[] = [
      { name: 'sunset.png', type: 'image/png', bytes: await picture(640, 480, 'png', 200) },
      { name: 'harbour.jpg', type: 'image/jpeg', bytes: await picture(1200, 800, 'jpeg', 40) },
      { name: 'notes.bin', type: 'application/octet-stream', bytes: randomBytes(3 * 1024 * 1024) },
    ];
    const ctx = await context();
    const page = await openWithKey(ctx, tenant.customerKey);
    expect(new URL(page.url()).pathname).toBe(`/services/${tenant.serviceId}`);
    await page.getByText('No files here yet').waitFor();
    // a reload would lose this
    await page.evaluate(() => ((globalThis as any).notReloaded = true));
    // every progress value each bar shows, to see them move and end at 100
    await page.evaluate(() => {
      const g = globalThis as any;
      const seen: Record<string, number[]> = {};
      g.progressSeen = seen;
      const record = () => {
        for (const bar of Array.from(g.document.querySelectorAll('progress[aria-label^="Upload of "]')) as any[]) {
          const name = bar.getAttribute('aria-label').slice('Upload of '.length);
          const values = (seen[name] ??= []);
          if (values[values.length - 1] !== bar.value) values.push(bar.value);
        }
      };
      new g.MutationObserver(record).observe(g.document.body, { subtree: true, childList: true, attributes: true, attributeFilter: ['value'] });
    });
    await throttleUploads(page, 1024 * 1024);
    await dropFiles(page, files);

    // progress while the biggest file is on its way, then every bar at 100 % and Done
    await eventually(
      async () => {
        const value = await progressOf(page, 'notes.bin')
          .evaluate((bar) => (bar as unknown as { value: number }).value)
          .catch(() => 0);
        return value > 0 && value < 100;
      },
      'notes.bin part-way',
      60_000,
      50,
    );
    await screenshot(page, 'upload-progress');
    for (const file of files) {
      await uploadRow(page, file.name, 'done').waitFor({ timeout: 90_000 });
      expect(await progressOf(page, file.name).evaluate((bar) => (bar as unknown as { value: number }).value)).toBe(100);
      await expect(uploadRow(page, file.name).locator('.pct').textContent()).resolves.toBe('100 %');
    }
    expect(await page.locator('#upload-overall').evaluate((bar) => (bar as unknown as { value: number }).value)).toBe(100);
    await expect(page.locator('label[for=upload-overall]').textContent()).resolves.toMatch(/All uploads: 3 of 3 files/);
    const seen: Record<string, number[]> = await page.evaluate(() => (globalThis as any).progressSeen);
    expect(seen['notes.bin'].some((value) => value > 0 && value < 100)).toBe(true);
    expect(seen['notes.bin'].at(-1)).toBe(100);
    await throttleUploads(page, -1);

    // the files are stored, with the sizes sent
    const stored = await customer.get(`/mfolders/${tenant.rootFolderId}/mfiles?sort=name`);
    expect(stored.body.items.map((file: { name: string; size: number }) => [file.name, file.size])).toEqual(
      files.map((file) => [file.name, file.bytes.length]).sort((a, b) => String(a[0]).localeCompare(String(b[0]))),
    );

    // the new files are in the list at once, and the pictures' thumbnails arrive without a reload
    for (const file of files) await page.locator(`tr[data-mfile-name="${file.name}"]`).waitFor();
    for (const name of ['sunset.png', 'harbour.jpg']) {
      const thumb = page.locator(`tr[data-mfile-name="${name}"] img.thumb`);
      await thumb.waitFor({ timeout: 60_000 });
      // the poster may be shown first (it can finish before the thumbnail); the thumbnail takes its place
      const id = stored.body.items.find((file: { name: string }) => file.name === name).id;
      const thumbnailId = await eventually(
        async () => (await customer.get(`/mfiles/${id}`)).body.metadata.renditions?.thumbnail?.jobOutputId as string | undefined,
        `the thumbnail of ${name} to be made`,
        60_000,
      );
      await eventually(
        () =>
          thumb.evaluate(
            (img, wanted) =>
              (img as unknown as { src: string }).src.includes(wanted) &&
              (img as unknown as { complete: boolean }).complete &&
              (img as unknown as { naturalWidth: number }).naturalWidth > 0,
            thumbnailId,
          ),
        `the thumbnail of ${name} to load`,
        30_000,
      );
      const width = await thumb.evaluate((img) => (img as unknown as { naturalWidth: number }).naturalWidth);
      expect(width).toBeLessThanOrEqual(210);
      expect(width).toBeGreaterThan(100);
    }
    expect(await page.locator('tr[data-mfile-name="notes.bin"] img').count()).toBe(0);
    expect(await page.evaluate(() => (globalThis as any).notReloaded)).toBe(true);
    // the thumbnail is the thumbnail task's job output, over the public REST API
    const sunset = stored.body.items.find((file: { name: string }) => file.name === 'sunset.png');
    const jobs = await customer.get(`/mfiles/${sunset.id}/jobs?task=thumbnail`);
    expect(jobs.body.items[0]).toMatchObject({ state: 'succeeded' });
    const src = await page.locator('tr[data-mfile-name="sunset.png"] img.thumb').getAttribute('src');
    const outputs = await customer.get(`/jobs/${jobs.body.items[0].id}/outputs`);
    expect(src).toContain(`/api/v1/joboutputs/${outputs.body.items[0].id}/content`);

    // each file links to its page
    expect(await page.locator('tr[data-mfile-name="harbour.jpg"] td.name-col a').getAttribute('href')).toBe(
      `/mfiles/${stored.body.items.find((f: { name: string }) => f.name === 'harbour.jpg').id}`,
    );
    await screenshot(page, 'service-list');
    expect(ctx.consoleErrors).toEqual([]);
  });

  it('searches by name and type, switches grid and list (remembered), and pages a large folder with "Load more"', async () => {
    const tenant = await makeTenant(admin);
    const customer = new Client(app.api, tenant.customerKey);
    for (const [name, bytes] of [
      ['beach-1.png', await picture(300, 200, 'png', 10)],
      ['beach-2.jpg', await picture(320, 240, 'jpeg', 90)],
      ['readme.txt', Buffer.from('a text, not a picture\n')],
    ] as const) {
      expect((await customer.upload(tenant.serviceId, name, bytes)).status).toBe(201);
    }
    const many = await customer.post(`/mfolders/${tenant.rootFolderId}/mfolders`, { name: 'archive' });
    expect(many.status).toBe(201);
    const count = 57;
    for (let i = 0; i < count; i++) {
      const reply = await customer.upload(tenant.serviceId, `scan-${String(i).padStart(3, '0')}.txt`, Buffer.from(`page ${i}\n`), `?folderId=${many.body.id}`);
      expect(reply.status).toBe(201);
    }

    const ctx = await context();
    const page = await openWithKey(ctx, tenant.customerKey);
    await page.locator('tr[data-mfile-name="readme.txt"]').waitFor();
    expect(await page.locator('tr[data-mfile-name]').count()).toBe(3);
    await page.getByRole('link', { name: 'archive', exact: true }).waitFor();

    // by name (folders too)
    await page.getByLabel('Name contains').fill('beach');
    await eventually(async () => (await page.locator('tr[data-mfile-name]').count()) === 2, 'two beach files');
    expect(await page.locator('tr[data-mfile-name="readme.txt"]').count()).toBe(0);
    await page.getByText('No folder matches the search.').waitFor();
    // by type, with the name cleared
    await page.getByLabel('Name contains').fill('');
    await page.getByLabel('Type', { exact: true }).fill('text');
    await eventually(async () => (await page.locator('tr[data-mfile-name]').count()) === 1, 'the text file only');
    await page.locator('tr[data-mfile-name="readme.txt"]').waitFor();
    await page.getByLabel('Type', { exact: true }).fill('image/png');
    await page.locator('tr[data-mfile-name="beach-1.png"]').waitFor();
    await eventually(async () => (await page.locator('tr[data-mfile-name]').count()) === 1, 'the png only');
    await page.getByLabel('Type', { exact: true }).fill('not a type');
    await page.getByText('Write a type such as image').waitFor();
    await page.getByLabel('Type', { exact: true }).fill('');
    // a search over every folder of the service finds the scans inside "archive"
    await page.getByLabel('Name contains').fill('scan-05');
    await page.getByLabel('Search all folders').check();
    await eventually(async () => (await page.locator('tr[data-mfile-name^="scan-05"]').count()) === 7, 'scan-050..056 from the archive folder');
    await page.getByLabel('Search all folders').uncheck();
    await page.getByLabel('Name contains').fill('');
    await eventually(async () => (await page.locator('tr[data-mfile-name]').count()) === 3, 'the root folder again');

    // the grid, remembered across a reload, then back to the list
    // pictures uploaded elsewhere a moment ago get their thumbnails on this page as they are made, too
    await page.locator('tr[data-mfile-name="beach-2.jpg"] img.thumb').waitFor({ timeout: 60_000 });
    await page.getByRole('button', { name: 'Grid' }).click();
    expect(await page.getByRole('button', { name: 'Grid' }).getAttribute('aria-pressed')).toBe('true');
    await page.locator('ul.file-grid li[data-mfile-name="beach-1.png"]').waitFor();
    await eventually(
      () =>
        page
          .locator('ul.file-grid li[data-mfile-name="beach-1.png"] img.thumb')
          .evaluate((img) => (img as unknown as { complete: boolean }).complete && (img as unknown as { naturalWidth: number }).naturalWidth > 0),
      'grid thumbnail',
      60_000,
    );
    await screenshot(page, 'service-grid');
    await page.reload();
    await page.locator('ul.file-grid li[data-mfile-name="readme.txt"]').waitFor();
    expect(await page.locator('table.file-table').count()).toBe(0);
    await page.getByRole('button', { name: 'List' }).click();
    await page.locator('table.file-table tr[data-mfile-name="readme.txt"]').waitFor();
    expect(await page.locator('ul.file-grid').count()).toBe(0);

    // a folder with more files than a page: 50, then "Load more" for the rest
    await page.getByRole('link', { name: 'archive', exact: true }).click();
    await page.waitForURL(`**/services/${tenant.serviceId}/folders/${many.body.id}`);
    await page.getByRole('heading', { name: 'archive', level: 1 }).waitFor();
    await page.locator('tr[data-mfile-name="scan-000.txt"]').waitFor();
    expect(await page.locator('tr[data-mfile-name]').count()).toBe(50);
    expect(await page.locator('tr[data-mfile-name="scan-056.txt"]').count()).toBe(0);
    await page.getByRole('button', { name: 'Load more' }).click();
    await page.locator('tr[data-mfile-name="scan-056.txt"]').waitFor();
    expect(await page.locator('tr[data-mfile-name]').count()).toBe(count);
    expect(await page.getByRole('button', { name: 'Load more' }).count()).toBe(0);
    const names = await page.locator('tr[data-mfile-name]').evaluateAll((rows) => rows.map((row) => row.getAttribute('data-mfile-name')));
    expect(names).toEqual(Array.from({ length: count }, (_, i) => `scan-${String(i).padStart(3, '0')}.txt`));
    // breadcrumbs lead back to the service's root
    await page.getByRole('navigation', { name: 'Breadcrumbs' }).getByRole('link', { name: /-svc$/ }).click();
    await page.waitForURL(`**/services/${tenant.serviceId}`);
    expect(ctx.consoleErrors).toEqual([]);
  });

  it('folders: create, rename and delete; uploads into a subfolder land there, a picked folder keeps its tree', async () => {
    const tenant = await makeTenant(admin);
    const customer = new Client(app.api, tenant.customerKey);
    const ctx = await context({ width: 375, height: 800 });
    const page = await openWithKey(ctx, tenant.customerKey);
    await page.getByLabel('New folder').fill('drafts');
    await page.getByRole('button', { name: 'Create folder' }).click();
    await page.getByRole('link', { name: 'drafts', exact: true }).waitFor();
    await page.getByRole('button', { name: 'Rename drafts' }).click();
    await page.getByLabel('New name for drafts').fill('final');
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByRole('link', { name: 'final', exact: true }).waitFor();
    const folders = await customer.get(`/mfolders/${tenant.rootFolderId}/mfolders`);
    expect(folders.body.items.map((folder: { name: string }) => folder.name)).toEqual(['final']);
    // a name the API would refuse is caught in the form
    await page.getByLabel('New folder').fill('a/b');
    await page.getByRole('button', { name: 'Create folder' }).click();
    await page.getByText('The name cannot contain / or \\.').waitFor();
    await page.getByLabel('New folder').fill('');

    await page.getByRole('link', { name: 'final', exact: true }).click();
    await page.waitForURL(`**/folders/${folders.body.items[0].id}`);
    await page.getByRole('heading', { name: 'final', level: 1 }).waitFor();
    // the file picker works as well as dropping
    await page.locator('#file-picker').setInputFiles({ name: 'letter.txt', mimeType: 'text/plain', buffer: Buffer.from('Dear customer,\n') });
    await page.locator('tr[data-mfile-name="letter.txt"]').waitFor();
    const inside = await customer.get(`/mfolders/${folders.body.items[0].id}/mfiles`);
    expect(inside.body.items.map((file: { name: string; size: number }) => [file.name, file.size])).toEqual([['letter.txt', 15]]);
    // a whole folder picked with the folder picker: its tree is made here, each file in its own folder
    const tree = mkdtempSync(join(tmpdir(), 'browse-tree-'));
    mkdirSync(join(tree, 'photos', '2024'), { recursive: true });
    const treePng = await picture(200, 150, 'png', 60);
    writeFileSync(join(tree, 'photos', '2024', 'pier.png'), treePng);
    writeFileSync(join(tree, 'photos', 'list.txt'), 'pier\n');
    writeFileSync(join(tree, 'photos', '.DS_Store'), 'desktop bookkeeping');
    try {
      await page.locator('#folder-picker').setInputFiles(join(tree, 'photos'));
      await uploadRow(page, 'pier.png', 'done').waitFor({ timeout: 60_000 });
      await uploadRow(page, 'list.txt', 'done').waitFor({ timeout: 60_000 });
    } finally {
      rmSync(tree, { recursive: true, force: true });
    }
    await page.getByRole('link', { name: 'photos', exact: true }).waitFor();
    const photos = (await customer.get(`/mfolders/${folders.body.items[0].id}/mfolders`)).body.items;
    expect(photos.map((folder: { name: string }) => folder.name)).toEqual(['photos']);
    const year = (await customer.get(`/mfolders/${photos[0].id}/mfolders`)).body.items;
    expect(year.map((folder: { name: string }) => folder.name)).toEqual(['2024']);
    expect((await customer.get(`/mfolders/${photos[0].id}/mfiles`)).body.items.map((file: { name: string; size: number }) => [file.name, file.size])).toEqual([
      ['list.txt', 5],
    ]);
    expect((await customer.get(`/mfolders/${year[0].id}/mfiles`)).body.items.map((file: { name: string; size: number }) => [file.name, file.size])).toEqual([
      ['pier.png', treePng.length],
    ]);
    expect(await uploadRow(page, '.DS_Store').count()).toBe(0);

    // the folder view fits a phone: nothing in it is wider than the window
    const overflowing = await page.evaluate(() =>
      Array.from((globalThis as any).document.querySelectorAll('main *') as any[])
        .filter((element) => element.getBoundingClientRect().right > 375.5)
        .map((element) => `${element.tagName.toLowerCase()}.${element.className}`),
    );
    expect(overflowing).toEqual([]);

    await page.getByRole('navigation', { name: 'Breadcrumbs' }).getByRole('link', { name: /-svc$/ }).click();
    page.once('dialog', (dialog) => void dialog.accept());
    await page.getByRole('button', { name: 'Delete final' }).click();
    await eventually(async () => (await page.getByRole('link', { name: 'final', exact: true }).count()) === 0, 'the folder to go');
    expect((await customer.get(`/mfolders/${tenant.rootFolderId}/mfolders`)).body.items).toEqual([]);
    expect((await customer.get(`/services/${tenant.serviceId}/mfiles`)).body.items).toEqual([]);
    expect(ctx.consoleErrors).toEqual([]);
  });

  it('a key for one folder uploads into it with a plain POST (progress, no pause), gets the thumbnail, and sees nothing above it', async () => {
    const tenant = await makeTenant(admin);
    const customer = new Client(app.api, tenant.customerKey);
    const shared = await customer.post(`/mfolders/${tenant.rootFolderId}/mfolders`, { name: 'shared-with-agency' });
    expect((await customer.upload(tenant.serviceId, 'private.txt', Buffer.from('not for the agency\n'))).status).toBe(201);
    const derived = await customer.post('/keys', {
      actions: ['mfolder:read', 'mfolder:write', 'mfile:create', 'mfile:read', 'job:read', 'joboutput:read'],
      resource: { type: 'mfolder', id: shared.body.id },
      label: 'agency drop box',
    });
    expect(derived.status).toBe(201);
    const ctx = await context();
    const page = await openWithKey(ctx, derived.body.key);
    expect(new URL(page.url()).pathname).toBe(`/mfolders/${shared.body.id}`);
    await page.getByRole('heading', { name: 'shared-with-agency', level: 1 }).waitFor();
    expect(await page.getByRole('navigation', { name: 'Breadcrumbs' }).count()).toBe(0);
    expect(await page.getByText('private.txt').count()).toBe(0);
    expect(await page.getByLabel('Search all folders').count()).toBe(0);

    const photo = await picture(800, 600, 'jpeg', 120);
    await dropFiles(page, [{ name: 'proof.jpg', type: 'image/jpeg', bytes: photo }]);
    await uploadRow(page, 'proof.jpg', 'done').waitFor({ timeout: 60_000 });
    expect(await progressOf(page, 'proof.jpg').evaluate((bar) => (bar as unknown as { value: number }).value)).toBe(100);
    expect(await page.getByRole('button', { name: 'Pause proof.jpg' }).count()).toBe(0);
    const thumb = page.locator('tr[data-mfile-name="proof.jpg"] img.thumb');
    await thumb.waitFor({ timeout: 60_000 });
    await eventually(
      () => thumb.evaluate((img) => (img as unknown as { complete: boolean }).complete && (img as unknown as { naturalWidth: number }).naturalWidth > 0),
      'the thumbnail to load',
      30_000,
    );
    const inside = await customer.get(`/mfolders/${shared.body.id}/mfiles`);
    expect(inside.body.items.map((file: { name: string; size: number }) => [file.name, file.size])).toEqual([['proof.jpg', photo.length]]);
    expect(ctx.consoleErrors).toEqual([]);
  });

  it('pause and resume continue from the server offset; a quota refusal shows the problem detail', async () => {
    const tenant = await makeTenant(admin);
    const customer = new Client(app.api, tenant.customerKey);
    const big = randomBytes(6 * 1024 * 1024);
    const ctx = await context();
    const page = await openWithKey(ctx, tenant.customerKey);
    await page.getByText('No files here yet').waitFor();
    await throttleUploads(page, 1024 * 1024);
    await dropFiles(page, [{ name: 'film.raw', type: 'application/octet-stream', bytes: big }]);
    await eventually(
      async () =>
        (await progressOf(page, 'film.raw')
          .evaluate((bar) => (bar as unknown as { value: number }).value)
          .catch(() => 0)) >= 20,
      'a fifth of the file sent',
      60_000,
      50,
    );
    await page.getByRole('button', { name: 'Pause film.raw' }).click();
    await uploadRow(page, 'film.raw', 'paused').waitFor();
    const pausedAt = await progressOf(page, 'film.raw').evaluate((bar) => (bar as unknown as { value: number }).value);
    expect(pausedAt).toBeLessThan(100);
    // nothing is stored as a file yet: the bytes that arrived wait in the upload on the server
    expect((await customer.get(`/mfolders/${tenant.rootFolderId}/mfiles`)).body.items).toEqual([]);
    const sessions = () =>
      app.dataSource.query('SELECT "offset"::float AS "offset", completed_at FROM upload_session WHERE service_id = $1', [tenant.serviceId]);
    const [paused] = await eventually(async () => {
      const rows = await sessions();
      return rows.length === 1 && rows[0].offset > 0 ? rows : undefined;
    }, 'the partial bytes recorded on the server');
    expect(paused.offset).toBeLessThan(big.length);
    expect(paused.completed_at).toBeNull();
    await throttleUploads(page, -1);
    await page.getByRole('button', { name: 'Resume film.raw' }).click();
    await uploadRow(page, 'film.raw', 'done').waitFor({ timeout: 60_000 });
    const stored = await customer.get(`/mfolders/${tenant.rootFolderId}/mfiles`);
    expect(stored.body.items).toHaveLength(1);
    expect(stored.body.items[0].size).toBe(big.length);
    expect(stored.body.items[0].sha256).toBe(createHash('sha256').update(big).digest('hex'));
    // the same upload went on (a restart would have made a second one)
    const after = await sessions();
    expect(after).toHaveLength(1);
    expect(after[0].completed_at).not.toBeNull();

    // a disk quota smaller than the next file: the upload fails with the api's own words
    expect((await admin.patch(`/services/${tenant.serviceId}`, { diskQuota: big.length + 1000 })).status).toBe(200);
    await dropFiles(page, [{ name: 'too-big.bin', type: 'application/octet-stream', bytes: randomBytes(5000) }]);
    await uploadRow(page, 'too-big.bin', 'failed').waitFor({ timeout: 30_000 });
    const message = await uploadRow(page, 'too-big.bin').locator('.upload-error').textContent();
    expect(message).toMatch(/^Insufficient Storage \(507\): .*disk quota/);
    expect(message).not.toMatch(/tus:/);
    // cancelling it drops it from the list of work; nothing was stored
    await page.getByRole('button', { name: 'Cancel too-big.bin' }).click();
    await uploadRow(page, 'too-big.bin', 'cancelled').waitFor();
    expect((await customer.get(`/mfolders/${tenant.rootFolderId}/mfiles`)).body.items).toHaveLength(1);
    expect(ctx.consoleErrors).toEqual([]);
  });
  it('a name held by an unfinished upload from elsewhere: the console says so, and discarding that upload lets this file through', async () => {
    const tenant = await makeTenant(admin);
    const customer = new Client(app.api, tenant.customerKey);
    const bytes = randomBytes(20_000);
    // another browser started "held.bin" and went away: the server keeps the name for its upload
    const other = await customer.post(`/services/${tenant.serviceId}/uploads`, undefined, {
      'tus-resumable': '1.0.0',
      'upload-length': String(bytes.length),
      'upload-metadata': `filename ${Buffer.from('held.bin').toString('base64')}`,
    });
    expect(other.status).toBe(201);
    const otherUrl = new URL(other.headers.get('location')!, app.baseUrl).toString();
    const ctx = await context();
    const page = await openWithKey(ctx, tenant.customerKey);
    await page.getByText('No files here yet').waitFor();
    await dropFiles(page, [{ name: 'held.bin', type: 'application/octet-stream', bytes }]);
    await uploadRow(page, 'held.bin', 'failed').waitFor({ timeout: 30_000 });
    expect(await uploadRow(page, 'held.bin').locator('.upload-error').textContent()).toMatch(/^Another upload of this name into this folder is unfinished/);
    expect((await customer.request('HEAD', otherUrl, undefined, { 'tus-resumable': '1.0.0' })).status).toBe(200);
    await page.getByRole('button', { name: 'Discard the other upload of held.bin and send this one' }).click();
    await page.getByRole('dialog', { name: 'Discard the other upload of held.bin?' }).getByRole('button', { name: 'Discard it and send mine' }).click();
    await uploadRow(page, 'held.bin', 'done').waitFor({ timeout: 30_000 });
    const stored = (await customer.get(`/mfolders/${tenant.rootFolderId}/mfiles`)).body.items;
    expect(stored).toMatchObject([{ name: 'held.bin', size: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') }]);
    // the other upload went, with the bytes and the quota it held
    expect((await customer.request('HEAD', otherUrl, undefined, { 'tus-resumable': '1.0.0' })).status).toBe(404);
    expect(ctx.consoleErrors.filter((text) => !/status of 409/.test(text))).toEqual([]);
  });
});

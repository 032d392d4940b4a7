import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import sharp from 'sharp';
import { launchBrowser, newContext, screenshot } from '../support/browser';
import { Client } from '../support/client';
import { testClip } from '../support/media';
import { eventually, startRole } from '../support/processes';
import { sharedWith, startTestApp, TestApp } from '../support/test-app';

const imageLoaded = (page: Page, selector: string) =>
  page.locator(selector).evaluate((img) => (img as HTMLImageElement).complete && (img as HTMLImageElement).naturalWidth > 0);

/**
 * The definition of done, as a person does it in Chromium: log in, create a container and a service,
 * upload a folder of photos and a video, watch the thumbnails and the video proxy arrive, share a read-only link
 * and open it elsewhere, read the provider dashboard. No curl: every step is a click or a typed field. The
 * screenshots of these steps are the README's.
 */
describe('console walkthrough (Chromium, real api and worker)', () => {
  let app: TestApp;
  let browser: Browser;
  let worker: ReturnType<typeof startRole>;
  const scratch = mkdtempSync(join(tmpdir(), 'mserve-walkthrough-'));

  beforeAll(async () => {
    app = await startTestApp();
    worker = startRole('worker', { ...sharedWith(app.config) }, ['--queues', 'normal:3,priority:1']);
    browser = await launchBrowser();
    const photos = join(scratch, 'summer-photos');
    mkdirSync(photos);
    const colours = [
      { r: 230, g: 120, b: 40 },
      { r: 40, g: 120, b: 200 },
      { r: 60, g: 170, b: 90 },
      { r: 200, g: 60, b: 120 },
    ];
    for (const [index, background] of colours.entries()) {
      const photo = await sharp({ create: { width: 1600, height: 1067, channels: 3, background } })
        .composite([{ input: { create: { width: 600, height: 400, channels: 3, background: { r: 250, g: 250, b: 240 } } }, left: 200 + index * 150, top: 300 }])
        .jpeg({ quality: 85 })
        .toBuffer();
      writeFileSync(join(photos, `beach-${index + 1}.jpg`), photo);
    }
    await testClip(join(scratch, 'harbour.mp4'), 3, '640x360');
  });
  afterAll(async () => {
    if (worker && worker.exitCode === null) worker.kill('SIGTERM');
    await browser?.close();
    await app?.close();
    rmSync(scratch, { recursive: true, force: true });
  });

  it('log in, create, upload, watch the pipeline, share read-only, read the dashboard', async () => {
    const context = await newContext(browser, app.baseUrl);
    const page = await context.newPage();

    // 1. log in
    await page.goto('/');
    await page.waitForURL(/\/login$/);
    await page.getByLabel('User name').fill('admin');
    await page.getByLabel('Password', { exact: true }).fill(process.env.ADMIN_PASSWORD!);
    await screenshot(page, 'walkthrough-1-login');
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('heading', { name: /Welcome/ }).waitFor();
    await screenshot(page, 'walkthrough-2-wallet');

    // 2. a container and a service
    await page.getByRole('button', { name: 'Open' }).first().click();
    await page.waitForURL(/\/containers$/);
    await page.getByLabel('Name', { exact: true }).fill('Seaside Media');
    await page.getByLabel('Description (optional)').fill('Photo and video archive');
    await page.getByRole('button', { name: 'Create container' }).click();
    await page.getByLabel('Containeradmin key').waitFor();
    await screenshot(page, 'walkthrough-3-container-created');
    await page.getByRole('button', { name: 'I have saved it' }).click();
    await page.getByRole('link', { name: 'Seaside Media', exact: true }).first().click();
    await page.getByRole('heading', { name: 'Seaside Media', level: 1 }).waitFor();
    await page.getByLabel('Service name').fill('Summer campaign');
    await page.getByRole('button', { name: 'Create service' }).click();
    await page.getByLabel('Serviceadmin key').waitFor();
    // the service's own key goes into the wallet: the customer's view, and what a share link is derived from
    await page.getByRole('button', { name: 'Save to my wallet' }).first().click();
    await page.getByRole('button', { name: /I have saved/ }).click();
    await page.getByRole('link', { name: 'Summer campaign', exact: true }).first().click();
    await page.waitForURL(/\/services\/[0-9a-f-]+$/);
    const serviceId = new URL(page.url()).pathname.split('/')[2];

    // 3. a folder of photos and a video
    await page.locator('#folder-picker').setInputFiles(join(scratch, 'summer-photos'));
    await page.locator('#file-picker').setInputFiles(join(scratch, 'harbour.mp4'));
    await eventually(async () => /5 of 5 files/.test((await page.locator('label[for=upload-overall]').textContent()) ?? ''), 'all five uploads done', 90_000);
    await page.locator('tr[data-mfile-name="harbour.mp4"]').waitFor();
    await screenshot(page, 'walkthrough-4-uploaded');

    // 4. the thumbnails arrive without a reload, in the grid
    await page.getByRole('link', { name: 'summer-photos' }).first().click();
    await page.getByRole('button', { name: 'Grid' }).click();
    for (let index = 1; index <= 4; index++) {
      const selector = `ul.file-grid li[data-mfile-name="beach-${index}.jpg"] img.thumb`;
      await page.locator(selector).waitFor({ timeout: 90_000 });
      await eventually(() => imageLoaded(page, selector), `the thumbnail of beach-${index}.jpg`, 30_000);
    }
    await screenshot(page, 'walkthrough-5-thumbnails');

    // 5. the video proxy plays, with its poster
    await page.goto(`/services/${serviceId}`);
    await page.getByRole('link', { name: 'harbour.mp4' }).first().click();
    const video = page.locator('video');
    await video.waitFor({ timeout: 120_000 });
    await eventually(async () => /\/joboutputs\//.test((await video.getAttribute('src')) ?? ''), 'the proxy as the video source', 120_000);
    await video.evaluate((element) => (element as HTMLVideoElement).play().catch(() => undefined));
    await eventually(
      () => video.evaluate((element) => (element as HTMLVideoElement).currentTime > 0 && (element as HTMLVideoElement).readyState >= 2),
      'the proxy playing',
      60_000,
    );
    await video.evaluate((element) => (element as HTMLVideoElement).pause());
    await screenshot(page, 'walkthrough-6-video');

    // 6. a read-only share link of the service, opened by someone else: act with the service's key, derive
    const switcher = page.locator('.key-switch select');
    const optionValue = async (pattern: RegExp) => {
      const options = await switcher
        .locator('option')
        .evaluateAll((nodes) => nodes.map((node) => ({ value: (node as HTMLOptionElement).value, text: node.textContent ?? '' })));
      return options.find((option) => pattern.test(option.text))!.value;
    };
    await switcher.selectOption(await optionValue(/serviceadmin.*Summer campaign/));
    await page.waitForURL(new RegExp(`/services/${serviceId}$`));
    await page.getByRole('link', { name: 'Keys' }).click();
    await page.getByRole('button', { name: 'View only (share)' }).click();
    await page.getByLabel('Label').fill('for the press');
    await page.getByRole('button', { name: 'Create key' }).click();
    await page.getByRole('heading', { name: 'Key created: copy it now' }).waitFor();
    await screenshot(page, 'walkthrough-7-share-link');
    const link = await page.getByLabel('Share link').inputValue();
    const viewer = await newContext(browser, app.baseUrl);
    const shared = await viewer.newPage();
    await shared.goto(link);
    await shared.waitForURL((url) => !url.pathname.startsWith('/browse'));
    await shared.getByRole('link', { name: 'harbour.mp4' }).first().waitFor();
    expect(await shared.getByRole('button', { name: /delete/i }).count()).toBe(0);
    await screenshot(shared, 'walkthrough-8-shared-view');
    await viewer.close();

    // 7. the provider dashboard, with the admin key again
    await switcher.selectOption(await optionValue(/admin on provider/));
    await page.getByRole('link', { name: 'Usage' }).click();
    await page.waitForURL(/\/usage$/);
    await page.locator('canvas').first().waitFor();
    // the suite's other tenants share this database: find ours as a provider with many containers would
    await page.getByLabel('Filter containers by name').fill('Seaside Media');
    await eventually(async () => (await page.getByRole('link', { name: 'Seaside Media' }).count()) > 0, 'the container in the dashboard', 30_000);
    await screenshot(page, 'walkthrough-9-provider-dashboard');

    // what the walkthrough made is what the API says
    const admin = new Client(app.api, app.adminKey);
    const files = await admin.get(`/services/${serviceId}/mfiles?limit=50`);
    expect(files.status).toBe(200);
    expect(files.body.items.map((file: { name: string }) => file.name).sort()).toEqual([
      'beach-1.jpg',
      'beach-2.jpg',
      'beach-3.jpg',
      'beach-4.jpg',
      'harbour.mp4',
    ]);
    const press = await new Client(app.api, decodeURIComponent(link.split('/browse/')[1])).get('/me');
    expect(press.body).toMatchObject({ label: 'for the press', resource: { type: 'service', id: serviceId } });
    expect(press.body.actions).toContain('mfile:read');
    expect(press.body.actions.filter((action: string) => /:(write|delete|create|update|manage)$/.test(action))).toEqual([]);
    expect(context.consoleErrors).toEqual([]);
    await context.close();
  });
});

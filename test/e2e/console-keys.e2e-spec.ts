import type { Browser, Locator, Page } from 'playwright-core';
import { contextPool, launchBrowser, openWithKey, screenshot } from '../support/browser';
import { Client, makeTenant } from '../support/client';
import { eventually } from '../support/processes';
import { startTestApp, TestApp } from '../support/test-app';

/** A request made by the page itself, with its session cookie, acting key id and CSRF token, as the console makes them. */
async function asSession(page: Page, method: string, path: string): Promise<number> {
  return page.evaluate(
    async ({ method, path }) => {
      const state = await (await fetch('/api/v1/session', { headers: { Accept: 'application/json' } })).json();
      const response = await fetch(`/api/v1${path}`, { method, headers: { 'X-MServe-Key': state.keys[0]?.id ?? '', 'X-CSRF-Token': state.csrfToken } });
      return response.status;
    },
    { method, path },
  );
}

/** What sticks out of the viewport sideways (nothing, on a page that works at this width), for the assertion message. */
async function overflowing(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const width = window.innerWidth;
    if (document.documentElement.scrollWidth <= width + 1) return [];
    return [...document.querySelectorAll('main *')]
      .filter((element) => element.getBoundingClientRect().right > width + 1 && !element.closest('.table-wrap'))
      .slice(0, 8)
      .map((element) => `${element.tagName.toLowerCase()}.${[...element.classList].join('.')} right=${Math.round(element.getBoundingClientRect().right)}`);
  });
}

const step = (page: Page, name: string): Locator => page.locator(`fieldset.pf-step[data-step="${name}"]`);

describe('console: keys and service settings (Chromium, real api)', () => {
  let app: TestApp;
  let admin: Client;
  let browser: Browser;
  const contexts = contextPool(
    () => browser,
    () => app.baseUrl,
  );
  const context = contexts.open;

  beforeAll(async () => {
    app = await startTestApp();
    admin = new Client(app.api, app.adminKey);
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await contexts.closeAll();
    await browser?.close();
    await app?.close();
  });

  it('a service admin derives a view-only key, its share link opens in a fresh browser (can view, cannot delete), and revoking it closes the link', async () => {
    const tenant = await makeTenant(admin);
    const serviceAdmin = new Client(app.api, tenant.serviceAdminKey);
    const uploaded = await serviceAdmin.upload(tenant.serviceId, 'press-notes.txt', new TextEncoder().encode('embargoed until Monday\n'));
    expect(uploaded.status).toBe(201);
    const fileId = uploaded.body.id as string;

    const owner = await context();
    await owner.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: app.baseUrl });
    const page = await openWithKey(owner, tenant.serviceAdminKey);
    await page.goto('/keys');
    await page.getByRole('heading', { name: 'Keys', level: 1 }).waitFor();
    // the acting key: its roles, and the keys minted with its service are not derived from it
    await page.locator('.key-facts').getByText('serviceadmin', { exact: true }).waitFor();
    // only roles within the acting key are offered: a service admin cannot hand on containeradmin or admin
    expect(await page.getByRole('checkbox', { name: /^serviceadmin/ }).count()).toBe(1);
    expect(await page.getByRole('checkbox', { name: /^containeradmin/ }).count()).toBe(0);
    expect(await page.getByRole('checkbox', { name: /^admin/ }).count()).toBe(0);

    // a past expiry is refused next to the field, before anything is sent
    await page.getByRole('button', { name: 'View only (share)' }).click();
    await page.getByLabel('Expires').fill('2020-01-01T10:00');
    await page.getByRole('button', { name: 'Create key' }).click();
    await page.locator('#derive-expiresAt-error').getByText('The expiry must be in the future.').waitFor();
    expect((await serviceAdmin.get('/keys')).body.items.filter((key: { parentId: string | null }) => key.parentId)).toHaveLength(0);

    await page.getByRole('button', { name: '7 days' }).click();
    await page.getByLabel('Label').fill('press preview');
    await expect(page.locator('#derive-expiresAt-error').count()).resolves.toBe(0);
    await screenshot(page, 'keys');
    await page.getByRole('button', { name: 'Create key' }).click();
    await page.getByRole('heading', { name: 'Key created: copy it now' }).waitFor();

    // copy share link puts the capability URL on the clipboard
    await page.getByRole('button', { name: 'Copy share link' }).click();
    await page.getByText('Share link copied.').waitFor();
    const link = await page.evaluate(() => navigator.clipboard.readText());
    expect(link).toMatch(new RegExp(`^${app.baseUrl.replace(/[.:/]/g, '\\$&')}/browse/msk_[A-Za-z0-9_-]{43}$`));
    expect(await page.getByLabel('Share link').inputValue()).toBe(link);
    const secret = decodeURIComponent(link.split('/browse/')[1]);
    await page.getByRole('button', { name: 'Copy key' }).click();
    await page.getByText('Key copied.').waitFor();
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(secret);
    await page.locator('tr', { hasText: 'press preview' }).waitFor();
    await screenshot(page, 'key-derived');

    // what the server made of the form: view-only roles and actions, on the service, expiring in 7 days
    const derived = (await serviceAdmin.get('/keys')).body.items.find((key: { label: string }) => key.label === 'press preview');
    expect(derived).toMatchObject({ roles: ['mfilereadonly', 'jobreadonly'], resource: { type: 'service', id: tenant.serviceId }, revokedAt: null });
    expect(derived.actions).toEqual(expect.arrayContaining(['service:read', 'mfolder:read', 'mfile:read', 'job:read', 'joboutput:read']));
    expect(derived.actions.filter((action: string) => /:(write|delete|create|update|manage)$/.test(action))).toEqual([]);
    const expiresIn = new Date(derived.expiresAt).getTime() - Date.now();
    expect(expiresIn).toBeGreaterThan(6.9 * 86_400_000);
    expect(expiresIn).toBeLessThan(7.01 * 86_400_000);

    // a fresh browser (no cookies) opens the link: files are visible, nothing can be deleted
    const visitor = await context();
    const shared = await visitor.newPage();
    await shared.goto(link);
    await shared.waitForURL(`**/services/${tenant.serviceId}`);
    await shared.getByRole('link', { name: 'press-notes.txt' }).first().waitFor();
    expect(await shared.getByRole('button', { name: /delete/i }).count()).toBe(0);
    await shared.getByRole('link', { name: 'press-notes.txt' }).first().click();
    await shared.waitForURL(`**/mfiles/${fileId}`);
    await shared.getByRole('heading', { name: 'press-notes.txt' }).waitFor();
    await shared.getByText('embargoed until Monday').first().waitFor();
    expect(await shared.getByRole('button', { name: /delete/i }).count()).toBe(0);
    expect(await shared.getByRole('button', { name: /rename|replace/i }).count()).toBe(0);
    expect(visitor.consoleErrors).toEqual([]);
    // forcing it: the api refuses the delete, by bearer key and through the browser's session alike
    const asBearer = await new Client(app.api, secret).delete(`/mfiles/${fileId}`);
    expect(asBearer.status).toBe(403);
    expect(asBearer.body.missingActions).toEqual(['mfile:delete']);
    expect(await asSession(shared, 'DELETE', `/mfiles/${fileId}`)).toBe(403);
    expect((await admin.get(`/mfiles/${fileId}`)).status).toBe(200);

    // revoke it from the first browser: the dialog says derived keys go too
    await page.getByRole('button', { name: 'Done' }).click();
    await page.getByRole('button', { name: 'Revoke press preview' }).click();
    const dialog = page.getByRole('dialog', { name: 'Revoke this key?' });
    await dialog.getByText('every key derived from it').waitFor();
    await dialog.getByRole('button', { name: 'Revoke' }).click();
    await page.getByText('Revoked “press preview”').waitFor();
    expect(await page.locator('tr', { hasText: 'press preview' }).count()).toBe(0);
    await page.getByLabel(/Show revoked and expired/).check();
    await page.locator('tr', { hasText: 'press preview' }).getByText('revoked', { exact: true }).waitFor();

    // the link stops working: for the browser that opened it, for a new one, and over the api
    expect(await asSession(shared, 'GET', `/mfiles/${fileId}`)).toBe(401);
    expect((await new Client(app.api, secret).get(`/mfiles/${fileId}`)).status).toBe(401);
    const late = await (await context()).newPage();
    await late.goto(link);
    await late.getByRole('heading', { name: 'This link does not open anything' }).waitFor();
  }, 180_000);

  it('derives a key for one file picked from the service, capped at the acting key and shown once', async () => {
    const tenant = await makeTenant(admin);
    const serviceAdmin = new Client(app.api, tenant.serviceAdminKey);
    const folder = await serviceAdmin.post(`/mfolders/${tenant.rootFolderId}/mfolders`, { name: 'drafts' });
    expect(folder.status).toBe(201);
    const inFolder = await serviceAdmin.upload(
      tenant.serviceId,
      'chapter-1.txt',
      new TextEncoder().encode('It was a dark night.'),
      `?folderId=${folder.body.id}`,
    );
    expect(inFolder.status).toBe(201);

    const page = await openWithKey(await context({ width: 375, height: 800 }), tenant.serviceAdminKey);
    await page.goto('/keys');
    await page.getByRole('button', { name: 'One file, read only' }).click();
    await page.getByLabel(/Only part of it/).check();
    // browse: the service's root folder, into drafts, choose the file
    await page.getByRole('button', { name: 'Open folder drafts' }).click();
    await page.getByRole('button', { name: 'Choose file chapter-1.txt' }).click();
    await page.getByText('Chosen: File chapter-1.txt').waitFor();
    expect(await page.getByLabel('Id', { exact: true }).inputValue()).toBe(inFolder.body.id);
    expect(await overflowing(page)).toEqual([]);
    await screenshot(page, 'keys-phone');
    await page.getByRole('button', { name: 'Create key' }).click();
    await page.getByRole('heading', { name: 'Key created: copy it now' }).waitFor();
    const secret = await page.getByLabel('Key', { exact: true }).inputValue();
    const me = await new Client(app.api, secret).get('/me');
    expect(me.body).toMatchObject({ roles: ['mfilereadonly'], actions: ['mfile:read'], resource: { type: 'mfile', id: inFolder.body.id } });
    expect((await new Client(app.api, secret).get(`/mfiles/${inFolder.body.id}/content`)).text).toBe('It was a dark night.');
    // leaving the page forgets the secret: it is not shown again
    await page.getByRole('button', { name: 'Done' }).click();
    expect(await page.getByLabel('Key', { exact: true }).count()).toBe(0);

    // a key that expires: what it derives cannot outlive it (the form says so, and so does the server)
    const shortLived = await serviceAdmin.post('/keys', {
      roles: ['servicecustomer'],
      expiresAt: new Date(Date.now() + 2 * 86_400_000).toISOString(),
      label: 'two days',
    });
    expect(shortLived.status).toBe(201);
    const other = await openWithKey(await context(), shortLived.body.key);
    await other.goto('/keys');
    await other.getByRole('checkbox', { name: /^mfilereadonly/ }).check();
    await other.getByLabel('Expires').fill(new Date(Date.now() + 10 * 86_400_000).toISOString().slice(0, 10) + 'T12:00');
    await other.getByRole('button', { name: 'Create key' }).click();
    await other
      .locator('#derive-expiresAt-error')
      .getByText(/cannot outlive it/)
      .waitFor();
    await other.getByRole('button', { name: '30 days' }).click(); // capped at the key's own expiry
    await other.getByRole('button', { name: 'Create key' }).click();
    await other.getByRole('heading', { name: 'Key created: copy it now' }).waitFor();
    const capped = await new Client(app.api, await other.getByLabel('Key', { exact: true }).inputValue()).get('/me');
    expect(new Date(capped.body.expiresAt).getTime()).toBeLessThanOrEqual(new Date(shortLived.body.expiresAt).getTime());

    // many keys: the list pages through them (keyset paging, 50 at a time)
    const asShortLived = new Client(app.api, shortLived.body.key);
    for (let n = 0; n < 55; n += 1) expect((await asShortLived.post('/keys', { roles: ['jobreadonly'], label: `batch ${n}` })).status).toBe(201);
    await other.reload();
    const rows = other.locator('table.key-table tbody tr');
    await other.getByRole('button', { name: 'Show more keys' }).waitFor();
    expect(await rows.count()).toBe(50);
    await other.getByRole('button', { name: 'Show more keys' }).click();
    await eventually(async () => (await rows.count()) === 56, 'the second page of keys');
    expect(await other.getByRole('button', { name: 'Show more keys' }).count()).toBe(0);
  }, 120_000);

  it('profile editor: inline errors from the form and from the server, fixed and saved, read back over REST; properties and webhooks', async () => {
    const tenant = await makeTenant(admin);
    const serviceAdmin = new Client(app.api, tenant.serviceAdminKey);
    const page = await openWithKey(await context(), tenant.serviceAdminKey);
    await page.goto(`/services/${tenant.serviceId}/settings`);
    await page.getByRole('heading', { name: /^Settings of / }).waitFor();
    await page.getByText('MServe’s default profile').waitFor();

    // 1. a step that comes after a step that is no more: backup comes after md5; remove md5
    await step(page, 'md5').waitFor();
    await page.getByRole('button', { name: 'Remove step md5' }).click();
    await step(page, 'backup').locator('.pf-after').getByText('“md5” is not a step of this pipeline.').waitFor();
    expect(
      await step(page, 'backup')
        .getByRole('checkbox', { name: /md5 \(no such step\)/ })
        .isChecked(),
    ).toBe(true);
    // steps are one line each until opened; a bad option value shows next to its field
    expect(await step(page, 'thumbnail').locator('.pf-step-line').innerText()).toBe('thumbnail · for image/* · after mime');
    await page.getByRole('button', { name: 'Edit step thumbnail' }).click();
    await step(page, 'thumbnail').getByLabel('width', { exact: true }).fill('5000');
    await step(page, 'thumbnail').getByText('width must be between 8 and 4096').waitFor();
    expect(await step(page, 'thumbnail').getByLabel('width', { exact: true }).getAttribute('aria-invalid')).toBe('true');

    // 2. a periodic pipeline with a bad cron expression
    await page.getByRole('button', { name: /^Periodic/ }).click();
    await page.getByLabel('Run a pipeline on periodic').check();
    await page.getByLabel('Task for a new step').selectOption('fixity');
    await page.getByRole('button', { name: 'Add step' }).click();
    await step(page, 'fixity').waitFor();
    const schedule = page.getByLabel('Schedule (cron, UTC)');
    await schedule.fill('61 * * * *');
    await page
      .locator('#pf-periodic-schedule-errors')
      .getByText(/"61 \* \* \* \*" is not a cron expression/)
      .waitFor();
    expect(await schedule.getAttribute('aria-invalid')).toBe('true');

    // saving is refused before anything is sent; the summary links to each field
    await page.getByRole('button', { name: 'Save profile' }).click();
    const summary = page.locator('.pf-summary');
    await summary.getByText('The profile cannot be saved yet: 3 problems').waitFor();
    expect((await serviceAdmin.get(`/services/${tenant.serviceId}/profile`)).body.source).toBe('default');
    await summary.getByRole('link', { name: 'Ingest › step 3 “thumbnail” › width: width must be between 8 and 4096' }).click();
    await eventually(
      async () => (await page.evaluate(() => document.activeElement?.id)) === 'pf-ingest-steps-2-options-width',
      'the width field to get the focus',
    );
    await screenshot(page, 'service-settings');

    // 3. fix the form's errors; a schedule only the server refuses (more often than its minimum interval)
    await page.locator('#pf-ingest-steps-2-options-width').fill('320');
    await page.getByRole('button', { name: /^Ingest/ }).click();
    await step(page, 'backup')
      .getByRole('checkbox', { name: /md5 \(no such step\)/ })
      .click();
    expect(
      await step(page, 'backup')
        .getByRole('checkbox', { name: /md5 \(no such step\)/ })
        .count(),
    ).toBe(0);
    await step(page, 'backup').getByRole('checkbox', { name: 'mime', exact: true }).check();
    await page.getByRole('button', { name: /^Periodic/ }).click();
    await schedule.fill('*/10 * * * * *');
    expect(await page.locator('#pf-periodic-schedule-errors').count()).toBe(0);
    await page.getByRole('button', { name: 'Save profile' }).click();
    await summary.getByText('The server refused the profile: 1 problem').waitFor();
    await page
      .locator('#pf-periodic-schedule-errors')
      .getByText(/fires every 10 s; the minimum is 60 s/)
      .waitFor();
    expect((await serviceAdmin.get(`/services/${tenant.serviceId}/profile`)).body.source).toBe('default');

    // 4. fix and save; read it back over REST
    await schedule.fill('0 3 * * *');
    await page.getByText(/Next: /).waitFor();
    await page.getByRole('button', { name: 'Save profile' }).click();
    await page.getByText(/^Saved /).waitFor();
    const stored = await admin.get(`/services/${tenant.serviceId}/profile`);
    expect(stored.body.source).toBe('service');
    const { ingest, periodic } = stored.body.definition;
    expect(ingest.steps.map((each: { name: string }) => each.name)).toEqual([
      'mime',
      'image-metadata',
      'thumbnail',
      'poster',
      'video-metadata',
      'video-poster',
      'video-proxy',
      'backup',
    ]);
    expect(ingest.steps.find((each: { name: string }) => each.name === 'backup').after).toEqual(['mime']);
    expect(ingest.steps.find((each: { name: string }) => each.name === 'thumbnail').options).toMatchObject({ width: 320, height: 128 });
    expect(periodic).toEqual({ schedule: '0 3 * * *', steps: [{ name: 'fixity', task: 'fixity', options: {}, after: [] }] });
    await page.getByText('this service’s own profile').waitFor();
    await page.getByRole('button', { name: /^Ingest/ }).click();
    expect(await step(page, 'backup').locator('.pf-step-line').innerText()).toBe('backup · for any file · after mime');
    await page.getByRole('button', { name: /^Periodic/ }).click();

    // the JSON view shows the same profile, and a change made there comes back to the form
    await page.getByRole('button', { name: 'Edit as JSON' }).click();
    const json = page.getByLabel(/Profile as JSON/);
    const shown = JSON.parse(await json.inputValue());
    expect(shown.periodic).toEqual({ schedule: '0 3 * * *', steps: [{ name: 'fixity', task: 'fixity' }] });
    shown.periodic.schedule = '30 4 * * 1';
    await json.fill(JSON.stringify(shown));
    await page.getByRole('button', { name: 'Apply to the form' }).click();
    expect(await schedule.inputValue()).toBe('30 4 * * 1');
    await page.getByRole('button', { name: 'Save profile' }).click();
    await eventually(
      async () => (await admin.get(`/services/${tenant.serviceId}/profile`)).body.definition.periodic?.schedule === '30 4 * * 1',
      'the JSON change to be saved',
    );

    // properties
    const properties = page.locator('.properties-form');
    await properties.getByLabel('Description').fill('Photos of the summer fair');
    await page.getByRole('button', { name: 'Save properties' }).click();
    await properties.getByText('Saved.').waitFor();
    expect((await admin.get(`/services/${tenant.serviceId}`)).body.description).toBe('Photos of the summer fair');
    await properties.getByLabel('Name', { exact: true }).fill('bad/name');
    await page.getByRole('button', { name: 'Save properties' }).click();
    await page.locator('#sp-name-errors').getByText('Cannot contain / or \\.').waitFor();

    // custom properties: rows of name, type and value, checked as typed (focus on the first wrong one), saved whole
    await properties.getByLabel('Name', { exact: true }).fill((await admin.get(`/services/${tenant.serviceId}`)).body.name);
    await properties.getByRole('button', { name: 'Add property' }).click();
    await properties.getByLabel('Name of property 1').fill('department');
    await properties.getByLabel('Value of property 1', { exact: true }).fill('news');
    await properties.getByRole('button', { name: 'Add property' }).click();
    await properties.getByLabel('Name of property 2').fill('costCentre');
    await properties.getByLabel('Type of property 2').selectOption('number');
    await properties.getByLabel('Value of property 2', { exact: true }).fill('47x');
    await page.getByRole('button', { name: 'Save properties' }).click();
    await page.locator('#sp-prop-1-value-errors').getByText('Enter a number, such as 42 or 0.5.').waitFor();
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('sp-prop-1-value');
    await properties.getByLabel('Value of property 2', { exact: true }).fill('4711');
    await properties.getByRole('button', { name: 'Add property' }).click();
    await properties.getByLabel('Name of property 3').fill('tags');
    await properties.getByLabel('Type of property 3').selectOption('json');
    await properties.getByLabel('Value of property 3 (JSON)').fill('["summer", "fair"]');
    await page.getByRole('button', { name: 'Save properties' }).click();
    await properties.getByText('Saved.').waitFor();
    expect((await admin.get(`/services/${tenant.serviceId}`)).body.properties).toEqual({ department: 'news', costCentre: 4711, tags: ['summer', 'fair'] });
    await properties.getByRole('button', { name: 'Remove property department' }).click();
    // the focus stays in the table, on the row that took the removed one's place
    await page.waitForFunction(() => document.activeElement?.id === 'sp-prop-1-name');
    expect(await page.evaluate(() => (document.activeElement as HTMLInputElement).value)).toBe('tags');
    await page.getByRole('button', { name: 'Save properties' }).click();
    await properties.getByText('Saved.').waitFor();
    expect((await admin.get(`/services/${tenant.serviceId}`)).body.properties).toEqual({ costCentre: 4711, tags: ['summer', 'fair'] });
    expect(await properties.getByLabel('Name of property 1').inputValue()).toBe('costCentre');

    // webhooks: a private address is refused by the server, next to the field; a public one is added, then removed
    await page.getByLabel('Address').fill('http://10.0.0.7/hook');
    await page.getByRole('button', { name: 'Add webhook' }).click();
    await page.locator('#wh-url-errors').waitFor();
    expect((await serviceAdmin.get(`/services/${tenant.serviceId}/webhooks`)).body.items).toEqual([]);
    await page.getByLabel('Address').fill('https://example.org/mserve-events');
    await page.getByRole('button', { name: 'Add webhook' }).click();
    const webhookSecret = await page.getByLabel('Signing secret').inputValue();
    expect(webhookSecret).toMatch(/^whsec_/);
    const hooks = (await serviceAdmin.get(`/services/${tenant.serviceId}/webhooks`)).body.items;
    expect(hooks).toMatchObject([{ url: 'https://example.org/mserve-events', events: ['succeeded', 'failed'] }]);
    await page.getByRole('button', { name: 'Remove webhook https://example.org/mserve-events' }).click();
    await page.getByRole('dialog', { name: 'Remove this webhook?' }).getByRole('button', { name: 'Remove' }).click();
    await page.getByText('Removed https://example.org/mserve-events.').waitFor();
    expect((await serviceAdmin.get(`/services/${tenant.serviceId}/webhooks`)).body.items).toEqual([]);

    // an update pipeline that lacks what ingest derives says what replaced files will go without
    await page.getByRole('button', { name: /^Update/ }).click();
    expect(await page.locator('.pf-update-gap').count()).toBe(0);
    const saved = (await admin.get(`/services/${tenant.serviceId}/profile`)).body.definition;
    expect(
      (await serviceAdmin.put(`/services/${tenant.serviceId}/profile`, { ...saved, update: { steps: [{ name: 'thumbnail', task: 'thumbnail' }] } })).status,
    ).toBe(200);
    await page.reload();
    await page.getByRole('button', { name: /^Update/ }).click();
    const missing = (await page.locator('.pf-update-gap').getAttribute('data-missing'))!.split(' ');
    expect(missing).toContain('backup');
    expect(missing).not.toContain('thumbnail');

    // a phone-sized window: the settings still fit
    await page.setViewportSize({ width: 375, height: 800 });
    expect(await overflowing(page)).toEqual([]);

    // the container admin chooses a profile the container offers: the service runs it, and its own is read-only
    const containerAdmin = new Client(app.api, tenant.containerKey);
    expect(
      (await containerAdmin.put(`/containers/${tenant.containerId}/profiles/photo-lab`, { ingest: { steps: [{ name: 'sum', task: 'sha256' }] } })).status,
    ).toBe(200);
    const provider = await openWithKey(await context(), tenant.containerKey);
    await provider.goto(`/services/${tenant.serviceId}/settings`);
    await provider.getByRole('combobox', { name: 'Container profile it runs' }).selectOption('photo-lab');
    await provider.getByRole('button', { name: 'Save properties' }).click();
    await provider.getByText(/The provider chose the container profile “photo-lab”/).waitFor();
    expect((await admin.get(`/services/${tenant.serviceId}`)).body.profile).toBe('photo-lab');
    expect(await provider.getByRole('button', { name: 'Save profile' }).count()).toBe(0);
    expect(await provider.locator('fieldset.pf-step[data-step="sum"]').getByLabel('Task').inputValue()).toBe('sha256');
    await provider.getByRole('combobox', { name: 'Container profile it runs' }).selectOption('');
    await provider.getByRole('button', { name: 'Save properties' }).click();
    await provider.getByRole('button', { name: 'Save profile' }).waitFor();
    expect((await admin.get(`/services/${tenant.serviceId}`)).body.profile).toBeNull();
    expect((await admin.get(`/services/${tenant.serviceId}/profile`)).body.definition.periodic.schedule).toBe('30 4 * * 1');

    // a customer key cannot reach the settings
    const customer = await openWithKey(await context(), tenant.customerKey);
    await customer.goto(`/services/${tenant.serviceId}/settings`);
    await customer.getByText(/cannot change a service’s settings/).waitFor();
  }, 180_000);
});

import { readFileSync } from 'node:fs';
import { createServer, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import Redis from 'ioredis';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { launchBrowser } from '../support/browser';
import { Client, makeTenant } from '../support/client';
import { eventually, ROOT, startRole } from '../support/processes';
import { sharedWith, startTestApp, TestApp } from '../support/test-app';

/**
 * A customer's web app on its own origin: a page served by another server (another port) uploads with tus-js-client,
 * starts a job and follows it over Server-Sent Events, and reads a range of the content back, all with a key it holds.
 * The same page from an origin not in CORS_ORIGINS is refused by the browser (its preflight gets a 403 problem).
 */
const PAGE = `<!doctype html><html><head><meta charset="utf-8"><title>another app</title><script src="/tus.min.js"></script></head><body><script>
window.runApp = async ({ api, key, serviceId }) => {
  try {
    const file = new File([new TextEncoder().encode('hello from another origin\\n'.repeat(40))], 'cross-origin.txt', { type: 'text/plain' });
    let mfileId = null;
    await new Promise((resolve, reject) => {
      const upload = new tus.Upload(file, {
        endpoint: api + '/services/' + serviceId + '/uploads',
        headers: { Authorization: 'Bearer ' + key },
        metadata: { filename: file.name, filetype: file.type },
        chunkSize: 400,
        retryDelays: [],
        onAfterResponse: (request, response) => { mfileId = response.getHeader('Mfile-Id') || mfileId; },
        onError: reject,
        onSuccess: resolve,
      });
      upload.start();
    });
    const created = await fetch(api + '/jobs', {
      method: 'POST',
      headers: { Authorization: 'Bearer ' + key, 'Content-Type': 'application/json' },
      body: JSON.stringify({ mfileIds: [mfileId], task: 'sha256' }),
    });
    const job = await created.json();
    const states = await new Promise((resolve, reject) => {
      const seen = [];
      const source = new EventSource(api + '/jobs/' + job.id + '/events?key=' + encodeURIComponent(key));
      source.addEventListener('state', (event) => {
        const data = JSON.parse(event.data);
        seen.push(data.state);
        if (['succeeded', 'failed', 'cancelled'].includes(data.state)) { source.close(); resolve(seen); }
      });
      source.onerror = () => { if (source.readyState === EventSource.CLOSED) reject(new Error('the event stream was refused')); };
    });
    const part = await fetch(api + '/mfiles/' + mfileId + '/content', { headers: { Authorization: 'Bearer ' + key, Range: 'bytes=0-4' } });
    return {
      mfileId,
      jobStatus: created.status,
      requestId: created.headers.get('X-Request-Id'),
      states,
      status: part.status,
      contentRange: part.headers.get('Content-Range'),
      etag: part.headers.get('ETag'),
      body: await part.text(),
    };
  } catch (error) {
    return { error: String(error && error.message || error) };
  }
};
</script></body></html>`;

describe('CORS: a web app on another origin (Chromium, real api and worker)', () => {
  let site: Server;
  let sitePort: number;
  let app: TestApp;
  let admin: Client;
  let redis: Redis;
  let worker: ReturnType<typeof startRole>;
  let browser: Browser;
  let context: BrowserContext;
  let listed: string;

  beforeAll(async () => {
    const tus = readFileSync(join(ROOT, 'node_modules/tus-js-client/dist/tus.min.js'));
    site = createServer((request, response) => {
      if (request.url === '/tus.min.js') response.writeHead(200, { 'content-type': 'text/javascript' }).end(tus);
      else response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(PAGE);
    });
    await new Promise<void>((resolve) => site.listen(0, '127.0.0.1', resolve));
    sitePort = (site.address() as AddressInfo).port;
    listed = `http://127.0.0.1:${sitePort}`;
    app = await startTestApp({ CORS_ORIGINS: `${listed},https://other.example` });
    admin = new Client(app.api, app.adminKey);
    redis = new Redis(process.env.REDIS_URL!, { lazyConnect: true });
    await redis.connect();
    worker = startRole('worker', { ...sharedWith(app.config) }, ['--queues', 'normal:2']);
    await eventually(async () => (await redis.keys(`${app.config.queuePrefix}:workers:*:${worker.pid}`)).length === 1, 'the worker heartbeat');
    browser = await launchBrowser();
    context = await browser.newContext();
  });

  afterAll(async () => {
    if (worker && worker.exitCode === null) worker.kill('SIGKILL');
    await browser?.close();
    redis?.disconnect();
    await app?.close();
    await new Promise((resolve) => site?.close(resolve));
  });

  const openSite = async (origin: string): Promise<Page> => {
    const page = await context.newPage();
    await page.goto(`${origin}/index.html`);
    await page.waitForFunction(() => typeof (window as unknown as { runApp?: unknown }).runApp === 'function');
    return page;
  };

  it('a listed origin uploads with tus-js-client, follows a job over SSE and reads a range, with a key', async () => {
    const tenant = await makeTenant(admin);
    const page = await openSite(listed);
    const result = await page.evaluate((args) => (window as unknown as { runApp: (a: typeof args) => Promise<Record<string, unknown>> }).runApp(args), {
      api: app.api,
      key: tenant.customerKey,
      serviceId: tenant.serviceId,
    });
    expect(result.error).toBeUndefined();
    expect(result).toMatchObject({ jobStatus: 201, status: 206, contentRange: 'bytes 0-4/1040', body: 'hello', etag: expect.stringMatching(/^"/) });
    expect(result.requestId).toMatch(/\S/);
    expect((result.states as string[]).at(-1)).toBe('succeeded');
    const mfile = (await admin.as(tenant.customerKey).get(`/mfiles/${result.mfileId}`)).body;
    expect(mfile).toMatchObject({ name: 'cross-origin.txt', size: 1040, mimetype: 'text/plain' });
    await page.close();
  }, 120_000);

  it('an origin not listed is refused by the browser, and nothing is stored', async () => {
    const tenant = await makeTenant(admin);
    const other = `http://localhost:${sitePort}`; // the same server under another name: another origin
    const page = await openSite(other);
    const result = await page.evaluate((args) => (window as unknown as { runApp: (a: typeof args) => Promise<Record<string, unknown>> }).runApp(args), {
      api: app.api,
      key: tenant.customerKey,
      serviceId: tenant.serviceId,
    });
    expect(result.error).toMatch(/tus: failed to create upload/);
    expect((await admin.as(tenant.customerKey).get(`/services/${tenant.serviceId}/mfiles`)).body.items).toEqual([]);
    await page.close();
  });

  it('answers preflights, tus discovery and requests as the rules say (plain HTTP)', async () => {
    const tenant = await makeTenant(admin);
    const uploads = `${app.api}/services/${tenant.serviceId}/uploads`;
    const preflight = (origin: string) =>
      fetch(uploads, {
        method: 'OPTIONS',
        headers: {
          origin,
          'access-control-request-method': 'POST',
          'access-control-request-headers': 'authorization, tus-resumable, upload-length, upload-metadata',
        },
      });
    const allowed = await preflight(listed);
    expect(allowed.status).toBe(204);
    expect(allowed.headers.get('access-control-allow-origin')).toBe(listed);
    expect(allowed.headers.get('access-control-allow-methods')).toContain('PATCH');
    expect(allowed.headers.get('access-control-allow-headers')).toEqual(expect.stringContaining('Upload-Metadata'));
    expect(allowed.headers.get('access-control-allow-credentials')).toBeNull();
    expect(allowed.headers.get('vary')).toMatch(/Origin/);
    // another listed origin is answered with its own name, never *
    expect((await preflight('https://other.example')).headers.get('access-control-allow-origin')).toBe('https://other.example');

    const refused = await preflight('https://evil.example');
    expect(refused.status).toBe(403);
    expect(refused.headers.get('content-type')).toMatch(/application\/problem\+json/);
    expect(refused.headers.get('access-control-allow-origin')).toBeNull();
    const problem = await refused.json();
    expect(problem).toMatchObject({ status: 403, origin: 'https://evil.example', detail: expect.stringContaining('CORS_ORIGINS') });

    // an OPTIONS without Access-Control-Request-Method is tus discovery, answered by tus (with CORS for a listed origin)
    const discovery = await fetch(uploads, { method: 'OPTIONS', headers: { origin: listed, authorization: `Bearer ${tenant.customerKey}` } });
    expect(discovery.status).toBe(204);
    expect(discovery.headers.get('tus-version')).toBe('1.0.0');
    expect(discovery.headers.get('access-control-allow-origin')).toBe(listed);
    expect(discovery.headers.get('access-control-expose-headers')).toEqual(expect.stringContaining('Upload-Offset'));

    // a request of a listed origin: allowed and its headers exposed; of another origin or of none: no CORS headers
    const read = (origin?: string) =>
      fetch(`${app.api}/services/${tenant.serviceId}`, { headers: { authorization: `Bearer ${tenant.customerKey}`, ...(origin ? { origin } : {}) } });
    const fromListed = await read(listed);
    expect(fromListed.status).toBe(200);
    expect(fromListed.headers.get('access-control-allow-origin')).toBe(listed);
    expect(fromListed.headers.get('access-control-expose-headers')).toEqual(expect.stringContaining('Content-Range'));
    for (const response of [await read('https://evil.example'), await read()]) {
      expect(response.status).toBe(200);
      expect(response.headers.get('access-control-allow-origin')).toBeNull();
    }
    // the WebDAV mount and the console are not part of it
    const dav = await fetch(`${app.baseUrl}/dav/`, { method: 'OPTIONS', headers: { origin: listed, 'access-control-request-method': 'PROPFIND' } });
    expect(dav.headers.get('access-control-allow-origin')).toBeNull();
  });
});

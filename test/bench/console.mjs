// Console and login benchmark, each figure against a baseline measured in the same run:
//  1. password login (POST /api/v1/session/login, scrypt inside) vs the bare scrypt hash with the same parameters
//  2. a REST call acting through a session (cookie + X-MServe-Key) vs the same call with the key as Bearer
//  3. the console in Chromium: navigation until the login form is shown, cold and warm, vs a bare static page of
//     the same HTML served by node:http; and a service page listing FILES files until the first page is shown
//  4. what the browser downloads: the JavaScript and CSS of the first paint, raw and gzipped
//
//   npm run build
//   node_modules/.bin/node test/bench/console.mjs           # RUNS=20 REQUESTS=1000 FILES=300
import { gzipSync } from 'node:zlib';
import { createServer } from 'node:http';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { scrypt, randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { fmt, json, makeTenant, median, onCleanup, ROOT, runBench, say, startPlatform, table } from './harness.mjs';

const RUNS = Number(process.env.RUNS ?? 20);
const REQUESTS = Number(process.env.REQUESTS ?? 1000);
const FILES = Number(process.env.FILES ?? 300);
const PASSWORD = 'bench-admin-password';
const require = createRequire(join(ROOT, 'package.json'));
const { chromium } = require('playwright-core');

function cookieJar() {
  let cookie;
  return {
    async fetch(url, init = {}) {
      const response = await fetch(url, { ...init, headers: { ...(init.headers ?? {}), ...(cookie ? { cookie } : {}) } });
      const set = response.headers.getSetCookie().find((line) => line.startsWith('mserve.sid='));
      if (set) cookie = set.split(';')[0];
      return response;
    },
  };
}

const bareScrypt = (password) =>
  new Promise((resolve, reject) =>
    scrypt(password, randomBytes(16), 32, { N: 2 ** 17, r: 8, p: 1, maxmem: 129 * 1024 * 1024 }, (error, key) => (error ? reject(error) : resolve(key))),
  );

async function timeEach(count, run) {
  const times = [];
  for (let index = 0; index < count; index++) {
    const started = performance.now();
    await run(index);
    times.push(performance.now() - started);
  }
  return times;
}

await runBench(async () => {
  const varDir = mkdtempSync(join(tmpdir(), 'mserve-bench-console-'));
  onCleanup('remove temp dirs', () => rmSync(varDir, { recursive: true, force: true }));
  const platform = await startPlatform({ varDir, storageDir: join(varDir, 'storage'), env: { ADMIN_PASSWORD: PASSWORD, LOGIN_MAX_FAILURES: '1000000' } });
  const { v1, apiBase, adminKey } = platform;

  // 1. login vs bare scrypt
  say(`login: ${RUNS} password logins vs ${RUNS} bare scrypt hashes`);
  const loginTimes = await timeEach(RUNS, async () => {
    const jar = cookieJar();
    const { csrfToken } = await (await jar.fetch(`${v1}/session`)).json();
    const response = await jar.fetch(`${v1}/session/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-csrf-token': csrfToken },
      body: JSON.stringify({ username: 'admin', password: PASSWORD }),
    });
    if (response.status !== 200) throw new Error(`login: ${response.status} ${await response.text()}`);
  });
  const scryptTimes = await timeEach(RUNS, () => bareScrypt(PASSWORD));

  // 2. a REST call through the session vs with the key as Bearer
  const tenant = await makeTenant(v1, adminKey, 'bench-console');
  say(`uploading ${FILES} small files for the listing`);
  for (let index = 0; index < FILES; index++) {
    const form = new FormData();
    form.append('file', new Blob([`file ${index}\n`]), `file-${String(index).padStart(5, '0')}.txt`);
    const response = await fetch(`${v1}/services/${tenant.serviceId}/mfiles`, {
      method: 'POST',
      headers: { authorization: `Bearer ${tenant.serviceAdminKey}` },
      body: form,
    });
    if (response.status !== 201) throw new Error(`upload: ${response.status} ${await response.text()}`);
  }
  const jar = cookieJar();
  const { csrfToken } = await (await jar.fetch(`${v1}/session`)).json();
  const held = await (
    await jar.fetch(`${v1}/session/keys`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-csrf-token': csrfToken },
      body: JSON.stringify({ key: tenant.serviceAdminKey }),
    })
  ).json();
  const listUrl = `${v1}/services/${tenant.serviceId}/mfiles?limit=50`;
  say(`REST: ${REQUESTS} listings through the session and ${REQUESTS} with Bearer, interleaved`);
  const sessionTimes = [];
  const bearerTimes = [];
  for (let index = 0; index < REQUESTS; index++) {
    let started = performance.now();
    const viaSession = await jar.fetch(listUrl, { headers: { 'x-mserve-key': held.id } });
    await viaSession.arrayBuffer();
    sessionTimes.push(performance.now() - started);
    started = performance.now();
    const viaBearer = await fetch(listUrl, { headers: { authorization: `Bearer ${tenant.serviceAdminKey}` } });
    await viaBearer.arrayBuffer();
    bearerTimes.push(performance.now() - started);
    if (viaSession.status !== 200 || viaBearer.status !== 200) throw new Error(`listing: ${viaSession.status} / ${viaBearer.status}`);
  }

  // 3. the console in Chromium
  const index = readFileSync(join(ROOT, 'dist', 'console', 'index.html'));
  const bare = createServer((_request, response) =>
    response
      .writeHead(200, { 'content-type': 'text/html' })
      .end(index.toString().replace(/<script[^>]*><\/script>|<link rel="(stylesheet|modulepreload)"[^>]*>/g, '')),
  );
  await new Promise((resolve) => bare.listen(0, '127.0.0.1', resolve));
  onCleanup('stop the bare server', () => new Promise((resolve) => bare.close(resolve)));
  const bareUrl = `http://127.0.0.1:${bare.address().port}/`;
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  onCleanup('close Chromium', () => browser.close());
  const pageTimes = async (count, url, ready, reuse) => {
    const times = [];
    const shared = reuse ? await browser.newContext() : null;
    for (let run = 0; run < count; run++) {
      const context = shared ?? (await browser.newContext());
      const page = await context.newPage();
      const started = performance.now();
      await page.goto(url);
      await ready(page);
      times.push(performance.now() - started);
      await page.close();
      if (!shared) await context.close();
    }
    await shared?.close();
    return times;
  };
  say(`Chromium: the login page ${RUNS}× cold and warm, a bare page ${RUNS}×`);
  const loginCold = await pageTimes(RUNS, `${apiBase}/login`, (page) => page.getByRole('button', { name: 'Log in' }).waitFor(), false);
  const loginWarm = await pageTimes(RUNS, `${apiBase}/login`, (page) => page.getByRole('button', { name: 'Log in' }).waitFor(), true);
  const bareTimes = await pageTimes(RUNS, bareUrl, (page) => page.waitForLoadState('load'), false);
  say(`Chromium: a service page with ${FILES} files through a share link, until its first page of files shows`);
  const listingTimes = [];
  for (let run = 0; run < Math.min(RUNS, 10); run++) {
    const context = await browser.newContext({ baseURL: apiBase });
    const page = await context.newPage();
    const started = performance.now();
    await page.goto(`/browse/${tenant.serviceAdminKey}`);
    await page.waitForFunction(() => document.querySelectorAll('a[href^="/mfiles/"]').length >= 20, undefined, { timeout: 60000 });
    listingTimes.push(performance.now() - started);
    await context.close();
  }

  // 4. first-paint bytes
  const assets = readdirSync(join(ROOT, 'dist', 'console', 'assets')).filter((name) => /\.(js|css)$/.test(name));
  const entry = [...index.toString().matchAll(/(?:src|href)="\/assets\/([^"]+)"/g)].map((match) => match[1]);
  const size = (names) => names.reduce((sum, name) => sum + statSync(join(ROOT, 'dist', 'console', 'assets', name)).size, 0);
  const gz = (names) => names.reduce((sum, name) => sum + gzipSync(readFileSync(join(ROOT, 'dist', 'console', 'assets', name))).length, 0);

  console.log(`\nConsole and login; ${availableParallelism()} CPUs, load ${loadavg()[0].toFixed(2)}; medians (ms)\n`);
  console.log(
    table(
      ['measure', 'MServe', 'baseline', 'baseline is', 'ratio'],
      [
        ['password login', fmt(median(loginTimes)), fmt(median(scryptTimes)), 'bare scrypt (same N, r, p)', fmt(median(loginTimes) / median(scryptTimes), 2)],
        [
          `REST listing (50 of ${FILES}) via session`,
          fmt(median(sessionTimes), 2),
          fmt(median(bearerTimes), 2),
          'same call with Bearer key',
          fmt(median(sessionTimes) / median(bearerTimes), 2),
        ],
        [
          'console login page, cold',
          fmt(median(loginCold)),
          fmt(median(bareTimes)),
          'same HTML, no scripts (node:http)',
          fmt(median(loginCold) / median(bareTimes), 2),
        ],
        [
          'console login page, warm cache',
          fmt(median(loginWarm)),
          fmt(median(bareTimes)),
          'same HTML, no scripts (node:http)',
          fmt(median(loginWarm) / median(bareTimes), 2),
        ],
        [`share link → first files of ${FILES}`, fmt(median(listingTimes)), '', '', ''],
      ],
    ),
  );
  console.log(
    `\nfirst paint downloads ${entry.length} files: ${fmt(size(entry) / 1024)} KiB (${fmt(gz(entry) / 1024)} KiB gzipped); all ${assets.length} JS/CSS chunks: ${fmt(size(assets) / 1024)} KiB (${fmt(gz(assets) / 1024)} KiB gzipped)`,
  );
});

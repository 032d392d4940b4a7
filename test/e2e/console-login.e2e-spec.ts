import { randomBytes, scryptSync } from 'node:crypto';
import Redis from 'ioredis';
import type { Browser } from 'playwright-core';
import { sessionKey } from '../../src/auth/session';
import { Client, makeTenant } from '../support/client';
import { freePort } from '../support/free-port';
import { launchBrowser, newContext, screenshot } from '../support/browser';
import { SessionClient } from '../support/session-client';
import { startTestApp, TestApp } from '../support/test-app';

const ADMIN_PASSWORD = process.env.ADMIN_PASSWORD!;

describe('people: password login, sessions, CSRF, wallets (API)', () => {
  let app: TestApp;
  let admin: Client;

  beforeAll(async () => {
    app = await startTestApp({ LOGIN_MAX_FAILURES: '3', LOGIN_WINDOW_SECONDS: '60' });
    admin = new Client(app.api, app.adminKey);
  });
  afterAll(() => app?.close());

  it('logs the admin user in, gives them the admin key to act with, and logs out', async () => {
    const person = new SessionClient(app.api);
    const anonymous = await person.refresh();
    expect(anonymous).toMatchObject({ user: null, keys: [] });
    expect(anonymous.csrfToken).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const cookieBefore = person.cookie;
    const login = await person.login('admin', ADMIN_PASSWORD);
    expect(login.status).toBe(200);
    expect(login.body.user).toMatchObject({ username: 'admin', provider: 'password' });
    expect(person.cookie).not.toBe(cookieBefore); // a new session id at login (no fixation)
    const setCookie = login.headers.getSetCookie().join('\n');
    expect(setCookie).toMatch(/HttpOnly/i);
    expect(setCookie).toMatch(/SameSite=Lax/i);
    const adminKey = login.body.keys.find((key: { resource: { type: string } }) => key.resource.type === 'provider');
    expect(adminKey).toMatchObject({ roles: ['admin'], saved: true });

    // the held key works on the public REST API, through the session
    person.actingKeyId = adminKey.id;
    const created = await person.request('POST', '/containers', { name: 'made-through-a-session' });
    expect(created.status).toBe(201);
    expect((await admin.get(`/containers/${created.body.id}`)).status).toBe(200);

    expect((await person.request('POST', '/session/logout')).status).toBe(204);
    const after = await person.request('GET', '/containers');
    expect(after.status).toBe(401);
    expect(after.headers.get('content-type')).toMatch(/problem\+json/);
  });

  it("refuses a state change through the session without the CSRF token, and one with another session's token", async () => {
    const person = new SessionClient(app.api);
    expect((await person.login('admin', ADMIN_PASSWORD)).status).toBe(200);
    const { keys } = await person.refresh();
    person.actingKeyId = keys[0].id;
    const without = await person.request('POST', '/containers', { name: 'csrf-less' }, { csrf: null });
    expect(without.status).toBe(403);
    expect(without.body).toMatchObject({ status: 403, detail: expect.stringMatching(/CSRF token/) });
    const other = new SessionClient(app.api);
    await other.refresh();
    const forged = await person.request('POST', '/containers', { name: 'csrf-forged' }, { csrf: other.csrf });
    expect(forged.status).toBe(403);
    // login itself needs the token (no login CSRF)
    const fresh = new SessionClient(app.api);
    await fresh.refresh();
    expect((await fresh.request('POST', '/session/login', { username: 'admin', password: ADMIN_PASSWORD }, { csrf: null })).status).toBe(403);
    // reads need none, and nothing was created
    expect((await person.request('GET', '/containers', undefined, { csrf: null })).status).toBe(200);
    const listed = await admin.get('/containers?name=csrf-');
    expect(listed.body.items).toHaveLength(0);
  });

  it('answers a wrong password and an unknown user alike, and rate-limits repeated failures', async () => {
    const made = await admin.post('/users', { username: `olga-${Date.now()}`, password: 'olga has a long password' });
    expect(made.status).toBe(201);
    const person = new SessionClient(app.api);
    await person.refresh();
    const wrong = await person.login(made.body.username, 'not her password');
    const unknown = await person.login('nobody-at-all', 'not her password');
    expect(wrong.status).toBe(401);
    expect(unknown.status).toBe(401);
    expect(wrong.body.detail).toBe(unknown.body.detail);
    expect((await person.login(made.body.username, 'still not it')).status).toBe(401);
    expect((await person.login(made.body.username, 'third time')).status).toBe(401);
    const limited = await person.login(made.body.username, 'olga has a long password');
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    // another name from the same address is not locked by her failures
    const other = await admin.post('/users', { username: `piet-${Date.now()}`, password: 'piet has a long password' });
    expect((await person.login(other.body.username, 'piet has a long password')).status).toBe(200);
  });

  it('holds a pasted key in the session, keeps it in the wallet on request, and drops revoked keys', async () => {
    const tenant = await makeTenant(admin);
    const user = await admin.post('/users', { username: `wallet-${Date.now()}`, password: 'a wallet password' });
    const person = new SessionClient(app.api);
    expect((await person.login(user.body.username, 'a wallet password')).status).toBe(200);
    expect((await person.refresh()).keys).toEqual([]);
    const added = await person.request('POST', '/session/keys', { key: `http://elsewhere/browse/${tenant.serviceAdminKey}`, save: true });
    expect(added.status).toBe(201);
    expect(added.body).toMatchObject({ resource: { type: 'service', id: tenant.serviceId }, saved: true });
    person.actingKeyId = added.body.id;
    expect((await person.request('GET', `/services/${tenant.serviceId}`)).status).toBe(200);
    // another service is out of this key's reach
    const elsewhere = await makeTenant(admin);
    expect((await person.request('GET', `/services/${elsewhere.serviceId}`)).status).toBe(404);
    // a second login (new session) still holds it: it is in the wallet
    const again = new SessionClient(app.api);
    await again.login(user.body.username, 'a wallet password');
    expect((await again.refresh()).keys.map((key: { id: string }) => key.id)).toEqual([added.body.id]);
    // a key id the session does not hold is refused like an unknown key
    again.actingKeyId = (await admin.get('/me')).body.id;
    expect((await again.request('GET', '/containers')).status).toBe(401);
    // a key derived from it, held by the session: gone from the session and refused once its parent is revoked,
    // even by a revocation that did not reach it (set directly in the database; issue 16, item 2)
    const child = await admin.as(tenant.serviceAdminKey).post('/keys', { actions: ['service:read'] });
    const heldChild = await again.request('POST', '/session/keys', { key: child.body.key });
    expect(heldChild.status).toBe(201);
    expect((await again.refresh()).keys.map((key: { id: string }) => key.id).sort()).toEqual([added.body.id, child.body.id].sort());
    await app.dataSource.query('UPDATE key SET revoked_at = now() WHERE id = $1', [added.body.id]);
    expect((await again.refresh()).keys).toEqual([]);
    again.actingKeyId = child.body.id;
    expect((await again.request('GET', `/services/${tenant.serviceId}`)).status).toBe(401);
    await app.dataSource.query('UPDATE key SET revoked_at = NULL WHERE id = $1', [added.body.id]);
    // revoked: gone from the wallet and refused
    expect((await admin.delete(`/keys/${added.body.id}`)).status).toBe(200);
    expect((await again.refresh()).keys).toEqual([]);
    again.actingKeyId = added.body.id;
    expect((await again.request('GET', `/services/${tenant.serviceId}`)).status).toBe(401);
  });

  it('opens a share link without an account, and forgets it at logout', async () => {
    const tenant = await makeTenant(admin);
    const person = new SessionClient(app.api);
    await person.refresh();
    const added = await person.request('POST', '/session/keys', { key: tenant.serviceAdminKey });
    expect(added.status).toBe(201);
    expect(added.body.saved).toBe(false);
    expect((await person.request('POST', '/session/keys', { key: tenant.serviceAdminKey, save: true })).status).toBe(400);
    person.actingKeyId = added.body.id;
    expect((await person.request('GET', `/services/${tenant.serviceId}/mfiles`)).status).toBe(200);
    // ?as= for <img>/<video> URLs
    person.actingKeyId = undefined;
    expect((await person.request('GET', `/services/${tenant.serviceId}/mfiles?as=${added.body.id}`)).status).toBe(200);
    expect((await person.request('POST', '/session/keys', { key: 'msk_not-a-real-key' })).status).toBe(401);
    await person.request('POST', '/session/logout');
    expect((await person.request('GET', `/services/${tenant.serviceId}/mfiles?as=${added.body.id}`)).status).toBe(401);
  });

  it('manages accounts with the provider key only', async () => {
    const tenant = await makeTenant(admin);
    expect((await admin.as(tenant.containerKey).get('/users')).status).toBe(403);
    expect((await admin.post('/users', { username: 'bad name!', password: 'long enough password' })).status).toBe(400);
    expect((await admin.post('/users', { username: `short-${Date.now()}`, password: 'short' })).body.detail).toMatch(/at least 10/);
    const made = await admin.post('/users', { username: `Case-${Date.now()}`, password: 'long enough password' });
    expect((await admin.post('/users', { username: made.body.username.toLowerCase(), password: 'long enough password' })).status).toBe(409);
    // a key that cannot be given is the body's problem (422), not the caller's credential (401)
    for (const key of ['not a key', `msk_${'A'.repeat(43)}`]) {
      const refused = await admin.request('PUT', `/users/${made.body.id}/keys`, { key });
      expect([refused.status, refused.body.detail]).toEqual([
        422,
        expect.stringMatching(/^the key to give cannot be used: the presented key is (malformed|not known)$/),
      ]);
    }
    expect((await admin.request('PUT', `/users/${made.body.id}/keys`, { key: tenant.serviceAdminKey })).status).toBe(200);
    const person = new SessionClient(app.api);
    expect((await person.login(made.body.username.toUpperCase(), 'long enough password')).status).toBe(200);
    expect((await person.refresh()).keys).toHaveLength(1);
    expect((await admin.patch(`/users/${made.body.id}`, { disabled: true })).status).toBe(200);
    expect((await person.refresh()).user).toBeNull();
    const relogin = new SessionClient(app.api);
    expect((await relogin.login(made.body.username, 'long enough password')).status).toBe(401);
  });
});

describe('people: what the security review found', () => {
  let app: TestApp;
  let admin: Client;
  beforeAll(async () => {
    app = await startTestApp({ LOGIN_MAX_FAILURES: '3', LOGIN_WINDOW_SECONDS: '60' });
    admin = new Client(app.api, app.adminKey);
  });
  afterAll(() => app?.close());

  it('rehashes a password stored with scrypt N=2^15 at N=2^17 on the next successful login (issue 16, item 15)', async () => {
    const made = await admin.post('/users', { username: `old-hash-${Date.now()}`, password: 'an old long password' });
    expect(made.status).toBe(201);
    const fresh: Array<{ password_hash: string }> = await app.dataSource.query('SELECT password_hash FROM app_user WHERE id = $1', [made.body.id]);
    expect(fresh[0].password_hash).toMatch(/^scrypt\$17\$8\$1\$/);
    // a hash as MServe stored it before: N = 2^15
    const salt = randomBytes(16);
    const old = scryptSync('an old long password', salt, 32, { N: 2 ** 15, r: 8, p: 1, maxmem: 64 * 1024 * 1024 });
    const oldHash = `scrypt$15$8$1$${salt.toString('base64url')}$${old.toString('base64url')}`;
    await app.dataSource.query('UPDATE app_user SET password_hash = $2 WHERE id = $1', [made.body.id, oldHash]);
    // a wrong password changes nothing
    expect((await new SessionClient(app.api).login(made.body.username, 'not the password')).status).toBe(401);
    expect((await app.dataSource.query('SELECT password_hash FROM app_user WHERE id = $1', [made.body.id]))[0].password_hash).toBe(oldHash);
    expect((await new SessionClient(app.api).login(made.body.username, 'an old long password')).status).toBe(200);
    const rehashed: Array<{ password_hash: string }> = await app.dataSource.query('SELECT password_hash FROM app_user WHERE id = $1', [made.body.id]);
    expect(rehashed[0].password_hash).toMatch(/^scrypt\$17\$8\$1\$[A-Za-z0-9_-]{22}\$[A-Za-z0-9_-]{43}$/);
    expect(rehashed[0].password_hash).not.toBe(oldHash);
    // and the password still works, against the new hash
    expect((await new SessionClient(app.api).login(made.body.username, 'an old long password')).status).toBe(200);
  });

  it('serves uploads a browser would run (HTML, SVG) as sandboxed attachments, never as pages on the console origin', async () => {
    const tenant = await makeTenant(admin);
    const owner = admin.as(tenant.serviceAdminKey);
    const page = await owner.upload(tenant.serviceId, 'x.html', new TextEncoder().encode('<script>fetch("/api/v1/session")</script>'));
    const drawing = await owner.upload(
      tenant.serviceId,
      'x.svg',
      new TextEncoder().encode('<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'),
    );
    const photo = await owner.upload(tenant.serviceId, 'x.txt', new TextEncoder().encode('plain words'));
    for (const [file, disposition] of [
      [page, 'attachment'],
      [drawing, 'attachment'],
      [photo, 'inline'],
    ] as const) {
      const reply = await owner.get(`/mfiles/${file.body.id}/content`);
      expect(reply.status).toBe(200);
      expect(reply.headers.get('content-disposition')).toMatch(new RegExp(`^${disposition};`));
      expect(reply.headers.get('content-security-policy')).toMatch(/^sandbox; default-src 'none'/);
      expect(reply.headers.get('x-content-type-options')).toBe('nosniff');
    }
  });

  it('lets only the full admin key manage accounts (a provider key with key:create alone cannot take one over)', async () => {
    const narrow = await admin.post('/keys', { actions: ['key:create'] });
    expect(narrow.status).toBe(201);
    const users = await admin.get('/users');
    const adminUser = users.body.items.find((user: { username: string }) => user.username === 'admin');
    const attempt = await admin.as(narrow.body.key).patch(`/users/${adminUser.id}`, { password: 'attacker-chosen-pw-123' });
    expect(attempt.status).toBe(403);
    expect((await admin.as(narrow.body.key).get('/users')).status).toBe(403);
    expect((await new SessionClient(app.api).login('admin', ADMIN_PASSWORD)).status).toBe(200);
  });

  it("ends a person's sessions when their account is disabled or their password reset", async () => {
    const tenant = await makeTenant(admin);
    const made = await admin.post('/users', { username: `sess-${Date.now()}`, password: 'first long password' });
    await admin.request('PUT', `/users/${made.body.id}/keys`, { key: tenant.serviceAdminKey });
    const person = new SessionClient(app.api);
    expect((await person.login(made.body.username, 'first long password')).status).toBe(200);
    person.actingKeyId = (await person.refresh()).keys[0].id;
    expect((await person.request('PATCH', `/services/${tenant.serviceId}`, { description: 'before' })).status).toBe(200);
    expect((await admin.patch(`/users/${made.body.id}`, { password: 'second long password' })).status).toBe(200);
    expect((await person.request('GET', `/services/${tenant.serviceId}`)).status).toBe(401);
    // a second device: disabling ends it too, and the wallet no longer acts even for a session that survived
    const again = new SessionClient(app.api);
    expect((await again.login(made.body.username, 'second long password')).status).toBe(200);
    again.actingKeyId = person.actingKeyId;
    expect((await admin.patch(`/users/${made.body.id}`, { disabled: true })).status).toBe(200);
    expect((await again.request('PATCH', `/services/${tenant.serviceId}`, { description: 'after' })).status).toBe(401);
    // changing one's own password ends the other sessions, not this one
    const olga = await admin.post('/users', { username: `own-${Date.now()}`, password: 'olga first password' });
    await admin.request('PUT', `/users/${olga.body.id}/keys`, { key: tenant.customerKey });
    const laptop = new SessionClient(app.api);
    const phone = new SessionClient(app.api);
    await laptop.login(olga.body.username, 'olga first password');
    await phone.login(olga.body.username, 'olga first password');
    expect((await laptop.request('PUT', '/session/password', { currentPassword: 'wrong', password: 'olga second password' })).status).toBe(403);
    expect((await laptop.request('PUT', '/session/password', { currentPassword: 'olga first password', password: 'olga second password' })).status).toBe(204);
    expect((await laptop.refresh()).user).not.toBeNull();
    expect((await phone.refresh()).user).toBeNull();
  });

  it('counts parallel guesses before hashing: no more wrong passwords get checked than the limit', async () => {
    const made = await admin.post('/users', { username: `race-${Date.now()}`, password: 'race long password' });
    const replies = await Promise.all(
      Array.from({ length: 20 }, async () => {
        const person = new SessionClient(app.api);
        await person.refresh();
        return (await person.login(made.body.username, 'guess')).status;
      }),
    );
    expect(replies.filter((status) => status === 401)).toHaveLength(3);
    expect(replies.filter((status) => status === 429)).toHaveLength(17);
  });

  it('answers a malformed CSRF header with 403, keeps session answers out of caches, and keeps anonymous sessions short', async () => {
    const person = new SessionClient(app.api);
    const state = await person.request('GET', '/session');
    expect(state.headers.get('cache-control')).toBe('no-store');
    person.csrf = state.body.csrfToken;
    const bytes = await person.request('POST', '/session/login', { username: 'admin', password: 'x' }, { csrf: '\u00e9'.repeat(43) });
    expect(bytes.status).toBe(403);
    expect((await admin.get('/users')).headers.get('cache-control')).toBe('no-store');
    // the visitor's session (a CSRF token, nothing held) expires within ten minutes; a login's lives SESSION_IDLE_SECONDS
    const ttlOf = async (client: SessionClient) => {
      const signed = decodeURIComponent(client.cookie!.slice('mserve.sid='.length));
      const sid = signed.slice(2, signed.lastIndexOf('.'));
      const redis = new Redis(process.env.REDIS_URL!);
      try {
        return await redis.ttl(sessionKey(app.config.queuePrefix, sid));
      } finally {
        redis.disconnect();
      }
    };
    const visitorTtl = await ttlOf(person);
    expect(visitorTtl).toBeGreaterThan(0);
    expect(visitorTtl).toBeLessThanOrEqual(600);
    const member = new SessionClient(app.api);
    await member.login('admin', ADMIN_PASSWORD);
    expect(await ttlOf(member)).toBeGreaterThan(600);
  });
});

describe('people: session expiry', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp({ SESSION_IDLE_SECONDS: '2' });
  });
  afterAll(() => app?.close());

  it('ends an idle session', async () => {
    const person = new SessionClient(app.api);
    expect((await person.login('admin', ADMIN_PASSWORD)).status).toBe(200);
    const { keys } = await person.refresh();
    person.actingKeyId = keys[0].id;
    expect((await person.request('GET', '/containers')).status).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, 3500));
    expect((await person.request('GET', '/containers')).status).toBe(401);
    expect((await person.refresh()).user).toBeNull();
  });
});

describe('people: OpenID Connect and password login in Chromium', () => {
  let app: TestApp;
  let browser: Browser;
  let idp: { close(): Promise<void> };
  let issuer: string;

  beforeAll(async () => {
    const [apiPort, idpPort] = [await freePort(), await freePort()];
    issuer = `http://127.0.0.1:${idpPort}`;
    const publicUrl = `http://127.0.0.1:${apiPort}`;
    const { default: Provider } = (await import('oidc-provider')) as {
      default: new (issuer: string, configuration: object) => { listen(port: number): import('node:http').Server };
    };
    const provider = new Provider(issuer, {
      clients: [
        {
          client_id: 'mserve',
          client_secret: 'mserve-test-secret',
          redirect_uris: [`${publicUrl}/api/v1/session/oidc/callback`],
          grant_types: ['authorization_code'],
          response_types: ['code'],
        },
      ],
      pkce: { required: () => true },
      features: { devInteractions: { enabled: true } },
      claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
      cookies: { keys: ['oidc-test-cookie-key'] },
      findAccount: async (_context: unknown, sub: string) => ({
        accountId: sub,
        claims: async () => ({ sub, email: `${sub}@example.test`, email_verified: true, name: `Person ${sub}` }),
      }),
    });
    const server = provider.listen(idpPort);
    idp = { close: () => new Promise((resolve) => server.close(() => resolve())) };
    app = await startTestApp({
      PORT: String(apiPort),
      PUBLIC_URL: publicUrl,
      OIDC_ISSUER: issuer,
      OIDC_CLIENT_ID: 'mserve',
      OIDC_CLIENT_SECRET: 'mserve-test-secret',
      OIDC_ALLOW_HTTP: 'true',
      OIDC_LABEL: 'Test IdP',
    });
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await app?.close();
    await idp?.close();
  });

  it('logs a new person in through the identity provider and creates their account from its claims', async () => {
    const context = await newContext(browser, app.baseUrl);
    const page = await context.newPage();
    await page.goto('/login');
    await screenshot(page, 'login');
    await page.getByRole('link', { name: 'Log in with Test IdP' }).click();
    // oidc-provider's development login form: any account name, then consent
    await page.waitForURL((url) => url.origin === issuer);
    await page.locator('input[name=login]').fill('olivia');
    await page.locator('input[name=password]').fill('anything');
    await page.locator('button[type=submit]').click();
    await page.waitForURL((url) => (url.origin === issuer && /interaction/.test(url.pathname)) || url.origin === app.baseUrl);
    if (new URL(page.url()).origin === issuer) await page.locator('button[type=submit]').click();
    await page.waitForURL(`${app.baseUrl}/`);
    await page.getByRole('heading', { name: /Welcome, Person olivia/ }).waitFor();
    const session = await page.evaluate(() => fetch('/api/v1/session').then((response) => response.json() as Promise<{ user: unknown }>));
    expect(session.user).toMatchObject({ email: 'olivia@example.test', displayName: 'Person olivia', provider: 'oidc' });
    // the account exists once: logging in again finds it
    const users = await new Client(app.api, app.adminKey).get('/users');
    expect(users.body.items.filter((user: { email: string }) => user.email === 'olivia@example.test')).toHaveLength(1);
    expect(context.consoleErrors).toEqual([]);
    await context.close();
  });

  it('refuses a callback whose state does not match (no login without the request it answers)', async () => {
    const context = await newContext(browser, app.baseUrl);
    const page = await context.newPage();
    await page.goto('/api/v1/session/oidc/callback?code=forged&state=forged');
    await page.waitForURL(/\/login\?error=/);
    await page.getByRole('alert').waitFor();
    expect(await page.getByRole('alert').textContent()).toMatch(/OpenID Connect login failed/);
    const session = await page.evaluate(() => fetch('/api/v1/session').then((response) => response.json() as Promise<{ user: unknown }>));
    expect(session.user).toBeNull();
    await context.close();
  });

  it('logs in with a password in the console and out again', async () => {
    const context = await newContext(browser, app.baseUrl);
    const page = await context.newPage();
    await page.goto('/');
    await page.waitForURL(/\/login$/);
    await page.getByLabel('User name').fill('admin');
    await page.getByLabel('Password', { exact: true }).fill('wrong password');
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('alert').waitFor();
    expect(await page.getByRole('alert').textContent()).toMatch(/wrong user name or password/);
    await page.getByLabel('Password', { exact: true }).fill(ADMIN_PASSWORD);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('heading', { name: /Welcome, Provider administrator/ }).waitFor();
    await screenshot(page, 'home');
    // a share link opened while logged in asks first, then acts with the shared key
    const tenant = await makeTenant(new Client(app.api, app.adminKey));
    await page.goto(`/browse/${tenant.customerKey}`);
    await page.getByRole('heading', { name: 'Open a shared link?' }).waitFor();
    expect(new URL(page.url()).pathname).toBe('/browse');
    await page.getByRole('button', { name: 'Open the shared link' }).click();
    await page.waitForURL(`${app.baseUrl}/services/${tenant.serviceId}`);
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.waitForURL(/\/login$/);
    const session = await page.evaluate(() => fetch('/api/v1/session').then((response) => response.json() as Promise<{ user: unknown }>));
    expect(session.user).toBeNull();
    expect(context.consoleErrors).toEqual([]);
    await context.close();
  });
});

import { createHash } from 'node:crypto';
import { Client, makeTenant } from '../support/client';
import { dav, davPath, lockBody, propfind, restTree } from '../support/dav';
import { startTestApp, TestApp } from '../support/test-app';

const md5 = (text: string) => createHash('md5').update(text).digest('hex');
const PROPPATCH =
  '<?xml version="1.0" encoding="utf-8"?><D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:x-mserve-test:"><D:set><D:prop><Z:color>red</Z:color></D:prop></D:set></D:propertyupdate>';

/** What a key may do over WebDAV is exactly what its actions allow; a revoked key is refused on the next request. */
describe('WebDAV and capability keys', () => {
  let app: TestApp;
  let admin: Client;

  beforeAll(async () => {
    app = await startTestApp();
    admin = new Client(app.api, app.adminKey);
  });
  afterAll(() => app.close());

  /** A service with root/{top.txt, docs/{a.txt, sub/}}, made over REST. */
  async function populated() {
    const tenant = await makeTenant(admin);
    const customer = admin.as(tenant.customerKey);
    const docs = await customer.post(`/mfolders/${tenant.rootFolderId}/mfolders`, { name: 'docs' });
    const sub = await customer.post(`/mfolders/${docs.body.id}/mfolders`, { name: 'sub' });
    const top = await customer.upload(tenant.serviceId, 'top.txt', Buffer.from('top content'));
    const a = await customer.upload(tenant.serviceId, 'a.txt', Buffer.from('a content'), `?folderId=${docs.body.id}`);
    expect([docs.status, sub.status, top.status, a.status]).toEqual([201, 201, 201, 201]);
    return { tenant, customer, docsId: docs.body.id as string, top: top.body, a: a.body };
  }

  const snapshot = async (customer: Client, rootFolderId: string) => {
    const tree = await restTree(customer, rootFolderId);
    return {
      files: Object.fromEntries([...tree.files].map(([path, file]) => [path, { id: file.id, md5: file.md5, size: file.size }])),
      folders: Object.fromEntries(tree.folders),
    };
  };

  /** Every write method, each aimed at something that exists (or a new name), against a read-only mount. */
  async function expectEveryWriteRefused(baseUrl: string, key: string, file: string, folder: string | null) {
    const statuses: Record<string, number> = {};
    const send = async (label: string, method: string, target: string, options: Parameters<typeof dav>[4] = {}) => {
      statuses[label] = (await dav(baseUrl, key, method, target, options)).status;
    };
    const destination = (path: string) => ({ destination: `${baseUrl}${path}` });
    await send('PUT new', 'PUT', davPath('new.txt'), { body: 'new' });
    await send('PUT over', 'PUT', file, { body: 'overwritten' });
    await send('DELETE file', 'DELETE', file);
    await send('MKCOL', 'MKCOL', davPath('newdir'));
    await send('MOVE', 'MOVE', file, { headers: destination(davPath('moved.txt')) });
    await send('COPY', 'COPY', file, { headers: destination(davPath('copied.txt')) });
    await send('PROPPATCH', 'PROPPATCH', file, { headers: { 'content-type': 'application/xml' }, body: PROPPATCH });
    await send('LOCK', 'LOCK', file, { headers: { 'content-type': 'application/xml', timeout: 'Second-60' }, body: lockBody() });
    await send('LOCK new', 'LOCK', davPath('locked-null.txt'), { headers: { 'content-type': 'application/xml' }, body: lockBody() });
    if (folder) {
      await send('DELETE folder', 'DELETE', folder);
      await send('PUT into folder', 'PUT', `${folder}/new.txt`, { body: 'new' });
      await send('MKCOL in folder', 'MKCOL', `${folder}/newdir`);
      await send('MOVE folder', 'MOVE', folder, { headers: destination(davPath('moved-folder')) });
      await send('COPY folder', 'COPY', folder, { headers: destination(davPath('copied-folder')) });
      await send('COPY file into folder', 'COPY', file, { headers: { ...destination(`${folder}/copied.txt`), overwrite: 'T' } });
      await send('PROPPATCH folder', 'PROPPATCH', folder, { headers: { 'content-type': 'application/xml' }, body: PROPPATCH });
    }
    expect(statuses).toEqual(Object.fromEntries(Object.keys(statuses).map((label) => [label, 403])));
  }

  it('a read-only service key (service:read, mfolder:read, mfile:read) browses and downloads; every write is 403 and changes nothing', async () => {
    const { tenant, customer } = await populated();
    const derived = await customer.post('/keys', { actions: ['service:read', 'mfolder:read', 'mfile:read'], label: 'read-only mount' });
    expect(derived.status).toBe(201);
    const readOnly = derived.body.key as string;
    const before = await snapshot(customer, tenant.rootFolderId);

    const root = await propfind(app.baseUrl, readOnly, '/dav/', '1');
    expect(root.map((entry) => entry.path).sort()).toEqual(['/dav/', '/dav/docs/', '/dav/top.txt'].sort());
    expect(root.find((entry) => entry.path === '/dav/docs/')!.isCollection).toBe(true);
    const docs = await propfind(app.baseUrl, readOnly, '/dav/docs/', '1');
    expect(docs.map((entry) => entry.path).sort()).toEqual(['/dav/docs/', '/dav/docs/a.txt', '/dav/docs/sub/']);
    expect((await dav(app.baseUrl, readOnly, 'GET', davPath('docs', 'a.txt'))).text).toBe('a content');
    expect((await dav(app.baseUrl, readOnly, 'HEAD', davPath('top.txt'))).status).toBe(200);
    expect((await dav(app.baseUrl, readOnly, 'OPTIONS', '/dav/')).status).toBe(200);

    await expectEveryWriteRefused(app.baseUrl, readOnly, davPath('top.txt'), davPath('docs'));
    await expectEveryWriteRefused(app.baseUrl, readOnly, davPath('docs', 'a.txt'), davPath('docs', 'sub'));
    expect(await snapshot(customer, tenant.rootFolderId)).toEqual(before);
    // no dead property or lock was recorded either
    const [entry] = await propfind(app.baseUrl, tenant.customerKey, davPath('top.txt'), '0');
    expect(entry.prop('color')).toBeUndefined();
    expect(entry.prop('lockdiscovery') ?? '').not.toMatch(/locktoken/);
    expect((await dav(app.baseUrl, tenant.customerKey, 'PUT', davPath('top.txt'), { body: 'the owner still writes' })).status).toBeLessThan(300);
  });

  it('an mfilereadonly key mounts a collection holding just its file: GET works, every write is 403', async () => {
    const { tenant, customer, a } = await populated();
    const owner = admin.as(a.key);
    const derived = await owner.post('/keys', { roles: ['mfilereadonly'] });
    expect(derived.status).toBe(201);
    const readOnly = derived.body.key as string;
    const before = await snapshot(customer, tenant.rootFolderId);
    const entries = await propfind(app.baseUrl, readOnly, '/dav/', '1');
    expect(entries.map((entry) => entry.path).sort()).toEqual(['/dav/', '/dav/a.txt']);
    expect(entries.find((entry) => entry.path === '/dav/a.txt')!.prop('getcontentlength')).toBe('9');
    expect((await dav(app.baseUrl, readOnly, 'GET', davPath('a.txt'))).text).toBe('a content');
    await expectEveryWriteRefused(app.baseUrl, readOnly, davPath('a.txt'), null);
    expect(await snapshot(customer, tenant.rootFolderId)).toEqual(before);
    // the file's siblings are not reachable through it
    expect([403, 404]).toContain((await dav(app.baseUrl, readOnly, 'GET', davPath('top.txt'))).status);

    // the owner's own Mfile key (read and write) may overwrite it, and the REST row changes
    expect((await dav(app.baseUrl, a.key, 'PUT', davPath('a.txt'), { body: 'rewritten by the owner' })).status).toBeLessThan(300);
    expect((await customer.get(`/mfiles/${a.id}`)).body.md5).toBe(md5('rewritten by the owner'));
  });

  it('no key, a wrong key or a revoked key: 401 with WWW-Authenticate: Basic realm="MServe", from the very next request', async () => {
    const { customer } = await populated();
    // RFC 7617 allows auth-params after the realm (charset="UTF-8")
    const challenge = (reply: Awaited<ReturnType<typeof dav>>) => [
      reply.status,
      /^Basic realm="MServe"(\s*,\s*charset="UTF-8")?$/i.test(reply.headers['www-authenticate'] ?? '')
        ? 'Basic realm="MServe"'
        : reply.headers['www-authenticate'],
    ];
    expect(challenge(await dav(app.baseUrl, undefined, 'PROPFIND', '/dav/', { headers: { depth: '0' } }))).toEqual([401, 'Basic realm="MServe"']);
    expect(challenge(await dav(app.baseUrl, 'not-a-key', 'PROPFIND', '/dav/', { headers: { depth: '0' } }))).toEqual([401, 'Basic realm="MServe"']);
    expect(challenge(await dav(app.baseUrl, `msk_${'A'.repeat(43)}`, 'GET', davPath('top.txt')))).toEqual([401, 'Basic realm="MServe"']);
    // the user name does not matter, only the password
    const derived = await customer.post('/keys', { roles: ['servicecustomer'], label: 'to revoke' });
    const key = derived.body.key as string;
    const asUser = (user: string) =>
      dav(app.baseUrl, undefined, 'PROPFIND', '/dav/', { headers: { depth: '0', authorization: `Basic ${Buffer.from(`${user}:${key}`).toString('base64')}` } });
    expect((await asUser('anyone')).status).toBe(207);
    expect((await asUser('')).status).toBe(207);
    // keep-alive too: the revocation holds on an open connection
    const { Agent } = await import('node:http');
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      expect((await dav(app.baseUrl, key, 'GET', davPath('top.txt'), { agent })).text).toBe('top content');
      expect((await customer.delete(`/keys/${derived.body.id}`)).status).toBe(200);
      expect(challenge(await dav(app.baseUrl, key, 'GET', davPath('top.txt'), { agent }))).toEqual([401, 'Basic realm="MServe"']);
      expect(challenge(await dav(app.baseUrl, key, 'PROPFIND', '/dav/', { headers: { depth: '1' } }))).toEqual([401, 'Basic realm="MServe"']);
      expect(challenge(await dav(app.baseUrl, key, 'PUT', davPath('after-revoke.txt'), { body: 'x' }))).toEqual([401, 'Basic realm="MServe"']);
    } finally {
      agent.destroy();
    }
  });

  it('a container key sees its services as folders named by service name, and works inside them', async () => {
    const { tenant } = await populated();
    const containerAdmin = admin.as(tenant.containerKey);
    const second = await containerAdmin.post(`/containers/${tenant.containerId}/services`, { name: `second service ${tenant.containerId.slice(-6)}` });
    expect(second.status).toBe(201);
    const firstName = (await containerAdmin.get(`/services/${tenant.serviceId}`)).body.name as string;
    const secondName = second.body.name as string;
    const outsider = await makeTenant(admin);
    const outsiderName = (await admin.as(outsider.customerKey).get(`/services/${outsider.serviceId}`)).body.name as string;

    const entries = await propfind(app.baseUrl, tenant.containerKey, '/dav/', '1');
    expect(entries.map((entry) => entry.path).sort()).toEqual(['/dav/', `/dav/${firstName}/`, `/dav/${secondName}/`].sort());
    expect(entries.filter((entry) => entry.path !== '/dav/').every((entry) => entry.isCollection)).toBe(true);
    expect(entries.some((entry) => entry.path.includes(outsiderName))).toBe(false);
    const inside = await propfind(app.baseUrl, tenant.containerKey, `${davPath(firstName)}/`, '1');
    expect(inside.map((entry) => entry.path).sort()).toEqual([`/dav/${firstName}/`, `/dav/${firstName}/docs/`, `/dav/${firstName}/top.txt`].sort());
    expect((await dav(app.baseUrl, tenant.containerKey, 'GET', davPath(firstName, 'docs', 'a.txt'))).text).toBe('a content');

    // a PUT into the second service makes an Mfile there (same rows the REST API lists)
    expect((await dav(app.baseUrl, tenant.containerKey, 'PUT', davPath(secondName, 'hello.txt'), { body: 'hello second' })).status).toBe(201);
    expect((await dav(app.baseUrl, tenant.containerKey, 'MKCOL', davPath(secondName, 'made here'))).status).toBe(201);
    const secondTree = await restTree(containerAdmin, second.body.rootFolderId);
    expect([...secondTree.files.keys()]).toEqual(['hello.txt']);
    expect(secondTree.files.get('hello.txt')!.md5).toBe(md5('hello second'));
    expect([...secondTree.folders.keys()]).toEqual(['made here']);
    // another container's service is not there
    expect([403, 404]).toContain((await dav(app.baseUrl, tenant.containerKey, 'PROPFIND', `${davPath(outsiderName)}/`, { headers: { depth: '0' } })).status);
  });
});

import { Client, makeTenant } from '../support/client';
import { dav } from '../support/dav';
import { startTestApp, TestApp } from '../support/test-app';

/**
 * Two api processes of one deployment (the same database and Redis). WebDAV does not look a key up again when it
 * authenticated lately (RequestAuthenticator.remembered): the statement that opens the request checks that the key
 * and its parent chain are alive. A revocation or deletion answered by one process is in force at the other on the
 * very next request, and so is one written straight into the database.
 */
describe('remembered keys and revocation across api processes', () => {
  let one: TestApp;
  let two: TestApp;
  let admin: Client;

  beforeAll(async () => {
    const shared = { QUEUE_PREFIX: `mserve-test-keycache-${Math.random().toString(36).slice(2, 10)}` };
    one = await startTestApp(shared);
    two = await startTestApp(shared);
    admin = new Client(one.api, one.adminKey);
  });
  afterAll(async () => {
    await one?.close();
    await two?.close();
  });

  /** The key works at the second process, twice (the second time from memory). */
  async function warm(key: string, serviceId: string) {
    for (let i = 0; i < 2; i++) expect((await new Client(two.api, key).get(`/services/${serviceId}`)).status).toBe(200);
    for (let i = 0; i < 2; i++) expect((await dav(two.baseUrl, key, 'PROPFIND', '/dav/', { headers: { depth: '0' } })).status).toBe(207);
  }

  it('a key revoked at one process is refused at the other at once (REST and WebDAV), and so are the keys derived from it', async () => {
    const tenant = await makeTenant(admin);
    const customer = new Client(one.api, tenant.customerKey);
    const child = await customer.post('/keys', { actions: ['service:read', 'mfolder:read', 'mfile:read', 'key:create'] });
    expect(child.status).toBe(201);
    const grandchild = await new Client(one.api, child.body.key).post('/keys', { actions: ['service:read', 'mfolder:read', 'mfile:read'] });
    expect(grandchild.status).toBe(201);
    await warm(child.body.key, tenant.serviceId);
    await warm(grandchild.body.key, tenant.serviceId);

    // the grandchild's ancestor goes: the grandchild, remembered at the second process, goes with it
    expect((await customer.delete(`/keys/${child.body.id}`)).status).toBe(200);
    expect((await new Client(two.api, grandchild.body.key).get(`/services/${tenant.serviceId}`)).status).toBe(401);
    expect((await dav(two.baseUrl, child.body.key, 'PROPFIND', '/dav/', { headers: { depth: '0' } })).status).toBe(401);
    // the customer key was not revoked: still served (and remembered again)
    await warm(tenant.customerKey, tenant.serviceId);
  });

  it('a key whose ancestor was revoked or expired directly in the database is refused over WebDAV at once', async () => {
    const tenant = await makeTenant(admin);
    const customer = new Client(one.api, tenant.customerKey);
    const child = await customer.post('/keys', { actions: ['service:read', 'mfolder:read', 'mfile:read', 'key:create'] });
    const grandchild = await new Client(one.api, child.body.key).post('/keys', { actions: ['service:read', 'mfolder:read', 'mfile:read'] });
    expect([child.status, grandchild.status]).toEqual([201, 201]);
    await warm(grandchild.body.key, tenant.serviceId);
    await one.dataSource.query('UPDATE key SET revoked_at = now() WHERE id = $1', [child.body.id]);
    const refused = await dav(two.baseUrl, grandchild.body.key, 'PROPFIND', '/dav/', { headers: { depth: '0' } });
    expect(refused.status).toBe(401);
    expect(refused.text).toContain(`derived from key ${child.body.id}, which has been revoked`);
    await one.dataSource.query("UPDATE key SET revoked_at = NULL, expires_at = now() - interval '1 second' WHERE id = $1", [child.body.id]);
    await warm(tenant.customerKey, tenant.serviceId);
    expect((await dav(two.baseUrl, grandchild.body.key, 'PUT', '/dav/x.txt', { body: 'x' })).status).toBe(401);
    expect((await dav(two.baseUrl, grandchild.body.key, 'PROPFIND', '/dav/', { headers: { depth: '0' } })).status).toBe(401);
  });

  it("a deleted service's keys are refused at the other process at once", async () => {
    const tenant = await makeTenant(admin);
    await warm(tenant.customerKey, tenant.serviceId);
    expect((await new Client(one.api, tenant.containerKey).delete(`/services/${tenant.serviceId}`)).status).toBe(204);
    expect((await dav(two.baseUrl, tenant.customerKey, 'PROPFIND', '/dav/', { headers: { depth: '0' } })).status).toBe(401);
  });
});

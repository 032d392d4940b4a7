import { Client, makeTenant } from '../support/client';
import { basic, dav, davPath } from '../support/dav';
import { startTestApp, TestApp } from '../support/test-app';

const NFC = 'caf\u00e9.txt';
const NFD = 'cafe\u0301.txt';
const RLO = 'invoice\u202Efdp.exe'; // shows as "invoiceexe.pdf"
const ZWSP = 'a\u200Bb.txt';
const text = (value: string) => new TextEncoder().encode(value);
const b64 = (value: string) => Buffer.from(value).toString('base64');

/** Issue 16, item 16: names are one name whatever their Unicode form, and invisible format characters are refused. */
describe('names: Unicode normalisation and format characters', () => {
  let app: TestApp;
  let admin: Client;

  beforeAll(async () => {
    app = await startTestApp();
    admin = new Client(app.api, app.adminKey);
  });
  afterAll(() => app.close());

  it('REST: an NFD name is stored as NFC and collides with the NFC one (409), over every upload path and for folders', async () => {
    const tenant = await makeTenant(admin);
    const customer = admin.as(tenant.customerKey);
    const first = await customer.upload(tenant.serviceId, NFD, text('one'));
    expect(first.status).toBe(201);
    expect(first.body.name).toBe(NFC);
    const again = await customer.upload(tenant.serviceId, NFC, text('two'));
    expect(again.status).toBe(409);
    expect(again.headers.get('content-type')).toContain('application/problem+json');
    // a raw body with ?name=, tus metadata and a Content-Range upload: the same name
    expect(
      (await customer.post(`/services/${tenant.serviceId}/mfiles?name=${encodeURIComponent(NFC)}`, text('raw'), { 'content-type': 'text/plain' })).status,
    ).toBe(409);
    const tus = await customer.post(`/services/${tenant.serviceId}/uploads`, undefined, {
      'tus-resumable': '1.0.0',
      'upload-length': '3',
      'upload-metadata': `filename ${b64(NFC)}`,
    });
    expect(tus.status).toBe(409);
    const ranged = await customer.request('POST', `/services/${tenant.serviceId}/chunked-uploads?name=${encodeURIComponent(NFC)}`, text('abc'), {
      'content-range': 'bytes 0-2/3',
      'content-type': 'application/octet-stream',
    });
    expect(ranged.status).toBe(409);
    // folders and renames
    const folder = await customer.post(`/mfolders/${tenant.rootFolderId}/mfolders`, { name: 'Entw\u00fcrfe' });
    expect(folder.status).toBe(201);
    const twin = await customer.post(`/mfolders/${tenant.rootFolderId}/mfolders`, { name: 'Entwu\u0308rfe' });
    expect(twin.status).toBe(409);
    const other = await customer.upload(tenant.serviceId, 'other.txt', text('o'));
    expect((await customer.patch(`/mfiles/${other.body.id}`, { name: NFD })).status).toBe(409);
    const listed = await customer.get(`/mfolders/${tenant.rootFolderId}/mfiles`);
    expect(listed.body.items.map((item: { name: string }) => item.name).sort()).toEqual([NFC, 'other.txt']);
  });

  it('REST: refuses format characters (U+202E, zero-width) in file, folder, service and container names with a 400 naming the character', async () => {
    const tenant = await makeTenant(admin);
    const customer = admin.as(tenant.customerKey);
    const upload = await customer.upload(tenant.serviceId, RLO, text('x'));
    expect(upload.status).toBe(400);
    expect(upload.headers.get('content-type')).toContain('application/problem+json');
    expect(upload.body.detail).toContain('U+202E');
    expect(upload.body.detail).toMatch(/format characters/);
    const folder = await customer.post(`/mfolders/${tenant.rootFolderId}/mfolders`, { name: ZWSP });
    expect(folder.status).toBe(400);
    expect(JSON.stringify(folder.body)).toContain('U+200B');
    const service = await admin.as(tenant.containerKey).post(`/containers/${tenant.containerId}/services`, { name: `svc${'\u202E'}x` });
    expect(service.status).toBe(400);
    expect(JSON.stringify(service.body)).toContain('U+202E');
    const container = await admin.post('/containers', { name: `c\uFEFF${Date.now()}` });
    expect(container.status).toBe(400);
    expect(JSON.stringify(container.body)).toContain('U+FEFF');
    const tus = await customer.post(`/services/${tenant.serviceId}/uploads`, undefined, {
      'tus-resumable': '1.0.0',
      'upload-length': '3',
      'upload-metadata': `filename ${b64(RLO)}`,
    });
    expect(tus.status).toBe(400);
    expect(tus.body.detail).toContain('U+202E');
    // and a service named in NFD is kept in NFC
    const named = await admin.as(tenant.containerKey).post(`/containers/${tenant.containerId}/services`, { name: `Caf\u0065\u0301 ${Date.now()}` });
    expect(named.status).toBe(201);
    expect(named.body.name).toBe(named.body.name.normalize('NFC'));
    expect(named.body.name).toContain('\u00e9');
  });

  it('WebDAV: an NFD path reaches the NFC name; U+202E is refused naming it', async () => {
    const tenant = await makeTenant(admin);
    const key = tenant.customerKey;
    const headers = { authorization: basic(key) };
    const put = await dav(app.baseUrl, undefined, 'PUT', davPath(NFD), { headers, body: 'dav one' });
    expect(put.status).toBe(201);
    const listed = await admin.as(key).get(`/mfolders/${tenant.rootFolderId}/mfiles`);
    expect(listed.body.items.map((item: { name: string }) => item.name)).toEqual([NFC]);
    // the NFC path is the same resource: PUT replaces it (no second file), GET reads it
    expect((await dav(app.baseUrl, undefined, 'PUT', davPath(NFC), { headers, body: 'dav two' })).status).toBe(204);
    expect((await dav(app.baseUrl, undefined, 'GET', davPath(NFD), { headers })).text).toBe('dav two');
    expect((await admin.as(key).get(`/mfolders/${tenant.rootFolderId}/mfiles`)).body.items).toHaveLength(1);
    // a collection named in one form exists in the other: MKCOL is refused, and REST sees the collision as 409
    expect((await dav(app.baseUrl, undefined, 'MKCOL', davPath('Entw\u00fcrfe'), { headers })).status).toBe(201);
    expect((await dav(app.baseUrl, undefined, 'MKCOL', davPath('Entwu\u0308rfe'), { headers })).status).toBe(405);
    expect((await admin.as(key).upload(tenant.serviceId, 'Entwu\u0308rfe', text('x'))).status).toBe(409);
    // a file moved onto the other form's name, without Overwrite, is refused
    expect((await dav(app.baseUrl, undefined, 'PUT', davPath('b.txt'), { headers, body: 'b' })).status).toBe(201);
    const move = await dav(app.baseUrl, undefined, 'MOVE', davPath('b.txt'), { headers: { ...headers, destination: davPath(NFD), overwrite: 'F' } });
    expect(move.status).toBe(412);

    for (const name of [RLO, ZWSP]) {
      const refused = await dav(app.baseUrl, undefined, 'PUT', davPath(name), { headers, body: 'x' });
      expect(refused.status).toBe(400);
      expect(refused.headers['content-type']).toContain('application/problem+json');
      expect(refused.text).toContain(name === RLO ? 'U+202E' : 'U+200B');
    }
  });

  it('WebDAV: the HTML listing has CSP and nosniff; no response carries a Server banner or the library CORS headers', async () => {
    const tenant = await makeTenant(admin);
    const headers = { authorization: basic(tenant.customerKey) };
    expect((await dav(app.baseUrl, undefined, 'PUT', davPath(NFC), { headers, body: 'x' })).status).toBe(201);
    const listing = await dav(app.baseUrl, undefined, 'GET', '/dav/', { headers });
    expect(listing.status).toBe(200);
    expect(listing.headers['content-type']).toContain('text/html');
    expect(listing.headers['content-security-policy']).toContain("default-src 'none'");
    expect(listing.headers['x-content-type-options']).toBe('nosniff');
    expect(listing.headers.server).toBeUndefined();
    for (const method of ['OPTIONS', 'PROPFIND', 'GET']) {
      const reply = await dav(app.baseUrl, undefined, method, davPath(NFC), { headers: { ...headers, depth: '0' } });
      expect([method, reply.headers.server, reply.headers['access-control-allow-origin']]).toEqual([method, undefined, undefined]);
    }
  });
});

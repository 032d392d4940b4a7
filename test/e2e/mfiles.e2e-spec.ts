import { createHash } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { Client, makeTenant } from '../support/client';
import { stagedFiles, storedBlobs } from '../support/storage-files';
import { startTestApp, TestApp } from '../support/test-app';
import { accessMetered } from '../support/usage';

const text = (value: string) => new TextEncoder().encode(value);
const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

describe('Mfiles: upload, list, download, replace, delete', () => {
  let app: TestApp;
  let admin: Client;

  beforeAll(async () => {
    app = await startTestApp({ MAX_UPLOAD_BYTES: String(4 * 1024 * 1024), MAX_JSON_BYTES: '4096' });
    admin = new Client(app.api, app.adminKey);
  });
  afterAll(() => app.close());

  const blobs = () => storedBlobs(app.config);
  const temps = () => stagedFiles(app.config, ['tmp']);

  it('stores a raw-body upload with the digests of its bytes and the magic-number mimetype', async () => {
    const tenant = await makeTenant(admin);
    const customer = admin.as(tenant.customerKey);
    const png = Buffer.from(
      '89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d4944415478da63f8cfc0f01f0005000201a5f0c8b40000000049454e44ae426082',
      'hex',
    );
    // a PNG named .jpg is still a PNG
    const reply = await customer.post(`/services/${tenant.serviceId}/mfiles?name=${encodeURIComponent('not really.jpg')}`, png, {
      'content-type': 'application/octet-stream',
    });
    expect(reply.status).toBe(201);
    expect(reply.body).toMatchObject({
      name: 'not really.jpg',
      size: png.length,
      sha256: sha256(png),
      md5: createHash('md5').update(png).digest('hex'),
      mimetype: 'image/png',
      folderId: tenant.rootFolderId,
    });
    const csv = await customer.post(`/services/${tenant.serviceId}/mfiles?name=data.csv`, text('a,b\n1,2\n'), { 'content-type': 'application/octet-stream' });
    expect(csv.body.mimetype).toBe('text/csv');
    const plain = await customer.post(`/services/${tenant.serviceId}/mfiles?name=README`, text('just some words\n'), {
      'content-type': 'application/octet-stream',
    });
    expect(plain.body.mimetype).toBe('text/plain');
    const empty = await customer.post(`/services/${tenant.serviceId}/mfiles?name=empty.bin`, new Uint8Array(0), { 'content-type': 'application/octet-stream' });
    expect(empty.status).toBe(201);
    expect(empty.body).toMatchObject({ size: 0, sha256: sha256(new Uint8Array(0)) });
    const emptyDownload = await customer.get(`/mfiles/${empty.body.id}/content`);
    expect(emptyDownload.status).toBe(200);
    expect(emptyDownload.headers.get('content-length')).toBe('0');
  });

  it('rejects unsafe names and reports each problem', async () => {
    const tenant = await makeTenant(admin);
    const customer = admin.as(tenant.customerKey);
    for (const name of ['../x', 'a/b', 'nul\u0000byte', 'x'.repeat(256), 'é'.repeat(128), '..', ' padded']) {
      const reply = await customer.post(`/services/${tenant.serviceId}/mfiles?name=${encodeURIComponent(name)}`, text('x'), {
        'content-type': 'application/octet-stream',
      });
      expect([name.slice(0, 10), reply.status]).toEqual([name.slice(0, 10), 400]);
      expect(reply.headers.get('content-type')).toContain('application/problem+json');
    }
    const missing = await customer.post(`/services/${tenant.serviceId}/mfiles`, text('x'), { 'content-type': 'application/octet-stream' });
    expect(missing.status).toBe(400);
    expect(missing.body.detail).toContain('name');
    const ok = await customer.post(`/services/${tenant.serviceId}/mfiles?name=${encodeURIComponent('Übersicht 100% (final) 日本.txt')}`, text('x'), {
      'content-type': 'text/plain',
    });
    expect(ok.status).toBe(201);
    const download = await customer.get(`/mfiles/${ok.body.id}/content`);
    expect(download.headers.get('content-disposition')).toBe(
      `inline; filename="_bersicht 100_ (final) __.txt"; filename*=UTF-8''%C3%9Cbersicht%20100%25%20%28final%29%20%E6%97%A5%E6%9C%AC.txt`,
    );
    expect(await blobs()).not.toContain(expect.stringContaining('..'));
  });

  it('refuses a second file of the same name in a folder (409) and leaves no bytes behind', async () => {
    const tenant = await makeTenant(admin);
    const customer = admin.as(tenant.customerKey);
    expect((await customer.upload(tenant.serviceId, 'same.txt', text('one'))).status).toBe(201);
    const before = (await blobs()).length;
    const again = await customer.upload(tenant.serviceId, 'same.txt', text('two'));
    expect(again.status).toBe(409);
    expect(again.body.existing.type).toBe('mfile');
    expect((await blobs()).length).toBe(before);
    const folder = await customer.post(`/mfolders/${tenant.rootFolderId}/mfolders`, { name: 'same.txt' });
    expect(folder.status).toBe(409);
  });

  it('413 for uploads over MAX_UPLOAD_BYTES, declared or streamed, and 413 for JSON over MAX_JSON_BYTES', async () => {
    const tenant = await makeTenant(admin);
    const customer = admin.as(tenant.customerKey);
    const before = (await blobs()).length;
    const big = new Uint8Array(4 * 1024 * 1024 + 1);
    const declared = await customer.post(`/services/${tenant.serviceId}/mfiles?name=big.bin`, big, { 'content-type': 'application/octet-stream' });
    expect(declared.status).toBe(413);
    const form = await customer.upload(tenant.serviceId, 'big-form.bin', big);
    expect(form.status).toBe(413);
    expect((await blobs()).length).toBe(before);
    expect(await temps()).toEqual([]);
    const json = await admin.post('/containers', { name: 'x', description: 'y'.repeat(5000) });
    expect(json.status).toBe(413);
    expect(json.headers.get('content-type')).toContain('application/problem+json');
  });

  it('an aborted upload leaves no file, no temp file and no Mfile', async () => {
    const tenant = await makeTenant(admin);
    const url = new URL(`${app.api}/services/${tenant.serviceId}/mfiles?name=aborted.bin`);
    const before = (await blobs()).length;
    await new Promise<void>((resolve) => {
      const request = httpRequest(url, {
        method: 'POST',
        headers: { authorization: `Bearer ${tenant.customerKey}`, 'content-type': 'application/octet-stream', 'content-length': String(1024 * 1024) },
      });
      request.on('error', () => resolve());
      request.write(Buffer.alloc(300 * 1024, 7));
      setTimeout(() => {
        request.destroy();
        resolve();
      }, 200);
    });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect((await blobs()).length).toBe(before);
    expect(await temps()).toEqual([]);
    const list = await admin.as(tenant.customerKey).get(`/services/${tenant.serviceId}/mfiles`);
    expect(list.body.items).toEqual([]);
  });

  it('415 for a JSON body and 400 for a multipart body without a file, or malformed JSON', async () => {
    const tenant = await makeTenant(admin);
    const customer = admin.as(tenant.customerKey);
    expect((await customer.post(`/services/${tenant.serviceId}/mfiles?name=a`, { not: 'a file' })).status).toBe(415);
    const form = new FormData();
    form.append('other', 'value');
    const noFile = await customer.post(`/services/${tenant.serviceId}/mfiles`, form);
    expect(noFile.status).toBe(400);
    expect(noFile.body.detail).toContain('file');
    const broken = await customer.post('/keys', '{"roles": [', { 'content-type': 'application/json' });
    expect(broken.status).toBe(400);
    expect(broken.body.type).toContain('malformed-json');
  });

  it('refuses input no route can take with a problem that says what, and stores nothing (found by the REST fuzz)', async () => {
    const tenant = await makeTenant(admin);
    const customer = admin.as(tenant.customerKey);
    const problem = (reply: { status: number; headers: Headers; body: { status?: number; detail?: string } }) => [
      reply.status,
      reply.headers.get('content-type')?.split(';')[0],
      reply.body.detail,
    ];
    // a NUL in a query string reached PostgreSQL (ILIKE) and was a 500
    for (const path of [`/mfolders/${tenant.rootFolderId}/mfolders?name=a%00b`, `/services/${tenant.serviceId}/mfiles?name=%00`, `/containers?name=x%00`]) {
      expect(problem(await customer.get(path))).toEqual([
        400,
        'application/problem+json',
        'the request URL holds a NUL character (%00), which no id, name or parameter may contain',
      ]);
    }
    // JSON nested deep enough overflowed the validator's stack; a NUL or a lone surrogate anywhere could not be stored
    const deep = `{"name":"x","description":${'['.repeat(1500)}${']'.repeat(1500)}}`;
    expect(problem(await admin.post('/containers', deep, { 'content-type': 'application/json' }))).toEqual([
      400,
      'application/problem+json',
      expect.stringMatching(/^the JSON body is nested deeper than 64 levels/),
    ]);
    expect(problem(await admin.post('/users', '{"username":"nul-user","displayName":"a\\u0000b"}', { 'content-type': 'application/json' }))).toEqual([
      400,
      'application/problem+json',
      'the string at displayName must not contain NUL characters',
    ]);
    expect(problem(await admin.post('/containers', '{"name":"x","\\ud800":1}', { 'content-type': 'application/json' }))).toEqual([
      400,
      'application/problem+json',
      'the member name at the top level must not contain unpaired UTF-16 surrogates',
    ]);
    // dates PostgreSQL cannot store (JS dates reach year ±271,821) and cursors forged with ids or names that are not
    // (a cursor is base64url: what it holds never went through the URL guard) were 500s
    const dates = 'must be an ISO 8601 date between 0001-01-01 and 9999-12-31';
    for (const [reply, field] of [
      [await customer.get(`/services/${tenant.serviceId}/mfiles?createdFrom=-271821-04-20T00:00:00.000Z`), 'createdFrom'],
      [await customer.get(`/services/${tenant.serviceId}/usage?bucket=month&to=%2B275760-09-13T00:00:00.000Z`), 'to'],
      [await admin.patch(`/services/${tenant.serviceId}`, { startsAt: -8.64e15 }), 'startsAt'],
      [await customer.post('/keys', { roles: ['mfilereadonly'], expiresAt: '+010000-01-01T00:00:00Z' }), 'expiresAt'],
    ] as const) {
      expect(problem(reply)).toEqual([400, 'application/problem+json', `the request is invalid: ${field} ${dates}`]);
    }
    const cursor = (values: unknown[]) => Buffer.from(JSON.stringify(values)).toString('base64url');
    for (const path of [
      `/services/${tenant.serviceId}/mfiles?cursor=${cursor(['-'.repeat(36)])}`,
      `/services/${tenant.serviceId}/mfiles?sort=name&cursor=${cursor(['a\u0000', tenant.serviceId])}`,
      `/mfolders/${tenant.rootFolderId}/mfolders?cursor=${cursor([{}])}`,
      `/keys?cursor=${cursor(['x'])}`,
    ]) {
      expect(problem(await customer.get(path))).toEqual([400, 'application/problem+json', 'cursor is not one this server issued']);
    }
    // null where the API does not document it (only quotas, the window, accessSpeed and profile take null) reached a
    // NOT NULL column: {"disabled": null} on a user was a 500
    const person = await admin.post('/users', { username: `nulls-${Date.now()}` });
    expect(problem(await admin.patch(`/users/${person.body.id}`, { disabled: null }))).toEqual([
      400,
      'application/problem+json',
      'the request is invalid: disabled must not be null (leave it out to keep it as it is)',
    ]);
    expect(problem(await admin.patch(`/services/${tenant.serviceId}`, { description: null, name: null }))).toEqual([
      400,
      'application/problem+json',
      'the request is invalid: description must not be null (leave it out to keep it as it is); name must not be null (leave it out to keep it as it is)',
    ]);
    expect((await admin.patch(`/services/${tenant.serviceId}`, { diskQuota: null, startsAt: null, accessSpeed: null, profile: null })).status).toBe(200);
    // a multipart form cut short (no closing boundary) was a 500 from busboy, and must leave nothing behind
    const before = { blobs: (await blobs()).length, temps: (await temps()).length };
    const cut = Buffer.concat([
      Buffer.from('--b0undary\r\nContent-Disposition: form-data; name="file"; filename="cut.bin"\r\nContent-Type: application/octet-stream\r\n\r\n'),
      Buffer.alloc(3000, 7),
    ]);
    for (const path of [`/services/${tenant.serviceId}/mfiles`]) {
      expect(problem(await customer.post(path, cut, { 'content-type': 'multipart/form-data; boundary=b0undary' }))).toEqual([
        400,
        'application/problem+json',
        'malformed multipart body: Unexpected end of form',
      ]);
    }
    // file parts nobody reads (another field, a refused name) are destroyed with the same error: it was unhandled and
    // took the whole process down
    for (const [field, filename, detail] of [
      ['other', 'x.bin', 'the multipart body has no file field named "file"'],
      ['file', ' padded', expect.stringContaining('name')],
    ]) {
      const unread = Buffer.concat([
        Buffer.from(`--b0undary\r\nContent-Disposition: form-data; name="${field}"; filename="${filename}"\r\n\r\n`),
        Buffer.alloc(3000, 7),
      ]);
      const reply = await customer.post(`/services/${tenant.serviceId}/mfiles`, unread, { 'content-type': 'multipart/form-data; boundary=b0undary' });
      expect(problem(reply)).toEqual([
        400,
        'application/problem+json',
        field === 'other'
          ? expect.stringMatching(/^(malformed multipart body: Unexpected end of form|the multipart body has no file field named "file")$/)
          : detail,
      ]);
    }
    const existing = await customer.post(`/services/${tenant.serviceId}/mfiles?name=kept.txt`, text('kept'), { 'content-type': 'text/plain' });
    expect(problem(await customer.put(`/mfiles/${existing.body.id}/content`, cut, { 'content-type': 'multipart/form-data; boundary=b0undary' }))).toEqual([
      400,
      'application/problem+json',
      'malformed multipart body: Unexpected end of form',
    ]);
    expect((await customer.get(`/mfiles/${existing.body.id}/content`)).text).toBe('kept');
    expect((await customer.get(`/services/${tenant.serviceId}/mfiles`)).body.items.map((item: { name: string }) => item.name)).toEqual(['kept.txt']);
    expect({ blobs: (await blobs()).length, temps: (await temps()).length }).toEqual({ blobs: before.blobs + 1, temps: before.temps });
    // tus metadata is kept as jsonb: a NUL in a value was a 500
    const tus = await customer.post(`/services/${tenant.serviceId}/uploads`, undefined, {
      'tus-resumable': '1.0.0',
      'upload-length': '4',
      'upload-metadata': `filename ${Buffer.from('t.bin').toString('base64')},filetype ${Buffer.from('\u0000').toString('base64')}`,
    });
    expect(problem(tus)).toEqual([400, 'application/problem+json', 'Upload-Metadata "filetype" must not contain NUL characters']);
    // what Node's HTTP parser refuses before any route (headers over 16 KiB) is problem+json too, not a bare status line
    const huge = await customer.get(`/services/${tenant.serviceId}`, { 'x-padding': 'p'.repeat(20_000) });
    expect(problem(huge)).toEqual([431, 'application/problem+json', 'the request line and headers are larger than the server accepts (16 KiB)']);
    expect(huge.headers.get('connection')).toBe('close');
    // ... and an answer to HEAD carries no body, which the client would otherwise read as a broken next answer
    const hugeHead = await customer.request('HEAD', `/mfiles/${existing.body.id}/content`, undefined, { 'x-padding': 'p'.repeat(20_000) });
    expect([hugeHead.status, hugeHead.headers.get('content-length')]).toEqual([431, null]);
  });

  it('downloads with ETag, conditional requests, a range and HEAD; meters access', async () => {
    const tenant = await makeTenant(admin);
    const customer = admin.as(tenant.customerKey);
    const bytes = text('0123456789abcdefghij');
    const file = await customer.upload(tenant.serviceId, 'range.txt', bytes);
    const etag = `"${sha256(bytes)}"`;
    const full = await customer.get(`/mfiles/${file.body.id}/content`);
    expect(full.status).toBe(200);
    expect(full.text).toBe('0123456789abcdefghij');
    expect(full.headers.get('etag')).toBe(etag);
    expect(full.headers.get('content-length')).toBe('20');
    expect(full.headers.get('accept-ranges')).toBe('bytes');
    expect((await customer.get(`/mfiles/${file.body.id}/content`, { 'if-none-match': etag })).status).toBe(304);
    expect((await customer.get(`/mfiles/${file.body.id}/content`, { 'if-modified-since': new Date(Date.now() + 60000).toUTCString() })).status).toBe(304);
    expect((await customer.get(`/mfiles/${file.body.id}/content`, { 'if-match': '"other"' })).status).toBe(412);
    const part = await customer.get(`/mfiles/${file.body.id}/content`, { range: 'bytes=5-9' });
    expect(part.status).toBe(206);
    expect(part.text).toBe('56789');
    expect(part.headers.get('content-range')).toBe('bytes 5-9/20');
    const suffix = await customer.get(`/mfiles/${file.body.id}/content`, { range: 'bytes=-3' });
    expect(suffix.text).toBe('hij');
    expect((await customer.get(`/mfiles/${file.body.id}/content`, { range: 'bytes=50-60' })).status).toBe(416);
    const staleIfRange = await customer.get(`/mfiles/${file.body.id}/content`, { range: 'bytes=0-1', 'if-range': '"stale"' });
    expect(staleIfRange.status).toBe(200);
    const head = await customer.request('HEAD', `/mfiles/${file.body.id}/content`);
    expect(head.status).toBe(200);
    expect(head.headers.get('content-length')).toBe('20');
    expect(await accessMetered(app.dataSource, file.body.id, 20 + 5 + 3 + 20)).toBe(20 + 5 + 3 + 20);
    const [{ ingest }] = await app.dataSource.query("SELECT SUM(value)::float AS ingest FROM usage WHERE metric = 'ingest' AND resource_id = $1", [
      file.body.id,
    ]);
    expect(ingest).toBe(20);
  });

  it('replaces content atomically and releases the old bytes', async () => {
    const tenant = await makeTenant(admin);
    const customer = admin.as(tenant.customerKey);
    const file = await customer.upload(tenant.serviceId, 'doc.txt', text('version one'));
    const blobsBefore = await blobs();
    const replaced = await customer.put(`/mfiles/${file.body.id}/content`, text('version two, longer'), { 'content-type': 'application/octet-stream' });
    expect(replaced.status).toBe(200);
    expect(replaced.body).toMatchObject({ id: file.body.id, size: 19, sha256: sha256(text('version two, longer')), name: 'doc.txt' });
    expect((await customer.get(`/mfiles/${file.body.id}/content`)).text).toBe('version two, longer');
    expect((await blobs()).length).toBe(blobsBefore.length);
    expect(await blobs()).not.toEqual(blobsBefore);
  });

  it('lists with keyset pagination and filters by name, mimetype, date and folder', async () => {
    const tenant = await makeTenant(admin);
    const customer = admin.as(tenant.customerKey);
    const folder = await customer.post(`/mfolders/${tenant.rootFolderId}/mfolders`, { name: 'inbox' });
    const created: string[] = [];
    for (let index = 0; index < 7; index++) {
      const reply = await customer.upload(
        tenant.serviceId,
        `file-${index}.${index % 2 ? 'txt' : 'csv'}`,
        text(`n${index}`),
        index === 6 ? `?folderId=${folder.body.id}` : '',
      );
      created.push(reply.body.id);
    }
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: any = await customer.get(`/services/${tenant.serviceId}/mfiles?limit=3${cursor ? `&cursor=${cursor}` : ''}`);
      expect(page.status).toBe(200);
      expect(page.body.items.length).toBeLessThanOrEqual(3);
      seen.push(...page.body.items.map((item: { id: string }) => item.id));
      cursor = page.body.nextCursor;
    } while (cursor);
    expect(seen).toEqual(created);
    const byName = await customer.get(`/services/${tenant.serviceId}/mfiles?sort=name&limit=2`);
    const next = await customer.get(`/services/${tenant.serviceId}/mfiles?sort=name&limit=10&cursor=${byName.body.nextCursor}`);
    expect([...byName.body.items, ...next.body.items].map((item: { name: string }) => item.name)).toEqual([
      'file-0.csv',
      'file-1.txt',
      'file-2.csv',
      'file-3.txt',
      'file-4.csv',
      'file-5.txt',
      'file-6.csv',
    ]);
    expect((await customer.get(`/services/${tenant.serviceId}/mfiles?mimetype=text/*`)).body.items).toHaveLength(7);
    expect((await customer.get(`/services/${tenant.serviceId}/mfiles?mimetype=text/csv`)).body.items).toHaveLength(4);
    expect((await customer.get(`/services/${tenant.serviceId}/mfiles?name=FILE-3`)).body.items.map((item: { name: string }) => item.name)).toEqual([
      'file-3.txt',
    ]);
    expect((await customer.get(`/services/${tenant.serviceId}/mfiles?name=%25`)).body.items).toEqual([]);
    expect((await customer.get(`/services/${tenant.serviceId}/mfiles?folderId=${folder.body.id}`)).body.items).toHaveLength(1);
    expect((await customer.get(`/mfolders/${folder.body.id}/mfiles`)).body.items).toHaveLength(1);
    expect((await customer.get(`/services/${tenant.serviceId}/mfiles?createdFrom=${new Date(Date.now() + 60000).toISOString()}`)).body.items).toEqual([]);
    const bad = await customer.get(`/services/${tenant.serviceId}/mfiles?limit=0&mimetype=nonsense&cursor=%%%`);
    expect(bad.status).toBe(400);
    expect(bad.body.errors.length).toBeGreaterThanOrEqual(2);
    expect((await customer.get(`/services/${tenant.serviceId}/mfiles?cursor=bm9wZQ`)).status).toBe(400);
  });

  it('moves files and folders within the key scope, never into a cycle', async () => {
    const tenant = await makeTenant(admin);
    const customer = admin.as(tenant.customerKey);
    const a = await customer.post(`/mfolders/${tenant.rootFolderId}/mfolders`, { name: 'a' });
    const b = await customer.post(`/mfolders/${a.body.id}/mfolders`, { name: 'b' });
    expect((await customer.patch(`/mfolders/${a.body.id}`, { parentId: b.body.id })).status).toBe(409);
    expect((await customer.patch(`/mfolders/${a.body.id}`, { parentId: a.body.id })).status).toBe(409);
    expect((await customer.patch(`/mfolders/${tenant.rootFolderId}`, { name: 'x' })).status).toBe(409);
    const file = await customer.upload(tenant.serviceId, 'f.txt', text('f'));
    const moved = await customer.patch(`/mfiles/${file.body.id}`, { folderId: b.body.id, name: 'g.txt' });
    expect(moved.status).toBe(200);
    expect(moved.body).toMatchObject({ folderId: b.body.id, name: 'g.txt' });
    const other = await makeTenant(admin);
    expect((await customer.patch(`/mfiles/${file.body.id}`, { folderId: other.rootFolderId })).status).toBe(404);
    // a key for folder b cannot move things out of b
    const folderKey = await customer.post('/keys', { roles: ['servicecustomer'], resource: { type: 'mfolder', id: b.body.id } });
    expect(folderKey.status).toBe(201);
    expect((await customer.as(folderKey.body.key).patch(`/mfiles/${file.body.id}`, { folderId: a.body.id })).status).toBe(404);
    expect((await customer.as(folderKey.body.key).get(`/services/${tenant.serviceId}/mfiles`)).status).toBe(404);
    expect((await customer.as(folderKey.body.key).get(`/mfolders/${b.body.id}/mfiles`)).body.items).toHaveLength(1);
  });

  it('deleting a folder, a service or a container removes their rows, bytes and keys', async () => {
    const tenant = await makeTenant(admin);
    const customer = admin.as(tenant.customerKey);
    const folder = await customer.post(`/mfolders/${tenant.rootFolderId}/mfolders`, { name: 'doomed' });
    const inner = await customer.upload(tenant.serviceId, 'inner.txt', text('inner'), `?folderId=${folder.body.id}`);
    const outer = await customer.upload(tenant.serviceId, 'outer.txt', text('outer'));
    const innerPath = (await app.dataSource.query('SELECT blob_key FROM mfile WHERE id = $1', [inner.body.id]))[0].blob_key;
    const outerPath = (await app.dataSource.query('SELECT blob_key FROM mfile WHERE id = $1', [outer.body.id]))[0].blob_key;
    expect(await blobs()).toEqual(expect.arrayContaining([`blobs/${innerPath}`, `blobs/${outerPath}`]));
    expect((await customer.delete(`/mfolders/${folder.body.id}`)).status).toBe(204);
    expect(await blobs()).not.toContain(`blobs/${innerPath}`);
    expect((await customer.as(inner.body.key).get(`/mfiles/${inner.body.id}`)).status).toBe(401);
    expect((await admin.as(tenant.containerKey).delete(`/services/${tenant.serviceId}`)).status).toBe(204);
    expect(await blobs()).not.toContain(`blobs/${outerPath}`);
    expect((await customer.get(`/services/${tenant.serviceId}`)).status).toBe(401);
    expect((await admin.delete(`/containers/${tenant.containerId}`)).status).toBe(204);
    expect((await admin.as(tenant.containerKey).get(`/containers/${tenant.containerId}`)).status).toBe(401);
  });
});

describe('service properties act on the next request', () => {
  let app: TestApp;
  let admin: Client;

  beforeAll(async () => {
    app = await startTestApp();
    admin = new Client(app.api, app.adminKey);
  });
  afterAll(() => app.close());

  it('suspended: read-only for the customer, the provider can lift it', async () => {
    const tenant = await makeTenant(admin);
    const customer = admin.as(tenant.customerKey);
    const file = await customer.upload(tenant.serviceId, 'kept.txt', text('kept'));
    expect((await customer.patch(`/services/${tenant.serviceId}`, { suspended: true })).status).toBe(403);
    expect((await admin.as(tenant.serviceAdminKey).patch(`/services/${tenant.serviceId}`, { suspended: true })).status).toBe(200);
    const refused = await customer.upload(tenant.serviceId, 'new.txt', text('new'));
    expect(refused.status).toBe(403);
    expect(refused.body.type).toContain('service-suspended');
    expect((await customer.get(`/mfiles/${file.body.id}/content`)).status).toBe(200);
    expect((await customer.delete(`/mfiles/${file.body.id}`)).status).toBe(403);
    expect((await admin.as(tenant.serviceAdminKey).patch(`/services/${tenant.serviceId}`, { suspended: false })).status).toBe(200);
    expect((await customer.upload(tenant.serviceId, 'new.txt', text('new'))).status).toBe(201);
  });

  it('time window: outside it every customer request is 403 with the window in the body', async () => {
    const tenant = await makeTenant(admin);
    const customer = admin.as(tenant.customerKey);
    const startsAt = new Date(Date.now() + 86400_000).toISOString();
    expect((await admin.as(tenant.containerKey).patch(`/services/${tenant.serviceId}`, { startsAt })).status).toBe(200);
    const refused = await customer.get(`/services/${tenant.serviceId}/mfiles`);
    expect(refused.status).toBe(403);
    expect(refused.body.startsAt).toBe(startsAt);
    const bad = await admin.as(tenant.containerKey).patch(`/services/${tenant.serviceId}`, { endsAt: new Date(Date.now()).toISOString() });
    expect(bad.status).toBe(400);
    expect((await admin.as(tenant.containerKey).patch(`/services/${tenant.serviceId}`, { startsAt: null })).status).toBe(200);
    expect((await customer.get(`/services/${tenant.serviceId}/mfiles`)).status).toBe(200);
  });

  it('free-form properties: set by service:update holders, replaced whole, kept by other edits, refused with reasons', async () => {
    const tenant = await makeTenant(admin);
    const serviceAdmin = admin.as(tenant.serviceAdminKey);
    const properties = { department: 'news', costCentre: 4711, archived: false, tags: ['summer', 'fair'], owner: { name: 'Ana' } };
    const set = await serviceAdmin.patch(`/services/${tenant.serviceId}`, { properties });
    expect(set.status).toBe(200);
    expect(set.body.properties).toEqual(properties);
    expect((await serviceAdmin.patch(`/services/${tenant.serviceId}`, { description: 'other edit' })).body.properties).toEqual(properties);
    expect((await serviceAdmin.patch(`/services/${tenant.serviceId}`, { properties: { department: 'sport' } })).body.properties).toEqual({
      department: 'sport',
    });
    expect((await admin.as(tenant.customerKey).patch(`/services/${tenant.serviceId}`, { properties: {} })).status).toBe(403);
    for (const [bad, reason] of [
      [[1, 2], 'properties must be a JSON object'],
      ['text', 'properties must be a JSON object'],
      // these two are refused before validation, for every body (src/common/request-guards.ts), naming the member
      [{ note: 'a\u0000b' }, 'the string at properties.note must not contain NUL characters'],
      [{ big: 'x'.repeat(70_000) }, 'properties must be at most 65536 bytes as JSON'],
      [{ half: 'a\ud800' }, 'the string at properties.half must not contain unpaired UTF-16 surrogates'],
      [null, 'properties must not be null'],
    ] as const) {
      const refused = await serviceAdmin.patch(`/services/${tenant.serviceId}`, { properties: bad });
      expect(refused.status).toBe(400);
      expect(refused.headers.get('content-type')).toContain('application/problem+json');
      expect(refused.body.errors.join(' ')).toContain(reason);
    }
    expect((await admin.get(`/services/${tenant.serviceId}`)).body.properties).toEqual({ department: 'sport' });
    const created = await admin
      .as(tenant.containerKey)
      .post(`/containers/${tenant.containerId}/services`, { name: 'with-properties', properties: { plan: 'gold' } });
    expect(created.status).toBe(201);
    expect(created.body.properties).toEqual({ plan: 'gold' });
    // containers share the rule: jsonb cannot hold NUL, which is a 400 now rather than a database error
    const container = await admin.patch(`/containers/${tenant.containerId}`, { properties: { 'nul\u0000': 1 } });
    expect(container.status).toBe(400);
    expect((await admin.patch(`/containers/${tenant.containerId}`, { properties: { region: 'eu' } })).body.properties).toEqual({ region: 'eu' });
  });

  it('disk quota: concurrent uploads racing for the last bytes never overshoot', async () => {
    const tenant = await makeTenant(admin);
    expect((await admin.as(tenant.containerKey).patch(`/services/${tenant.serviceId}`, { diskQuota: 10_000 })).status).toBe(200);
    const customer = admin.as(tenant.customerKey);
    const replies = await Promise.all(Array.from({ length: 8 }, (_, index) => customer.upload(tenant.serviceId, `q${index}.bin`, new Uint8Array(3000))));
    const statuses = replies.map((reply) => reply.status).sort();
    expect(statuses.filter((status) => status === 201)).toHaveLength(3);
    expect(statuses.filter((status) => status === 507)).toHaveLength(5);
    const refused = replies.find((reply) => reply.status === 507)!;
    expect(refused.body.quota).toMatchObject({ name: 'diskQuota', limit: 10_000 });
    const [{ used }] = await app.dataSource.query('SELECT SUM(size)::int AS used FROM mfile WHERE service_id = $1', [tenant.serviceId]);
    expect(used).toBe(9000);
  });
});

import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '../support/client';
import { startTestApp, TestApp } from '../support/test-app';

/** The README's example session, step by step, against the real app, database, Redis and disk. */
describe('README example session', () => {
  let app: TestApp;
  let jpeg: Buffer;

  beforeAll(async () => {
    app = await startTestApp();
    const path = join(mkdtempSync(join(tmpdir(), 'mserve-jpeg-')), 'photo.jpg');
    execFileSync('ffmpeg', ['-loglevel', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc=size=640x480', '-frames:v', '1', path]);
    jpeg = readFileSync(path);
  });
  afterAll(() => app.close());

  it('creates, uploads, shares read-only, refuses a delete, revokes', async () => {
    const admin = new Client(app.api, app.adminKey);
    const container = await admin.post('/containers', { name: 'acme' });
    expect(container.status).toBe(201);
    expect(container.body.key).toMatch(/^msk_[A-Za-z0-9_-]{43}$/);

    const service = await admin.as(container.body.key).post(`/containers/${container.body.id}/services`, { name: 'photos' });
    expect(service.status).toBe(201);
    expect(service.body.customerKey).toMatch(/^msk_/);

    const customer = admin.as(service.body.customerKey);
    const upload = await customer.upload(service.body.id, 'photo.jpg', jpeg);
    expect(upload.status).toBe(201);

    const metadata = await customer.get(`/mfiles/${upload.body.id}`);
    expect(metadata.status).toBe(200);
    expect(metadata.body).toMatchObject({
      name: 'photo.jpg',
      size: jpeg.length,
      md5: createHash('md5').update(jpeg).digest('hex'),
      sha256: createHash('sha256').update(jpeg).digest('hex'),
      mimetype: 'image/jpeg',
    });
    expect(metadata.body.blobKey).toBeUndefined();

    const readOnly = await customer.post('/keys', { roles: ['mfilereadonly'], resource: { type: 'mfile', id: upload.body.id } });
    expect(readOnly.status).toBe(201);
    expect(readOnly.body.actions).toEqual(['mfile:read']);

    const viaLink = await fetch(`${app.api}/mfiles/${upload.body.id}/content?key=${readOnly.body.key}`);
    expect(viaLink.status).toBe(200);
    expect(viaLink.headers.get('content-type')).toBe('image/jpeg');
    expect(viaLink.headers.get('etag')).toBe(`"${metadata.body.sha256}"`);
    expect(Buffer.from(await viaLink.arrayBuffer()).equals(jpeg)).toBe(true);

    const refused = await admin.as(readOnly.body.key).delete(`/mfiles/${upload.body.id}`);
    expect(refused.status).toBe(403);
    expect(refused.headers.get('content-type')).toContain('application/problem+json');
    expect(refused.body.missingActions).toEqual(['mfile:delete']);

    const revoke = await customer.delete(`/keys/${readOnly.body.id}`);
    expect(revoke.status).toBe(200);
    expect(revoke.body.revoked).toEqual([readOnly.body.id]);

    const afterRevoke = await fetch(`${app.api}/mfiles/${upload.body.id}/content?key=${readOnly.body.key}`);
    expect(afterRevoke.status).toBe(401);
    expect(((await afterRevoke.json()) as { detail: string }).detail).toContain('revoked');
  });
});

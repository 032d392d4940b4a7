import { createHash, randomBytes } from 'node:crypto';
import { Client, makeTenant } from '../support/client';
import { dav } from '../support/dav';
import { S3Server, startS3Server } from '../support/s3-server';
import { startTestApp, TestApp } from '../support/test-app';
import { accessMetered } from '../support/usage';

const BUCKET = 'mserve-presigned';
const MIN_BYTES = 64 * 1024;
const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

/**
 * STORAGE=s3 with S3_PRESIGNED_DOWNLOAD_MIN_BYTES: a REST download of a large enough file is answered 307 to a
 * presigned URL of the object on a real s3rver, which serves the bytes (and ranges) with the file's type and
 * disposition; preconditions stay ours, the bytes asked for are metered, and small files, HEAD, WebDAV and services
 * with an accessSpeed still get their bytes from the api.
 */
describe('presigned downloads (STORAGE=s3)', () => {
  let s3: S3Server;
  let app: TestApp;
  let admin: Client;

  beforeAll(async () => {
    s3 = await startS3Server();
    app = await startTestApp({ ...s3.env(BUCKET), S3_PRESIGNED_DOWNLOAD_MIN_BYTES: String(MIN_BYTES), S3_PRESIGNED_TTL_SECONDS: '60' });
    admin = new Client(app.api, app.adminKey);
  });
  afterAll(async () => {
    await app?.close();
    await s3?.stop();
  });

  it('redirects a large file to the store, which serves it and its ranges as MServe would; preconditions stay here; the bytes asked for are metered', async () => {
    const tenant = await makeTenant(admin);
    const customer = admin.as(tenant.customerKey);
    const bytes = randomBytes(MIN_BYTES * 3);
    const upload = await customer.upload(tenant.serviceId, 'report "final".pdf', bytes);
    expect(upload.status).toBe(201);
    const url = `${app.api}/mfiles/${upload.body.id}/content`;
    const bearer = { authorization: `Bearer ${tenant.customerKey}` };

    const redirect = await fetch(url, { headers: bearer, redirect: 'manual' });
    expect(redirect.status).toBe(307);
    expect(redirect.headers.get('cache-control')).toBe('no-store');
    const etag = redirect.headers.get('etag')!;
    expect(etag).toBe(`"${upload.body.sha256}"`);
    const location = new URL(redirect.headers.get('location')!);
    expect(location.origin).toBe(s3.endpoint);
    expect(location.searchParams.get('X-Amz-Expires')).toBe('60');
    // the key is nowhere in the URL: the signature is the store's, for this object only
    expect(location.toString()).not.toContain(tenant.customerKey);

    // the store answers with the bytes, the file's type and disposition (an active type would be an attachment)
    const direct = await fetch(location);
    expect(direct.status).toBe(200);
    expect(sha256(new Uint8Array(await direct.arrayBuffer()))).toBe(sha256(bytes));
    expect(direct.headers.get('content-type')).toBe(upload.body.mimetype);
    expect(direct.headers.get('content-disposition')).toBe(redirect.headers.get('content-disposition'));
    const range = await fetch(location, { headers: { range: 'bytes=100-199' } });
    expect(range.status).toBe(206);
    expect(Buffer.from(await range.arrayBuffer())).toEqual(bytes.subarray(100, 200));
    await accessMetered(app.dataSource, upload.body.id, bytes.length);

    // a client that follows redirects (fetch drops its Authorization on the way to another origin) gets the bytes
    const followed = await fetch(url, { headers: bearer });
    expect(followed.status).toBe(200);
    expect(followed.url).toContain(s3.endpoint);
    expect(sha256(new Uint8Array(await followed.arrayBuffer()))).toBe(sha256(bytes));
    // a ranged GET is redirected too (the client sends its Range again to the store); the range's bytes are metered
    const ranged = await fetch(url, { headers: { ...bearer, range: 'bytes=0-9' } });
    expect(ranged.status).toBe(206);
    expect(Buffer.from(await ranged.arrayBuffer())).toEqual(bytes.subarray(0, 10));
    expect(await accessMetered(app.dataSource, upload.body.id, 2 * bytes.length + 10)).toBe(2 * bytes.length + 10);

    // preconditions are answered here, with no redirect and nothing metered
    expect((await fetch(url, { headers: { ...bearer, 'if-none-match': etag }, redirect: 'manual' })).status).toBe(304);
    expect((await fetch(url, { headers: { ...bearer, 'if-match': '"other"' }, redirect: 'manual' })).status).toBe(412);
    const unsatisfiable = await fetch(url, { headers: { ...bearer, range: `bytes=${bytes.length + 5}-` }, redirect: 'manual' });
    expect(unsatisfiable.status).toBe(416);
    expect(unsatisfiable.headers.get('content-range')).toBe(`bytes */${bytes.length}`);
    // what the store would judge by its own ETag, or could not serve (several ranges), stays with the api
    const matching = await fetch(url, { headers: { ...bearer, 'if-match': etag }, redirect: 'manual' });
    expect(matching.status).toBe(200);
    expect(sha256(new Uint8Array(await matching.arrayBuffer()))).toBe(sha256(bytes));
    const ifRange = await fetch(url, { headers: { ...bearer, 'if-range': etag, range: 'bytes=0-3' }, redirect: 'manual' });
    expect(ifRange.status).toBe(206);
    expect(Buffer.from(await ifRange.arrayBuffer())).toEqual(bytes.subarray(0, 4));
    const multi = await fetch(url, { headers: { ...bearer, range: 'bytes=0-1,10-11' }, redirect: 'manual' });
    expect(multi.status).toBe(206);
    expect(multi.headers.get('content-type')).toMatch(/^multipart\/byteranges/);
    await multi.arrayBuffer();
    const servedHere = bytes.length + 4 + Number(multi.headers.get('content-length'));
    // HEAD answers the headers itself
    const head = await fetch(url, { method: 'HEAD', headers: bearer, redirect: 'manual' });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-length')).toBe(String(bytes.length));
    expect(await accessMetered(app.dataSource, upload.body.id, 2 * bytes.length + 10 + servedHere)).toBe(2 * bytes.length + 10 + servedHere);
    // and without a readable key there is no URL
    expect((await fetch(url, { redirect: 'manual' })).status).toBe(401);
  });

  it('keeps the bytes in the api for small files, WebDAV and services with an accessSpeed', async () => {
    const tenant = await makeTenant(admin);
    const customer = admin.as(tenant.customerKey);
    const bearer = { authorization: `Bearer ${tenant.customerKey}` };
    const small = randomBytes(MIN_BYTES - 1);
    const smallUpload = await customer.upload(tenant.serviceId, 'small.bin', small);
    const smallAnswer = await fetch(`${app.api}/mfiles/${smallUpload.body.id}/content`, { headers: bearer, redirect: 'manual' });
    expect(smallAnswer.status).toBe(200);
    expect(sha256(new Uint8Array(await smallAnswer.arrayBuffer()))).toBe(sha256(small));

    const large = randomBytes(MIN_BYTES * 2);
    expect((await customer.upload(tenant.serviceId, 'large.bin', large)).status).toBe(201);
    const viaDav = await dav(app.baseUrl, tenant.customerKey, 'GET', '/dav/large.bin');
    expect(viaDav.status).toBe(200);
    expect(sha256(viaDav.body)).toBe(sha256(large));

    const largeId = (await customer.get(`/services/${tenant.serviceId}/mfiles?name=large.bin`)).body.items[0].id as string;
    expect((await admin.as(tenant.serviceAdminKey).patch(`/services/${tenant.serviceId}`, { accessSpeed: 64 * 1024 * 1024 })).status).toBe(200);
    const capped = await fetch(`${app.api}/mfiles/${largeId}/content`, { headers: bearer, redirect: 'manual' });
    expect(capped.status).toBe(200);
    expect(sha256(new Uint8Array(await capped.arrayBuffer()))).toBe(sha256(large));
  });
});

import { DeleteObjectCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import * as tus from 'tus-js-client';
import { UploadSessionsService } from '../../src/uploads/upload-sessions.service';
import { Client, makeTenant } from '../support/client';
import { freePort } from '../support/free-port';
import { eventually, startRole, waitForExit } from '../support/processes';
import { filesUnder } from '../support/storage-files';
import { S3Server, startS3Server } from '../support/s3-server';
import { startTestApp, TestApp } from '../support/test-app';

const BUCKET = 'mserve-resumable';
const MiB = 1024 * 1024;
const TUS = { 'tus-resumable': '1.0.0' };
const OCTETS = { ...TUS, 'content-type': 'application/offset+octet-stream' };
const hex = (algorithm: string, bytes: Uint8Array) => createHash(algorithm).update(bytes).digest('hex');

/**
 * Resumable uploads staged in the bucket (STORAGE=s3): two api processes on the same database, queues and bucket,
 * each with its own STORAGE_DIR (no shared disk), take the chunks of one upload in turn. A tus upload's bytes are
 * parts of a multipart upload and a tail object, a Content-Range upload's an object per range; never a file on
 * either node.
 */
describe('resumable uploads staged in S3, chunks alternating between two api processes', () => {
  let s3: S3Server;
  let bucket: S3Client;
  let first: TestApp;
  let second: ReturnType<typeof startRole>;
  let secondDir: string;
  let secondBase: string;
  let admin: Client;

  beforeAll(async () => {
    s3 = await startS3Server();
    bucket = s3.client();
    first = await startTestApp(s3.env(BUCKET));
    admin = new Client(first.api, first.adminKey);
    secondDir = mkdtempSync(join(process.env.VAR_DIR!, 'second-api-storage-'));
    const port = await freePort();
    secondBase = `http://127.0.0.1:${port}`;
    second = startRole('main', {
      ...s3.env(BUCKET),
      PORT: String(port),
      HOST: '127.0.0.1',
      STORAGE_DIR: secondDir,
      QUEUE_PREFIX: first.config.queuePrefix,
      LOG_LEVEL: 'warn',
    });
    await eventually(async () => (await fetch(`${secondBase}/health/ready`).catch(() => undefined))?.ok, 'the second api to be ready', 60_000);
  });
  afterAll(async () => {
    if (second && second.exitCode === null && second.signalCode === null) {
      second.kill('SIGTERM');
      await waitForExit(second);
    }
    await first?.close();
    bucket?.destroy();
    await s3?.stop();
    if (secondDir) rmSync(secondDir, { recursive: true, force: true });
  });

  const staged = async (uploadId: string) =>
    ((await bucket.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: `uploads/${uploadId}/` }))).Contents ?? []).map((object) => object.Key!);
  const allStaged = async () => ((await bucket.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: 'uploads/' }))).Contents ?? []).map((o) => o.Key!);
  /** s3rver keeps the parts of an open multipart upload in a folder of its own per upload (it has no ListMultipartUploads). */
  const openMultipartUploads = () => (existsSync(join(s3.dir, BUCKET, '._S3rver_uploads')) ? readdirSync(join(s3.dir, BUCKET, '._S3rver_uploads')) : []);
  const stageOf = async (uploadId: string) => {
    const [row] = await first.dataSource.query('SELECT "offset", stage FROM upload_session WHERE id = $1', [uploadId]);
    return row as { offset: string; stage: { multipartId: string; parts: Array<{ number: number; size: number }>; tail: number } } | undefined;
  };

  async function createUpload(customer: Client, serviceId: string, name: string, length: number) {
    const created = await customer.post(`/services/${serviceId}/uploads`, undefined, {
      ...TUS,
      'upload-length': String(length),
      'upload-metadata': `filename ${Buffer.from(name).toString('base64')}`,
    });
    expect(created.status).toBe(201);
    const path = created.headers.get('location')!;
    return { path, id: path.split('/').pop()! };
  }

  it('assembles a 23 MiB upload sent in chunks of 3 MiB, 2 MiB, 1 byte, 10 MiB... to both apis in turn, with parts of 5 MiB or more and a tail', async () => {
    const tenant = await makeTenant(admin);
    const customer = admin.as(tenant.customerKey);
    const data = randomBytes(23 * MiB);
    const { path, id } = await createUpload(customer, tenant.serviceId, 'alternating.bin', data.length);
    const apis = [first.baseUrl, secondBase];
    let offset = 0;
    let turn = 0;
    let last: Awaited<ReturnType<Client['request']>> | undefined;
    const send = async (size: number, headers: Record<string, string> = {}) => {
      const reply = await customer.request('PATCH', `${apis[turn++ % 2]}${path}`, data.subarray(offset, offset + size), {
        ...OCTETS,
        'upload-offset': String(offset),
        ...headers,
      });
      if (reply.status === 204) offset += size;
      last = reply;
      return reply;
    };
    const offsetOn = async (api: string) => (await customer.request('HEAD', `${api}${path}`, undefined, TUS)).headers.get('upload-offset');

    expect((await send(3 * MiB)).status).toBe(204); // all in the tail
    expect(await staged(id)).toEqual([`uploads/${id}/tail-${3 * MiB}`]);
    expect((await send(2 * MiB)).status).toBe(204); // tail + chunk = 5 MiB: a part, no tail
    expect(await staged(id)).toEqual([]);
    expect((await send(1)).status).toBe(204); // one byte: the tail
    expect((await send(10 * MiB)).status).toBe(204); // 1 + 10 MiB: a part of 8 MiB, the rest the tail
    expect(await stageOf(id)).toMatchObject({
      offset: String(15 * MiB + 1),
      stage: {
        parts: [
          { number: 1, size: 5 * MiB },
          { number: 2, size: 8 * MiB },
        ],
        tail: 2 * MiB + 1,
      },
    });
    expect(await staged(id)).toEqual([`uploads/${id}/tail-${15 * MiB + 1}`]);

    // a chunk whose checksum does not match counts for nothing: the offset and the staged bytes stay as they were
    const wrong = createHash('sha1').update('something else').digest('base64');
    expect((await send(MiB, { 'upload-checksum': `sha1 ${wrong}` })).status).toBe(460);
    expect(await offsetOn(first.baseUrl)).toBe(String(15 * MiB + 1));
    expect(await offsetOn(secondBase)).toBe(String(15 * MiB + 1));
    expect(await staged(id)).toEqual([`uploads/${id}/tail-${15 * MiB + 1}`]);

    // a chunk at a stale offset is refused, on either api
    expect((await customer.request('PATCH', `${secondBase}${path}`, data.subarray(0, 10), { ...OCTETS, 'upload-offset': '0' })).status).toBe(409);

    const checksum = createHash('sha1')
      .update(data.subarray(offset, offset + 3 * MiB))
      .digest('base64');
    expect((await send(3 * MiB, { 'upload-checksum': `sha1 ${checksum}` })).status).toBe(204);
    expect(await stageOf(id)).toMatchObject({ stage: { parts: [{ size: 5 * MiB }, { size: 8 * MiB }, { size: 5 * MiB + 1 }], tail: 0 } });
    expect((await send(data.length - offset)).status).toBe(204); // the last part, below 5 MiB
    const mfileId = last!.headers.get('mfile-id')!;
    expect(mfileId).toBeTruthy();

    const mfile = (await customer.get(`/mfiles/${mfileId}`)).body;
    expect(mfile).toMatchObject({ size: data.length, sha256: hex('sha256', data), md5: hex('md5', data) });
    const [{ blob_key }] = await first.dataSource.query('SELECT blob_key FROM mfile WHERE id = $1', [mfileId]);
    const object = await bucket.send(new GetObjectCommand({ Bucket: BUCKET, Key: `blobs/${blob_key as string}` }));
    expect(Buffer.from(await object.Body!.transformToByteArray()).equals(data)).toBe(true);
    // nothing staged is left: no tail, no multipart upload, no file on either node
    expect(await allStaged()).toEqual([]);
    expect(openMultipartUploads()).toEqual([]);
    expect(filesUnder(first.config.storageDir)).toEqual([]);
    expect(filesUnder(secondDir)).toEqual([]);
  });

  it('keeps what arrived before a PATCH connection broke (parts and a tail), and the other api resumes from there', async () => {
    const tenant = await makeTenant(admin);
    const customer = admin.as(tenant.customerKey);
    const data = randomBytes(20 * MiB);
    const { path, id } = await createUpload(customer, tenant.serviceId, 'broken.bin', data.length);
    const { stage } = (await stageOf(id))!;
    // 10 MiB of the bytes, then the connection is cut once the first 8 MiB part has reached the store
    const request = httpRequest(`${first.baseUrl}${path}`, {
      method: 'PATCH',
      headers: { ...OCTETS, 'upload-offset': '0', 'content-length': String(data.length), authorization: `Bearer ${tenant.customerKey}` },
    });
    const answered = new Promise<void>((resolve) => {
      request.on('error', () => resolve());
      request.on('response', () => resolve());
    });
    request.write(data.subarray(0, 10 * MiB));
    await eventually(async () => existsSync(join(s3.dir, BUCKET, '._S3rver_uploads', stage.multipartId, '1.md5')), 'the first part in the store');
    request.destroy();
    await answered;
    const offset = Number(
      await eventually(async () => {
        const head = await customer.request('HEAD', `${secondBase}${path}`, undefined, TUS);
        return Number(head.headers.get('upload-offset')) > 0 && head.headers.get('upload-offset');
      }, 'the kept bytes recorded'),
    );
    expect(offset).toBeGreaterThanOrEqual(8 * MiB);
    expect(offset).toBeLessThanOrEqual(10 * MiB);
    const last = await customer.request('PATCH', `${secondBase}${path}`, data.subarray(offset), { ...OCTETS, 'upload-offset': String(offset) });
    expect(last.status).toBe(204);
    expect((await customer.get(`/mfiles/${last.headers.get('mfile-id')!}`)).body).toMatchObject({
      size: data.length,
      sha256: hex('sha256', data),
      md5: hex('md5', data),
    });
    expect(await allStaged()).toEqual([]);
  });

  it('takes tus-js-client (the reference client) in 3 MiB chunks: each one a tail, or with the tail before it a part', async () => {
    const tenant = await makeTenant(admin);
    const data = randomBytes(20 * MiB + 333);
    let mfileId: string | null = null;
    await new Promise<void>((resolve, reject) => {
      new tus.Upload(data, {
        endpoint: `${secondBase}/api/v1/services/${tenant.serviceId}/uploads`,
        chunkSize: 3 * MiB,
        metadata: { filename: 'reference.bin' },
        headers: { authorization: `Bearer ${tenant.customerKey}` },
        onAfterResponse: (_request, response) => {
          mfileId = response.getHeader('Mfile-Id') ?? mfileId;
        },
        onError: reject,
        onSuccess: () => resolve(),
      }).start();
    });
    expect((await admin.as(tenant.customerKey).get(`/mfiles/${mfileId}`)).body).toMatchObject({ size: data.length, sha256: hex('sha256', data) });
    expect(await allStaged()).toEqual([]);
    expect(filesUnder(secondDir)).toEqual([]);
  });

  it('termination and expiry remove the staged tail and abort the multipart upload', async () => {
    const tenant = await makeTenant(admin);
    const customer = admin.as(tenant.customerKey);
    const data = randomBytes(8 * MiB);
    const patch = (api: string, path: string, from: number, to: number) =>
      customer.request('PATCH', `${api}${path}`, data.subarray(from, to), { ...OCTETS, 'upload-offset': String(from) });

    const terminated = await createUpload(customer, tenant.serviceId, 'terminated.bin', data.length);
    expect((await patch(secondBase, terminated.path, 0, 6 * MiB)).status).toBe(204); // a part
    expect((await patch(first.baseUrl, terminated.path, 6 * MiB, 7 * MiB)).status).toBe(204); // a tail
    expect(await staged(terminated.id)).toEqual([`uploads/${terminated.id}/tail-${7 * MiB}`]);
    expect((await customer.request('DELETE', `${secondBase}${terminated.path}`, undefined, TUS)).status).toBe(204);
    expect(await staged(terminated.id)).toEqual([]);
    expect(await stageOf(terminated.id)).toBeUndefined();

    const expired = await createUpload(customer, tenant.serviceId, 'expired.bin', data.length);
    expect((await patch(secondBase, expired.path, 0, MiB)).status).toBe(204);
    expect(await staged(expired.id)).toEqual([`uploads/${expired.id}/tail-${MiB}`]);
    await first.dataSource.query(`UPDATE upload_session SET expires_at = now() - interval '1 minute' WHERE id = $1`, [expired.id]);
    expect(await first.app.get(UploadSessionsService).removeExpired()).toBeGreaterThanOrEqual(1);
    expect(await staged(expired.id)).toEqual([]);
    expect(await stageOf(expired.id)).toBeUndefined();
    expect(await allStaged()).toEqual([]);
    // s3rver answers AbortMultipartUpload with 405 (it cannot abort): the two aborted uploads' parts stay in its own
    // staging, out of every listing; on S3 the abort drops them
    expect(openMultipartUploads()).toHaveLength(2);
    expect(filesUnder(first.config.storageDir)).toEqual([]);
    expect(filesUnder(secondDir)).toEqual([]);
  });

  it('refuses at creation a tus upload larger than 10,000 parts hold (413 naming the limit), not after tens of GiB', async () => {
    const tenant = await makeTenant(admin);
    const customer = admin.as(tenant.customerKey);
    const tooLarge = 10_000 * 8 * MiB + 1;
    const created = await customer.post(`/services/${tenant.serviceId}/uploads`, undefined, {
      ...TUS,
      'upload-length': String(tooLarge),
      'upload-metadata': `filename ${Buffer.from('huge.bin').toString('base64')}`,
    });
    expect(created.status).toBe(413);
    expect(created.body).toMatchObject({ limit: 10_000 * 8 * MiB, detail: expect.stringMatching(/upload it over REST/) });
  });

  it('a staged tail gone behind the row (a lifecycle rule, say) is a 409 that says so, not a 500; the upload can still be terminated', async () => {
    const tenant = await makeTenant(admin);
    const customer = admin.as(tenant.customerKey);
    const data = randomBytes(4 * MiB);
    const upload = await createUpload(customer, tenant.serviceId, 'lost-tail.bin', data.length);
    expect((await customer.request('PATCH', `${first.baseUrl}${upload.path}`, data.subarray(0, MiB), { ...OCTETS, 'upload-offset': '0' })).status).toBe(204);
    const [tail] = await staged(upload.id);
    expect(tail).toBe(`uploads/${upload.id}/tail-${MiB}`);
    await bucket.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: tail }));
    const next = await customer.request('PATCH', `${secondBase}${upload.path}`, data.subarray(MiB), { ...OCTETS, 'upload-offset': String(MiB) });
    expect(next.status).toBe(409);
    expect(next.body.detail).toMatch(/staging in the object storage is gone or incomplete/);
    expect((await customer.request('DELETE', `${first.baseUrl}${upload.path}`, undefined, TUS)).status).toBe(204);
    expect(await staged(upload.id)).toEqual([]);
    expect(await stageOf(upload.id)).toBeUndefined();
  });

  it('assembles Content-Range chunks sent out of order to both apis in turn: each range an object until the end, a refused chunk none', async () => {
    const tenant = await makeTenant(admin);
    const customer = admin.as(tenant.customerKey);
    const data = randomBytes(12 * MiB + 5);
    const apis = [first.api, `${secondBase}/api/v1`];
    let turn = 0;
    const send = (path: string, start: number, end: number, method = 'PUT', headers: Record<string, string> = {}) =>
      customer.request(method, `${apis[turn++ % 2]}${path}`, data.subarray(start, end + 1), {
        'content-range': `bytes ${start}-${end}/${data.length}`,
        'content-type': 'application/octet-stream',
        'repr-digest': `sha-256=:${createHash('sha256').update(data).digest('base64')}:`,
        ...headers,
      });
    const chunks: Array<[number, number]> = [
      [9 * MiB, data.length - 1],
      [MiB, 9 * MiB - 1],
      [0, 10],
      [11, MiB - 1],
    ];
    const created = await send(`/services/${tenant.serviceId}/chunked-uploads?name=ranges.bin`, ...chunks[0], 'POST');
    expect(created.status).toBe(201);
    const id = created.body.id as string;
    const path = `/services/${tenant.serviceId}/chunked-uploads/${id}`;
    expect((await send(path, ...chunks[1])).status).toBe(200);
    expect(await staged(id)).toEqual([`uploads/${id}/range-${MiB}-${9 * MiB - 1}`, `uploads/${id}/range-${9 * MiB}-${data.length - 1}`]);
    // a chunk whose Content-MD5 does not match is refused and leaves no object; the same chunk twice is taken once
    expect((await send(path, ...chunks[2], 'PUT', { 'content-md5': createHash('md5').update('other').digest('base64') })).status).toBe(400);
    expect(await staged(id)).toHaveLength(2);
    expect((await send(path, ...chunks[2])).status).toBe(200);
    expect((await send(path, ...chunks[2])).status).toBe(200);
    expect((await customer.get(path)).body).toMatchObject({ missing: [[11, MiB - 1]] });
    const last = await send(path, ...chunks[3]);
    expect(last.status).toBe(201);
    expect(last.body.mfile).toMatchObject({ sha256: hex('sha256', data), md5: hex('md5', data) });
    const [{ blob_key }] = await first.dataSource.query('SELECT blob_key FROM mfile WHERE id = $1', [last.body.mfile.id]);
    const object = await bucket.send(new GetObjectCommand({ Bucket: BUCKET, Key: `blobs/${blob_key as string}` }));
    expect(Buffer.from(await object.Body!.transformToByteArray()).equals(data)).toBe(true);
    expect(await allStaged()).toEqual([]);
    expect(filesUnder(first.config.storageDir)).toEqual([]);
    expect(filesUnder(secondDir)).toEqual([]);
  });

  it('a Content-Range upload whose assembly failed after its last range is completed by a retried chunk', async () => {
    const tenant = await makeTenant(admin);
    const customer = admin.as(tenant.customerKey);
    const data = randomBytes(200_000);
    const send = (path: string, start: number, end: number, method = 'PUT') =>
      customer.request(method, `${first.api}${path}`, data.subarray(start, end + 1), {
        'content-range': `bytes ${start}-${end}/${data.length}`,
        'content-type': 'application/octet-stream',
      });
    const created = await send(`/services/${tenant.serviceId}/chunked-uploads?name=retried.bin`, 0, 99_999, 'POST');
    expect(created.status).toBe(201);
    const id = created.body.id as string;
    const path = `/services/${tenant.serviceId}/chunked-uploads/${id}`;
    // the first range's object vanishes: the assembly at the last range fails, every range stays recorded
    const firstRange = `uploads/${id}/range-0-99999`;
    await bucket.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: firstRange }));
    const failed = await send(path, 100_000, data.length - 1);
    expect(failed.status).toBe(409);
    expect((await customer.get(path)).body).toMatchObject({ missing: [] });
    // once the store has it again, the client's retry of a chunk (a duplicate) completes the upload
    await bucket.send(new PutObjectCommand({ Bucket: BUCKET, Key: firstRange, Body: data.subarray(0, 100_000) }));
    const retried = await send(path, 0, 99_999);
    expect(retried.status).toBe(201);
    expect(retried.body.mfile).toMatchObject({ sha256: hex('sha256', data), md5: hex('md5', data) });
    expect(await staged(id)).toEqual([]);
  });

  it('drops a Content-Range upload whose whole-file digest does not match, and its range objects', async () => {
    const tenant = await makeTenant(admin);
    const customer = admin.as(tenant.customerKey);
    const data = randomBytes(300_000);
    const headers = (start: number, end: number) => ({
      'content-range': `bytes ${start}-${end}/${data.length}`,
      'content-type': 'application/octet-stream',
      'repr-digest': `sha-256=:${createHash('sha256').update('not these bytes').digest('base64')}:`,
    });
    const created = await customer.request(
      'POST',
      `/services/${tenant.serviceId}/chunked-uploads?name=wrong.bin`,
      data.subarray(0, 100_000),
      headers(0, 99_999),
    );
    expect(created.status).toBe(201);
    const path = `${secondBase}/api/v1/services/${tenant.serviceId}/chunked-uploads/${created.body.id as string}`;
    const last = await customer.request('PUT', path, data.subarray(100_000), headers(100_000, data.length - 1));
    expect(last.status).toBe(400);
    expect(last.body).toMatchObject({ digest: expect.stringMatching(/Repr-Digest/i) });
    expect((await customer.get(`/services/${tenant.serviceId}/chunked-uploads/${created.body.id as string}`)).status).toBe(404);
    expect(await allStaged()).toEqual([]);
  });
});

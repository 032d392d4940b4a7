import { createCipheriv, createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { createConnection, createServer, Server, Socket } from 'node:net';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import * as tus from 'tus-js-client';
import { UploadSessionsService } from '../../src/uploads/upload-sessions.service';
import { Client, makeTenant } from '../support/client';
import { backupCopy, stagedFiles } from '../support/storage-files';
import { startTestApp, TestApp } from '../support/test-app';

const MiB = 1024 * 1024;
const TUS = { 'tus-resumable': '1.0.0' };
const b64 = (value: string) => Buffer.from(value).toString('base64');

function randomStream(size: number): Readable {
  const cipher = createCipheriv('aes-128-ctr', randomBytes(16), randomBytes(16));
  const zeros = Buffer.alloc(4 * MiB);
  let left = size;
  return new Readable({
    read() {
      if (left === 0) return this.push(null);
      const n = Math.min(left, zeros.length);
      left -= n;
      this.push(cipher.update(zeros.subarray(0, n)));
    },
  });
}

/** A TCP proxy that cuts the connection after `cutAfter` bytes of upload, `cuts` times: a flaky network. */
function flakyProxy(targetPort: number, cutAfter: number, cuts: number): Promise<{ port: number; cutsDone: () => number; close: () => void }> {
  let done = 0;
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = createConnection({ host: '127.0.0.1', port: targetPort });
    sockets.add(client).add(upstream);
    let sent = 0;
    client.on('data', (chunk: Buffer) => {
      sent += chunk.length;
      if (done < cuts && sent > cutAfter) {
        done++;
        client.destroy();
        upstream.destroy();
        return;
      }
      upstream.write(chunk);
    });
    upstream.on('data', (chunk) => client.write(chunk));
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({
        port: (server.address() as { port: number }).port,
        cutsDone: () => done,
        close: () => {
          for (const socket of sockets) socket.destroy();
          server.close();
        },
      }),
    ),
  );
}

describe('resumable uploads', () => {
  let app: TestApp;
  let admin: Client;
  const dir = mkdtempSync(join(process.env.VAR_DIR!, 'resumable-'));

  beforeAll(async () => {
    app = await startTestApp({ MAX_UPLOAD_BYTES: String(512 * MiB) });
    admin = new Client(app.api, app.adminKey);
  });
  afterAll(async () => {
    await app.close();
    rmSync(dir, { recursive: true, force: true });
  });

  describe('tus 1.0', () => {
    it('tus-js-client uploads 200 MiB in 5 MiB chunks through a connection broken several times', async () => {
      const tenant = await makeTenant(admin);
      const source = join(dir, 'big.bin');
      const hash = createHash('sha256');
      await pipeline(
        randomStream(200 * MiB),
        async function* (chunks) {
          for await (const chunk of chunks) {
            hash.update(chunk as Buffer);
            yield chunk;
          }
        },
        createWriteStream(source),
      );
      const sha256 = hash.digest('hex');
      const port = Number(new URL(app.baseUrl).port);
      const proxy = await flakyProxy(port, 37 * MiB, 4);
      let mfileId: string | null = null;
      try {
        await new Promise<void>((resolve, reject) => {
          const upload = new tus.Upload(createReadStream(source), {
            endpoint: `http://127.0.0.1:${proxy.port}/api/v1/services/${tenant.serviceId}/uploads`,
            chunkSize: 5 * MiB,
            uploadSize: 200 * MiB,
            retryDelays: [0, 100, 300, 1000, 2000, 4000],
            metadata: { filename: 'big.bin', filetype: 'application/octet-stream' },
            headers: { authorization: `Bearer ${tenant.customerKey}` },
            onAfterResponse: (_request, response) => {
              mfileId = response.getHeader('Mfile-Id') ?? mfileId;
            },
            onError: reject,
            onSuccess: () => resolve(),
          });
          upload.start();
        });
      } finally {
        proxy.close();
      }
      expect(proxy.cutsDone()).toBe(4);
      expect(mfileId).toMatch(/^[0-9a-f-]{36}$/);
      const mfile = await admin.as(tenant.customerKey).get(`/mfiles/${mfileId}`);
      expect(mfile.body).toMatchObject({ name: 'big.bin', size: 200 * MiB, sha256 });
      expect(await stagedFiles(app.config, ['uploads'])).toEqual([]);
    }, 300_000);

    it('speaks the protocol: discovery, creation, offsets, checksums, termination, errors', async () => {
      const tenant = await makeTenant(admin);
      const customer = admin.as(tenant.customerKey);
      const base = `/services/${tenant.serviceId}/uploads`;
      const options = await customer.request('OPTIONS', base);
      expect(options.status).toBe(204);
      expect(options.headers.get('tus-extension')).toBe('creation,creation-with-upload,termination,expiration,checksum');
      expect(options.headers.get('tus-checksum-algorithm')).toBe('md5,sha1,sha256');

      expect((await customer.post(base, undefined, { 'upload-length': '10', 'upload-metadata': `filename ${b64('a.txt')}` })).status).toBe(412);
      expect((await customer.post(base, undefined, { ...TUS, 'upload-metadata': `filename ${b64('a.txt')}` })).status).toBe(400);
      expect((await customer.post(base, undefined, { ...TUS, 'upload-length': '10' })).status).toBe(400);
      expect((await customer.post(base, undefined, { ...TUS, 'upload-length': '10', 'upload-metadata': `filename ${b64('../evil')}` })).status).toBe(400);

      const created = await customer.post(base, undefined, {
        ...TUS,
        'upload-length': '11',
        'upload-metadata': `filename ${b64('hello world.txt')},filetype ${b64('text/plain')}`,
      });
      expect(created.status).toBe(201);
      const location = created.headers.get('location')!;
      expect(location).toMatch(new RegExp(`^/api/v1${base}/[0-9a-f-]{36}$`));
      const url = `${app.baseUrl}${location}`;
      // not visible anywhere until complete
      expect((await customer.get(`/services/${tenant.serviceId}/mfiles`)).body.items).toEqual([]);

      const head = await customer.request('HEAD', url, undefined, TUS);
      expect(head.headers.get('upload-offset')).toBe('0');
      expect(head.headers.get('upload-length')).toBe('11');
      expect(head.headers.get('cache-control')).toBe('no-store');

      const octets = { ...TUS, 'content-type': 'application/offset+octet-stream' };
      expect(
        (await customer.request('PATCH', url, new TextEncoder().encode('hello'), { ...TUS, 'content-type': 'text/plain', 'upload-offset': '0' })).status,
      ).toBe(415);
      expect((await customer.request('PATCH', url, new TextEncoder().encode('hello'), { ...octets, 'upload-offset': '3' })).status).toBe(409);
      const badSum = await customer.request('PATCH', url, new TextEncoder().encode('hello'), {
        ...octets,
        'upload-offset': '0',
        'upload-checksum': `sha1 ${createHash('sha1').update('HELLO').digest('base64')}`,
      });
      expect(badSum.status).toBe(460);
      expect(badSum.body.digest).toBe('Upload-Checksum');
      expect((await customer.request('HEAD', url, undefined, TUS)).headers.get('upload-offset')).toBe('0');
      const first = await customer.request('PATCH', url, new TextEncoder().encode('hello'), {
        ...octets,
        'upload-offset': '0',
        'upload-checksum': `sha1 ${createHash('sha1').update('hello').digest('base64')}`,
      });
      expect(first.status).toBe(204);
      expect(first.headers.get('upload-offset')).toBe('5');
      expect(new Date(first.headers.get('upload-expires')!).getTime()).toBeGreaterThan(Date.now());
      expect((await customer.request('PATCH', url, new TextEncoder().encode(' world and more'), { ...octets, 'upload-offset': '5' })).status).toBe(413);
      expect((await customer.request('HEAD', url, undefined, TUS)).headers.get('upload-offset')).toBe('5');
      const last = await customer.request('PATCH', url, new TextEncoder().encode(' world'), {
        ...octets,
        'upload-offset': '5',
        'upload-checksum': `sha256 ${createHash('sha256').update(' world').digest('base64')}`,
      });
      expect(last.status).toBe(204);
      expect(last.headers.get('upload-offset')).toBe('11');
      const mfileId = last.headers.get('mfile-id')!;
      const runId = last.headers.get('ingest-run-id');
      expect(last.headers.get('mfile-key')).toMatch(/^msk_/);
      const mfile = await customer.get(`/mfiles/${mfileId}`);
      expect(mfile.body).toMatchObject({
        name: 'hello world.txt',
        size: 11,
        sha256: createHash('sha256').update('hello world').digest('hex'),
        md5: createHash('md5').update('hello world').digest('hex'),
        mimetype: 'text/plain',
      });
      // the ingest run the completion started is named
      expect((await customer.get(`/mfiles/${mfileId}/jobs`)).body.items.map((job: { runId: string }) => job.runId)).toEqual([runId, runId, runId]);
      // a small file with no quota: its commit made the verified backup copy (the backup step a fact)
      expect(mfile.body.metadata.backup).toMatchObject({ sha256: mfile.body.sha256 });
      expect((await backupCopy(app.config, mfile.body.sha256))?.toString()).toBe('hello world');
      expect((await customer.get(`/mfiles/${mfileId}/jobs`)).body.items.find((job: { step: string }) => job.step === 'backup')).toMatchObject({
        state: 'succeeded',
        workerHost: null,
        result: { created: true, size: 11 },
      });
      expect((await customer.request('PATCH', url, new TextEncoder().encode('x'), { ...octets, 'upload-offset': '11' })).status).toBe(409);

      // a name taken while uploading: the completion is refused and makes no file (the one there stays)
      const late = new TextEncoder().encode('late bytes');
      const lateSha = createHash('sha256').update(late).digest('hex');
      const pending = await customer.post(base, undefined, { ...TUS, 'upload-length': String(late.length), 'upload-metadata': `filename ${b64('taken.txt')}` });
      expect((await customer.upload(tenant.serviceId, 'taken.txt', new TextEncoder().encode('first'))).status).toBe(201);
      const refused = await customer.request('PATCH', `${app.baseUrl}${pending.headers.get('location')}`, late, { ...octets, 'upload-offset': '0' });
      expect(refused.status).toBe(409);
      const taken = (await customer.get(`/services/${tenant.serviceId}/mfiles?name=taken.txt`)).body.items;
      expect(taken.map((file: { sha256: string }) => file.sha256)).not.toContain(lateSha);
      expect(taken).toHaveLength(1);

      // creation-with-upload, then termination
      const withData = await customer.post(base, new TextEncoder().encode('abc'), {
        ...octets,
        'upload-length': '6',
        'upload-metadata': `filename ${b64('abc.txt')}`,
      });
      expect(withData.status).toBe(201);
      expect(withData.headers.get('upload-offset')).toBe('3');
      const url2 = `${app.baseUrl}${withData.headers.get('location')}`;
      expect((await customer.request('DELETE', url2, undefined, TUS)).status).toBe(204);
      expect((await customer.request('HEAD', url2, undefined, TUS)).status).toBe(404);
      expect(await stagedFiles(app.config, ['uploads'], { afterAbort: true })).toEqual([]);
    });

    it('reserves the declared length against the quota; refuses suspended services; expires', async () => {
      const tenant = await makeTenant(admin);
      const customer = admin.as(tenant.customerKey);
      const provider = admin.as(tenant.containerKey);
      const base = `/services/${tenant.serviceId}/uploads`;
      await provider.patch(`/services/${tenant.serviceId}`, { diskQuota: 1000 });
      const one = await customer.post(base, undefined, { ...TUS, 'upload-length': '600', 'upload-metadata': `filename ${b64('one')}` });
      expect(one.status).toBe(201);
      const two = await customer.post(base, undefined, { ...TUS, 'upload-length': '600', 'upload-metadata': `filename ${b64('two')}` });
      expect(two.status).toBe(507);
      expect(two.body.quota).toMatchObject({ name: 'diskQuota', limit: 1000, reservedByUploads: 600, requested: 600 });
      expect((await customer.post(base, undefined, { ...TUS, 'upload-length': '1', 'upload-metadata': `filename ${b64('one')}` })).status).toBe(409);
      await provider.patch(`/services/${tenant.serviceId}`, { suspended: true });
      const suspended = await customer.request('PATCH', `${app.baseUrl}${one.headers.get('location')}`, new Uint8Array(10), {
        ...TUS,
        'content-type': 'application/offset+octet-stream',
        'upload-offset': '0',
      });
      expect(suspended.status).toBe(403);
      await provider.patch(`/services/${tenant.serviceId}`, { suspended: false });
      // the janitor removes expired uploads and their bytes; the reservation is released
      const removed = await app.app.get(UploadSessionsService).removeExpired(new Date(Date.now() + 2 * 86400_000));
      expect(removed).toBeGreaterThanOrEqual(1);
      expect((await customer.request('HEAD', `${app.baseUrl}${one.headers.get('location')}`, undefined, TUS)).status).toBe(404);
      expect((await customer.post(base, undefined, { ...TUS, 'upload-length': '600', 'upload-metadata': `filename ${b64('two')}` })).status).toBe(201);
    });
  });

  describe('Content-Range chunks', () => {
    it('shuffled chunks, one sent twice, end in a correct file; status says what is missing', async () => {
      const tenant = await makeTenant(admin);
      const customer = admin.as(tenant.customerKey);
      const data = randomBytes(10 * 100_000 + 123);
      const chunk = 100_000;
      const ranges: Array<[number, number]> = [];
      for (let start = 0; start < data.length; start += chunk) ranges.push([start, Math.min(start + chunk, data.length) - 1]);
      const order = [3, 0, 7, 10, 1, 5, 9, 2, 4, 8, 6];
      const send = (path: string, [a, b]: [number, number], method = 'PUT', extra: Record<string, string> = {}) =>
        customer.request(method, path, data.subarray(a, b + 1), {
          'content-range': `bytes ${a}-${b}/${data.length}`,
          'content-type': 'application/octet-stream',
          ...extra,
        });
      const first = await send(`/services/${tenant.serviceId}/chunked-uploads?name=shuffled.bin`, ranges[order[0]], 'POST', {
        'repr-digest': `sha-256=:${createHash('sha256').update(data).digest('base64')}:`,
      });
      expect(first.status).toBe(201);
      const path = `/services/${tenant.serviceId}/chunked-uploads/${first.body.id}`;
      expect(first.body.missing).toEqual([
        [0, 299_999],
        [400_000, data.length - 1],
      ]);
      let last: any;
      for (const index of order.slice(1, 6)) expect((last = await send(path, ranges[index])).status).toBe(200);
      const again = await send(path, ranges[0]);
      expect(again.status).toBe(200);
      expect(again.body.duplicate).toBe(true);
      expect((await send(path, [150_000, 250_000])).status).toBe(409);
      expect((await customer.get(path)).body.missing).toEqual([
        [200_000, 299_999],
        [400_000, 499_999],
        [600_000, 699_999],
        [800_000, 999_999],
      ]);
      for (const index of order.slice(6)) last = await send(path, ranges[index]);
      expect(last.status).toBe(201);
      expect(last.body.complete).toBe(true);
      expect(last.body.mfile.sha256).toBe(createHash('sha256').update(data).digest('hex'));
      const download = await fetch(`${app.api}/mfiles/${last.body.mfile.id}/content`, { headers: { authorization: `Bearer ${tenant.customerKey}` } });
      expect(Buffer.from(await download.arrayBuffer()).equals(data)).toBe(true);
    });

    it('refuses bad ranges and digests without corrupting the upload', async () => {
      const tenant = await makeTenant(admin);
      const customer = admin.as(tenant.customerKey);
      const data = Buffer.from('0123456789');
      const put = (path: string, range: string, body: Uint8Array, extra: Record<string, string> = {}, method = 'PUT') =>
        customer.request(method, path, body, { 'content-range': range, 'content-type': 'application/octet-stream', ...extra });
      expect((await put(`/services/${tenant.serviceId}/chunked-uploads?name=x`, 'bytes 0-4', data.subarray(0, 5), {}, 'POST')).status).toBe(400);
      expect((await put(`/services/${tenant.serviceId}/chunked-uploads?name=x`, 'bytes 0-5/10', data.subarray(0, 5), {}, 'POST')).status).toBe(400);
      const start = await put(`/services/${tenant.serviceId}/chunked-uploads?name=x`, 'bytes 0-4/10', data.subarray(0, 5), {}, 'POST');
      expect(start.status).toBe(201);
      const path = `/services/${tenant.serviceId}/chunked-uploads/${start.body.id}`;
      expect((await put(path, 'bytes 5-9/11', data.subarray(5))).status).toBe(400);
      expect((await put(path, 'bytes 8-12/10', Buffer.from('89abc'))).status).toBe(416);
      const wrongMd5 = await put(path, 'bytes 5-9/10', data.subarray(5), { 'content-md5': createHash('md5').update('nope').digest('base64') });
      expect(wrongMd5.status).toBe(400);
      expect(wrongMd5.body.digest).toBe('Content-MD5');
      expect((await customer.get(path)).body.received).toEqual([[0, 4]]);
      const done = await put(path, 'bytes 5-9/10', data.subarray(5), { 'content-md5': createHash('md5').update('56789').digest('base64') });
      expect(done.status).toBe(201);
      expect(done.body.mfile.md5).toBe(createHash('md5').update(data).digest('hex'));

      // a whole-file digest that does not match: nothing is stored
      const wrong = await put(
        `/services/${tenant.serviceId}/chunked-uploads?name=y`,
        'bytes 0-9/10',
        data,
        { 'repr-digest': `sha-256=:${createHash('sha256').update('other').digest('base64')}:` },
        'POST',
      );
      expect(wrong.status).toBe(400);
      expect(wrong.body.digest).toContain('Repr-Digest');
      expect((await customer.get(`/services/${tenant.serviceId}/mfiles?name=y`)).body.items).toEqual([]);
    });
  });

  describe('declared digests on simple uploads', () => {
    it('Content-MD5, Repr-Digest and form fields are checked; a mismatch stores nothing and names the digest', async () => {
      const tenant = await makeTenant(admin);
      const customer = admin.as(tenant.customerKey);
      const body = new TextEncoder().encode('digest me');
      const md5 = createHash('md5').update(body).digest('base64');
      const sha = createHash('sha256').update(body).digest('base64');
      const raw = (name: string, headers: Record<string, string>) =>
        customer.post(`/services/${tenant.serviceId}/mfiles?name=${name}`, body, { 'content-type': 'application/octet-stream', ...headers });
      expect((await raw('a', { 'content-md5': md5, 'repr-digest': `sha-256=:${sha}:` })).status).toBe(201);
      const badMd5 = await raw('b', { 'content-md5': createHash('md5').update('x').digest('base64') });
      expect(badMd5.status).toBe(400);
      expect(badMd5.body).toMatchObject({ digest: 'Content-MD5', algorithm: 'md5' });
      const badSha = await raw('c', { 'content-digest': `sha-256=:${createHash('sha256').update('x').digest('base64')}:` });
      expect(badSha.body.digest).toBe('Content-Digest');
      expect((await raw('d', { 'content-md5': 'not base64!' })).status).toBe(400);
      const form = new FormData();
      form.append('sha256', createHash('sha256').update('x').digest('hex'));
      form.append('file', new Blob([body]), 'e.txt');
      const badForm = await customer.post(`/services/${tenant.serviceId}/mfiles`, form);
      expect(badForm.status).toBe(400);
      expect(badForm.body.digest).toBe('sha256 form field');
      const names = (await customer.get(`/services/${tenant.serviceId}/mfiles`)).body.items.map((item: { name: string }) => item.name);
      expect(names).toEqual(['a']);
      expect(await stagedFiles(app.config, ['tmp'])).toEqual([]);
    });
  });
});

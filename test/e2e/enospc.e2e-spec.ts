import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, makeTenant } from '../support/client';
import { filesUnder } from '../support/storage-files';
import { startTestApp, TestApp } from '../support/test-app';

/**
 * "A full disk is a 507, not a corrupt file." STORAGE_DIR is a small filesystem of its own (an 8 MiB tmpfs, or a
 * 16 MiB ext4 image on a loop device where tmpfs cannot be mounted), so ENOSPC is real, from the kernel, not
 * simulated. Needs root (mount). Where neither kind of mount is permitted (no root, a container without
 * CAP_SYS_ADMIN, no loop devices) the suite is skipped with the reason in its title: there is no honest way to
 * fill a disk without one.
 */

type SmallFs = { kind: 'tmpfs' | 'loop'; dir: string; image?: string };

const MiB = 1024 * 1024;

function run(command: string, args: string[]): void {
  execFileSync(command, args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

function unmount(fs: SmallFs): void {
  try {
    run('umount', [fs.dir]);
  } catch {
    // still busy (a handle not yet closed): detach lazily so nothing stays mounted after the run
    try {
      run('umount', ['-l', fs.dir]);
    } catch {
      /* not mounted */
    }
  }
  rmSync(fs.dir, { recursive: true, force: true });
  if (fs.image) rmSync(fs.image, { force: true });
}

/** Mounts a fresh small filesystem of the given kind on a new temp folder; throws when not permitted. */
function mountSmallFs(kind: SmallFs['kind']): SmallFs {
  const dir = mkdtempSync(join(tmpdir(), 'mserve-enospc-'));
  const fs: SmallFs = { kind, dir };
  try {
    if (kind === 'tmpfs') {
      run('mount', ['-t', 'tmpfs', '-o', 'size=8m,mode=0755', 'tmpfs', dir]);
    } else {
      fs.image = `${dir}.img`;
      run('truncate', ['-s', '16M', fs.image]);
      // -m 0: no blocks reserved for root, so the free space statfs reports is what we (root) can really write
      run('mkfs.ext4', ['-q', '-F', '-m', '0', fs.image]);
      run('mount', ['-o', 'loop', fs.image, dir]);
    }
    return fs;
  } catch (error) {
    unmount(fs);
    throw error;
  }
}

/** Which kind of small filesystem can be mounted here (tried once, then unmounted), or why none can. */
function probeSmallFs(): { kind: SmallFs['kind'] } | { reason: string } {
  if (process.platform !== 'linux') return { reason: `needs Linux mounts, this is ${process.platform}` };
  if (process.getuid?.() !== 0) return { reason: 'needs root to mount a small filesystem for STORAGE_DIR' };
  const failures: string[] = [];
  for (const kind of ['tmpfs', 'loop'] as const) {
    try {
      unmount(mountSmallFs(kind));
      return { kind };
    } catch (error) {
      const stderr = (error as { stderr?: Buffer }).stderr?.toString().trim();
      failures.push(`${kind}: ${stderr || (error as Error).message}`);
    }
  }
  return { reason: `cannot mount a small filesystem (${failures.join('; ')})` };
}

const probe = probeSmallFs();
const suite = 'kind' in probe ? describe : describe.skip;
const title =
  'kind' in probe ? `a full disk is a 507, not a corrupt file (${probe.kind})` : `a full disk is a 507, not a corrupt file — SKIPPED: ${probe.reason}`;

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

interface RawReply {
  /** The status, or what happened instead of a response. */
  status: number | string;
  headers: Record<string, string>;
  body: any;
  text: string;
  /**
   * What the connection was good for after the answer: `closed` by the server, `reusable` (it answered a
   * follow-up request on it), or `stuck` (neither within PROBE_MS: a keep-alive client reusing it would hang).
   */
  connection: 'closed' | 'reusable' | 'stuck' | 'n/a';
}

const PROBE_MS = 3000;

/**
 * One upload on its own TCP connection, read at the byte level. fetch would hide what matters here: whether the
 * answer arrives at all, and whether the connection is left in a state where the next request on it hangs
 * (undici reuses keep-alive connections from one pool for every later request of the test).
 */
function rawUpload(
  baseUrl: string,
  method: 'POST' | 'PUT' | 'PATCH',
  path: string,
  key: string,
  contentType: string,
  body: Buffer,
  options: { chunked?: boolean; headers?: Record<string, string> } = {},
): Promise<RawReply> {
  const url = new URL(path, baseUrl);
  return new Promise((resolve) => {
    const socket = connect(Number(url.port), url.hostname);
    let buffer = Buffer.alloc(0);
    let reply: RawReply | undefined;
    let probing = false;
    let failure = '';
    const finish = (connection: RawReply['connection']) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(
        reply
          ? { ...reply, connection }
          : {
              status: `no response${failure ? `: ${failure}` : ' (connection closed)'}`,
              headers: {},
              body: undefined,
              text: buffer.toString('latin1').slice(0, 500),
              connection: 'n/a',
            },
      );
    };
    let timer = setTimeout(() => finish('stuck'), 30_000);
    const parse = (): RawReply | undefined => {
      const end = buffer.indexOf('\r\n\r\n');
      if (end < 0) return undefined;
      const [statusLine, ...lines] = buffer.subarray(0, end).toString('latin1').split('\r\n');
      const headers = Object.fromEntries(lines.map((line) => [line.slice(0, line.indexOf(':')).toLowerCase(), line.slice(line.indexOf(':') + 1).trim()]));
      const length = Number(headers['content-length'] ?? 0);
      if (headers['transfer-encoding'] || buffer.length < end + 4 + length) return undefined;
      const text = buffer.subarray(end + 4, end + 4 + length).toString('utf8');
      buffer = buffer.subarray(end + 4 + length);
      let parsed: unknown = text;
      if (/json/.test(headers['content-type'] ?? '') && text) parsed = JSON.parse(text);
      return { status: Number(statusLine.split(' ')[1]), headers, body: parsed, text, connection: 'n/a' };
    };
    socket.on('connect', () => {
      const framing = options.chunked ? 'Transfer-Encoding: chunked' : `Content-Length: ${body.length}`;
      const extra = Object.entries(options.headers ?? {})
        .map(([name, value]) => `${name}: ${value}\r\n`)
        .join('');
      socket.write(
        `${method} ${url.pathname}${url.search} HTTP/1.1\r\nHost: ${url.host}\r\nAuthorization: Bearer ${key}\r\nContent-Type: ${contentType}\r\n${extra}${framing}\r\n\r\n`,
      );
      let offset = 0;
      const pump = () => {
        while (offset < body.length && !socket.destroyed) {
          const chunk = body.subarray(offset, offset + 64 * 1024);
          offset += chunk.length;
          const more = options.chunked
            ? socket.write(Buffer.concat([Buffer.from(`${chunk.length.toString(16)}\r\n`), chunk, Buffer.from('\r\n')]))
            : socket.write(chunk);
          if (!more) return void socket.once('drain', pump);
        }
        if (options.chunked && !socket.destroyed) socket.write('0\r\n\r\n');
      };
      pump();
    });
    socket.on('data', (data: Buffer) => {
      buffer = Buffer.concat([buffer, data]);
      if (!reply) {
        reply = parse();
        if (!reply) return;
        if (/close/i.test(reply.headers.connection ?? '')) {
          // the server said it closes: give it the probe time to do so
          clearTimeout(timer);
          timer = setTimeout(() => finish('stuck'), PROBE_MS);
          return;
        }
        // keep-alive promised: the next request on this connection must be answered
        probing = true;
        clearTimeout(timer);
        timer = setTimeout(() => finish('stuck'), PROBE_MS);
        socket.write(`GET /health/live HTTP/1.1\r\nHost: ${url.host}\r\n\r\n`, () => undefined);
      }
      if (probing && parse()) finish('reusable');
    });
    socket.on('error', (error) => {
      failure = `${(error as NodeJS.ErrnoException).code ?? ''} ${error.message}`.trim();
    });
    socket.on('close', () => finish('closed'));
  });
}

function multipartBody(name: string, bytes: Buffer): { contentType: string; body: Buffer } {
  const boundary = `----mserve-enospc-${randomBytes(8).toString('hex')}`;
  return {
    contentType: `multipart/form-data; boundary=${boundary}`,
    body: Buffer.concat([
      Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${name}"\r\nContent-Type: application/octet-stream\r\n\r\n`),
      bytes,
      Buffer.from(`\r\n--${boundary}--\r\n`),
    ]),
  };
}

/** What a 507 must look like; compared as one object so a failure shows everything that came back. */
function shapeOf(reply: RawReply) {
  return {
    status: reply.status,
    contentType: reply.headers['content-type']?.split(';')[0] ?? null,
    type: reply.body && typeof reply.body === 'object' ? String(reply.body.type).replace(/^.*\//, '') : reply.text.slice(0, 300),
    connection: reply.connection,
  };
}
const INSUFFICIENT_STORAGE = {
  status: 507,
  contentType: 'application/problem+json',
  type: 'insufficient-storage',
  connection: expect.stringMatching(/^(closed|reusable)$/),
};

suite(title, () => {
  let fs: SmallFs | undefined;
  let app: TestApp | undefined;
  let admin: Client;
  let dir: string;

  beforeAll(async () => {
    fs = mountSmallFs((probe as { kind: SmallFs['kind'] }).kind);
    dir = fs.dir;
    // overrides win over startTestApp's own temp storage dir (it spreads them last into loadConfig)
    // filesystem only, whatever TEST_STORAGE says: the full disk under test is the filesystem store's own
    app = await startTestApp({ STORAGE_DIR: dir, STORAGE: 'filesystem' });
    expect(app.config.storageDir).toBe(dir);
    admin = new Client(app.api, app.adminKey);
  });

  afterAll(async () => {
    try {
      await app?.close();
    } finally {
      if (fs) unmount(fs);
    }
  });

  const free = () => {
    const stats = statfsSync(dir);
    return Number(stats.bavail) * Number(stats.bsize);
  };
  const blobs = () => filesUnder(dir).filter((path) => path.startsWith('blobs/'));
  const temps = () => filesUnder(dir).filter((path) => path.startsWith('tmp/'));
  const mfileRows = (serviceId: string) => app!.dataSource.query('SELECT id, size, sha256, blob_key FROM mfile WHERE service_id = $1 ORDER BY id', [serviceId]);
  const usageRows = (serviceId: string) => app!.dataSource.query('SELECT metric, value, resource_id FROM usage WHERE service_id = $1 ORDER BY id', [serviceId]);
  const raw = (
    method: 'POST' | 'PUT' | 'PATCH',
    path: string,
    key: string,
    bytes: Buffer,
    options: { chunked?: boolean; headers?: Record<string, string>; contentType?: string } = {},
  ) => rawUpload(app!.api + '/', method, path.replace(/^\//, ''), key, options.contentType ?? 'application/octet-stream', bytes, options);
  const parts = () => filesUnder(dir).filter((path) => path.startsWith('uploads/'));
  const multipart = (method: 'POST' | 'PUT', path: string, key: string, name: string, bytes: Buffer) => {
    const { contentType, body } = multipartBody(name, bytes);
    return rawUpload(app!.api + '/', method, path.replace(/^\//, ''), key, contentType, body);
  };

  it('an upload larger than the free space is a 507 (raw and multipart), leaving no bytes, no temp file, no Mfile, no usage', async () => {
    const tenant = await makeTenant(admin);
    const customer = admin.as(tenant.customerKey);
    const freeBefore = free();
    const big = randomBytes(freeBefore + 2 * MiB);
    const usageBefore = await usageRows(tenant.serviceId);

    const declared = await raw('POST', `/services/${tenant.serviceId}/mfiles?name=big.bin`, tenant.customerKey, big);
    expect(shapeOf(declared)).toEqual(INSUFFICIENT_STORAGE);
    expect(declared.body).toMatchObject({ status: 507, title: 'Insufficient Storage', detail: expect.stringContaining('full') });
    expect({ blobs: blobs(), temps: temps() }).toEqual({ blobs: [], temps: [] });

    const chunked = await raw('POST', `/services/${tenant.serviceId}/mfiles?name=big-chunked.bin`, tenant.customerKey, big, { chunked: true });
    expect(shapeOf(chunked)).toEqual(INSUFFICIENT_STORAGE);
    expect({ blobs: blobs(), temps: temps() }).toEqual({ blobs: [], temps: [] });

    const form = await multipart('POST', `/services/${tenant.serviceId}/mfiles`, tenant.customerKey, 'big-form.bin', big);
    expect(shapeOf(form)).toEqual(INSUFFICIENT_STORAGE);
    expect({ blobs: blobs(), temps: temps() }).toEqual({ blobs: [], temps: [] });

    expect(await mfileRows(tenant.serviceId)).toEqual([]);
    const usageAfter = await usageRows(tenant.serviceId);
    expect(usageAfter.filter((row: { metric: string }) => row.metric === 'ingest' || row.metric === 'disc')).toEqual([]);
    expect(usageAfter).toEqual(usageBefore);
    expect((await customer.get(`/services/${tenant.serviceId}/mfiles`)).body.items).toEqual([]);
    // the partial temp files' space was given back
    expect(free()).toBe(freeBefore);
  });

  it('a WebDAV PUT larger than the free space (Content-Length or chunked, new file or over one) is a 507 and keeps nothing', async () => {
    const tenant = await makeTenant(admin);
    const customer = admin.as(tenant.customerKey);
    const original = randomBytes(32 * 1024);
    expect((await rawUpload(app!.baseUrl + '/', 'PUT', 'dav/kept.bin', tenant.customerKey, 'application/octet-stream', original)).status).toBe(201);
    const rowsBefore = await mfileRows(tenant.serviceId);
    const usageBefore = await usageRows(tenant.serviceId);
    const blobsBefore = blobs();
    const freeBefore = free();
    const big = randomBytes(freeBefore + 2 * MiB);
    for (const [path, chunked] of [
      ['dav/big.bin', false],
      ['dav/big-chunked.bin', true],
      ['dav/kept.bin', false],
      ['dav/kept.bin', true],
    ] as const) {
      const reply = await rawUpload(app!.baseUrl + '/', 'PUT', path, tenant.customerKey, 'application/octet-stream', big, { chunked });
      expect({ path, chunked, ...shapeOf(reply) }).toEqual({ path, chunked, ...INSUFFICIENT_STORAGE });
      expect({ blobs: blobs(), temps: temps() }).toEqual({ blobs: blobsBefore, temps: [] });
    }
    expect(await mfileRows(tenant.serviceId)).toEqual(rowsBefore);
    expect(await usageRows(tenant.serviceId)).toEqual(usageBefore);
    const kept = await fetch(`${app!.baseUrl}/dav/kept.bin`, { headers: { authorization: `Bearer ${tenant.customerKey}` } });
    expect(sha256(new Uint8Array(await kept.arrayBuffer()))).toBe(sha256(original));
    expect(free()).toBe(freeBefore);
    expect((await customer.get(`/services/${tenant.serviceId}/mfiles`)).body.items.map((item: { name: string }) => item.name)).toEqual(['kept.bin']);
  });

  it('a small upload works afterwards, with the right digests and bytes', async () => {
    const tenant = await makeTenant(admin);
    const customer = admin.as(tenant.customerKey);
    const bytes = randomBytes(256 * 1024);
    const reply = await customer.post(`/services/${tenant.serviceId}/mfiles?name=small.bin`, bytes, { 'content-type': 'application/octet-stream' });
    expect(reply.status).toBe(201);
    expect(reply.body).toMatchObject({ size: bytes.length, sha256: sha256(bytes) });
    const form = await customer.upload(tenant.serviceId, 'small-form.bin', bytes.subarray(0, 1000));
    expect(form.status).toBe(201);
    expect(form.body.sha256).toBe(sha256(bytes.subarray(0, 1000)));
    const download = await fetch(`${app!.api}/mfiles/${reply.body.id}/content`, { headers: { authorization: `Bearer ${tenant.customerKey}` } });
    expect(download.status).toBe(200);
    expect(sha256(new Uint8Array(await download.arrayBuffer()))).toBe(sha256(bytes));
    expect(temps()).toEqual([]);
    const [{ ingest }] = await app!.dataSource.query("SELECT SUM(value)::float AS ingest FROM usage WHERE metric = 'ingest' AND resource_id = $1", [
      reply.body.id,
    ]);
    expect(ingest).toBe(bytes.length);
  });

  it('on an almost full disk, an upload and a content replacement that do not fit are 507s and the old content is intact', async () => {
    const tenant = await makeTenant(admin);
    const customer = admin.as(tenant.customerKey);
    const original = randomBytes(64 * 1024);
    const kept = await customer.post(`/services/${tenant.serviceId}/mfiles?name=kept.bin`, original, { 'content-type': 'application/octet-stream' });
    expect(kept.status).toBe(201);
    const filler = join(dir, 'filler.bin');
    try {
      // leave 256 KiB free; the filler sits outside blobs/ and tmp/, so it is not ours to clean up
      writeFileSync(filler, Buffer.alloc(free() - 256 * 1024, 1));
      const freeBefore = free();
      expect(freeBefore).toBeLessThanOrEqual(256 * 1024);
      const blobsBefore = blobs();
      const rowsBefore = await mfileRows(tenant.serviceId);
      const usageBefore = await usageRows(tenant.serviceId);
      const tooBig = randomBytes(1 * MiB);

      const upload = await raw('POST', `/services/${tenant.serviceId}/mfiles?name=late.bin`, tenant.customerKey, tooBig);
      expect(shapeOf(upload)).toEqual(INSUFFICIENT_STORAGE);
      const formUpload = await multipart('POST', `/services/${tenant.serviceId}/mfiles`, tenant.customerKey, 'late-form.bin', tooBig);
      expect(shapeOf(formUpload)).toEqual(INSUFFICIENT_STORAGE);

      const replace = await raw('PUT', `/mfiles/${kept.body.id}/content`, tenant.customerKey, tooBig);
      expect(shapeOf(replace)).toEqual(INSUFFICIENT_STORAGE);
      const formReplace = await multipart('PUT', `/mfiles/${kept.body.id}/content`, tenant.customerKey, 'kept.bin', tooBig);
      expect(shapeOf(formReplace)).toEqual(INSUFFICIENT_STORAGE);

      expect({ blobs: blobs(), temps: temps() }).toEqual({ blobs: blobsBefore, temps: [] });
      expect(await mfileRows(tenant.serviceId)).toEqual(rowsBefore);
      expect(await usageRows(tenant.serviceId)).toEqual(usageBefore);
      expect(free()).toBe(freeBefore);

      const meta = await customer.get(`/mfiles/${kept.body.id}`);
      expect(meta.body).toMatchObject({ size: original.length, sha256: sha256(original), contentUpdatedAt: kept.body.contentUpdatedAt });
      const download = await fetch(`${app!.api}/mfiles/${kept.body.id}/content`, { headers: { authorization: `Bearer ${tenant.customerKey}` } });
      expect(download.status).toBe(200);
      expect(Buffer.from(await download.arrayBuffer()).equals(original)).toBe(true);
    } finally {
      rmSync(filler, { force: true });
    }
    // with the space back, the same replacement goes through and releases the old blob
    const again = await customer.put(`/mfiles/${kept.body.id}/content`, randomBytes(1 * MiB), { 'content-type': 'application/octet-stream' });
    expect(again.status).toBe(200);
    expect(again.body.size).toBe(1 * MiB);
  });
  it('resumable uploads: a chunk that does not fit is a 507; a verified chunk never moves the offset; the upload resumes once there is room', async () => {
    const tenant = await makeTenant(admin);
    const customer = admin.as(tenant.customerKey);
    const TUS = { 'tus-resumable': '1.0.0' };
    const length = 2 * MiB;
    const source = randomBytes(length);
    const created = await customer.post(`/services/${tenant.serviceId}/uploads`, undefined, {
      ...TUS,
      'upload-length': String(length),
      'upload-metadata': `filename ${Buffer.from('huge.bin').toString('base64')}`,
    });
    expect(created.status).toBe(201);
    const location = new URL(created.headers.get('location')!, app!.baseUrl).pathname.replace(/^\/api\/v1/, '');
    const offset = async () => Number((await customer.request('HEAD', location, undefined, TUS)).headers.get('upload-offset'));
    const tail = [length - 1024, length - 1] as const;
    const chunked = await customer.post(`/services/${tenant.serviceId}/chunked-uploads?name=huge2.bin`, source.subarray(tail[0]), {
      'content-range': `bytes ${tail[0]}-${tail[1]}/${length}`,
      'content-type': 'application/octet-stream',
    });
    expect(chunked.status).toBe(201);
    const chunkedPath = `/services/${tenant.serviceId}/chunked-uploads/${chunked.body.id}`;

    const filler = join(dir, 'filler.bin');
    writeFileSync(filler, Buffer.alloc(free() - 512 * 1024, 1));
    let kept: number;
    try {
      // with Upload-Checksum a chunk counts whole or not at all: the offset stays 0
      const checked = await raw('PATCH', location, tenant.customerKey, source, {
        contentType: 'application/offset+octet-stream',
        headers: { ...TUS, 'upload-offset': '0', 'upload-checksum': `sha256 ${createHash('sha256').update(source).digest('base64')}` },
      });
      expect(shapeOf(checked)).toEqual(INSUFFICIENT_STORAGE);
      expect(await offset()).toBe(0);
      // without one, what reached the disk is kept (fsynced and hashed), so the client resumes from there
      const plain = await raw('PATCH', location, tenant.customerKey, source, {
        contentType: 'application/offset+octet-stream',
        headers: { ...TUS, 'upload-offset': '0' },
      });
      expect(shapeOf(plain)).toEqual(INSUFFICIENT_STORAGE);
      kept = await offset();
      expect(kept).toBeLessThan(length);
      // Content-Range: a chunk that does not fit is not recorded as received
      const put = await raw('PUT', chunkedPath, tenant.customerKey, source.subarray(0, tail[0]), {
        headers: { 'content-range': `bytes 0-${tail[0] - 1}/${length}` },
      });
      expect(shapeOf(put)).toEqual(INSUFFICIENT_STORAGE);
      expect((await customer.get(chunkedPath)).body).toMatchObject({ received: [[tail[0], tail[1]]], missing: [[0, tail[0] - 1]], complete: false });
      // neither is an Mfile, nor visible, nor metered
      expect(await mfileRows(tenant.serviceId)).toEqual([]);
      expect((await customer.get(`/services/${tenant.serviceId}/mfiles`)).body.items).toEqual([]);
    } finally {
      rmSync(filler, { force: true });
    }

    // room again: both uploads resume where they stood and end in the right file
    const resumed = await customer.request('PATCH', location, source.subarray(kept), {
      ...TUS,
      'content-type': 'application/offset+octet-stream',
      'upload-offset': String(kept),
    });
    expect(resumed.status).toBe(204);
    const rest = await customer.put(chunkedPath, source.subarray(0, tail[0]), {
      'content-range': `bytes 0-${tail[0] - 1}/${length}`,
      'content-type': 'application/octet-stream',
    });
    expect(rest.status).toBe(201);
    const rows = await mfileRows(tenant.serviceId);
    expect(rows.map((row: { size: string | number; sha256: string }) => [Number(row.size), row.sha256])).toEqual([
      [length, sha256(source)],
      [length, sha256(source)],
    ]);
    expect(parts()).toEqual([]);
    expect(temps()).toEqual([]);
  });
});

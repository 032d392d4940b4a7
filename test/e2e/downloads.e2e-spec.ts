import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, makeTenant } from '../support/client';
import { startTestApp, TestApp } from '../support/test-app';
import { accessMetered } from '../support/usage';

/** Deterministic, non-repeating-looking bytes, so a wrong offset can never compare equal. */
function patterned(length: number, seed = 1): Buffer {
  const bytes = Buffer.alloc(length);
  let state = seed;
  for (let i = 0; i < length; i++) {
    state = (state * 1103515245 + 12345) >>> 0;
    bytes[i] = state >>> 24;
  }
  return bytes;
}

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes);

interface BinaryReply {
  status: number;
  headers: Headers;
  body: Buffer;
}

/** A binary GET/HEAD with the key as a bearer token (the shared client decodes bodies as text). */
async function fetchBytes(url: string, key: string, headers: Record<string, string> = {}, method = 'GET'): Promise<BinaryReply> {
  const response = await fetch(url, { method, headers: { authorization: `Bearer ${key}`, ...headers } });
  return { status: response.status, headers: response.headers, body: Buffer.from(await response.arrayBuffer()) };
}

interface Part {
  headers: Record<string, string>;
  body: Buffer;
}

/** A strict multipart/byteranges parser (RFC 9110 §14.6 / RFC 2046): each part's headers and exact bytes. */
function parseByteranges(contentType: string, body: Buffer): Part[] {
  const match = /^multipart\/byteranges;\s*boundary=("?)([^";]+)\1$/.exec(contentType);
  if (!match) throw new Error(`not multipart/byteranges: ${contentType}`);
  const delimiter = Buffer.from(`--${match[2]}`);
  const parts: Part[] = [];
  let position = body.indexOf(delimiter);
  if (position !== 0) throw new Error('the body must start with the first boundary');
  for (;;) {
    position += delimiter.length;
    if (body.subarray(position, position + 2).toString() === '--') {
      expect(body.subarray(position + 2).toString()).toBe('\r\n');
      return parts;
    }
    expect(body.subarray(position, position + 2).toString()).toBe('\r\n');
    const headerEnd = body.indexOf('\r\n\r\n', position);
    const headers: Record<string, string> = {};
    for (const line of body
      .subarray(position + 2, headerEnd)
      .toString('latin1')
      .split('\r\n')) {
      const colon = line.indexOf(':');
      headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    const next = body.indexOf(Buffer.concat([Buffer.from('\r\n'), delimiter]), headerEnd + 4);
    if (next < 0) throw new Error('unterminated part');
    parts.push({ headers, body: body.subarray(headerEnd + 4, next) });
    position = next + 2;
  }
}

/** Runs the real curl asynchronously (a synchronous child would block the in-process server). */
function curl(args: string[]): Promise<{ code: number; stdout: Buffer; stderr: string }> {
  return new Promise((resolve) => {
    execFile('curl', args, { encoding: 'buffer', maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
      resolve({ code, stdout, stderr: stderr.toString() });
    });
  });
}

describe('Downloads the way HTTP clients expect: multi-range, Repr-Digest, curl and browsers, accessSpeed', () => {
  let app: TestApp;
  let admin: Client;
  let workDir: string;

  beforeAll(async () => {
    app = await startTestApp();
    admin = new Client(app.api, app.adminKey);
    workDir = mkdtempSync(join(tmpdir(), 'mserve-downloads-'));
  });
  afterAll(async () => {
    rmSync(workDir, { recursive: true, force: true });
    await app.close();
  });

  async function uploaded(bytes: Buffer, name = 'data.bin') {
    const tenant = await makeTenant(admin);
    const reply = await admin.as(tenant.customerKey).upload(tenant.serviceId, name, bytes);
    expect(reply.status).toBe(201);
    return {
      tenant,
      id: reply.body.id as string,
      url: `${app.api}/mfiles/${reply.body.id}/content`,
      key: tenant.customerKey,
      mimetype: reply.body.mimetype as string,
    };
  }

  const metered = (mfileId: string, expected: number) => accessMetered(app.dataSource, mfileId, expected);

  it('answers several ranges with 206 multipart/byteranges, byte-exact, with a correct Content-Length', async () => {
    const bytes = patterned(1000);
    const { id, url, key, mimetype } = await uploaded(bytes);
    const reply = await fetchBytes(url, key, { range: 'bytes=0-9,20-29,-5' });
    expect(reply.status).toBe(206);
    const contentType = reply.headers.get('content-type')!;
    expect(contentType).toMatch(/^multipart\/byteranges; boundary=\S+$/);
    expect(reply.headers.get('content-range')).toBeNull();
    expect(Number(reply.headers.get('content-length'))).toBe(reply.body.length);
    const parts = parseByteranges(contentType, reply.body);
    expect(parts.map((part) => part.headers['content-range'])).toEqual(['bytes 0-9/1000', 'bytes 20-29/1000', 'bytes 995-999/1000']);
    expect(parts.every((part) => part.headers['content-type'] === mimetype)).toBe(true);
    expect(parts[0].body.equals(bytes.subarray(0, 10))).toBe(true);
    expect(parts[1].body.equals(bytes.subarray(20, 30))).toBe(true);
    expect(parts[2].body.equals(bytes.subarray(995, 1000))).toBe(true);
    // the whole body is metered, multipart framing included
    expect(await metered(id, reply.body.length)).toBe(reply.body.length);
  });

  it('coalesces overlapping ranges, ignores abusive and malformed ones, and 416s the unsatisfiable', async () => {
    const bytes = patterned(1000, 7);
    const { url, key } = await uploaded(bytes);
    // overlapping and adjacent ranges become one plain 206
    const merged = await fetchBytes(url, key, { range: 'bytes=100-199,150-249,250-299' });
    expect(merged.status).toBe(206);
    expect(merged.headers.get('content-range')).toBe('bytes 100-299/1000');
    expect(merged.body.equals(bytes.subarray(100, 300))).toBe(true);
    // the parts come in the order asked for, coalesced ones where their first member was
    const ordered = await fetchBytes(url, key, { range: 'bytes=900-909,0-4,3-9' });
    const parts = parseByteranges(ordered.headers.get('content-type')!, ordered.body);
    expect(parts.map((part) => part.headers['content-range'])).toEqual(['bytes 900-909/1000', 'bytes 0-9/1000']);
    expect(parts[1].body.equals(bytes.subarray(0, 10))).toBe(true);
    // an unsatisfiable range next to a satisfiable one is dropped
    const mixed = await fetchBytes(url, key, { range: 'bytes=5000-6000,10-19' });
    expect(mixed.status).toBe(206);
    expect(mixed.headers.get('content-range')).toBe('bytes 10-19/1000');
    // more than 50 ranges, or more than twice the file: the whole file, 200
    const many = await fetchBytes(url, key, { range: `bytes=${Array.from({ length: 51 }, (_, i) => `${i * 10}-${i * 10 + 1}`).join(',')}` });
    expect(many.status).toBe(200);
    expect(many.body.equals(bytes)).toBe(true);
    const fiftyRanges = await fetchBytes(url, key, { range: `bytes=${Array.from({ length: 50 }, (_, i) => `${i * 10}-${i * 10 + 1}`).join(',')}` });
    expect(fiftyRanges.status).toBe(206);
    expect(parseByteranges(fiftyRanges.headers.get('content-type')!, fiftyRanges.body)).toHaveLength(50);
    const greedy = await fetchBytes(url, key, { range: 'bytes=0-,1-,2-' });
    expect(greedy.status).toBe(200);
    expect(greedy.body.equals(bytes)).toBe(true);
    // malformed: ignored, per RFC 9110
    for (const range of ['bytes=9-1', 'bytes=abc', 'lines=1-2', 'bytes=0-9,zz']) {
      const reply = await fetchBytes(url, key, { range });
      expect([range, reply.status, reply.body.length]).toEqual([range, 200, 1000]);
    }
    // all unsatisfiable: 416 with the size
    const unsatisfiable = await fetchBytes(url, key, { range: 'bytes=1000-1100,2000-' });
    expect(unsatisfiable.status).toBe(416);
    expect(unsatisfiable.headers.get('content-range')).toBe('bytes */1000');
    // a stale If-Range sends everything; a matching one honours the ranges
    const etag = `"${sha256(bytes).digest('hex')}"`;
    expect((await fetchBytes(url, key, { range: 'bytes=0-1,5-6', 'if-range': '"stale"' })).status).toBe(200);
    expect((await fetchBytes(url, key, { range: 'bytes=0-1,5-6', 'if-range': etag })).status).toBe(206);
  });

  it('sends Repr-Digest (sha-256 of the whole representation) on 200, HEAD and 206', async () => {
    const bytes = patterned(4096, 3);
    const { url, key } = await uploaded(bytes);
    const expected = `sha-256=:${sha256(bytes).digest('base64')}:`;
    const full = await fetchBytes(url, key);
    expect(full.status).toBe(200);
    expect(full.headers.get('repr-digest')).toBe(expected);
    // the client can check what it received against the header
    expect(`sha-256=:${sha256(full.body).digest('base64')}:`).toBe(full.headers.get('repr-digest'));
    const head = await fetchBytes(url, key, {}, 'HEAD');
    expect(head.status).toBe(200);
    expect(head.headers.get('repr-digest')).toBe(expected);
    expect(head.headers.get('content-length')).toBe('4096');
    expect((await fetchBytes(url, key, { range: 'bytes=0-99' })).headers.get('repr-digest')).toBe(expected);
    expect((await fetchBytes(url, key, { range: 'bytes=0-9,100-109' })).headers.get('repr-digest')).toBe(expected);
    // Range only applies to GET: HEAD with a Range describes the whole file
    const headRange = await fetchBytes(url, key, { range: 'bytes=0-9' }, 'HEAD');
    expect(headRange.status).toBe(200);
    expect(headRange.headers.get('content-length')).toBe('4096');
  });

  it('answers what curl and browsers send: -r, -C - resume, a video seek, conditional revalidation', async () => {
    const bytes = patterned(5000, 11);
    const { id, url, key } = await uploaded(bytes, 'clip.mp4');
    // curl -r 0-99
    const first = await fetchBytes(url, key, { range: 'bytes=0-99' });
    expect(first.status).toBe(206);
    expect(first.headers.get('content-range')).toBe('bytes 0-99/5000');
    expect(first.headers.get('content-length')).toBe('100');
    expect(first.body.equals(bytes.subarray(0, 100))).toBe(true);
    // curl -C - with 1234 bytes on disk
    const resume = await fetchBytes(url, key, { range: 'bytes=1234-' });
    expect(resume.status).toBe(206);
    expect(resume.headers.get('content-range')).toBe('bytes 1234-4999/5000');
    expect(Buffer.concat([bytes.subarray(0, 1234), resume.body]).equals(bytes)).toBe(true);
    // a <video> seek: open-ended range, If-Range with the ETag it already has
    const full = await fetchBytes(url, key);
    const etag = full.headers.get('etag')!;
    const lastModified = full.headers.get('last-modified')!;
    const seek = await fetchBytes(url, key, { range: 'bytes=1000-', 'if-range': etag });
    expect(seek.status).toBe(206);
    expect(seek.headers.get('content-range')).toBe('bytes 1000-4999/5000');
    expect(seek.body.equals(bytes.subarray(1000))).toBe(true);
    // revalidation of the cached copy
    const byEtag = await fetchBytes(url, key, { 'if-none-match': etag });
    expect(byEtag.status).toBe(304);
    expect(byEtag.body.length).toBe(0);
    expect(byEtag.headers.get('etag')).toBe(etag);
    const byDate = await fetchBytes(url, key, { 'if-modified-since': lastModified });
    expect(byDate.status).toBe(304);
    expect((await fetchBytes(url, key, { 'if-modified-since': new Date(Date.parse(lastModified) - 1000).toUTCString() })).status).toBe(200);
    expect((await fetchBytes(url, key, { 'if-none-match': '"something-else"' })).status).toBe(200);
    const sent = 100 + (5000 - 1234) + 5000 + 4000 + 5000 + 5000;
    expect(await metered(id, sent)).toBe(sent);
  });

  it('works with the real curl: -r, -C - and --fail', async () => {
    const bytes = patterned(300_000, 5);
    const { url, key } = await uploaded(bytes);
    const auth = ['-H', `Authorization: Bearer ${key}`];
    const ranged = await curl(['-sS', '--fail', '-r', '0-99', ...auth, url]);
    expect(ranged.stderr).toBe('');
    expect(ranged.code).toBe(0);
    expect(ranged.stdout.equals(bytes.subarray(0, 100))).toBe(true);
    const middle = await curl(['-sS', '--fail', '-r', '150000-150009', ...auth, url]);
    expect(middle.stdout.equals(bytes.subarray(150_000, 150_010))).toBe(true);
    // resume a partial download: curl sends Range: bytes=<size on disk>- and appends
    const target = join(workDir, 'partial.bin');
    writeFileSync(target, bytes.subarray(0, 123_456));
    const resumed = await curl(['-sS', '--fail', '-C', '-', '-o', target, ...auth, url]);
    expect(resumed.code).toBe(0);
    expect(readFileSync(target).equals(bytes)).toBe(true);
    // the headers curl sees, and --fail on an unsatisfiable range (exit 22)
    const head = await curl(['-sS', '--fail', '-I', ...auth, url]);
    expect(head.stdout.toString()).toMatch(new RegExp(`repr-digest: sha-256=:${sha256(bytes).digest('base64').replace(/[+/]/g, '\\$&')}:`, 'i'));
    const unsatisfiable = await curl(['-sS', '--fail', '-r', '400000-', ...auth, url]);
    expect(unsatisfiable.code).toBe(22);
    expect(unsatisfiable.stderr).toContain('416');
  });

  it('accessSpeed caps the download bandwidth; only keys with service:manage may set it', async () => {
    const tenant = await makeTenant(admin);
    const customer = admin.as(tenant.customerKey);
    const serviceAdmin = admin.as(tenant.serviceAdminKey);
    // the customer key cannot set it
    const refused = await customer.patch(`/services/${tenant.serviceId}`, { accessSpeed: 256 * 1024 });
    expect(refused.status).toBe(403);
    // nor can a key that may update the service (rename it) but lacks service:manage
    const updater = await serviceAdmin.post('/keys', { actions: ['service:read', 'service:update'] });
    expect(updater.status).toBe(201);
    expect((await admin.as(updater.body.key).patch(`/services/${tenant.serviceId}`, { name: 'renamed' })).status).toBe(200);
    const notManager = await admin.as(updater.body.key).patch(`/services/${tenant.serviceId}`, { accessSpeed: 256 * 1024 });
    expect(notManager.status).toBe(403);
    expect(notManager.body.missingActions).toEqual(['service:manage']);
    expect(notManager.body.detail).toContain('accessSpeed');
    expect((await serviceAdmin.patch(`/services/${tenant.serviceId}`, { accessSpeed: 100 })).status).toBe(400);
    expect((await serviceAdmin.patch(`/services/${tenant.serviceId}`, { accessSpeed: 1.5e3 + 0.5 })).status).toBe(400);
    expect((await serviceAdmin.patch(`/services/${tenant.serviceId}`, { accessSpeed: 'fast' })).status).toBe(400);
    const set = await serviceAdmin.patch(`/services/${tenant.serviceId}`, { accessSpeed: 256 * 1024 });
    expect(set.status).toBe(200);
    expect(set.body.accessSpeed).toBe(256 * 1024);
    expect((await customer.get(`/services/${tenant.serviceId}`)).body.accessSpeed).toBe(256 * 1024);

    const bytes = patterned(1024 * 1024, 13);
    const file = await customer.upload(tenant.serviceId, 'big.bin', bytes);
    expect(file.status).toBe(201);
    const url = `${app.api}/mfiles/${file.body.id}/content`;
    const started = performance.now();
    const reply = await fetchBytes(url, tenant.customerKey);
    const elapsed = performance.now() - started;
    expect(reply.status).toBe(200);
    expect(reply.body.equals(bytes)).toBe(true);
    // 1 MiB at 256 KiB/s after a 64 KiB burst is 3.75 s; only the lower bound is the behaviour under test
    expect(elapsed).toBeGreaterThanOrEqual(3000);
    expect(await metered(file.body.id, 1024 * 1024)).toBe(1024 * 1024);

    // lifting the cap (null) is also management
    expect((await customer.patch(`/services/${tenant.serviceId}`, { accessSpeed: null })).status).toBe(403);
    const cleared = await serviceAdmin.patch(`/services/${tenant.serviceId}`, { accessSpeed: null });
    expect(cleared.status).toBe(200);
    expect(cleared.body.accessSpeed).toBeNull();
    expect((await fetchBytes(url, tenant.customerKey)).body.equals(bytes)).toBe(true);
  }, 60_000);
});

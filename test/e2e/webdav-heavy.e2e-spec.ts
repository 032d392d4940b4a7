import { readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { DataSource } from 'typeorm';
import { Client, makeTenant } from '../support/client';
import { basic, dav, davPath, parseMultistatus, startApiProcess } from '../support/dav';
import { eventually } from '../support/processes';

const rssMiB = (pid: number) => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

/**
 * Issue 16 item 7: one key must not be able to slow the whole api with PROPFIND Depth: infinity. The multistatus is
 * streamed page by page, the entry cap is lower (DAV_PROPFIND_MAX_ENTRIES, 10,000 by default), and a key may run
 * one such request at a time (429 + Retry-After). Trees are inserted with SQL: thousands of HTTP uploads would
 * measure the upload path instead.
 */
describe('WebDAV: heavy PROPFIND is streamed, capped and bounded per key', () => {
  let api: Awaited<ReturnType<typeof startApiProcess>>;
  let db: DataSource;
  let admin: Client;
  /** Requests a test leaves open on purpose, ended after it whatever it did. */
  const opened: Array<{ destroy(): void }> = [];

  /** `count` files named f00000… in a folder, in one statement (the rows PROPFIND reads; no bytes behind them). */
  const insertFiles = (tenant: { containerId: string; serviceId: string }, folderId: string, count: number, prefix = 'f') =>
    db.query(
      `INSERT INTO mfile (id, container_id, service_id, folder_id, name, size, md5, sha256, mimetype, blob_key)
       SELECT gen_random_uuid(), $1, $2, $3, $4 || lpad(n::text, 6, '0') || '.txt', 1, repeat('0', 32), repeat('0', 64), 'text/plain', 'none/' || n
         FROM generate_series(1, $5) AS n`,
      [tenant.containerId, tenant.serviceId, folderId, prefix, count],
    );

  beforeAll(async () => {
    db = new DataSource({ type: 'postgres', url: process.env.DATABASE_URL });
    await db.initialize();
    api = await startApiProcess();
    admin = new Client(api.api, process.env.ADMIN_KEY);
  });
  afterEach(() => opened.splice(0).forEach((request) => request.destroy()));
  afterAll(async () => {
    await api.stop();
    await db.destroy();
  });

  it('streams a tree of thousands of files page by page while other clients are answered, one at a time per tenant, RSS bounded', async () => {
    const tenant = await makeTenant(admin);
    const key = tenant.customerKey;
    const base = api.baseUrl;
    expect((await dav(base, key, 'MKCOL', davPath('sub'))).status).toBe(201);
    const sub = (await admin.as(key).get(`/mfolders/${tenant.rootFolderId}/mfolders`)).body.items[0].id as string;
    await insertFiles(tenant, tenant.rootFolderId, 3000);
    await insertFiles(tenant, sub, 1001, 's');

    const whole = await dav(base, key, 'PROPFIND', '/dav/', { headers: { depth: 'infinity' } });
    expect(whole.status).toBe(207);
    const entries = parseMultistatus(whole.text);
    expect(entries).toHaveLength(1 + 1 + 3000 + 1001);
    expect(new Set(entries.map((entry) => entry.path)).size).toBe(entries.length);
    expect(entries.filter((entry) => entry.path.startsWith('/dav/sub/s'))).toHaveLength(1001);
    console.log(`PROPFIND Depth: infinity of ${entries.length} entries: ${(whole.body.length / 1024 / 1024).toFixed(1)} MiB`);

    // a sub-key derived for the purpose (before the slot is taken: see below) shares its service's bound
    const derived = (await admin.as(key).post('/keys', { roles: ['servicecustomer'] })).body.key as string;
    // a reader that does not read: the server waits for it (backpressure), holding its key's one slot. The kernel's
    // buffers take part of the answer (loopback autotuning grows them to several MiB over time), so the checks that
    // need the slot held come right after the answer started, back to back
    const stalled = httpRequest({
      host: '127.0.0.1',
      port: new URL(base).port,
      method: 'PROPFIND',
      path: '/dav/',
      headers: { authorization: basic(key), depth: 'infinity' },
      agent: false,
    });
    opened.push(stalled);
    const stalledAnswer = new Promise<import('node:http').IncomingMessage>((resolve, reject) => {
      stalled.on('response', resolve);
      stalled.on('error', reject);
    });
    stalled.end();
    const held = await stalledAnswer;
    expect(held.statusCode).toBe(207);
    held.pause();
    const [second, byDerived] = await Promise.all([
      dav(base, key, 'PROPFIND', '/dav/', { headers: { depth: 'infinity' } }),
      dav(base, derived, 'PROPFIND', '/dav/', { headers: { depth: 'infinity' } }),
    ]);
    expect([second.status, second.headers['retry-after'], second.headers['content-type']]).toEqual([
      429,
      '1',
      expect.stringContaining('application/problem+json'),
    ]);
    expect(JSON.parse(second.text).detail).toContain('Depth: infinity');
    expect(byDerived.status).toBe(429);
    // the same key's light requests, and other keys' heavy ones, are not held up by it
    expect((await dav(base, key, 'PROPFIND', '/dav/', { headers: { depth: '0' } })).status).toBe(207);
    const other = await makeTenant(admin);
    await insertFiles(other, other.rootFolderId, 100);
    expect((await dav(base, other.customerKey, 'PROPFIND', '/dav/', { headers: { depth: 'infinity' } })).status).toBe(207);
    // the client goes away: its slot is freed
    held.destroy();
    await eventually(async () => (await dav(base, key, 'PROPFIND', '/dav/', { headers: { depth: 'infinity' } })).status === 207, 'the slot to be freed');

    // four keys loop over the tree while another client's simple requests keep being answered
    const pid = api.child.pid!;
    const simple = async (count: number) => {
      const took: number[] = [];
      for (let i = 0; i < count; i++) {
        const started = performance.now();
        const reply = await dav(base, other.customerKey, 'PROPFIND', '/dav/', { headers: { depth: '0' } });
        expect(reply.status).toBe(207);
        took.push(performance.now() - started);
      }
      return took;
    };
    const before = await simple(30);
    const rssBefore = rssMiB(pid);
    const loopKeys = [key];
    for (let i = 0; i < 3; i++) {
      const tenant = await makeTenant(admin);
      await insertFiles(tenant, tenant.rootFolderId, 4000);
      loopKeys.push(tenant.customerKey);
    }
    let stop = false;
    let peak = rssBefore;
    let heavyAnswers = 0;
    let refusals = 0;
    const loops = loopKeys.map(async (loopKey) => {
      while (!stop) {
        const reply = await dav(base, loopKey, 'PROPFIND', '/dav/', { headers: { depth: 'infinity' } });
        expect([207, 429]).toContain(reply.status);
        if (reply.status === 207) heavyAnswers++;
        else {
          refusals++;
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
        peak = Math.max(peak, rssMiB(pid));
      }
    });
    const during = await simple(60);
    stop = true;
    await Promise.all(loops);
    peak = Math.max(peak, rssMiB(pid));
    console.log(
      `simple PROPFIND Depth 0 p50: ${median(before).toFixed(1)} ms alone, ${median(during).toFixed(1)} ms during ${heavyAnswers} heavy answers (${refusals} refused 429) from 4 tenants looping; ` +
        `api RSS ${rssBefore.toFixed(0)} → peak ${peak.toFixed(0)} MiB`,
    );
    expect(during).toHaveLength(60);
    expect(heavyAnswers).toBeGreaterThan(0);
    // at most two 4,000-entry trees in flight at once, each a page at a time
    expect(peak - rssBefore).toBeLessThan(200);
  }, 300_000);

  it('refuses Depth: infinity past DAV_PROPFIND_MAX_ENTRIES (10,000 by default) before sending anything', async () => {
    const tenant = await makeTenant(admin);
    await insertFiles(tenant, tenant.rootFolderId, 10_001);
    const refused = await dav(api.baseUrl, tenant.customerKey, 'PROPFIND', '/dav/', { headers: { depth: 'infinity' } });
    expect(refused.status).toBe(403);
    expect(refused.text).toContain('propfind-finite-depth');
    expect(JSON.parse(refused.text).detail).toContain('more than 10000');
    // Depth 1 still lists it
    expect((await dav(api.baseUrl, tenant.customerKey, 'PROPFIND', '/dav/', { headers: { depth: '1' } })).status).toBe(207);
  }, 120_000);
});

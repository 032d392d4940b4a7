import * as tus from 'tus-js-client';
import { Client, makeTenant } from '../support/client';
import { dav, davPath } from '../support/dav';
import { startTestApp, TestApp } from '../support/test-app';
import { Clock } from '../../src/usage/clock';
import { UsageRollupService } from '../../src/usage/usage-rollup.service';

const MiB = 1024 * 1024;
const HOUR = 3_600_000;
const filled = (size: number, byte: number) => Buffer.alloc(size, byte);

type Outcome = { status: number; body: any; retryAfter?: string | null };

/** One upload of `bytes` through a protocol: REST multipart, tus (tus-js-client), or WebDAV PUT. */
async function upload(app: TestApp, protocol: 'rest' | 'tus' | 'dav', serviceId: string, key: string, name: string, bytes: Buffer): Promise<Outcome> {
  if (protocol === 'rest') {
    const reply = await new Client(app.api, key).upload(serviceId, name, bytes);
    return { status: reply.status, body: reply.body, retryAfter: reply.headers.get('retry-after') };
  }
  if (protocol === 'dav') {
    const reply = await dav(app.baseUrl, key, 'PUT', davPath(name), { body: bytes });
    return { status: reply.status, body: reply.text ? JSON.parse(reply.text) : undefined, retryAfter: reply.headers['retry-after'] as string | undefined };
  }
  return new Promise((resolve) => {
    new tus.Upload(bytes, {
      endpoint: `${app.api}/services/${serviceId}/uploads`,
      chunkSize: 256 * 1024,
      uploadSize: bytes.length,
      retryDelays: [],
      metadata: { filename: name },
      headers: { authorization: `Bearer ${key}` },
      onError: (error) => {
        const response = (error as tus.DetailedError).originalResponse;
        resolve({
          status: response?.getStatus() ?? 0,
          body: response ? JSON.parse(response.getBody() || 'null') : String(error),
          retryAfter: response?.getHeader('Retry-After'),
        });
      },
      onSuccess: () => resolve({ status: 201, body: null }),
    }).start();
  });
}

describe('quotas, management actions and usage reports', () => {
  let app: TestApp;
  let admin: Client;

  beforeAll(async () => {
    app = await startTestApp();
    admin = new Client(app.api, app.adminKey);
  });
  afterAll(() => app.close());

  const report = async (client: Client, path: string, query: string) => {
    const reply = await client.get(`${path}?${query}`);
    expect(reply.status).toBe(200);
    return reply.body as { series: Array<{ metric: string; group: { id: string } | null; total: any; buckets: any[] }> };
  };
  const level = async (path: string, metric = 'disc') =>
    (await report(admin, path, `bucket=total&metric=${metric}&from=2020-01-01T00:00:00Z&to=2100-01-01T00:00:00Z`)).series[0].total.level as number;

  it('disk quota: 12 uploads over REST, tus and WebDAV racing for the last 3 MiB: exactly 3 fit, never more', async () => {
    const tenant = await makeTenant(admin);
    await admin.patch(`/services/${tenant.serviceId}`, { diskQuota: 5 * MiB });
    expect((await upload(app, 'rest', tenant.serviceId, tenant.customerKey, 'prefill.bin', filled(2 * MiB, 1))).status).toBe(201);
    const protocols = ['rest', 'tus', 'dav'] as const;
    const outcomes = await Promise.all(
      Array.from({ length: 12 }, (_, index) =>
        upload(app, protocols[index % 3], tenant.serviceId, tenant.customerKey, `race-${index}.bin`, filled(MiB, index + 2)),
      ),
    );
    const stored = outcomes.filter((outcome) => outcome.status === 201);
    const refused = outcomes.filter((outcome) => outcome.status !== 201);
    expect(stored).toHaveLength(3);
    for (const outcome of refused) {
      expect(outcome.status).toBe(507);
      expect(outcome.body.quota).toMatchObject({ name: 'diskQuota', scope: 'service', limit: 5 * MiB });
      expect(outcome.body.detail).toMatch(/disk quota \(limit 5242880 bytes, \d+ in use\)/);
    }
    expect(await level(`/services/${tenant.serviceId}/usage`)).toBe(5 * MiB);
    const [{ bytes }] = await app.dataSource.query('SELECT SUM(size)::float AS bytes FROM mfile WHERE service_id = $1', [tenant.serviceId]);
    expect(bytes).toBe(5 * MiB);
    // deleting makes room again, on the next request
    const listed = await admin.get(`/services/${tenant.serviceId}/mfiles?name=prefill`);
    expect((await admin.delete(`/mfiles/${listed.body.items[0].id}`)).status).toBe(204);
    expect(await level(`/services/${tenant.serviceId}/usage`)).toBe(3 * MiB);
    expect((await upload(app, 'dav', tenant.serviceId, tenant.customerKey, 'after-delete.bin', filled(2 * MiB, 9))).status).toBe(201);
  }, 120_000);

  it('monthly ingest quota: racing uploads never overshoot, 429 with Retry-After, and deletes give nothing back', async () => {
    const tenant = await makeTenant(admin);
    await admin.patch(`/services/${tenant.serviceId}`, { ingestQuota: 3 * MiB });
    const outcomes = await Promise.all(
      Array.from({ length: 8 }, (_, index) =>
        upload(app, index % 2 ? 'dav' : 'rest', tenant.serviceId, tenant.customerKey, `in-${index}.bin`, filled(MiB, index)),
      ),
    );
    expect(outcomes.filter((outcome) => outcome.status === 201)).toHaveLength(3);
    const refused = outcomes.filter((outcome) => outcome.status !== 201);
    const now = new Date();
    const nextMonth = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1));
    for (const outcome of refused) {
      expect(outcome.status).toBe(429);
      expect(outcome.body.quota).toMatchObject({ name: 'ingestQuota', scope: 'service', limit: 3 * MiB, period: 'month', resetsAt: nextMonth.toISOString() });
      expect(Number(outcome.retryAfter)).toBeGreaterThan(0);
      expect(Number(outcome.retryAfter)).toBeLessThanOrEqual(Math.ceil((nextMonth.getTime() - now.getTime()) / 1000) + 5);
    }
    const usage = await report(admin, `/services/${tenant.serviceId}/usage`, 'bucket=month&metric=ingest');
    expect(usage.series[0].total.sum).toBe(3 * MiB);
    const first = (await admin.get(`/services/${tenant.serviceId}/mfiles`)).body.items[0];
    expect((await admin.delete(`/mfiles/${first.id}`)).status).toBe(204);
    expect((await upload(app, 'tus', tenant.serviceId, tenant.customerKey, 'again.bin', filled(1000, 1))).status).toBe(429);
    // raising the quota takes effect on the next request
    await admin.patch(`/services/${tenant.serviceId}`, { ingestQuota: 3 * MiB + 1000 });
    expect((await upload(app, 'tus', tenant.serviceId, tenant.customerKey, 'again.bin', filled(1000, 1))).status).toBe(201);
  }, 120_000);

  it('container limits hold across its services; a suspended container is read-only; only the provider sets them', async () => {
    const tenant = await makeTenant(admin);
    const containerAdmin = admin.as(tenant.containerKey);
    const other = await containerAdmin.post(`/containers/${tenant.containerId}/services`, { name: 'other' });
    expect((await containerAdmin.patch(`/containers/${tenant.containerId}`, { diskQuota: MiB })).status).toBe(403);
    const set = await admin.patch(`/containers/${tenant.containerId}`, { diskQuota: MiB });
    expect(set.body).toMatchObject({ diskQuota: MiB, suspended: false });
    expect((await upload(app, 'rest', tenant.serviceId, tenant.customerKey, 'a.bin', filled(600_000, 1))).status).toBe(201);
    const refused = await upload(app, 'dav', other.body.id, other.body.customerKey, 'b.bin', filled(600_000, 2));
    expect(refused.status).toBe(507);
    expect(refused.body.quota).toMatchObject({ name: 'diskQuota', scope: 'container', limit: MiB, used: 600_000, requested: 600_000 });
    expect(refused.body.detail).toMatch(/the container's disk quota/);

    expect((await admin.patch(`/containers/${tenant.containerId}`, { suspended: true })).status).toBe(200);
    for (const protocol of ['rest', 'tus', 'dav'] as const) {
      const outcome = await upload(app, protocol, tenant.serviceId, tenant.customerKey, `s-${protocol}.bin`, filled(10, 3));
      expect({ protocol, status: outcome.status, type: outcome.body?.type }).toEqual({
        protocol,
        status: 403,
        type: 'https://mserve.dev/problems/container-suspended',
      });
    }
    // reading still works, for the customer and the container admin alike; the container admin cannot lift it
    const files = await admin.as(tenant.customerKey).get(`/services/${tenant.serviceId}/mfiles`);
    expect(files.status).toBe(200);
    expect((await admin.as(tenant.customerKey).get(`/mfiles/${files.body.items[0].id}/content`)).status).toBe(200);
    expect((await containerAdmin.patch(`/services/${tenant.serviceId}`, { name: 'renamed' })).status).toBe(403);
    expect((await containerAdmin.patch(`/containers/${tenant.containerId}`, { suspended: false })).status).toBe(403);
    expect((await admin.patch(`/containers/${tenant.containerId}`, { suspended: false, diskQuota: null })).status).toBe(200);
    expect((await upload(app, 'dav', other.body.id, other.body.customerKey, 'b.bin', filled(600_000, 2))).status).toBe(201);
  }, 60_000);

  it('outside the time window every protocol answers 403 with the window', async () => {
    const tenant = await makeTenant(admin);
    const endsAt = new Date(Date.now() - HOUR).toISOString();
    await admin.patch(`/services/${tenant.serviceId}`, { startsAt: '2026-01-01T00:00:00.000Z', endsAt });
    for (const protocol of ['rest', 'tus', 'dav'] as const) {
      const outcome = await upload(app, protocol, tenant.serviceId, tenant.customerKey, 'late.bin', filled(10, 1));
      expect({ protocol, status: outcome.status }).toEqual({ protocol, status: 403 });
      expect(outcome.body).toMatchObject({ type: 'https://mserve.dev/problems/outside-time-window', startsAt: '2026-01-01T00:00:00.000Z', endsAt });
    }
    expect((await dav(app.baseUrl, tenant.customerKey, 'PROPFIND', davPath(), { headers: { depth: '0' } })).status).toBe(403);
  });

  it('profile selection: the container profile the provider selects runs on uploads; the service cannot edit its own meanwhile', async () => {
    const tenant = await makeTenant(admin);
    const containerAdmin = admin.as(tenant.containerKey);
    const customer = admin.as(tenant.customerKey);
    const profiles = `/containers/${tenant.containerId}/profiles`;
    const checksums = {
      ingest: {
        steps: [
          { name: 'md5', task: 'md5' },
          { name: 'sha256', task: 'sha256', after: ['md5'] },
        ],
      },
    };
    expect((await containerAdmin.put(`${profiles}/checksums`, checksums)).body).toMatchObject({ name: 'checksums', selectedBy: 0 });
    const broken = await containerAdmin.put(`${profiles}/broken`, { ingest: { steps: [{ name: 'x', task: 'no-such-task' }] } });
    expect(broken.status).toBe(400);
    expect(broken.body.errors.join(' ')).toMatch(/no-such-task/);
    expect((await containerAdmin.put(`${profiles}/bad%20name`, checksums)).status).toBe(400);
    expect((await customer.patch(`/services/${tenant.serviceId}`, { profile: 'checksums' })).status).toBe(403);
    const unknown = await containerAdmin.patch(`/services/${tenant.serviceId}`, { profile: 'nothing' });
    expect(unknown.status).toBe(400);
    expect(unknown.body.detail).toMatch(/offers no profile named "nothing"/);

    expect((await containerAdmin.patch(`/services/${tenant.serviceId}`, { profile: 'checksums' })).body.profile).toBe('checksums');
    expect((await customer.get(`/services/${tenant.serviceId}/profile`)).body).toMatchObject({
      source: 'container',
      name: 'checksums',
      definition: { ingest: { steps: [{ task: 'md5' }, { task: 'sha256' }] } },
    });
    const selected = await customer.upload(tenant.serviceId, 'a.bin', filled(100, 1));
    const tasks = async (mfileId: string) =>
      ((await customer.get(`/mfiles/${mfileId}/jobs`)).body.items as Array<{ task: string }>).map((job) => job.task).sort();
    expect(await tasks(selected.body.id)).toEqual(['md5', 'sha256']);
    const own = await admin.as(tenant.serviceAdminKey).put(`/services/${tenant.serviceId}/profile`, { ingest: { steps: [{ name: 'mime', task: 'mime' }] } });
    expect(own.status).toBe(409);
    expect(own.body.detail).toMatch(/selected the container profile "checksums"/);
    const inUse = await containerAdmin.delete(`${profiles}/checksums`);
    expect(inUse.status).toBe(409);
    expect(inUse.body.services).toEqual([tenant.serviceId]);
    expect((await containerAdmin.get(profiles)).body.items).toEqual([expect.objectContaining({ name: 'checksums', selectedBy: 1 })]);
    // a change to the container profile applies to the service on the next upload
    await containerAdmin.put(`${profiles}/checksums`, { ingest: { steps: [{ name: 'md5', task: 'md5' }] } });
    expect(await tasks((await customer.upload(tenant.serviceId, 'b.bin', filled(100, 2))).body.id)).toEqual(['md5']);
    // cleared: back to the default profile
    await containerAdmin.patch(`/services/${tenant.serviceId}`, { profile: null });
    expect((await customer.get(`/services/${tenant.serviceId}/profile`)).body).toMatchObject({ source: 'default', isDefault: true });
    const fallback = await tasks((await customer.upload(tenant.serviceId, 'c.bin', filled(100, 3))).body.id);
    // the default's steps for bytes of no known type (its image and video steps are not made for them)
    expect(fallback).toEqual(['backup', 'md5', 'mime']);
    expect((await containerAdmin.delete(`${profiles}/checksums`)).status).toBe(204);
  });

  it('byte-hours integrate across a simulated day (injected clock); deletes lower disc; rollups and raw facts agree', async () => {
    const clock = app.app.get(Clock);
    const t0 = Date.parse('2026-03-10T00:00:00.000Z');
    const at = (hours: number) => (clock.now = () => new Date(t0 + hours * HOUR));
    try {
      const tenant = await makeTenant(admin);
      const customer = admin.as(tenant.customerKey);
      // the files' own bytes only: no backup copies, which the commit of a small file makes (metered in task-engine)
      expect(
        (await admin.as(tenant.serviceAdminKey).put(`/services/${tenant.serviceId}/profile`, { ingest: { steps: [{ name: 'md5', task: 'md5' }] } })).status,
      ).toBe(200);
      at(0);
      const a = await customer.upload(tenant.serviceId, 'a.bin', filled(1000, 1));
      at(3);
      const folder = await customer.post(`/mfolders/${tenant.rootFolderId}/mfolders`, { name: 'f' });
      const c = await customer.upload(tenant.serviceId, 'c.bin', filled(300, 3), `?folderId=${folder.body.id}`);
      at(6);
      const b = await customer.upload(tenant.serviceId, 'b.bin', filled(500, 2));
      at(9);
      expect((await customer.delete(`/mfolders/${folder.body.id}`)).status).toBe(204);
      at(12);
      expect((await customer.delete(`/mfiles/${a.body.id}`)).status).toBe(204);
      expect([a.status, c.status, b.status]).toEqual([201, 201, 201]);
      at(30);

      // 1000 B for 12 h + 300 B for 6 h + 500 B for 18 h
      const expected = 1000 * 12 + 300 * 6 + 500 * 18;
      const path = `/services/${tenant.serviceId}/usage`;
      const day = 'from=2026-03-10T00:00:00Z&to=2026-03-11T00:00:00Z&metric=disc';
      const check = async (source: string) => {
        const hourly = await report(admin, path, `${day}&bucket=hour&source=${source}`);
        const buckets = hourly.series[0].buckets;
        expect(buckets).toHaveLength(24);
        expect(buckets.reduce((sum, bucket) => sum + bucket.levelHours, 0)).toBe(expected);
        expect(buckets.map((bucket) => bucket.level)).toEqual([
          ...Array(3).fill(1000),
          ...Array(3).fill(1300),
          ...Array(3).fill(1800),
          ...Array(3).fill(1500),
          ...Array(12).fill(500),
        ]);
        expect(hourly.series[0].total).toMatchObject({ level: 500, levelHours: expected, sum: 500, count: 5, min: -1000, max: 1000 });
        const daily = await report(admin, path, `${day}&bucket=day&source=${source}`);
        expect(daily.series[0].buckets[0]).toMatchObject({ level: 500, levelHours: expected });
        // March as one bucket: the day above, then 500 B for the 21 days left
        const month = await report(admin, path, `from=2026-03-01T00:00:00Z&to=2026-04-01T00:00:00Z&metric=disc,mfiles&bucket=month&source=${source}`);
        const disc = month.series.find((series) => series.metric === 'disc')!;
        expect(disc.buckets[0]).toMatchObject({ level: 500, levelHours: expected + 500 * 21 * 24 });
        expect(month.series.find((series) => series.metric === 'mfiles')!.buckets[0]).toMatchObject({ level: 1, sum: 1, count: 5 });
        // a range that starts mid-day: the level before it comes from the facts before it
        const later = await report(admin, path, `from=2026-03-10T10:00:00Z&to=2026-03-10T14:00:00Z&metric=disc&bucket=hour&source=${source}`);
        expect(later.series[0].buckets.map((bucket) => [bucket.level, bucket.levelHours])).toEqual([
          [1500, 1500],
          [1500, 1500],
          [500, 500],
          [500, 500],
        ]);
      };
      await check('raw');
      await check('rollup');
      await app.app.get(UsageRollupService).rollUp();
      await check('rollup');
      const perFile = await report(customer, `/mfiles/${b.body.id}/usage`, `${day}&bucket=total`);
      expect(perFile.series[0].total).toMatchObject({ level: 500, levelHours: 500 * 18 });
      // CSV of the same report
      const csv = await customer.get(`${path}?${day}&bucket=day&format=csv`);
      expect(csv.headers.get('content-type')).toMatch(/^text\/csv/);
      expect(csv.headers.get('content-disposition')).toMatch(/attachment; filename="usage-service-/);
      expect(csv.text.split('\r\n')[1]).toBe(
        `,,disc,2026-03-10T00:00:00.000Z,2026-03-11T00:00:00.000Z,500,5,-1000,1000,100,${Math.sqrt((1000 ** 2 + 300 ** 2 + 500 ** 2 + 300 ** 2 + 1000 ** 2) / 5 - 100 ** 2)},500,${expected}`,
      );
    } finally {
      clock.now = () => new Date();
    }
  });

  it('each key sees its own usage and nobody else’s', async () => {
    const mine = await makeTenant(admin);
    const theirs = await makeTenant(admin);
    await admin.as(mine.customerKey).upload(mine.serviceId, 'mine.bin', filled(1234, 1));
    await admin.as(theirs.customerKey).upload(theirs.serviceId, 'theirs.bin', filled(4321, 2));
    const customer = admin.as(mine.customerKey);
    const range = 'bucket=total&metric=ingest&from=2020-01-01T00:00:00Z&to=2100-01-01T00:00:00Z';
    expect((await report(customer, `/services/${mine.serviceId}/usage`, range)).series[0].total.sum).toBe(1234);
    expect((await customer.get(`/services/${theirs.serviceId}/usage?${range}`)).status).toBe(404);
    expect((await customer.get(`/containers/${mine.containerId}/usage?${range}`)).status).toBe(404);
    expect((await customer.get(`/usage?${range}`)).status).toBe(403);
    const byService = await report(admin.as(mine.containerKey), `/containers/${mine.containerId}/usage`, `${range}&groupBy=service`);
    expect(byService.series.map((series) => [series.group!.id, series.total.sum])).toEqual([[mine.serviceId, 1234]]);
    expect((await admin.as(mine.containerKey).get(`/containers/${theirs.containerId}/usage?${range}`)).status).toBe(404);
    const provider = await report(admin, '/usage', `${range}&groupBy=container`);
    const byContainer = new Map(provider.series.map((series) => [series.group!.id, series.total.sum]));
    expect([byContainer.get(mine.containerId), byContainer.get(theirs.containerId)]).toEqual([1234, 4321]);
  });

  it('malformed report requests are 400 problems that say what is wrong', async () => {
    const tenant = await makeTenant(admin);
    const path = `/services/${tenant.serviceId}/usage`;
    const cases: Array<[string, RegExp]> = [
      ['from=2026-03-02T00:00:00Z&to=2026-03-01T00:00:00Z', /from must be before to/],
      ['from=yesterday', /from must be an ISO 8601 date/],
      ['bucket=week', /bucket must be one of/],
      ['metric=disc;drop table', /metric must be a comma-separated list/],
      ['bucket=hour&from=2000-01-01T00:00:00Z&to=2026-01-01T00:00:00Z', /at most 20000 buckets/],
      ['groupBy=service', /groupBy=service is not available here/],
      ['source=cache', /source must be one of/],
    ];
    for (const [query, message] of cases) {
      const reply = await admin.get(`${path}?${query}`);
      expect({ query, status: reply.status, type: reply.headers.get('content-type') }).toEqual({
        query,
        status: 400,
        type: expect.stringMatching(/problem\+json/),
      });
      expect(JSON.stringify(reply.body)).toMatch(message);
    }
    // a total over any range the dates allow is read from the buckets that hold something: from an odd minute to the
    // year 9999 by the hour walked some 70 million empty buckets per series and ran the api out of memory (REST fuzz)
    await admin.as(tenant.customerKey).upload(tenant.serviceId, 'counted.txt', new TextEncoder().encode('12345'));
    const far = await admin.get(
      `/containers/${tenant.containerId}/usage?bucket=total&from=2026-03-02T03:59:35.463Z&to=9999-12-31T23:59:59.999Z&groupBy=service&metric=ingest`,
    );
    expect(far.status).toBe(200);
    expect(far.body.series.map((series: { group: { id: string }; total: { sum: number } }) => [series.group.id, series.total.sum])).toEqual([
      [tenant.serviceId, 5],
    ]);
  });
});

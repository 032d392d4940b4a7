import Redis from 'ioredis';
import { Client, makeTenant } from '../support/client';
import { eventually, startRole, waitForExit } from '../support/processes';
import { sharedWith, startTestApp, TestApp } from '../support/test-app';

/** Access and periodic triggers, with two api processes and two workers on the same queues. */
describe('triggers: access and periodic', () => {
  let first: TestApp;
  let second: TestApp;
  let workers: Array<ReturnType<typeof startRole>>;
  let redis: Redis;
  const prefix = `mserve-triggers-${Math.random().toString(36).slice(2, 8)}`;

  beforeAll(async () => {
    // a tick every 2 s, so the test sees several (deployments keep the 60 s minimum)
    first = await startTestApp({ QUEUE_PREFIX: prefix, PERIODIC_MIN_INTERVAL_SECONDS: '1' });
    second = await startTestApp({ ...sharedWith(first.config), PERIODIC_MIN_INTERVAL_SECONDS: '1' });
    workers = [0, 1].map(() => startRole('worker', { ...sharedWith(first.config), LOG_LEVEL: 'warn' }, ['--queues', 'normal:2']));
    redis = new Redis(process.env.REDIS_URL!);
    await eventually(async () => (await redis.keys(`${prefix}:workers:*`)).length === 2, 'two workers');
  });
  afterAll(async () => {
    for (const worker of workers) worker.kill('SIGTERM');
    await Promise.all(workers.map((worker) => waitForExit(worker).catch(() => undefined)));
    redis.disconnect();
    await second.close();
    await first.close();
  });

  it('a download starts the access pipeline after it was answered; a 304 or a HEAD does not', async () => {
    const admin = new Client(first.api, first.adminKey);
    const tenant = await makeTenant(admin);
    const customer = admin.as(tenant.customerKey);
    await admin.as(tenant.serviceAdminKey).put(`/services/${tenant.serviceId}/profile`, { access: { steps: [{ name: 'verify', task: 'sha256' }] } });
    const file = await customer.upload(tenant.serviceId, 'seen.txt', Buffer.from('look at me'));
    const url = `${first.api}/mfiles/${file.body.id}/content`;
    const headers = { authorization: `Bearer ${tenant.customerKey}` };
    const full = await fetch(url, { headers });
    expect(await full.text()).toBe('look at me');
    const etag = full.headers.get('etag')!;
    expect((await fetch(url, { headers: { ...headers, 'if-none-match': etag } })).status).toBe(304);
    expect((await fetch(url, { method: 'HEAD', headers })).status).toBe(200);
    const jobs = await eventually(async () => {
      const items = (await customer.get(`/mfiles/${file.body.id}/jobs?trigger=access`)).body.items;
      return items.length && items.every((job: { state: string }) => job.state === 'succeeded') ? items : undefined;
    }, 'the access job');
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect((await customer.get(`/mfiles/${file.body.id}/jobs?trigger=access`)).body.items).toHaveLength(1);
    expect(jobs[0]).toMatchObject({ step: 'verify', task: 'sha256', result: { matchesRecorded: true } });

    // a player seeking through the file (Range requests, through either api process) is the same download session
    const accessJobs = async () => (await customer.get(`/mfiles/${file.body.id}/jobs?trigger=access`)).body.items.length;
    for (const [index, range] of ['bytes=0-3', 'bytes=5-', 'bytes=2-4', 'bytes=0-0'].entries()) {
      const api = index % 2 ? second.api : first.api;
      expect((await fetch(`${api}/mfiles/${file.body.id}/content`, { headers: { ...headers, range } })).status).toBe(206);
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(await accessJobs()).toBe(1);
    // another client (another key) starts its own session, and new content a new one
    const viewer = (await customer.post('/keys', { roles: ['mfilereadonly'], resource: { type: 'mfile', id: file.body.id } })).body;
    expect((await fetch(url, { headers: { authorization: `Bearer ${viewer.key}`, range: 'bytes=0-1' } })).status).toBe(206);
    await eventually(async () => (await accessJobs()) === 2, 'the second client’s access run');
    expect((await customer.request('PUT', `/mfiles/${file.body.id}/content`, Buffer.from('look again'))).status).toBe(200);
    expect(await (await fetch(url, { headers })).text()).toBe('look again');
    await eventually(async () => (await accessJobs()) === 3, 'the access run of the new content');
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(await accessJobs()).toBe(3);
  }, 60_000);

  it('a periodic pipeline fires once per tick for every file, whichever api saved it and however many processes run', async () => {
    const admin = new Client(first.api, first.adminKey);
    const tenant = await makeTenant(admin);
    const customer = admin.as(tenant.customerKey);
    const profile = { ingest: { steps: [] }, periodic: { schedule: '*/2 * * * * *', steps: [{ name: 'check', task: 'fixity' }] } };
    // saved through both api processes: still one schedule
    expect((await admin.as(tenant.serviceAdminKey).put(`/services/${tenant.serviceId}/profile`, profile)).status).toBe(200);
    expect((await new Client(second.api, tenant.serviceAdminKey).put(`/services/${tenant.serviceId}/profile`, profile)).status).toBe(200);
    const schedules = async () => (await redis.zrange(`${prefix}:scheduler:repeat`, 0, -1)).filter((key) => key.includes(tenant.serviceId));
    expect(await schedules()).toHaveLength(1);
    const files: string[] = [];
    for (const name of ['p1.txt', 'p2.txt']) files.push((await customer.upload(tenant.serviceId, name, Buffer.from(name))).body.id as string);
    const started = Date.now();
    await eventually(
      async () => {
        const counts = await Promise.all(files.map(async (id) => (await customer.get(`/mfiles/${id}/jobs?trigger=periodic`)).body.items.length));
        return counts.every((count) => count >= 3);
      },
      'three ticks',
      30_000,
      200,
    );
    // stop the schedule: the profile without a periodic pipeline removes it
    await admin.as(tenant.serviceAdminKey).put(`/services/${tenant.serviceId}/profile`, { ingest: { steps: [] } });
    expect(await schedules()).toEqual([]);
    const elapsed = (Date.now() - started) / 1000;
    await new Promise((resolve) => setTimeout(resolve, 2500));
    for (const id of files) {
      const jobs = (await customer.get(`/mfiles/${id}/jobs?trigger=periodic&limit=100`)).body.items as Array<{
        createdAt: string;
        state: string;
        result: { ok: boolean };
      }>;
      // one run per tick (every 2 s), never two for the same tick
      expect(jobs.length).toBeLessThanOrEqual(Math.floor(elapsed / 2) + 2);
      const times = jobs.map((job) => Date.parse(job.createdAt)).sort((a, b) => a - b);
      for (let i = 1; i < times.length; i++) expect(times[i] - times[i - 1]).toBeGreaterThan(1000);
      await eventually(async () => {
        const now = (await customer.get(`/mfiles/${id}/jobs?trigger=periodic&limit=100`)).body.items as Array<{ state: string; result: { ok: boolean } }>;
        return now.every((job) => job.state === 'succeeded' && job.result.ok);
      }, 'the fixity checks');
    }
  }, 60_000);
});

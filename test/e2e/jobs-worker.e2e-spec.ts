import { createHash } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';
import { Client, makeTenant } from '../support/client';
import { eventually, startRole, waitForExit } from '../support/processes';
import { sharedWith, startTestApp, TestApp } from '../support/test-app';

/** The api dispatches at once; a real worker process consumes, runs the task and records the outcome. */
describe('jobs through a real worker process', () => {
  let app: TestApp;
  let admin: Client;
  let worker: ReturnType<typeof startRole>;
  let redis: Redis;

  beforeAll(async () => {
    app = await startTestApp();
    admin = new Client(app.api, app.adminKey);
    redis = new Redis(process.env.REDIS_URL!, { lazyConnect: true });
    await redis.connect();
    worker = startRole('worker', { ...sharedWith(app.config), LOG_LEVEL: 'info' }, ['--queues', 'normal:2,priority:1']);
    await eventually(async () => (await redis.keys(`${app.config.queuePrefix}:workers:*:${worker.pid}`)).length === 1, 'the worker heartbeat');
  });
  afterAll(async () => {
    if (worker.exitCode === null) worker.kill('SIGKILL');
    redis.disconnect();
    await app.close();
  });

  const finished = (customer: Client, id: string) =>
    eventually(async () => {
      const job = await customer.get(`/jobs/${id}`);
      return ['succeeded', 'failed', 'cancelled'].includes(job.body.state) ? job.body : undefined;
    }, `job ${id} to finish`);

  it('runs md5 and sha256 jobs and records their results, worker and usage', async () => {
    const tenant = await makeTenant(admin);
    const customer = admin.as(tenant.customerKey);
    const bytes = new TextEncoder().encode('checksum me');
    const file = await customer.upload(tenant.serviceId, 'c.txt', bytes);
    const md5 = await customer.post('/jobs', { mfileIds: [file.body.id], task: 'md5' });
    expect(md5.status).toBe(201);
    expect(md5.body).toMatchObject({ state: 'queued', queue: 'normal', mfileIds: [file.body.id], trigger: 'manual' });
    const sha = await customer.post('/jobs', { mfileIds: [file.body.id], task: 'sha256' });
    const doneMd5 = await finished(customer, md5.body.id);
    const doneSha = await finished(customer, sha.body.id);
    expect(doneMd5).toMatchObject({ state: 'succeeded', progress: 100, result: { md5: createHash('md5').update(bytes).digest('hex'), matchesRecorded: true } });
    expect(doneSha.result).toEqual({ sha256: createHash('sha256').update(bytes).digest('hex'), matchesRecorded: true });
    expect(doneMd5.workerHost).toMatch(new RegExp(`:${worker.pid}$`));
    const usage = await app.dataSource.query('SELECT metric, value FROM usage WHERE resource_id = $1 ORDER BY metric', [md5.body.id]);
    expect(usage.map((row: { metric: string }) => row.metric)).toEqual(['jobbytes', 'jobruntime', 'jobs', 'task/md5/success']);
    const listed = await customer.get(`/mfiles/${file.body.id}/jobs?trigger=manual`);
    expect(listed.body.items.map((job: { id: string }) => job.id)).toEqual([md5.body.id, sha.body.id]);
    expect((await customer.get(`/services/${tenant.serviceId}/jobs?state=succeeded&task=md5&trigger=manual`)).body.items).toHaveLength(1);
  });

  it('finds silent corruption: the stored bytes no longer match what was recorded', async () => {
    const tenant = await makeTenant(admin);
    const customer = admin.as(tenant.customerKey);
    const file = await customer.upload(tenant.serviceId, 'rot.txt', new TextEncoder().encode('original'));
    const [{ blob_key }] = await app.dataSource.query('SELECT blob_key FROM mfile WHERE id = $1', [file.body.id]);
    writeFileSync(join(app.config.storageDir, 'blobs', blob_key), 'bitrot!!');
    const job = await customer.post('/jobs', { mfileIds: [file.body.id], task: 'sha256' });
    const done = await finished(customer, job.body.id);
    expect(done.result.matchesRecorded).toBe(false);
  });

  it("a task that fails unexpectedly (its stored bytes are gone) fails its job saying so, without the server's paths", async () => {
    const tenant = await makeTenant(admin);
    const customer = admin.as(tenant.customerKey);
    const file = await customer.upload(tenant.serviceId, 'gone.txt', new TextEncoder().encode('soon gone'));
    const [{ blob_key }] = await app.dataSource.query('SELECT blob_key FROM mfile WHERE id = $1', [file.body.id]);
    rmSync(join(app.config.storageDir, 'blobs', blob_key));
    const job = await customer.post('/jobs', { mfileIds: [file.body.id], task: 'md5' });
    const done = await eventually(
      async () => {
        const current = (await customer.get(`/jobs/${job.body.id}`)).body;
        return current.state === 'failed' ? current : undefined;
      },
      'the job to fail after its attempts',
      120_000,
    );
    // the file is "the file": neither the storage's path nor its layout (blobs/ab/cd/<uuid>), the host or a pid (issue 16 item 13)
    expect(done.error).toBe("ENOENT: no such file or directory, open 'the file'");
    expect(done.error).not.toMatch(new RegExp(`${app.config.storageDir}|blobs/|${blob_key}|${hostname()}|~\\d+~`));
    // the operator's log has the whole error
    expect(worker.output()).toContain(`job ${job.body.id} (md5) failed unexpectedly on its last attempt`);
    expect(worker.output()).toContain(join(app.config.storageDir, 'blobs', blob_key));
  });

  it('routes: the service priority flag and the request override pick the queue', async () => {
    const tenant = await makeTenant(admin);
    const customer = admin.as(tenant.customerKey);
    const file = await customer.upload(tenant.serviceId, 'p.txt', new TextEncoder().encode('p'));
    await admin.as(tenant.containerKey).patch(`/services/${tenant.serviceId}`, { priority: true });
    const priority = await customer.post('/jobs', { mfileIds: [file.body.id], task: 'md5' });
    expect(priority.body.queue).toBe('priority');
    expect((await finished(customer, priority.body.id)).state).toBe('succeeded');
    const hardware = await customer.post('/jobs', { mfileIds: [file.body.id], task: 'md5', queue: 'hardware.gpu' });
    expect(hardware.body.queue).toBe('hardware.gpu');
    // nobody serves hardware.gpu here: it waits, and can be cancelled, which takes it off the queue
    expect(await redis.exists(`${app.config.queuePrefix}:hardware.gpu:${hardware.body.id}`)).toBe(1);
    const cancelled = await customer.post(`/jobs/${hardware.body.id}/cancel`);
    expect(cancelled.body.state).toBe('cancelled');
    expect(await redis.exists(`${app.config.queuePrefix}:hardware.gpu:${hardware.body.id}`)).toBe(0);
    expect((await customer.post(`/jobs/${hardware.body.id}/cancel`)).status).toBe(409);
    expect((await customer.delete(`/jobs/${hardware.body.id}`)).status).toBe(204);
    expect((await customer.get(`/jobs/${hardware.body.id}`)).status).toBe(404);
  });

  it('refuses bad job requests with 400 and says why', async () => {
    const tenant = await makeTenant(admin);
    const other = await makeTenant(admin);
    const customer = admin.as(tenant.customerKey);
    const file = await customer.upload(tenant.serviceId, 'x.txt', new TextEncoder().encode('x'));
    const foreign = await admin.as(other.customerKey).upload(other.serviceId, 'y.txt', new TextEncoder().encode('y'));
    expect((await customer.post('/jobs', { mfileIds: [file.body.id], task: 'teleport' })).body.detail).toContain('unknown task');
    expect((await customer.post('/jobs', { mfileIds: [file.body.id], task: 'md5', options: { size: 3 } })).status).toBe(400);
    expect((await customer.post('/jobs', { mfileIds: [file.body.id], task: 'md5', queue: 'turbo' })).status).toBe(400);
    expect((await customer.post('/jobs', { mfileIds: [], task: 'md5' })).status).toBe(400);
    expect((await customer.post('/jobs', { mfileIds: [file.body.id, foreign.body.id], task: 'md5', each: true })).status).toBe(404);
    const crossService = await admin.post('/jobs', { mfileIds: [file.body.id, foreign.body.id], task: 'md5', each: true });
    expect([crossService.status, crossService.body.detail]).toEqual([400, 'all mfileIds must belong to the same service']);
  });

  it('a task takes as many inputs as it declares: more are refused, or run one job per Mfile when asked', async () => {
    const tenant = await makeTenant(admin);
    const customer = admin.as(tenant.customerKey);
    const contents = ['one', 'two', 'three'];
    const files = await Promise.all(contents.map((text, i) => customer.upload(tenant.serviceId, `f${i}.txt`, new TextEncoder().encode(text))));
    const ids = files.map((file) => file.body.id);
    expect((await customer.get('/tasks')).body.items.find((task: { name: string }) => task.name === 'md5')).toMatchObject({ inputCount: 1 });
    // never silently half-done: a job would have read the first file only
    const refused = await customer.post('/jobs', { mfileIds: ids, task: 'md5' });
    expect(refused.status).toBe(400);
    expect(refused.body.detail).toBe('md5 takes 1 Mfile per job and 3 were given: send each: true for one job per Mfile');
    expect((await customer.get(`/services/${tenant.serviceId}/jobs?trigger=manual`)).body.items).toEqual([]);
    // one job per Mfile, each on its own file, all run
    const each = await customer.post('/jobs', { mfileIds: ids, task: 'md5', each: true });
    expect(each.status).toBe(201);
    expect(each.body.items.map((job: { mfileIds: string[] }) => job.mfileIds)).toEqual(ids.map((id) => [id]));
    const done = await Promise.all(each.body.items.map((job: { id: string }) => finished(customer, job.id)));
    expect(done.map((job) => [job.state, job.result.md5])).toEqual(contents.map((text) => ['succeeded', createHash('md5').update(text).digest('hex')]));
    // a single input with each: true is a list of one
    expect((await customer.post('/jobs', { mfileIds: [ids[0]], task: 'sha256', each: true })).body.items).toHaveLength(1);
  });

  it('stops cleanly on SIGTERM and takes its heartbeat with it', async () => {
    worker.kill('SIGTERM');
    const exit = await waitForExit(worker);
    expect(exit).toEqual({ code: 0, signal: null });
    expect(worker.output()).toContain('SIGTERM: shutting down');
    expect(await redis.keys(`${app.config.queuePrefix}:workers:*:${worker.pid}`)).toEqual([]);
  });

  it('refuses to start without its database and Redis, saying what is missing', async () => {
    const lonely = startRole('worker', { DATABASE_URL: '', REDIS_URL: '' });
    const exit = await waitForExit(lonely);
    expect(exit.code).toBe(1);
    expect(lonely.output()).toContain('DATABASE_URL and REDIS_URL');
  });
});

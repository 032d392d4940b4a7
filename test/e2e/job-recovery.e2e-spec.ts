import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';
import { startLocalRedis, LocalRedisHandle } from '../../src/infrastructure/local-redis';
import { Client, makeTenant } from '../support/client';
import { testClip } from '../support/media';
import { freePort } from '../support/free-port';
import { eventually, startRole, waitForExit } from '../support/processes';
import { sharedWith, startTestApp, TestApp } from '../support/test-app';

type Worker = ReturnType<typeof startRole>;

const finalJob = (client: Client, id: string, timeoutMs = 60_000) =>
  eventually(
    async () => {
      const job = (await client.get(`/jobs/${id}`)).body;
      return ['succeeded', 'failed', 'cancelled'].includes(job.state) ? job : undefined;
    },
    `job ${id} to finish`,
    timeoutMs,
    200,
  );

describe('routing across workers, a worker killed mid-job, Redis restarted empty', () => {
  const workers: Worker[] = [];
  let work: string;
  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), 'mserve-recovery-'));
  });
  afterAll(() => {
    for (const worker of workers) if (worker.exitCode === null && worker.signalCode === null) worker.kill('SIGKILL');
    rmSync(work, { recursive: true, force: true });
  });
  const worker = (app: TestApp, queues: string, env: Record<string, string> = {}) => {
    const started = startRole('worker', { ...sharedWith(app.config), LOG_LEVEL: 'warn', ...env }, ['--queues', queues]);
    workers.push(started);
    return started;
  };
  const online = (app: TestApp, redis: Redis, started: Worker) =>
    eventually(async () => (await redis.keys(`${app.config.queuePrefix}:workers:*:${started.pid}`)).length === 1, `worker ${started.pid} heartbeat`);

  describe('with the shared Redis', () => {
    let app: TestApp;
    let admin: Client;
    let redis: Redis;
    beforeAll(async () => {
      app = await startTestApp();
      admin = new Client(app.api, app.adminKey);
      redis = new Redis(process.env.REDIS_URL!);
    });
    afterAll(async () => {
      redis.disconnect();
      await app.close();
    });

    it('routes each job to the queue it belongs on, and only workers serving that queue run it', async () => {
      const general = worker(app, 'normal:2');
      const special = worker(app, 'priority:1,hardware.gpu:1');
      try {
        await online(app, redis, general);
        await online(app, redis, special);
        const tenant = await makeTenant(admin);
        const customer = admin.as(tenant.customerKey);
        await admin.as(tenant.serviceAdminKey).put(`/services/${tenant.serviceId}/profile`, { ingest: { steps: [] } });
        const file = await customer.upload(tenant.serviceId, 'r.txt', Buffer.from('route me'));
        const jobs = {
          normal: await customer.post('/jobs', { mfileIds: [file.body.id], task: 'md5' }),
          priority: await customer.post('/jobs', { mfileIds: [file.body.id], task: 'md5', queue: 'priority' }),
          gpu: await customer.post('/jobs', { mfileIds: [file.body.id], task: 'sha256', queue: 'hardware.gpu' }),
        };
        const done = Object.fromEntries(await Promise.all(Object.entries(jobs).map(async ([name, job]) => [name, await finalJob(customer, job.body.id)])));
        expect(done.normal).toMatchObject({ state: 'succeeded', queue: 'normal', workerHost: expect.stringMatching(new RegExp(`:${general.pid}$`)) });
        expect(done.priority).toMatchObject({ state: 'succeeded', queue: 'priority', workerHost: expect.stringMatching(new RegExp(`:${special.pid}$`)) });
        expect(done.gpu).toMatchObject({ state: 'succeeded', queue: 'hardware.gpu', workerHost: expect.stringMatching(new RegExp(`:${special.pid}$`)) });
        // a priority service: its ingest pipeline goes to the priority queue, hence to the special worker
        await admin.as(tenant.containerKey).patch(`/services/${tenant.serviceId}`, { priority: true });
        await admin.as(tenant.serviceAdminKey).delete(`/services/${tenant.serviceId}/profile`);
        // (larger than a copy the commit makes itself: its backup is a job)
        const urgent = await customer.upload(tenant.serviceId, 'urgent.txt', Buffer.from('now\n'.repeat(80_000)));
        const ingest = await eventually(async () => {
          const page = (await customer.get(`/mfiles/${urgent.body.id}/jobs`)).body.items;
          return page.every((job: { state: string }) => ['succeeded', 'skipped'].includes(job.state)) ? page : undefined;
        }, 'the priority ingest');
        const ran = ingest.filter((job: { state: string }) => job.state === 'succeeded');
        expect(ran.map((job: { step: string }) => job.step).sort()).toEqual(['backup', 'md5', 'mime']);
        for (const job of ingest) expect([job.step, job.queue]).toEqual([job.step, 'priority']);
        // mime and md5 are facts of the upload (no worker ran them); backup ran on the worker serving priority
        for (const job of ran)
          expect([job.step, job.workerHost]).toEqual([
            job.step,
            ['mime', 'md5'].includes(job.step) ? null : expect.stringMatching(new RegExp(`:${special.pid}$`)),
          ]);
      } finally {
        // these workers serve `normal`: they must be gone before the next test's jobs are queued
        general.kill('SIGTERM');
        special.kill('SIGTERM');
        await waitForExit(general);
        await waitForExit(special);
      }
    }, 120_000);

    it('a worker SIGKILLed mid-transcode: the job runs again on another worker and succeeds once', async () => {
      const clip = join(work, 'long.mp4');
      await testClip(clip, 40);
      const tenant = await makeTenant(admin);
      const customer = admin.as(tenant.customerKey);
      await admin.as(tenant.serviceAdminKey).put(`/services/${tenant.serviceId}/profile`, { ingest: { steps: [] } });
      const file = await customer.upload(tenant.serviceId, 'long.mp4', readFileSync(clip));
      const first = worker(app, 'normal:1');
      await online(app, redis, first);
      const job = await customer.post('/jobs', { mfileIds: [file.body.id], task: 'transcode', options: { preset: 'vp9-480p' } });
      expect(job.status).toBe(201);
      await eventually(
        async () => {
          const current = (await customer.get(`/jobs/${job.body.id}`)).body;
          return current.state === 'running' && current.progress > 3 ? current : undefined;
        },
        'the transcode to be under way',
        60_000,
        100,
      );
      first.kill('SIGKILL');
      await waitForExit(first);
      // its ffmpeg child is orphaned, not killed with it: stop it so it does not compete for the CPU
      try {
        execFileSync('pkill', ['-KILL', '-f', app.config.storageDir]);
      } catch {
        /* nothing left */
      }
      const second = worker(app, 'normal:1');
      const done = await finalJob(customer, job.body.id, 120_000);
      expect(done).toMatchObject({ state: 'succeeded', attempts: 2, workerHost: expect.stringMatching(new RegExp(`:${second.pid}$`)) });
      const outputs = (await customer.get(`/jobs/${job.body.id}/outputs`)).body.items;
      expect(outputs).toHaveLength(1);
      expect(outputs[0]).toMatchObject({ mimetype: 'video/webm' });
      const [{ runs }] = await app.dataSource.query("SELECT count(*)::int AS runs FROM usage WHERE resource_id = $1 AND metric = 'task/transcode/success'", [
        job.body.id,
      ]);
      expect(runs).toBe(1);
      second.kill('SIGTERM');
      await waitForExit(second);
    }, 240_000);
    it('ffmpeg killed mid-run: the attempt fails with a clear message, the job runs again, the worker keeps serving', async () => {
      const clip = join(work, 'killed.mp4');
      await testClip(clip, 30);
      const tenant = await makeTenant(admin);
      const customer = admin.as(tenant.customerKey);
      await admin.as(tenant.serviceAdminKey).put(`/services/${tenant.serviceId}/profile`, { ingest: { steps: [] } });
      const file = await customer.upload(tenant.serviceId, 'killed.mp4', readFileSync(clip));
      const serving = worker(app, 'normal:1');
      try {
        await online(app, redis, serving);
        const job = await customer.post('/jobs', { mfileIds: [file.body.id], task: 'transcode', options: { preset: 'vp9-480p' } });
        await eventually(
          async () => {
            const current = (await customer.get(`/jobs/${job.body.id}`)).body;
            return current.state === 'running' && current.progress > 3 ? current : undefined;
          },
          'the transcode to be under way',
          60_000,
          100,
        );
        execFileSync('pkill', ['-KILL', '-f', app.config.storageDir]); // the ffmpeg child, not the worker
        const retried = await eventually(
          async () => {
            const current = (await customer.get(`/jobs/${job.body.id}`)).body;
            return current.attempts >= 2 || ['succeeded', 'failed'].includes(current.state) ? current : undefined;
          },
          'the second attempt',
          60_000,
          100,
        );
        expect(retried.attempts).toBe(2);
        const done = await finalJob(customer, job.body.id, 120_000);
        expect(done).toMatchObject({ state: 'succeeded', attempts: 2 });
        expect(serving.output()).toMatch(/attempt 1 failed[\s\S]*ffmpeg was stopped \(ffmpeg was killed with signal SIGKILL\): will retry/);
        expect(serving.exitCode).toBeNull();
        // and it still serves
        const next = await customer.post('/jobs', { mfileIds: [file.body.id], task: 'md5' });
        expect(await finalJob(customer, next.body.id)).toMatchObject({ state: 'succeeded', workerHost: expect.stringMatching(new RegExp(`:${serving.pid}$`)) });
      } finally {
        serving.kill('SIGTERM');
        await waitForExit(serving);
      }
    }, 240_000);
  });

  describe('with a Redis of its own, restarted empty', () => {
    let redisServer: LocalRedisHandle;
    let port: number;
    let secretFile: string;
    let app: TestApp;
    beforeAll(async () => {
      port = await freePort();
      secretFile = join(work, 'redis.secret');
      redisServer = await startLocalRedis({ dataDir: join(work, 'redis-1'), secretFile, port, log: () => undefined });
      app = await startTestApp({ REDIS_URL: redisServer.url, JOB_RECONCILER: 'true' });
    });
    afterAll(async () => {
      await app.close();
      await redisServer.stop();
    });

    it('the reconciler puts back every queued job PostgreSQL has, and a worker then runs them', async () => {
      const redis = new Redis(redisServer.url);
      try {
        const admin = new Client(app.api, app.adminKey);
        const tenant = await makeTenant(admin);
        const customer = admin.as(tenant.customerKey);
        await admin.as(tenant.serviceAdminKey).put(`/services/${tenant.serviceId}/profile`, { ingest: { steps: [{ task: 'md5', queue: 'hardware.spare' }] } });
        const ids: string[] = [];
        for (const name of ['a.txt', 'b.txt', 'c.txt']) {
          const file = await customer.upload(tenant.serviceId, name, Buffer.from(name));
          ids.push((await customer.get(`/mfiles/${file.body.id}/jobs`)).body.items[0].id);
        }
        const inRedis = async () =>
          (await Promise.all(ids.map((id) => redis.exists(`${app.config.queuePrefix}:hardware.spare:${id}`)))).reduce((a, b) => a + b, 0);
        expect(await inRedis()).toBe(3);

        // Redis dies and comes back with nothing (a new data dir: no AOF to replay)
        redis.disconnect();
        await redisServer.stop();
        redisServer = await startLocalRedis({ dataDir: join(work, 'redis-2'), secretFile, port, log: () => undefined });
        const fresh = new Redis(redisServer.url);
        try {
          await eventually(
            async () => (await Promise.all(ids.map((id) => fresh.exists(`${app.config.queuePrefix}:hardware.spare:${id}`)))).every(Boolean),
            'the reconciler to restore the jobs',
            60_000,
            200,
          );
          const spare = worker(app, 'hardware.spare:1', { REDIS_URL: redisServer.url });
          for (const id of ids)
            expect(await finalJob(customer, id)).toMatchObject({
              state: 'succeeded',
              queue: 'hardware.spare',
              workerHost: expect.stringMatching(new RegExp(`:${spare.pid}$`)),
            });
          spare.kill('SIGTERM');
          await waitForExit(spare);
        } finally {
          fresh.disconnect();
        }
      } finally {
        redis.disconnect();
      }
    }, 120_000);
  });
});

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type Redis from 'ioredis';
import sharp from 'sharp';
import { Client, makeTenant } from '../support/client';
import { eventually, startRole, waitForExit } from '../support/processes';
import { SentinelGroup, startSentinelGroup } from '../support/redis-sentinel';
import { SessionClient } from '../support/session-client';
import { startTestApp, TestApp } from '../support/test-app';

/** One answer of the load: what was asked, its status and Retry-After, when, and the jobs it made. */
interface Answer {
  what: 'upload' | 'job' | 'session';
  status: number;
  retryAfter: string | null;
  at: number;
  afterKill: boolean;
  afterPromotion: boolean;
  jobIds: string[];
}

/** A small PNG, different for each `index` (its own bytes, its own thumbnail). */
const picture = (index: number) =>
  sharp({ create: { width: 96, height: 64, channels: 3, background: { r: index % 256, g: (index * 7) % 256, b: 90 } } })
    .png()
    .toBuffer();

/**
 * Issue 18: Redis behind Sentinel (a master, a replica, three sentinels) under a real api and a real worker process.
 * The master is SIGKILLed while uploads and posted jobs keep coming: the sentinels promote the replica, every
 * connection of both processes follows it, answers in the window are 2xx or 503 with Retry-After (never 500),
 * readiness goes down and comes back, and every job of every stored file ends succeeded exactly once with one output
 * (what the lost master held, the reconciler puts back from PostgreSQL).
 */
describe('Redis through Sentinel: the master killed under load (real api, worker, redis-server ×2, redis-sentinel ×3)', () => {
  let work: string;
  let group: SentinelGroup;
  let app: TestApp;
  let admin: Client;
  let redis: Redis;
  let worker: ReturnType<typeof startRole>;
  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'mserve-sentinel-'));
    group = await startSentinelGroup(work);
    // the reconciler is what restores jobs the old master had and the new one lacks; this Redis is the suite's own
    app = await startTestApp({ ...group.env, JOB_RECONCILER: 'true' });
    admin = new Client(app.api, app.adminKey);
    redis = group.client();
    worker = startRole('worker', { ...group.env, STORAGE_DIR: app.config.storageDir, QUEUE_PREFIX: app.config.queuePrefix, LOG_LEVEL: 'warn' }, [
      '--queues',
      'normal:2',
    ]);
    await eventually(
      async () => (await redis.keys(`${app.config.queuePrefix}:workers:*:${worker.pid}`)).length === 1,
      `worker ${worker.pid} heartbeat`,
      60_000,
    );
  }, 120_000);
  afterAll(async () => {
    if (worker && worker.exitCode === null && worker.signalCode === null) {
      worker.kill('SIGTERM');
      await waitForExit(worker).catch(() => worker.kill('SIGKILL'));
    }
    redis?.disconnect();
    await app?.close();
    await group?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('the replica is promoted, the load goes on with 2xx or 503 + Retry-After, and every job ends once on the new master', async () => {
    const tenant = await makeTenant(admin);
    const customer = admin.as(tenant.customerKey);
    const profile = await admin.as(tenant.serviceAdminKey).put(`/services/${tenant.serviceId}/profile`, {
      ingest: {
        steps: [
          { name: 'mime', task: 'mime' },
          { name: 'thumbnail', task: 'thumbnail', after: ['mime'] },
        ],
      },
    });
    expect(profile.status).toBe(200);
    const oldMasterPort = group.master.port;
    expect(await group.masterPortSaidBy(group.sentinels[0])).toBe(oldMasterPort);

    const answers: Answer[] = [];
    const readiness: Array<{ redis: string; afterKill: boolean }> = [];
    const stored: string[] = [];
    let killedAt: number | undefined;
    let promotedAt: number | undefined;
    // when a sentinel was last asked and still named the killed master: no Redis took writes before then
    let oldMasterNamedAt = 0;
    let loadOver = false;
    // a request that got no answer at all (its connection failed): noted, and the load goes on
    const unanswered: string[] = [];
    const ask = async <T>(what: Answer['what'], request: () => Promise<T>): Promise<T | undefined> => {
      try {
        return await request();
      } catch (error) {
        unanswered.push(`${what}${killedAt === undefined ? '' : ' after the kill'}: ${(error as Error).message} (${String((error as Error).cause)})`);
        return undefined;
      }
    };
    const record = (what: Answer['what'], reply: { status: number; headers: Headers }, jobIds: string[]) =>
      answers.push({
        what,
        status: reply.status,
        retryAfter: reply.headers.get('retry-after'),
        at: Date.now(),
        afterKill: killedAt !== undefined,
        afterPromotion: promotedAt !== undefined,
        jobIds,
      });

    // uploads (each starts an ingest run: mime, then a thumbnail on the worker) and thumbnails posted on stored
    // files, two at a time each, until enough of them were answered after the sentinels promoted the replica
    let uploads = 0;
    const answeredAfterPromotion = () => answers.filter((answer) => answer.afterPromotion).length;
    const uploader = async () => {
      while (answeredAfterPromotion() < 30 && uploads < 2000) {
        const index = uploads++;
        const bytes = await picture(index);
        const reply = await ask('upload', () => customer.upload(tenant.serviceId, `p-${index}.png`, bytes));
        if (!reply) continue;
        record('upload', reply, reply.status === 201 ? reply.body.ingest.jobs.map((job: { id: string }) => job.id) : []);
        if (reply.status === 201) stored.push(reply.body.id);
      }
    };
    const poster = async () => {
      while (answeredAfterPromotion() < 30 && uploads < 2000) {
        const target = stored[Math.floor(Math.random() * stored.length)];
        if (!target) {
          await new Promise((resolve) => setTimeout(resolve, 50));
          continue;
        }
        const reply = await ask('job', () => customer.post('/jobs', { mfileIds: [target], task: 'thumbnail', options: { width: 32, height: 32 } }));
        if (!reply) continue;
        record('job', reply, reply.status === 201 ? [reply.body.id] : []);
      }
    };
    // a person's console session, read from Redis at each request: what a Redis outage refuses
    const browsing = async () => {
      const person = new SessionClient(app.api);
      while (answeredAfterPromotion() < 30 && uploads < 2000) {
        const reply = await ask('session', () => person.request('GET', '/session'));
        if (reply) record('session', reply, []);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    };
    const watchReadiness = async () => {
      while (!loadOver) {
        const reply = await fetch(`${app.baseUrl}/health/ready`);
        const body = (await reply.json()) as { checks: { redis: { status: string } } };
        readiness.push({ redis: body.checks.redis.status, afterKill: killedAt !== undefined });
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    };
    const failover = async () => {
      await eventually(async () => answers.length >= 20, 'the load to be under way', 60_000, 20);
      killedAt = Date.now();
      group.master.process.kill('SIGKILL');
      await eventually(
        async () => {
          const asked = Date.now();
          if ((await group.masterPortSaidBy(group.sentinels[1])) === group.replica.port) return true;
          oldMasterNamedAt = asked;
          return false;
        },
        'the sentinels to promote the replica',
        60_000,
        50,
      );
      promotedAt = Date.now();
    };
    const watching = watchReadiness();
    try {
      await Promise.all([uploader(), uploader(), poster(), poster(), browsing(), failover()]);
    } finally {
      loadOver = true;
      await watching;
    }

    // every sentinel agrees: the old replica is the master now
    for (const sentinel of group.sentinels) expect(await group.masterPortSaidBy(sentinel)).toBe(group.replica.port);
    expect(unanswered).toEqual([]);
    // answers: 2xx, or 503 with Retry-After; never a 500
    const refused = answers.filter((answer) => answer.status >= 300);
    for (const answer of refused) expect(answer).toMatchObject({ status: 503, retryAfter: expect.stringMatching(/^[1-9]\d*$/) });
    // the session reads met the window (uploads and posted jobs commit without Redis: theirs are 201s)
    expect(refused.filter((answer) => answer.what === 'session').length).toBeGreaterThan(0);
    expect(answers.filter((answer) => answer.afterKill && answer.status < 300).length).toBeGreaterThan(0);
    // readiness saw Redis go down after the kill, and come back
    const firstDown = readiness.findIndex((probe) => probe.afterKill && probe.redis === 'down');
    expect(firstDown).toBeGreaterThanOrEqual(0);
    expect(readiness.slice(firstDown).some((probe) => probe.redis === 'up')).toBe(true);

    // every upload answered 201 has its Mfile row
    const rows = await app.dataSource.query('SELECT id FROM mfile WHERE service_id = $1', [tenant.serviceId]);
    const rowIds = new Set(rows.map((row: { id: string }) => row.id));
    for (const id of stored) expect(rowIds.has(id)).toBe(true);

    // every job of every stored file ends succeeded, once: one success counted, one output per thumbnail
    const jobsOfService = () =>
      app.dataSource.query(
        `SELECT j.id, j.task, j.state, j.error, j.attempts, j.trigger,
                (SELECT count(*)::int FROM job_output o WHERE o.job_id = j.id) AS outputs,
                (SELECT count(*)::int FROM usage u WHERE u.resource_id = j.id AND u.metric = 'task/' || j.task || '/success') AS successes
           FROM job j WHERE j.service_id = $1`,
        [tenant.serviceId],
      ) as Promise<
        Array<{ id: string; task: string; state: string; error: string | null; attempts: number; trigger: string; outputs: number; successes: number }>
      >;
    const jobs = await eventually(
      async () => {
        const all = await jobsOfService();
        return all.every((job) => ['succeeded', 'failed', 'cancelled', 'skipped'].includes(job.state)) ? all : undefined;
      },
      'every job to end',
      180_000,
      500,
    ).catch((error: Error) => {
      throw new Error(`${error.message}; the worker said:\n${worker.output().slice(-4000)}`);
    });
    expect(jobs.filter((job) => job.state !== 'succeeded')).toEqual([]);
    const thumbnails = jobs.filter((job) => job.task === 'thumbnail');
    for (const job of thumbnails) expect([job.id, job.outputs, job.successes]).toEqual([job.id, 1, 1]);
    const postedJobs = answers.filter((answer) => answer.what === 'job' && answer.status === 201).length;
    expect(thumbnails.filter((job) => job.trigger === 'manual')).toHaveLength(postedJobs);
    const ingestThumbnails = await app.dataSource.query(
      `SELECT count(DISTINCT ji.mfile_id)::int AS files FROM job j JOIN job_input ji ON ji.job_id = j.id
        WHERE j.service_id = $1 AND j.task = 'thumbnail' AND j.trigger <> 'manual'`,
      [tenant.serviceId],
    );
    expect(ingestThumbnails[0].files).toBe(rowIds.size);
    // answered 201 after the kill while the sentinels still named the dead master: their dispatch reached no Redis,
    // so the reconciler (on the promoted master's 'ready') is what queued these jobs, and they ran
    const undispatched = answers.filter((answer) => answer.afterKill && answer.at < oldMasterNamedAt).flatMap((answer) => answer.jobIds);
    expect(undispatched.length).toBeGreaterThan(0);
    const ended = new Map(jobs.map((job) => [job.id, job.state]));
    for (const id of undispatched) expect([id, ended.get(id)]).toEqual([id, 'succeeded']);

    // after the failover: a new upload's ingest runs on the worker, a person logs in (session and throttle in Redis)
    const after = await customer.upload(tenant.serviceId, 'after.png', await picture(9999));
    expect(after.status).toBe(201);
    await eventually(
      async () => {
        const items = (await customer.get(`/mfiles/${after.body.id}/jobs`)).body.items as Array<{ state: string }>;
        return items.length === 2 && items.every((job) => job.state === 'succeeded');
      },
      'the ingest of a file uploaded after the failover',
      60_000,
      200,
    );
    const person = new SessionClient(app.api);
    expect((await person.login('admin', process.env.ADMIN_PASSWORD!)).status).toBe(200);
    expect((await person.refresh()).user).toMatchObject({ username: 'admin' });
    expect((await fetch(`${app.baseUrl}/health/ready`)).status).toBe(200);

    const downProbes = readiness.filter((probe) => probe.redis === 'down').length;
    const restarted = jobs.filter((job) => job.attempts > 1).length;
    process.stdout.write(
      `[sentinel] failover: ${promotedAt! - killedAt!} ms from SIGKILL to the sentinels naming the replica; ${answers.length} answers ` +
        `(${answers.filter((answer) => answer.afterKill).length} after the kill, ${refused.length} 503); readiness down in ${downProbes} of ` +
        `${readiness.length} probes; ${jobs.length} jobs (${thumbnails.length} thumbnails, ${restarted} run more than once, ${undispatched.length} queued by the reconciler)\n`,
    );
  }, 600_000);

  it('a live master demoted by SENTINEL FAILOVER: the connections move to the new master and work goes on', async () => {
    // the killed master comes back empty; the sentinels make it a replica of the current master
    const demoted = group.replica;
    group.master.restart();
    await eventually(
      async () => /role:slave[\s\S]*master_link_status:up/.test((await group.replicationOf(group.master)) ?? ''),
      'the old master to come back as a replica',
      60_000,
      200,
    );
    const tenant = await makeTenant(admin);
    const customer = admin.as(tenant.customerKey);
    await admin.as(tenant.serviceAdminKey).put(`/services/${tenant.serviceId}/profile`, { ingest: { steps: [{ name: 'thumbnail', task: 'thumbnail' }] } });
    // the sentinels may refuse a failover for a while after the last one (failover-timeout): ask until one starts
    await eventually(() => group.failover().then(() => true), 'a sentinel to start the failover', 60_000, 500);
    await eventually(
      async () => (await group.masterPortSaidBy(group.sentinels[0])) === group.master.port,
      'the sentinels to promote the old master',
      60_000,
      100,
    );
    // the node that was master is alive and a replica now: a connection left on it could only read
    await eventually(async () => /role:slave/.test((await group.replicationOf(demoted)) ?? ''), 'the old replica to be demoted', 60_000, 100);
    // uploads, retried on a 503 as its Retry-After invites, each with its thumbnail made by the worker
    const ids: string[] = [];
    for (let index = 0; index < 5; index++) {
      const bytes = await picture(20_000 + index);
      const reply = await eventually(
        async () => {
          const answer = await customer.upload(tenant.serviceId, `d-${index}.png`, bytes);
          if (answer.status === 503) expect(answer.headers.get('retry-after')).toMatch(/^[1-9]\d*$/);
          else expect(answer.status).toBe(201);
          return answer.status === 201 ? answer : undefined;
        },
        `upload ${index} after the demotion`,
        60_000,
        200,
      );
      ids.push(reply.body.id);
    }
    for (const id of ids)
      await eventually(
        async () => {
          const items = (await customer.get(`/mfiles/${id}/jobs`)).body.items as Array<{ state: string }>;
          return items.length === 1 && items[0].state === 'succeeded';
        },
        `the thumbnail of ${id}`,
        120_000,
        200,
      );
    await eventually(
      async () => (await redis.keys(`${app.config.queuePrefix}:workers:*:${worker.pid}`)).length === 1,
      'the worker heartbeat on the new master',
    );
    expect((await new SessionClient(app.api).login('admin', process.env.ADMIN_PASSWORD!)).status).toBe(200);
  }, 300_000);
});

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';
import sharp from 'sharp';
import { JobReconciler } from '../../src/pipelines/job-reconciler';
import { JobRow } from '../support/app-with-worker';
import { Client, makeTenant } from '../support/client';
import { testClip } from '../support/media';
import { eventually, startRole, waitForExit } from '../support/processes';
import { sharedWith, startTestApp, TestApp } from '../support/test-app';

type Worker = ReturnType<typeof startRole>;
const FINAL = ['succeeded', 'failed', 'cancelled', 'skipped'];

/**
 * The steps of one pipeline run that become runnable together on one queue travel in one message: one claim, one
 * read of the input, one transaction for their outcomes. The job state machine keeps its guarantees per step: a
 * worker killed mid-batch re-runs only the unfinished steps, outputs are never duplicated, a failed step fails its
 * dependents (and only them), every step's states reach the event stream, and the reconciler puts back what a lost
 * message carried.
 */
describe('batched runs: one message per run on a queue (real api, worker processes, PostgreSQL, Redis)', () => {
  let app: TestApp;
  let admin: Client;
  let redis: Redis;
  let work: string;
  const workers: Worker[] = [];
  beforeAll(async () => {
    app = await startTestApp();
    admin = new Client(app.api, app.adminKey);
    redis = new Redis(process.env.REDIS_URL!);
    work = mkdtempSync(join(tmpdir(), 'mserve-batched-'));
  });
  // a test that failed half-way leaves no worker serving the next one's queue
  afterEach(async () => {
    for (const worker of workers) if (worker.exitCode === null && worker.signalCode === null) await stop(worker);
  });
  afterAll(async () => {
    for (const worker of workers) if (worker.exitCode === null && worker.signalCode === null) worker.kill('SIGKILL');
    redis.disconnect();
    rmSync(work, { recursive: true, force: true });
    await app.close();
  });

  const worker = async (queues: string) => {
    const started = startRole('worker', { ...sharedWith(app.config), LOG_LEVEL: 'info' }, ['--queues', queues]);
    workers.push(started);
    await eventually(async () => (await redis.keys(`${app.config.queuePrefix}:workers:*:${started.pid}`)).length === 1, `worker ${started.pid} heartbeat`);
    return started;
  };
  const stop = async (started: Worker) => {
    started.kill('SIGTERM');
    await waitForExit(started);
  };
  const jobsOf = async (customer: Client, mfileId: string): Promise<Record<string, JobRow & { attempts: number; queue: string }>> => {
    const page = await customer.get(`/mfiles/${mfileId}/jobs?limit=100`);
    return Object.fromEntries(page.body.items.map((job: JobRow) => [job.step ?? job.task, job]));
  };
  const allFinal = (customer: Client, mfileId: string, what: string, timeoutMs = 120_000) =>
    eventually(
      async () => {
        const jobs = await jobsOf(customer, mfileId);
        return Object.values(jobs).length > 0 && Object.values(jobs).every((job) => FINAL.includes(job.state)) ? jobs : undefined;
      },
      what,
      timeoutMs,
      200,
    );
  /** The Bull message of `id` under this suite's prefix: its data, or undefined. */
  const message = async (queue: string, id: string) => {
    const data = await redis.hget(`${app.config.queuePrefix}:${queue}:${id}`, 'data');
    return data ? (JSON.parse(data) as { jobId: string; jobIds?: string[]; runId?: string }) : undefined;
  };
  const usageCount = async (jobId: string, metric: string) =>
    (await app.dataSource.query('SELECT count(*)::int AS n FROM usage WHERE resource_id = $1 AND metric = $2', [jobId, metric]))[0].n as number;
  const picture = () =>
    sharp({ create: { width: 1200, height: 800, channels: 3, background: { r: 40, g: 120, b: 200 } } })
      .composite([{ input: Buffer.from('<svg width="600" height="400"><circle cx="300" cy="200" r="150" fill="orange"/></svg>'), top: 100, left: 200 }])
      .jpeg({ quality: 85 })
      .toBuffer();

  /** Follows a service's job events (Server-Sent Events) until stopped: every `job` event seen. */
  const follow = async (serviceId: string, key: string) => {
    const abort = new AbortController();
    const response = await fetch(`${app.api}/services/${serviceId}/jobs/events`, { headers: { authorization: `Bearer ${key}` }, signal: abort.signal });
    expect(response.status).toBe(200);
    const events: Array<{ id: string; state: string; progress: number | null }> = [];
    let ready = false;
    const reading = (async () => {
      const reader = response.body!.getReader();
      const decoder = new TextDecoder();
      let buffered = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        buffered += decoder.decode(value, { stream: true });
        const blocks = buffered.split('\n\n');
        buffered = blocks.pop()!;
        for (const block of blocks) {
          const [eventLine, dataLine] = block.split('\n');
          if (eventLine === 'event: ready') ready = true;
          if (eventLine === 'event: job') events.push(JSON.parse(dataLine.slice('data: '.length)));
        }
      }
    })().catch(() => undefined);
    await eventually(async () => ready, 'the event stream to be ready');
    return {
      events,
      statesOf: (id: string) => events.filter((event) => event.id === id).map((event) => event.state),
      close: async () => {
        abort.abort();
        await reading;
      },
    };
  };

  it("a run's image steps go in one message, run on one read and one decode of the file, make the pictures a lone job makes, and every state reaches the event stream", async () => {
    const tenant = await makeTenant(admin);
    const customer = admin.as(tenant.customerKey);
    await admin.as(tenant.serviceAdminKey).put(`/services/${tenant.serviceId}/profile`, {
      ingest: {
        steps: [
          { name: 'mime', task: 'mime', verify: true },
          { name: 'md5', task: 'md5', after: ['mime'], verify: true },
          { name: 'image-metadata', task: 'image-metadata', after: ['mime'] },
          { name: 'thumbnail', task: 'thumbnail', after: ['mime'] },
          { name: 'poster', task: 'poster', after: ['mime'] },
          { name: 'backup', task: 'backup', after: ['md5'] },
        ],
      },
    });
    const stream = await follow(tenant.serviceId, tenant.customerKey);
    const bytes = await picture();
    const file = await customer.upload(tenant.serviceId, 'sky.jpg', bytes);
    expect(file.status).toBe(201);
    // nobody serves the queue yet: the first step is alone on it, under its own id
    const queued = await jobsOf(customer, file.body.id);
    expect(await message('normal', queued.mime.id)).toEqual({ jobId: queued.mime.id });
    const serving = await worker('normal:2');
    const jobs = await allFinal(customer, file.body.id, 'the ingest run');
    await stream.close();
    for (const step of ['mime', 'md5', 'image-metadata', 'thumbnail', 'poster', 'backup'])
      expect([step, jobs[step].state, jobs[step].attempts]).toEqual([step, 'succeeded', 1]);
    // the four steps released by mime went in one message, with the run
    const together = ['md5', 'image-metadata', 'thumbnail', 'poster'].map((step) => jobs[step].id).sort();
    expect(await message('normal', `run-${together[0]}`)).toEqual({ jobId: together[0], jobIds: together, runId: expect.any(String) });
    for (const id of together) expect(await message('normal', id)).toBeUndefined();
    for (const step of ['md5', 'image-metadata', 'thumbnail', 'poster']) expect(jobs[step].workerHost).toMatch(new RegExp(`:${serving.pid}$`));
    // what they found and made, once each
    expect(jobs.md5.result).toMatchObject({ matchesRecorded: true });
    expect(jobs['image-metadata'].result).toMatchObject({ width: 1200, height: 800, format: 'jpeg' });
    const thumbnails = (await customer.get(`/jobs/${jobs.thumbnail.id}/outputs`)).body.items;
    const posters = (await customer.get(`/jobs/${jobs.poster.id}/outputs`)).body.items;
    expect(thumbnails).toHaveLength(1);
    expect(posters).toHaveLength(1);
    for (const step of ['md5', 'image-metadata', 'thumbnail', 'poster']) expect(await usageCount(jobs[step].id, `task/${step}/success`)).toBe(1);
    const mfile = (await customer.get(`/mfiles/${file.body.id}`)).body;
    expect(mfile.metadata.image).toMatchObject({ width: 1200, height: 800 });
    expect(Object.keys(mfile.metadata.renditions).sort()).toEqual(['poster', 'thumbnail']);
    // a lone thumbnail job reads and decodes the file itself
    const lone = await customer.post('/jobs', { mfileIds: [file.body.id], task: 'thumbnail', options: { width: 210, height: 128 } });
    expect(lone.status).toBe(201);
    await eventually(async () => ((await customer.get(`/jobs/${lone.body.id}`)).body.state === 'succeeded' ? true : undefined), 'the lone thumbnail');
    const contentOf = async (jobId: string) => {
      const [output] = (await customer.get(`/jobs/${jobId}/outputs`)).body.items;
      return Buffer.from(
        await (await fetch(`${app.api}/joboutputs/${output.id}/content`, { headers: { authorization: `Bearer ${customer.key}` } })).arrayBuffer(),
      );
    };
    // the batch decoded the picture once for both renditions: not the same bytes, the same picture
    const [loneThumbnail, batchedThumbnail] = await Promise.all([contentOf(lone.body.id), contentOf(jobs.thumbnail.id)]);
    const [loneInfo, batchedInfo] = await Promise.all([sharp(loneThumbnail).metadata(), sharp(batchedThumbnail).metadata()]);
    expect([batchedInfo.format, batchedInfo.width, batchedInfo.height]).toEqual(['jpeg', 192, 128]);
    expect([loneInfo.width, loneInfo.height]).toEqual([192, 128]);
    expect(jobs.thumbnail.result).toMatchObject({ width: 192, height: 128 });
    expect(jobs.poster.result).toMatchObject({ width: 384, height: 256 });
    const pixels = (bytes: Buffer) => sharp(bytes).removeAlpha().raw().toBuffer();
    const [a, b] = await Promise.all([pixels(loneThumbnail), pixels(batchedThumbnail)]);
    let difference = 0;
    for (let i = 0; i < a.length; i++) difference += Math.abs(a[i] - b[i]);
    expect(difference / a.length).toBeLessThan(3); // mean difference per channel, of 255
    // the event stream told every step's way: queued, running, succeeded
    for (const step of ['mime', 'md5', 'image-metadata', 'thumbnail', 'poster', 'backup']) {
      const states = stream.statesOf(jobs[step].id);
      expect([step, states[0], states.includes('running'), states[states.length - 1]]).toEqual([step, 'queued', true, 'succeeded']);
    }
    await stop(serving);
  }, 180_000);

  it('one failed step of a batch fails only itself and its dependents; the others of the message stand', async () => {
    const tenant = await makeTenant(admin);
    const customer = admin.as(tenant.customerKey);
    await admin.as(tenant.serviceAdminKey).put(`/services/${tenant.serviceId}/profile`, {
      ingest: {
        steps: [
          { name: 'md5', task: 'md5', verify: true },
          { name: 'thumbnail', task: 'thumbnail' },
          { name: 'sha256', task: 'sha256', verify: true },
          { name: 'poster', task: 'poster', after: ['thumbnail'] },
          { name: 'backup', task: 'backup', after: ['md5', 'sha256'] },
        ],
      },
    });
    const stream = await follow(tenant.serviceId, tenant.customerKey);
    const serving = await worker('normal:2');
    const file = await customer.upload(tenant.serviceId, 'notes.txt', Buffer.from('not a picture at all'));
    const jobs = await allFinal(customer, file.body.id, 'the run with a failing step');
    await stream.close();
    expect(jobs.thumbnail).toMatchObject({ state: 'failed', error: expect.stringMatching(/^thumbnail accepts image\/jpeg, .*; "notes.txt" is text\/plain$/) });
    expect(jobs.poster).toMatchObject({ state: 'failed', error: `dependency thumbnail (${jobs.thumbnail.id}) failed` });
    expect(jobs.md5).toMatchObject({ state: 'succeeded', attempts: 1 });
    expect(jobs.sha256).toMatchObject({ state: 'succeeded', attempts: 1 });
    expect(jobs.backup).toMatchObject({ state: 'succeeded', attempts: 1 });
    // md5, thumbnail and sha256 were one message, run by one worker
    const together = ['md5', 'thumbnail', 'sha256'].map((step) => jobs[step].id).sort();
    expect((await message('normal', `run-${together[0]}`))?.jobIds).toEqual(together);
    expect(await usageCount(jobs.thumbnail.id, 'task/thumbnail/failed')).toBe(1);
    expect(await usageCount(jobs.md5.id, 'task/md5/success')).toBe(1);
    expect(stream.statesOf(jobs.poster.id)).toEqual(['failed']);
    expect(stream.statesOf(jobs.thumbnail.id)).toEqual(['queued', 'running', 'failed']);
    await stop(serving);
  }, 120_000);

  it('a worker SIGKILLed in the middle of a batched run: only the unfinished steps run again, elsewhere, and nothing is made twice', async () => {
    const clip = join(work, 'long.mp4');
    await testClip(clip, 30);
    const tenant = await makeTenant(admin);
    const customer = admin.as(tenant.customerKey);
    await admin.as(tenant.serviceAdminKey).put(`/services/${tenant.serviceId}/profile`, {
      ingest: {
        steps: [
          { name: 'md5', task: 'md5', verify: true },
          { name: 'sha256', task: 'sha256', verify: true },
          { name: 'transcode', task: 'transcode', options: { preset: 'vp9-480p' } },
        ],
      },
    });
    const first = await worker('normal:1');
    const file = await customer.upload(tenant.serviceId, 'long.mp4', readFileSync(clip));
    // the quick steps ran and were recorded before the long one started; the transcode is under way
    const during = await eventually(
      async () => {
        const jobs = await jobsOf(customer, file.body.id);
        return jobs.transcode?.state === 'running' && jobs.transcode.progress > 3 ? jobs : undefined;
      },
      'the transcode to be under way',
      120_000,
      100,
    );
    for (const step of ['md5', 'sha256']) expect([step, during[step].state]).toEqual([step, 'succeeded']);
    first.kill('SIGKILL');
    await waitForExit(first);
    // its ffmpeg child is orphaned, not killed with it: stop it so it does not compete for the CPU
    try {
      execFileSync('pkill', ['-KILL', '-f', app.config.storageDir]);
    } catch {
      /* nothing left */
    }
    // Bull finds the message stalled and hands it to the next worker: it claims only what had not finished
    const second = await worker('normal:1');
    const jobs = await allFinal(customer, file.body.id, 'the run after the crash', 240_000);
    expect(jobs.transcode).toMatchObject({ state: 'succeeded', attempts: 2, workerHost: expect.stringMatching(new RegExp(`:${second.pid}$`)) });
    for (const step of ['md5', 'sha256'])
      expect([step, jobs[step].state, jobs[step].attempts, jobs[step].workerHost]).toEqual([step, 'succeeded', 1, during[step].workerHost]);
    expect(during.md5.workerHost).toMatch(new RegExp(`:${first.pid}$`));
    // the transcode's output once, each success metered once
    expect((await customer.get(`/jobs/${jobs.transcode.id}/outputs`)).body.items).toHaveLength(1);
    for (const step of ['md5', 'sha256', 'transcode']) expect(await usageCount(jobs[step].id, `task/${step}/success`)).toBe(1);
    const [{ n }] = await app.dataSource.query('SELECT count(*)::int AS n FROM job_output WHERE job_id = ANY($1::uuid[])', [
      Object.values(jobs).map((job) => job.id),
    ]);
    expect(n).toBe(1);
    await stop(second);
  }, 420_000);

  it('the reconciler puts back the unfinished steps of a batch whose message was lost, as one message, and only those', async () => {
    const tenant = await makeTenant(admin);
    const customer = admin.as(tenant.customerKey);
    const queue = `hardware.batch${Math.random().toString(36).slice(2, 8)}`;
    await admin.as(tenant.serviceAdminKey).put(`/services/${tenant.serviceId}/profile`, {
      ingest: {
        steps: [
          { name: 'md5', task: 'md5', queue },
          { name: 'sha256', task: 'sha256', queue },
          { name: 'mime', task: 'mime', queue },
        ],
      },
    });
    const file = await customer.upload(tenant.serviceId, 'lost.txt', Buffer.from('a message that Redis will lose'));
    const jobs = await jobsOf(customer, file.body.id);
    const ids = [jobs.md5.id, jobs.sha256.id, jobs.mime.id].sort();
    expect((await message(queue, `run-${ids[0]}`))?.jobIds).toEqual(ids);
    // a worker took the message, recorded md5 and was killed while it ran the others; the message was lost with Redis
    await app.dataSource.query("UPDATE job SET state = 'succeeded', attempts = 1, finished_at = now() WHERE id = $1", [jobs.md5.id]);
    await app.dataSource.query("UPDATE job SET state = 'running', attempts = 1, updated_at = now() - interval '1 minute' WHERE id = ANY($1::uuid[])", [
      [jobs.sha256.id, jobs.mime.id],
    ]);
    await redis.del(`${app.config.queuePrefix}:${queue}:run-${ids[0]}`, `${app.config.queuePrefix}:${queue}:wait`);
    await app.app.get(JobReconciler).reconcile();
    const unfinished = [jobs.sha256.id, jobs.mime.id].sort();
    expect(await message(queue, `run-${unfinished[0]}`)).toEqual({ jobId: unfinished[0], jobIds: unfinished, runId: expect.any(String) });
    // a second pass finds them carried: nothing is added twice
    expect(await redis.llen(`${app.config.queuePrefix}:${queue}:wait`)).toBe(1);
    await app.app.get(JobReconciler).reconcile();
    expect(await redis.llen(`${app.config.queuePrefix}:${queue}:wait`)).toBe(1);
    const serving = await worker(`${queue}:1`);
    const done = await allFinal(customer, file.body.id, 'the restored steps');
    expect(done.md5).toMatchObject({ state: 'succeeded', attempts: 1 });
    expect(await usageCount(jobs.md5.id, 'task/md5/success')).toBe(0); // never run again (its state was written by hand above)
    for (const step of ['sha256', 'mime'])
      expect([step, done[step].state, done[step].attempts, done[step].workerHost]).toEqual([
        step,
        'succeeded',
        2,
        expect.stringMatching(new RegExp(`:${serving.pid}$`)),
      ]);
    await stop(serving);
  }, 120_000);
});

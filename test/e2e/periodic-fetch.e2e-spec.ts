import { createHash } from 'node:crypto';
import { createServer, IncomingMessage, Server } from 'node:http';
import { QueueName } from '../../src/queues/queue-catalogue';
import { QueueRegistry } from '../../src/queues/queue-registry';
import { Client, makeTenant } from '../support/client';
import { eventually, startRole, waitForExit } from '../support/processes';
import { sharedWith, startTestApp, TestApp } from '../support/test-app';

/**
 * Periodic steps without input: `fetch-url` into a folder, once per tick, for a service that starts empty ("pulls
 * updates every morning"). A real HTTP server is the source; a real worker runs the ticks and the jobs.
 */
describe('periodic steps without input: fetch-url into a folder', () => {
  let app: TestApp;
  let admin: Client;
  let worker: ReturnType<typeof startRole>;
  let server: Server;
  let base: string;
  const received: Array<{ path: string; headers: IncomingMessage['headers'] }> = [];
  let feed = Buffer.from('{"day":1}');
  let failNext = 0;
  /** While set, /slow waits for it before answering (a job still running when it is cancelled). */
  let hold: Promise<void> | undefined;

  beforeAll(async () => {
    server = createServer((request, response) => {
      received.push({ path: request.url!, headers: request.headers });
      const etag = `"${createHash('sha256').update(feed).digest('hex').slice(0, 16)}"`;
      if (failNext > 0 && request.url === '/flaky.json') {
        failNext--;
        return void response.writeHead(500).end('try again');
      }
      const answer = () => {
        if (request.headers['if-none-match'] === etag) return void response.writeHead(304, { etag }).end();
        response.writeHead(200, { etag, 'content-type': 'application/json' }).end(feed);
      };
      if (request.url === '/slow.json' && hold) return void hold.then(answer);
      answer();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    // the test's server is on loopback: the existing switch lets outbound calls reach it (deployments refuse them)
    app = await startTestApp({ OUTBOUND_ALLOW_PRIVATE: 'true' });
    admin = new Client(app.api, app.adminKey);
    worker = startRole('worker', { ...sharedWith(app.config), OUTBOUND_ALLOW_PRIVATE: 'true', LOG_LEVEL: 'warn' }, ['--queues', 'normal:2']);
  });
  afterAll(async () => {
    worker.kill('SIGTERM');
    await waitForExit(worker).catch(() => undefined);
    await app.close();
    server.close();
  });

  /** One tick of the service's periodic pipeline, now (not at its cron time), run by the worker as the schedule's are. */
  const tick = async (serviceId: string) => {
    const message = await app.app.get(QueueRegistry).get(QueueName.Scheduler).add({ serviceId });
    await message.finished();
  };
  const finished = (client: Client, id: string) =>
    eventually(async () => {
      const job = (await client.get(`/jobs/${id}`)).body;
      return ['succeeded', 'failed', 'cancelled'].includes(job.state) ? job : undefined;
    }, `job ${id}`);
  type Job = { id: string; task: string; state: string; withoutInput: boolean; mfileIds: string[]; result: Record<string, unknown>; error: string | null };
  const periodicJobs = async (client: Client, serviceId: string): Promise<Job[]> =>
    (await client.get(`/services/${serviceId}/jobs?trigger=periodic&limit=100`)).body.items;

  it('input-less periodic step: the first tick creates the file (its ingest runs), an unchanged source changes nothing, a changed one replaces it', async () => {
    const tenant = await makeTenant(admin);
    const customer = admin.as(tenant.customerKey);
    const serviceAdmin = admin.as(tenant.serviceAdminKey);
    const url = `${base}/feed.json`;
    const saved = await serviceAdmin.put(`/services/${tenant.serviceId}/profile`, {
      ingest: {
        steps: [
          { name: 'mime', task: 'mime' },
          { name: 'checksum', task: 'sha256', verify: true, after: ['mime'] },
        ],
      },
      update: { steps: [{ name: 'checksum', task: 'sha256', verify: true }] },
      periodic: { schedule: '0 6 * * *', steps: [{ name: 'pull', task: 'fetch-url', input: 'none', options: { url } }] },
    });
    expect(saved.status).toBe(200);
    // stored normalised: where the file goes is written out (the root, the URL's last name)
    expect(saved.body.definition.periodic.steps).toEqual([
      { name: 'pull', task: 'fetch-url', input: 'none', options: { url, folder: '/', name: 'feed.json' }, after: [] },
    ]);
    expect((await customer.get(`/services/${tenant.serviceId}/mfiles`)).body.items).toEqual([]);

    // the service's events: the file created and replaced by the job, and the job's own changes
    const stream = await fetch(`${app.api}/services/${tenant.serviceId}/events`, { headers: { authorization: `Bearer ${tenant.customerKey}` } });
    const reader = stream.body!.getReader();
    let streamed = '';
    const reading = (async () => {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        streamed += Buffer.from(value).toString();
      }
    })();
    await eventually(async () => streamed.includes('event: ready'), 'the stream listening');

    // 1. the first tick: one job, no input, which creates the file
    await tick(tenant.serviceId);
    const [first] = await periodicJobs(customer, tenant.serviceId);
    expect(first).toMatchObject({ task: 'fetch-url', withoutInput: true, mfileIds: [] });
    const created = await finished(customer, first.id);
    expect(created).toMatchObject({
      state: 'succeeded',
      mfileIds: [],
      result: { url, status: 200, changed: true, created: true, path: '/feed.json', size: feed.length },
    });
    const mfileId = created.result.mfileId as string;
    const files = (await customer.get(`/services/${tenant.serviceId}/mfiles`)).body.items;
    expect(files).toEqual([
      expect.objectContaining({
        id: mfileId,
        name: 'feed.json',
        folderId: tenant.rootFolderId,
        size: feed.length,
        sha256: createHash('sha256').update(feed).digest('hex'),
      }),
    ]);
    expect((await customer.get(`/mfiles/${mfileId}/content`)).text).toBe('{"day":1}');
    expect((await customer.get(`/mfiles/${mfileId}`)).body.metadata.source).toMatchObject({ url, etag: expect.any(String), sha256: files[0].sha256 });
    // its ingest pipeline ran as for an upload: the type a fact of the fetched bytes, the checksum a job that read them
    const ingest = await eventually(async () => {
      const jobs = (await customer.get(`/mfiles/${mfileId}/jobs?trigger=ingest`)).body.items as Job[];
      return jobs.length === 2 && jobs.every((job) => job.state === 'succeeded') ? jobs : undefined;
    }, 'the ingest jobs of the fetched file');
    expect(ingest.find((job) => job.task === 'sha256')!.result).toEqual({ sha256: files[0].sha256, matchesRecorded: true });
    // metered as new content from outside, to the file
    const ingested = async () =>
      Number(
        (await app.dataSource.query("SELECT COALESCE(SUM(value), 0)::float AS v FROM usage WHERE resource_id = $1 AND metric = 'ingest'", [mfileId]))[0].v,
      );
    expect(await ingested()).toBe(feed.length);

    // 2. the source unchanged: asked conditionally, nothing new (no file, no content, no update run)
    await tick(tenant.serviceId);
    const second = (await periodicJobs(customer, tenant.serviceId)).find((job) => job.id !== first.id)!;
    expect(await finished(customer, second.id)).toMatchObject({
      state: 'succeeded',
      mfileIds: [],
      withoutInput: true,
      result: { status: 304, changed: false, created: false, mfileId, path: '/feed.json' },
    });
    expect(received.filter((hit) => hit.path === '/feed.json').at(-1)!.headers['if-none-match']).toBeTruthy();
    expect((await customer.get(`/services/${tenant.serviceId}/mfiles`)).body.items.map((file: { id: string }) => file.id)).toEqual([mfileId]);
    expect((await customer.get(`/mfiles/${mfileId}/jobs?trigger=update`)).body.items).toEqual([]);
    expect(await ingested()).toBe(feed.length);

    // 3. the source changed: the same file's content replaced, its update pipeline run
    feed = Buffer.from('{"day":2,"news":"more"}');
    await tick(tenant.serviceId);
    const third = (await periodicJobs(customer, tenant.serviceId)).find((job) => job.id !== first.id && job.id !== second.id)!;
    expect(await finished(customer, third.id)).toMatchObject({
      state: 'succeeded',
      mfileIds: [],
      result: { status: 200, changed: true, created: false, mfileId, size: feed.length },
    });
    expect((await customer.get(`/mfiles/${mfileId}/content`)).text).toBe('{"day":2,"news":"more"}');
    expect((await customer.get(`/services/${tenant.serviceId}/mfiles`)).body.items).toHaveLength(1);
    const update = await eventually(async () => {
      const jobs = (await customer.get(`/mfiles/${mfileId}/jobs?trigger=update`)).body.items as Job[];
      return jobs.length === 1 && jobs[0].state === 'succeeded' ? jobs : undefined;
    }, 'the update run of the replaced file');
    expect(update[0].result).toEqual({ sha256: createHash('sha256').update(feed).digest('hex'), matchesRecorded: true });
    expect(await ingested()).toBe('{"day":1}'.length + feed.length);

    // the job rows: three ticks, three jobs, none with an input (a file's own job list does not show them)
    const jobs = await periodicJobs(customer, tenant.serviceId);
    expect(jobs.map((job) => [job.task, job.withoutInput, job.mfileIds])).toEqual([
      ['fetch-url', true, []],
      ['fetch-url', true, []],
      ['fetch-url', true, []],
    ]);
    expect((await customer.get(`/mfiles/${mfileId}/jobs?trigger=periodic`)).body.items).toEqual([]);

    // told as any file's creation and replacement, naming the job; and the jobs' changes on the same stream
    await eventually(async () => streamed.includes('event: mfile.replaced'), 'the replace on the stream');
    const events = [...streamed.matchAll(/^event: (mfile\.[a-z]+)\ndata: (.*)$/gm)].map((match) => [match[1], JSON.parse(match[2])] as const);
    expect(events.map(([type]) => type)).toEqual(['mfile.created', 'mfile.replaced']);
    expect(events[0][1].data).toMatchObject({
      mfile: { id: mfileId, name: 'feed.json', folderId: tenant.rootFolderId },
      via: { task: 'fetch-url', jobId: first.id },
    });
    expect(events[1][1].data).toMatchObject({
      mfile: { id: mfileId, size: feed.length },
      previous: { size: '{"day":1}'.length },
      via: { task: 'fetch-url', jobId: third.id },
    });
    await eventually(async () => streamed.includes(`"id":"${third.id}","state":"succeeded"`), 'the job events on the stream');
    await reader.cancel();
    await reading.catch(() => undefined);
  });

  it('into a subfolder; a missing folder, a name taken by another file or a folder, a suspended service; no second run while one is under way; retried and cancelled like any job', async () => {
    const tenant = await makeTenant(admin);
    const customer = admin.as(tenant.customerKey);
    const serviceAdmin = admin.as(tenant.serviceAdminKey);
    const provider = admin.as(tenant.containerKey);
    const pull = (options: Record<string, unknown>) =>
      serviceAdmin.put(`/services/${tenant.serviceId}/profile`, {
        ingest: { steps: [] },
        update: { steps: [] },
        periodic: { schedule: '0 6 * * *', steps: [{ name: 'pull', task: 'fetch-url', input: 'none', options }] },
      });
    const lastJob = async () => (await customer.get(`/services/${tenant.serviceId}/jobs?trigger=periodic&order=newest&limit=1`)).body.items[0] as Job;
    const tickAndFinish = async () => {
      const before = (await lastJob())?.id;
      await tick(tenant.serviceId);
      const job = await lastJob();
      expect(job.id).not.toBe(before);
      return finished(customer, job.id);
    };
    feed = Buffer.from('{"day":3}');

    // the folder is a path from the root; it must exist (a tick does not make folders)
    expect((await pull({ url: `${base}/feed.json`, folder: '/feeds/daily', name: 'today.json' })).status).toBe(200);
    const asked = received.length;
    expect(await tickAndFinish()).toMatchObject({
      state: 'failed',
      attempts: 1,
      error: 'the folder "feeds/daily" does not exist in this service: nothing was fetched (create it, or change the step\'s folder)',
    });
    expect(received.length).toBe(asked);
    const feeds = await customer.post(`/mfolders/${tenant.rootFolderId}/mfolders`, { name: 'feeds' });
    const daily = await customer.post(`/mfolders/${feeds.body.id}/mfolders`, { name: 'daily' });
    const made = await tickAndFinish();
    expect(made).toMatchObject({ state: 'succeeded', result: { created: true, path: '/feeds/daily/today.json' } });
    const inFolder = (await customer.get(`/mfolders/${daily.body.id}/mfiles`)).body.items;
    expect(inFolder).toEqual([expect.objectContaining({ id: made.result.mfileId, name: 'today.json', size: feed.length })]);

    // a file of that name that was not fetched from this URL is left alone; so is a folder of that name
    const own = await customer.upload(tenant.serviceId, 'mine.txt', Buffer.from('my own notes'));
    expect((await pull({ url: `${base}/feed.json`, name: 'mine.txt' })).status).toBe(200);
    expect(await tickAndFinish()).toMatchObject({
      state: 'failed',
      attempts: 1,
      error: `"mine.txt" exists and was not fetched from ${base}/feed.json: it is left alone and nothing was fetched (move or rename it, or give the step another name)`,
    });
    expect((await customer.get(`/mfiles/${own.body.id}/content`)).text).toBe('my own notes');
    expect((await pull({ url: `${base}/feed.json`, name: 'feeds' })).status).toBe(200);
    expect(await tickAndFinish()).toMatchObject({ state: 'failed', error: '"feeds" is a folder: nothing was fetched (fetch-url writes a file of that name)' });

    // a suspended service's tick makes no jobs (they could only fail); resumed, the next tick runs
    expect((await pull({ url: `${base}/flaky.json` })).status).toBe(200);
    expect((await provider.patch(`/services/${tenant.serviceId}`, { suspended: true })).status).toBe(200);
    const before = (await lastJob()).id;
    await tick(tenant.serviceId);
    expect((await lastJob()).id).toBe(before);
    expect((await provider.patch(`/services/${tenant.serviceId}`, { suspended: false })).status).toBe(200);

    // an attempt that failed (the source answered 500) is retried, as any job's
    failNext = 1;
    const retried = await tickAndFinish();
    expect(retried).toMatchObject({ state: 'succeeded', attempts: 2, mfileIds: [], result: { created: true, path: '/flaky.json' } });

    // cancelled while it runs: its result is dropped, no file is made
    expect((await pull({ url: `${base}/slow.json` })).status).toBe(200);
    let release!: () => void;
    hold = new Promise<void>((resolve) => (release = resolve));
    const waiting = received.length;
    await tick(tenant.serviceId);
    const slow = await lastJob();
    await eventually(async () => received.slice(waiting).some((hit) => hit.path === '/slow.json'), 'the task to ask the server');
    // a tick while the last one's fetch is still under way makes no second run beside it (it would fetch the same
    // URL into the same name, and one of the two could only fail)
    await tick(tenant.serviceId);
    expect((await lastJob()).id).toBe(slow.id);
    const cancelled = await customer.post(`/jobs/${slow.id}/cancel`, {});
    expect(cancelled.body).toMatchObject({ state: 'cancelled', mfileIds: [], withoutInput: true });
    release();
    hold = undefined;
    // the worker recorded its end (its runtime metered) and kept nothing
    await eventually(
      async () =>
        Number((await app.dataSource.query("SELECT COUNT(*) AS n FROM usage WHERE resource_id = $1 AND metric = 'jobruntime'", [slow.id]))[0].n) === 1,
      'the cancelled attempt metered',
    );
    expect((await customer.get(`/jobs/${slow.id}`)).body.state).toBe('cancelled');
    const names = (await customer.get(`/services/${tenant.serviceId}/mfiles?limit=100`)).body.items.map((file: { name: string }) => file.name).sort();
    expect(names).toEqual(['flaky.json', 'mine.txt', 'today.json']);
  });
});

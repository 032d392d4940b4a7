import { createHash, createHmac } from 'node:crypto';
import { createServer, IncomingMessage, Server } from 'node:http';
import { hostname, networkInterfaces } from 'node:os';
import { QueueName } from '../../src/queues/queue-catalogue';
import { QueueRegistry } from '../../src/queues/queue-registry';
import { UploadSessionsService } from '../../src/uploads/upload-sessions.service';
import { SERVICE_EVENT_TYPES } from '../../src/webhooks/service-event';
import { Client, makeTenant } from '../support/client';
import { eventually, startRole, waitForExit } from '../support/processes';
import { sharedWith, startTestApp, TestApp } from '../support/test-app';

interface Received {
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  body: string;
}

/** Webhook notifications, the webhook task and fetch-url, against a real HTTP server the test runs. */
describe('webhooks and web tasks', () => {
  let app: TestApp;
  let admin: Client;
  let worker: ReturnType<typeof startRole>;
  let server: Server;
  let base: string;
  const received: Received[] = [];
  let failNext = 0;
  let source = Buffer.from('version one');
  /** While set, /held waits for it before answering (a task still running when the content is replaced). */
  let hold: Promise<void> | undefined;

  beforeAll(async () => {
    server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        received.push({ method: request.method!, path: request.url!, headers: request.headers, body: Buffer.concat(chunks).toString() });
        if (request.url === '/source.bin') {
          const etag = `"${createHash('sha256').update(source).digest('hex').slice(0, 16)}"`;
          if (request.headers['if-none-match'] === etag) return void response.writeHead(304, { etag }).end();
          return void response.writeHead(200, { etag, 'content-type': 'application/octet-stream' }).end(source);
        }
        if (request.url === '/held') {
          const etag = '"held-1"';
          const answer = () =>
            request.headers['if-none-match'] === etag ? response.writeHead(304, { etag }).end() : response.writeHead(200, { etag }).end('held v1');
          return void (hold ? hold.then(answer) : answer());
        }
        if (request.url === '/moved') return void response.writeHead(302, { location: '/source.bin' }).end();
        if (request.url === '/missing') return void response.writeHead(404).end('no such thing');
        if (failNext > 0) {
          failNext--;
          return void response.writeHead(500).end('try again');
        }
        response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ ok: true, seen: request.url }));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
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

  const finished = (client: Client, id: string) =>
    eventually(async () => {
      const job = (await client.get(`/jobs/${id}`)).body;
      return ['succeeded', 'failed'].includes(job.state) ? job : undefined;
    }, `job ${id}`);

  it('notifies registered URLs of finished jobs: signed, with an idempotency key, retried until accepted', async () => {
    const tenant = await makeTenant(admin);
    const serviceAdmin = admin.as(tenant.serviceAdminKey);
    const customer = admin.as(tenant.customerKey);
    await serviceAdmin.put(`/services/${tenant.serviceId}/profile`, { ingest: { steps: [{ task: 'md5' }] } });
    expect((await customer.post(`/services/${tenant.serviceId}/webhooks`, { url: `${base}/hook` })).status).toBe(403);
    expect((await serviceAdmin.post(`/services/${tenant.serviceId}/webhooks`, { url: 'ftp://example.org/x' })).status).toBe(400);
    expect((await serviceAdmin.post(`/services/${tenant.serviceId}/webhooks`, { url: `${base}/hook`, events: ['running'] })).body.errors).toEqual([
      'events: running is not an event type',
    ]);
    const hook = await serviceAdmin.post(`/services/${tenant.serviceId}/webhooks`, { url: `${base}/hook` });
    expect(hook.status).toBe(201);
    expect(hook.body).toMatchObject({ url: `${base}/hook`, events: ['succeeded', 'failed'], secret: expect.stringMatching(/^whsec_/) });
    const listed = await customer.get(`/services/${tenant.serviceId}/webhooks`);
    expect(listed.body.items).toHaveLength(1);
    expect(listed.body.items[0].secret).toBeUndefined();

    failNext = 1;
    const file = await customer.upload(tenant.serviceId, 'hooked.txt', Buffer.from('notify me'));
    const deliveries = await eventually(async () => {
      const hits = received.filter((hit) => hit.path === '/hook');
      return hits.length >= 2 ? hits : undefined;
    }, 'the delivery and its retry');
    const [failed, accepted] = deliveries;
    expect(failed.headers['idempotency-key']).toBe(accepted.headers['idempotency-key']);
    const event = JSON.parse(accepted.body);
    expect(event).toMatchObject({
      type: 'job.succeeded',
      serviceId: tenant.serviceId,
      data: { job: { task: 'md5', state: 'succeeded', mfileIds: [file.body.id] } },
    });
    const [, t, v1] = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(String(accepted.headers['mserve-signature']))!;
    expect(v1).toBe(createHmac('sha256', hook.body.secret).update(`${t}.${accepted.body}`).digest('hex'));
    expect(Math.abs(Date.now() / 1000 - Number(t))).toBeLessThan(120);
    // removed: no more deliveries
    expect((await serviceAdmin.delete(`/services/${tenant.serviceId}/webhooks/${hook.body.id}`)).status).toBe(204);
    expect((await serviceAdmin.delete(`/services/${tenant.serviceId}/webhooks/${hook.body.id}`)).status).toBe(404);
    // a malformed id names no webhook either (it reached PostgreSQL as a uuid and was a 500)
    for (const id of ['not-a-uuid', `${hook.body.id}x`, '%20'])
      expect((await serviceAdmin.delete(`/services/${tenant.serviceId}/webhooks/${id}`)).status).toBe(404);
  }, 60_000);

  it('tells engines what happens to files, uploads, quotas and the service: signed webhooks, retried, and the event stream', async () => {
    const tenant = await makeTenant(admin);
    const serviceAdmin = admin.as(tenant.serviceAdminKey);
    const provider = admin.as(tenant.containerKey);
    const customer = admin.as(tenant.customerKey);
    await serviceAdmin.put(`/services/${tenant.serviceId}/profile`, { ingest: { steps: [] }, update: { steps: [] } });
    const types = [...SERVICE_EVENT_TYPES];
    const hook = await serviceAdmin.post(`/services/${tenant.serviceId}/webhooks`, { url: `${base}/events`, events: types });
    expect(hook.status).toBe(201);
    // the same events on the service's stream, for a key that may read its files
    const stream = await fetch(`${app.api}/services/${tenant.serviceId}/events`, { headers: { authorization: `Bearer ${tenant.customerKey}` } });
    expect(stream.headers.get('content-type')).toMatch(/text\/event-stream/);
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

    failNext = 1; // the first delivery is refused: it comes again, with the same id
    const file = await customer.upload(tenant.serviceId, 'a.txt', Buffer.from('first'));
    expect((await customer.request('PUT', `/mfiles/${file.body.id}/content`, Buffer.from('second'))).status).toBe(200);
    expect((await customer.patch(`/mfiles/${file.body.id}`, { name: 'b.txt' })).status).toBe(200);
    const tusCreated = await customer.post(`/services/${tenant.serviceId}/uploads`, Buffer.from('by tus'), {
      'tus-resumable': '1.0.0',
      'content-type': 'application/offset+octet-stream',
      'upload-length': '6',
      'upload-metadata': `filename ${Buffer.from('c.txt').toString('base64')}`,
    });
    expect(tusCreated.status).toBe(201);
    expect((await provider.patch(`/services/${tenant.serviceId}`, { diskQuota: 20 })).status).toBe(200);
    expect((await customer.upload(tenant.serviceId, 'big.txt', Buffer.alloc(100, 1))).status).toBe(507);
    expect((await customer.delete(`/mfiles/${file.body.id}`)).status).toBe(204);
    expect((await provider.patch(`/services/${tenant.serviceId}`, { diskQuota: null })).status).toBe(200);
    // a folder deleted with a file in it: the file's delete is told too
    const folder = await customer.post(`/mfolders/${tenant.rootFolderId}/mfolders`, { name: 'gone' });
    const inFolder = await customer.upload(tenant.serviceId, 'd.txt', Buffer.from('in a folder'), `?folderId=${folder.body.id}`);
    expect((await customer.delete(`/mfolders/${folder.body.id}`)).status).toBe(204);
    // an upload abandoned half-way, found expired by the janitor
    const abandoned = await customer.post(`/services/${tenant.serviceId}/uploads`, Buffer.from('half'), {
      'tus-resumable': '1.0.0',
      'content-type': 'application/offset+octet-stream',
      'upload-length': '10',
      'upload-metadata': `filename ${Buffer.from('e.txt').toString('base64')}`,
    });
    expect(abandoned.status).toBe(201);
    expect(await app.app.get(UploadSessionsService).removeExpired(new Date(Date.now() + 2 * 86400_000))).toBeGreaterThanOrEqual(1);
    // content a task fetched from outside: told as a replace, naming the task
    const fetched = await customer.upload(tenant.serviceId, 'f.txt', Buffer.from('old'));
    const fetchJob = await customer.post('/jobs', { mfileIds: [fetched.body.id], task: 'fetch-url', options: { url: `${base}/source.bin` } });
    expect((await finished(customer, fetchJob.body.id)).state).toBe('succeeded');
    expect((await provider.patch(`/services/${tenant.serviceId}`, { suspended: true })).status).toBe(200);
    expect((await provider.patch(`/services/${tenant.serviceId}`, { suspended: false })).status).toBe(200);

    const expected = [
      'mfile.created',
      'mfile.replaced',
      'mfile.moved',
      'mfile.created',
      'upload.completed',
      'quota.exceeded',
      'mfile.deleted',
      'mfile.created',
      'mfile.deleted',
      'upload.expired',
      'mfile.created',
      'mfile.replaced',
      'service.suspended',
      'service.resumed',
    ];
    const delivered = await eventually(async () => {
      const unique = new Map<string, { id: string; type: string; createdAt: string; data: Record<string, any> }>();
      for (const hit of received.filter((candidate) => candidate.path === '/events')) {
        const [, t, v1] = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(String(hit.headers['mserve-signature']))!;
        expect(v1).toBe(createHmac('sha256', hook.body.secret).update(`${t}.${hit.body}`).digest('hex'));
        const event = JSON.parse(hit.body);
        expect(hit.headers['idempotency-key']).toBe(`${hook.body.id}-${event.id}`);
        unique.set(event.id, event);
      }
      // every event, and the refused one again
      return unique.size >= expected.length && received.filter((candidate) => candidate.path === '/events').length > expected.length
        ? [...unique.values()]
        : undefined;
    }, 'every event delivered');
    // in the order they happened (by time; the events of one change in the order they were told)
    const ordered = delivered.sort((a, b) => a.createdAt.localeCompare(b.createdAt) || expected.indexOf(a.type) - expected.indexOf(b.type));
    expect(ordered.map((event) => event.type)).toEqual(expected);
    const hits = received.filter((hit) => hit.path === '/events').map((hit) => String(hit.headers['idempotency-key']));
    expect(hits.length).toBe(expected.length + 1);
    expect(hits.filter((key, index) => hits.indexOf(key) !== index)).toHaveLength(1); // the retry, with the same key
    const byType = (type: string) => ordered.filter((event) => event.type === type);
    expect(byType('mfile.created')[0].data).toMatchObject({ via: 'upload', mfile: { id: file.body.id, name: 'a.txt', size: 5 } });
    expect(byType('mfile.replaced')[0].data).toMatchObject({ mfile: { id: file.body.id, size: 6 }, previous: { size: 5 } });
    expect(byType('mfile.moved')[0].data).toMatchObject({ mfile: { name: 'b.txt' }, from: { name: 'a.txt' } });
    expect(byType('upload.completed')[0].data).toMatchObject({
      upload: { protocol: 'tus', name: 'c.txt', size: 6 },
      mfileId: byType('mfile.created')[1].data.mfile.id,
    });
    expect(byType('quota.exceeded')[0].data).toMatchObject({
      quota: { name: 'diskQuota', scope: 'service', limit: 20 },
      refused: { operation: 'upload', name: 'big.txt' },
    });
    expect(byType('mfile.deleted')[0].data).toMatchObject({ mfile: { id: file.body.id, name: 'b.txt' } });
    expect(byType('mfile.replaced')[1].data).toMatchObject({
      mfile: { id: fetched.body.id, size: source.length },
      previous: { size: 3 },
      via: { task: 'fetch-url', jobId: fetchJob.body.id },
    });
    expect(byType('upload.expired')[0].data).toMatchObject({ upload: { protocol: 'tus', name: 'e.txt', size: 10, received: 4 } });
    expect(byType('mfile.deleted')[1].data).toMatchObject({ mfile: { id: inFolder.body.id, name: 'd.txt' }, with: { folderId: folder.body.id } });

    // the stream saw the same events, by name
    await eventually(async () => expected.every((type) => streamed.includes(`event: ${type}\n`)), 'the events on the stream');
    expect([...streamed.matchAll(/^event: ([a-z.]+)$/gm)].map((match) => match[1]).filter((name) => name !== 'ready' && name !== 'job')).toEqual(expected);
    await reader.cancel();
    await reading.catch(() => undefined);
    expect((await serviceAdmin.delete(`/services/${tenant.serviceId}/webhooks/${hook.body.id}`)).status).toBe(204);
  }, 60_000);

  it('the webhook task calls a registered webhook with the Mfile and records the answer', async () => {
    const tenant = await makeTenant(admin);
    const serviceAdmin = admin.as(tenant.serviceAdminKey);
    const customer = admin.as(tenant.customerKey);
    await serviceAdmin.put(`/services/${tenant.serviceId}/profile`, { ingest: { steps: [] } });
    const hook = await serviceAdmin.post(`/services/${tenant.serviceId}/webhooks`, { url: `${base}/classify`, events: [] });
    const file = await customer.upload(tenant.serviceId, 'ask.txt', Buffer.from('what is this?'));
    expect((await customer.post('/jobs', { mfileIds: [file.body.id], task: 'webhook' })).body.errors).toEqual(['options.webhookId is required']);
    const job = await customer.post('/jobs', { mfileIds: [file.body.id], task: 'webhook', options: { webhookId: hook.body.id } });
    const done = await finished(customer, job.body.id);
    expect(done).toMatchObject({ state: 'succeeded', result: { url: `${base}/classify`, status: 200, response: { ok: true, seen: '/classify' } } });
    const call = received.filter((hit) => hit.path === '/classify').at(-1)!;
    expect(JSON.parse(call.body)).toMatchObject({ type: 'mfile', jobId: job.body.id, mfile: { id: file.body.id, name: 'ask.txt', sha256: file.body.sha256 } });
    expect(JSON.parse(call.body).mfile.blobKey).toBeUndefined();
    // another service's webhook cannot be used
    const other = await makeTenant(admin);
    const foreign = await admin.as(other.serviceAdminKey).post(`/services/${other.serviceId}/webhooks`, { url: `${base}/classify`, events: [] });
    const stolen = await customer.post('/jobs', { mfileIds: [file.body.id], task: 'webhook', options: { webhookId: foreign.body.id } });
    expect(await finished(customer, stolen.body.id)).toMatchObject({
      state: 'failed',
      error: expect.stringContaining("is not one of this service's webhooks"),
    });
  }, 60_000);

  it('fetch-url pulls new content conditionally (ETag), follows redirects, meters it, and fails clearly on a 404', async () => {
    const tenant = await makeTenant(admin);
    const customer = admin.as(tenant.customerKey);
    await admin.as(tenant.serviceAdminKey).put(`/services/${tenant.serviceId}/profile`, { ingest: { steps: [] } });
    const file = await customer.upload(tenant.serviceId, 'mirror.bin', Buffer.from('placeholder'));
    const run = async (url: string) =>
      finished(customer, (await customer.post('/jobs', { mfileIds: [file.body.id], task: 'fetch-url', options: { url } })).body.id);
    const content = async () =>
      Buffer.from(
        await (await fetch(`${app.api}/mfiles/${file.body.id}/content`, { headers: { authorization: `Bearer ${tenant.customerKey}` } })).arrayBuffer(),
      ).toString();

    const first = await run(`${base}/moved`);
    expect(first).toMatchObject({ state: 'succeeded', result: { status: 200, changed: true, size: source.length } });
    expect(await content()).toBe('version one');
    const unchanged = await run(`${base}/moved`); // the same URL again: asked conditionally
    expect(unchanged).toMatchObject({ state: 'succeeded', result: { status: 304, changed: false } });
    expect(received.filter((hit) => hit.path === '/source.bin').at(-1)!.headers['if-none-match']).toBeTruthy();
    source = Buffer.from('version two, longer');
    expect((await run(`${base}/source.bin`)).result).toMatchObject({ status: 200, changed: true, size: source.length });
    expect(await content()).toBe('version two, longer');
    const mfile = (await customer.get(`/mfiles/${file.body.id}`)).body;
    expect(mfile).toMatchObject({
      size: source.length,
      sha256: createHash('sha256').update(source).digest('hex'),
      metadata: { source: { url: `${base}/source.bin` } },
    });
    const [{ ingest }] = await app.dataSource.query("SELECT COALESCE(SUM(value), 0)::float AS ingest FROM usage WHERE resource_id = $1 AND metric = 'ingest'", [
      file.body.id,
    ]);
    expect(ingest).toBe('placeholder'.length + 'version one'.length + source.length);
    expect(await run(`${base}/missing`)).toMatchObject({ state: 'failed', error: `${base}/missing answered 404` });
    // the disk quota holds for fetched content as for uploads
    expect((await admin.as(tenant.serviceAdminKey).patch(`/services/${tenant.serviceId}`, { diskQuota: source.length + 5 })).status).toBe(200);
    source = Buffer.from('version three is much longer than the quota allows');
    expect(await run(`${base}/source.bin`)).toMatchObject({ state: 'failed', error: expect.stringContaining("would exceed the service's disk quota") });
    expect(await content()).toBe('version two, longer');
    expect((await customer.post('/jobs', { mfileIds: [file.body.id], task: 'fetch-url', options: { url: 'file:///etc/passwd' } })).status).toBe(400);
  }, 60_000);

  it('a task that read content replaced while it ran leaves the file alone: its findings described the old bytes', async () => {
    const tenant = await makeTenant(admin);
    const customer = admin.as(tenant.customerKey);
    await admin.as(tenant.serviceAdminKey).put(`/services/${tenant.serviceId}/profile`, { ingest: { steps: [] }, update: { steps: [] } });
    const file = await customer.upload(tenant.serviceId, 'held.bin', Buffer.from('placeholder'));
    const run = async () => (await customer.post('/jobs', { mfileIds: [file.body.id], task: 'fetch-url', options: { url: `${base}/held` } })).body.id as string;
    expect(await finished(customer, await run())).toMatchObject({ state: 'succeeded', result: { changed: true } });
    const before = (await customer.get(`/mfiles/${file.body.id}`)).body;
    expect(before.metadata.source).toMatchObject({ url: `${base}/held`, etag: '"held-1"' });

    let release!: () => void;
    hold = new Promise<void>((resolve) => (release = resolve));
    const asked = received.filter((hit) => hit.path === '/held').length;
    const job = await run();
    await eventually(async () => received.filter((hit) => hit.path === '/held').length > asked || undefined, 'the task to ask the server');
    expect((await customer.put(`/mfiles/${file.body.id}/content`, Buffer.from('edited by hand'), { 'content-type': 'application/octet-stream' })).status).toBe(
      200,
    );
    release();
    hold = undefined;
    // the task saw the old bytes unchanged upstream (304); that says nothing about the bytes the file holds now
    expect(await finished(customer, job)).toMatchObject({ state: 'succeeded', result: { status: 304, changed: false, sha256: before.sha256 } });
    const after = (await customer.get(`/mfiles/${file.body.id}`)).body;
    expect(after.sha256).toBe(createHash('sha256').update('edited by hand').digest('hex'));
    expect(after.metadata.source).toEqual(before.metadata.source);
    expect(before.metadata.source.sha256).toBe(before.sha256);
    // the validators described the fetched bytes, not the hand-edited ones: the next fetch asks unconditionally
    const asking = received.filter((hit) => hit.path === '/held').length;
    expect(await finished(customer, await run())).toMatchObject({ state: 'succeeded', result: { status: 200, changed: true } });
    expect(received.filter((hit) => hit.path === '/held')[asking].headers['if-none-match']).toBeUndefined();
    const refetched = (await customer.get(`/mfiles/${file.body.id}`)).body;
    expect(refetched.sha256).toBe(createHash('sha256').update('held v1').digest('hex'));
    expect(refetched.metadata.source).toMatchObject({ etag: '"held-1"', sha256: refetched.sha256 });
  }, 60_000);

  it('a task that replaces content needs mfile:write, at POST /jobs and again when the worker would replace the bytes', async () => {
    const tenant = await makeTenant(admin);
    const customer = admin.as(tenant.customerKey);
    const serviceAdmin = admin.as(tenant.serviceAdminKey);
    await serviceAdmin.put(`/services/${tenant.serviceId}/profile`, {
      ingest: { steps: [] },
      update: { steps: [] },
      manual: { steps: [{ name: 'pull', task: 'fetch-url', options: { url: `${base}/source.bin` } }] },
    });
    const file = await customer.upload(tenant.serviceId, 'guarded.bin', Buffer.from('placeholder'));
    const derive = async (actions: string[]) => (await customer.post('/keys', { actions, resource: { type: 'mfile', id: file.body.id } })).body;
    // a key that may run jobs but not write the file: it cannot replace the bytes by hand, nor through a task
    const jobsOnly = admin.as((await derive(['job:create', 'job:read'])).key);
    expect((await jobsOnly.put(`/mfiles/${file.body.id}/content`, Buffer.from('mine'), { 'content-type': 'application/octet-stream' })).status).toBe(403);
    for (const task of ['fetch-url', 'retrieve']) {
      const refused = await jobsOnly.post('/jobs', { mfileIds: [file.body.id], task, options: task === 'fetch-url' ? { url: `${base}/source.bin` } : {} });
      expect([task, refused.status, refused.body.missingActions, refused.body.detail]).toEqual([task, 403, ['mfile:write'], expect.stringContaining(task)]);
    }
    const pipeline = await jobsOnly.post('/jobs', { mfileIds: [file.body.id], pipeline: 'manual' });
    expect([pipeline.status, pipeline.body.missingActions]).toEqual([403, ['mfile:write']]);
    // tasks that only read are still its to run
    expect((await jobsOnly.post('/jobs', { mfileIds: [file.body.id], task: 'md5' })).status).toBe(201);
    expect((await customer.get(`/mfiles/${file.body.id}/content`)).text).toBe('placeholder');

    // a key that may write asks; it is revoked while the task runs: the worker checks again and keeps nothing
    const writer = await derive(['job:create', 'job:read', 'mfile:read', 'mfile:write']);
    let release!: () => void;
    hold = new Promise<void>((resolve) => (release = resolve));
    const asked = received.filter((hit) => hit.path === '/held').length;
    const job = await admin.as(writer.key).post('/jobs', { mfileIds: [file.body.id], task: 'fetch-url', options: { url: `${base}/held` } });
    expect(job.status).toBe(201);
    await eventually(async () => received.filter((hit) => hit.path === '/held').length > asked || undefined, 'the task to ask the server');
    expect((await customer.delete(`/keys/${writer.id}`)).status).toBe(200);
    release();
    hold = undefined;
    const done = await finished(customer, job.body.id);
    expect(done).toMatchObject({ state: 'failed', error: expect.stringContaining('has been revoked') });
    expect(done.error).toContain('mfile:write');
    const after = (await customer.get(`/mfiles/${file.body.id}`)).body;
    expect(after.sha256).toBe(createHash('sha256').update('placeholder').digest('hex'));
    expect((await customer.get(`/mfiles/${file.body.id}/content`)).text).toBe('placeholder');
    // the same with a key that still holds the right replaces the bytes
    const still = await derive(['job:create', 'job:read', 'mfile:write']);
    const allowed = await admin.as(still.key).post('/jobs', { mfileIds: [file.body.id], task: 'fetch-url', options: { url: `${base}/held` } });
    expect(await finished(customer, allowed.body.id)).toMatchObject({ state: 'succeeded', result: { changed: true } });
    expect((await customer.get(`/mfiles/${file.body.id}/content`)).text).toBe('held v1');
  }, 60_000);

  it('refuses every address but global unicast (and this host) for webhooks and fetch-url, and does not retry a refused delivery', async () => {
    const strict = await startTestApp();
    const strictWorker = startRole('worker', { ...sharedWith(strict.config), LOG_LEVEL: 'warn' }, ['--queues', 'normal:2']);
    try {
      const strictAdmin = new Client(strict.api, strict.adminKey);
      const tenant = await makeTenant(strictAdmin);
      const serviceAdmin = strictAdmin.as(tenant.serviceAdminKey);
      const hooks = `/services/${tenant.serviceId}/webhooks`;
      const refused = await serviceAdmin.post(hooks, { url: `${base}/hook` });
      expect(refused.status).toBe(400);
      expect(refused.body.detail).toContain('is not a public address: a loopback address');
      // one address of every range that is not global unicast, and this host's own addresses
      const own = Object.values(networkInterfaces())
        .flatMap((entries) => entries ?? [])
        .filter((entry) => !entry.internal && !entry.address.includes('%'))
        .map((entry) => entry.address);
      const addresses = [
        ...['0.0.0.0', '10.1.2.3', '100.64.0.1', '127.0.0.1', '169.254.169.254', '172.16.0.1', '192.0.0.8', '192.0.2.1', '192.168.1.1'],
        ...['198.18.0.1', '198.51.100.7', '203.0.113.9', '224.0.0.1', '240.0.0.1', '255.255.255.255'],
        ...['::', '::1', 'fe80::1', 'fe90::1', 'febf::1', 'fec0::1', 'fd00::1', 'ff02::1', '100::1', '::ffff:127.0.0.1', '::ffff:0:7f00:1', '::7f00:1'],
        ...['64:ff9b::7f00:1', '64:ff9b:1::1', '2002:7f00:1::', '2001::1', '2001:db8::1', '3fff::1'],
        ...own,
      ];
      const url = (address: string, path: string) => (address.includes(':') ? `http://[${address}]:${new URL(base).port}${path}` : `http://${address}${path}`);
      for (const address of addresses) {
        const answer = await serviceAdmin.post(hooks, { url: url(address, '/hook') });
        expect([address, answer.status, answer.headers.get('content-type')]).toEqual([address, 400, expect.stringContaining('application/problem+json')]);
        expect([address, answer.body.detail]).toEqual([address, expect.stringContaining('is not a public address')]);
      }
      expect((await serviceAdmin.get(hooks)).body.items).toHaveLength(0);

      // fetch-url: the worker refuses to connect (the job fails saying why, and is not retried)
      const customer = strictAdmin.as(tenant.customerKey);
      const receivedBefore = received.length;
      const file = await customer.upload(tenant.serviceId, 'fetched.bin', Buffer.from('before'));
      for (const address of [...addresses, hostname()]) {
        const job = await customer.post('/jobs', { mfileIds: [file.body.id], task: 'fetch-url', options: { url: url(address, '/source.bin') } });
        expect(job.status).toBe(201);
        const done = await eventually(async () => {
          const seen = (await customer.get(`/jobs/${job.body.id}`)).body;
          return ['succeeded', 'failed'].includes(seen.state) ? seen : undefined;
        }, `fetch-url from ${address}`);
        expect([address, done.state, done.attempts, done.error]).toEqual([address, 'failed', 1, expect.stringContaining('is not a public address')]);
      }
      expect((await customer.get(`/mfiles/${file.body.id}`)).body.size).toBe(6);
      expect(received.length).toBe(receivedBefore);

      // a name checked at delivery (this machine's own name resolves to one of its own addresses): refused once, not retried
      await serviceAdmin.put(`/services/${tenant.serviceId}/profile`, { ingest: { steps: [{ task: 'md5' }] } });
      const port = new URL(base).port;
      const hook = await serviceAdmin.post(hooks, { url: `http://${hostname()}:${port}/hook` });
      expect(hook.status).toBe(201);
      const hooked = await customer.upload(tenant.serviceId, 'hooked.txt', Buffer.from('notify me'));
      const md5 = await eventually(async () => {
        const jobs = (await customer.get(`/mfiles/${hooked.body.id}/jobs`)).body.items as { state: string; id: string }[];
        return jobs.find((job) => job.state === 'succeeded');
      }, 'the md5 job');
      const deliveries = strict.app.get(QueueRegistry).get(QueueName.Webhooks);
      // read again once it reached a final state (a copy read while it moved between lists has that moment's fields)
      const deliveryId = `${hook.body.id}-${md5.id}-succeeded`;
      const delivery = await eventually(async () => {
        const found = await deliveries.getJob(deliveryId);
        return found && ['failed', 'completed'].includes(await found.getState()) ? deliveries.getJob(deliveryId) : undefined;
      }, 'the delivery attempt');
      expect([await delivery.getState(), delivery.attemptsMade, delivery.failedReason]).toEqual([
        'failed',
        1,
        expect.stringContaining('is not a public address'),
      ]);
      expect(received.filter((hit) => hit.path === '/hook' && hit.headers['idempotency-key'] === `${hook.body.id}-${md5.id}-succeeded`)).toHaveLength(0);
    } finally {
      strictWorker.kill('SIGTERM');
      await waitForExit(strictWorker).catch(() => undefined);
      await strict.close();
    }
  }, 120_000);
});

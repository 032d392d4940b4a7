import sharp from 'sharp';
import { appWithWorker, FINAL_JOB_STATES } from '../support/app-with-worker';
import { contractClients } from '../support/contract';
import { eventually } from '../support/processes';

/**
 * The contract holds for real answers: a tenant's life driven through the client generated from docs/openapi.json
 * (openapi-fetch over openapi-typescript's types), every answer checked against the document — its status declared,
 * its JSON body matching the schema with no field the schema does not name. A picture is uploaded so that jobs run
 * on a real worker and leave renditions and outputs to read.
 */
describe('the API answers as its OpenAPI contract says (real api, real worker)', () => {
  const env = appWithWorker('mserve-contract-');

  it('every answer of a tenant’s life matches its declared status and schema', async () => {
    const { as, check } = contractClients(env.app.baseUrl);
    const provider = as(env.app.adminKey);
    const ok = <T extends { data?: unknown; error?: unknown; response: Response }>(result: T): NonNullable<T['data']> => {
      if (!result.response.ok) throw new Error(`${result.response.status}: ${JSON.stringify(result.error)}`);
      return result.data as NonNullable<T['data']>;
    };

    // the provider: who am I, users, a container and its profiles
    ok(await provider.GET('/api/v1/me'));
    ok(await provider.GET('/api/v1/tasks'));
    ok(await provider.GET('/api/v1/users'));
    const user = ok(await provider.POST('/api/v1/users', { body: { username: `contract-${Date.now()}`, password: 'a long enough passphrase 42' } }));
    ok(await provider.PATCH('/api/v1/users/{id}', { params: { path: { id: user.id } }, body: { disabled: true } }));
    const container = ok(await provider.POST('/api/v1/containers', { body: { name: `contract-${Date.now()}` } }));
    ok(await provider.GET('/api/v1/containers'));
    const containerAdmin = as(container.key);
    const byContainer = { params: { path: { id: container.id } } };
    ok(await containerAdmin.GET('/api/v1/containers/{id}', byContainer));
    ok(await containerAdmin.PATCH('/api/v1/containers/{id}', { ...byContainer, body: { description: 'checked against the contract' } }));
    ok(
      await containerAdmin.PUT('/api/v1/containers/{id}/profiles/{name}', {
        params: { path: { id: container.id, name: 'checksums' } },
        body: { ingest: { steps: [{ name: 'md5', task: 'md5' }] } } as never,
      }),
    );
    ok(await containerAdmin.GET('/api/v1/containers/{id}/profiles', byContainer));

    // a service, its profile, folders and webhooks
    const service = ok(await containerAdmin.POST('/api/v1/containers/{id}/services', { ...byContainer, body: { name: 'contract-svc' } }));
    ok(await containerAdmin.GET('/api/v1/containers/{id}/services', byContainer));
    const admin = as(service.key);
    const byService = { params: { path: { id: service.id } } };
    ok(await admin.GET('/api/v1/services/{id}', byService));
    ok(await admin.PATCH('/api/v1/services/{id}', { ...byService, body: { description: 'contract' } }));
    ok(await admin.GET('/api/v1/services/{id}/profile', byService));
    const webhook = ok(
      await admin.POST('/api/v1/services/{id}/webhooks', { ...byService, body: { url: 'https://example.org/hook', events: ['mfile.created'] } }),
    );
    ok(await admin.GET('/api/v1/services/{id}/webhooks', byService));
    ok(await admin.DELETE('/api/v1/services/{id}/webhooks/{webhookId}', { params: { path: { id: service.id, webhookId: webhook.id } } }));
    const folder = ok(await admin.POST('/api/v1/mfolders/{id}/mfolders', { params: { path: { id: service.rootFolderId } }, body: { name: 'pictures' } }));
    ok(await admin.GET('/api/v1/mfolders/{id}/mfolders', { params: { path: { id: service.rootFolderId } } }));
    ok(await admin.PATCH('/api/v1/mfolders/{id}', { params: { path: { id: folder.id } }, body: { name: 'photos' } }));
    ok(await admin.GET('/api/v1/mfolders/{id}', { params: { path: { id: folder.id } } }));

    // a picture: uploaded raw, its ingest run, renditions, jobs, outputs and usage
    const picture = await sharp({ create: { width: 640, height: 480, channels: 3, background: { r: 200, g: 80, b: 40 } } })
      .jpeg()
      .toBuffer();
    const raw = { bodySerializer: (body: unknown) => body as Buffer, headers: { 'Content-Type': 'application/octet-stream' } };
    const uploaded = ok(
      await admin.POST('/api/v1/services/{id}/mfiles', {
        ...byService,
        params: { ...byService.params, query: { name: 'a.jpg' } },
        body: picture as never,
        ...raw,
      }),
    );
    expect(uploaded.ingest?.jobs.length).toBeGreaterThan(0);
    const byFile = { params: { path: { id: uploaded.id } } };
    const jobs = await eventually(async () => {
      const page = ok(await admin.GET('/api/v1/mfiles/{id}/jobs', byFile));
      return page.items.every((job) => FINAL_JOB_STATES.includes(job.state)) && page.items;
    }, 'the ingest jobs to end');
    expect(jobs.filter((job) => job.state === 'failed')).toEqual([]);
    const file = ok(await admin.GET('/api/v1/mfiles/{id}', byFile));
    expect(file.metadata.renditions?.thumbnail).toBeDefined();
    ok(await admin.GET('/api/v1/services/{id}/mfiles', byService));
    ok(await admin.GET('/api/v1/mfolders/{id}/mfiles', { params: { path: { id: service.rootFolderId } } }));
    ok(await admin.PATCH('/api/v1/mfiles/{id}', { ...byFile, body: { folderId: folder.id } }));
    ok(await admin.GET('/api/v1/services/{id}/jobs', byService));
    const thumbnailJob = jobs.find((job) => job.task === 'thumbnail')!;
    const byJob = { params: { path: { id: thumbnailJob.id } } };
    ok(await admin.GET('/api/v1/jobs/{id}', byJob));
    const outputs = ok(await admin.GET('/api/v1/jobs/{id}/outputs', byJob));
    ok(await admin.GET('/api/v1/joboutputs/{id}', { params: { path: { id: outputs.items[0].id } } }));
    const promoted = ok(await admin.POST('/api/v1/joboutputs/{id}/mfile', { params: { path: { id: outputs.items[0].id } } }));
    expect(promoted.key).toMatch(/^msk_/);
    ok(await admin.GET('/api/v1/jobs/{id}/usage', byJob));
    ok(await admin.GET('/api/v1/joboutputs/{id}/usage', { params: { path: { id: outputs.items[0].id } } }));

    // a manual job, one per file with each: true, and a cancel of a finished job (a problem, declared)
    const created = ok(await admin.POST('/api/v1/jobs', { body: { task: 'md5', mfileIds: [uploaded.id] } }));
    if ('items' in created) throw new Error('one job was asked for');
    const md5 = created;
    const each = ok(await admin.POST('/api/v1/jobs', { body: { task: 'md5', mfileIds: [uploaded.id, promoted.id], each: true } }));
    expect('items' in each && each.items).toHaveLength(2);
    await eventually(async () => ok(await admin.GET('/api/v1/jobs/{id}', { params: { path: { id: md5.id } } })).state === 'succeeded', 'the md5 job');
    const refused = await admin.POST('/api/v1/jobs/{id}/cancel', { params: { path: { id: md5.id } } });
    expect(refused.response.status).toBe(409);

    // usage: recorded by the application, read as JSON
    const usage = ok(
      await admin.POST('/api/v1/services/{id}/usage', { ...byService, body: { items: [{ metric: 'pages', value: 3, idempotencyKey: 'contract-1' }] } }),
    );
    expect(usage).toEqual({ recorded: 1, repeated: 0 });
    ok(await admin.POST('/api/v1/mfiles/{id}/usage', { ...byFile, body: { items: [{ metric: 'views', value: 1, idempotencyKey: 'contract-2' }] } }));
    ok(await admin.GET('/api/v1/services/{id}/usage', byService));
    ok(await admin.GET('/api/v1/mfiles/{id}/usage', byFile));
    ok(
      await containerAdmin.GET('/api/v1/containers/{id}/usage', {
        ...byContainer,
        params: { ...byContainer.params, query: { groupBy: 'service', bucket: 'total' } },
      }),
    );
    ok(await provider.GET('/api/v1/usage', { params: { query: { bucket: 'month' } } }));

    // keys: derive a read-only one, list, read, revoke; it is refused afterwards (401, a problem)
    const viewer = ok(await admin.POST('/api/v1/keys', { body: { label: 'viewer', actions: ['mfile:read'] } as never }));
    ok(await admin.GET('/api/v1/keys'));
    ok(await admin.GET('/api/v1/keys/{id}', { params: { path: { id: viewer.id } } }));
    ok(await as(viewer.key).GET('/api/v1/mfiles/{id}', byFile));
    const forbidden = await as(viewer.key).DELETE('/api/v1/mfiles/{id}', byFile);
    expect(forbidden.response.status).toBe(403);
    ok(await admin.DELETE('/api/v1/keys/{id}', { params: { path: { id: viewer.id } } }));
    expect((await as(viewer.key).GET('/api/v1/mfiles/{id}', byFile)).response.status).toBe(401);

    // a chunked upload in two ranges, then the file replaced, moved away and deleted
    const text = Buffer.from('hello, contract\n'.repeat(64));
    const bytes = { bodySerializer: (body: unknown) => body as Buffer, headers: { 'Content-Type': 'application/octet-stream' } };
    const range = (from: number, to: number) => ({ 'Content-Range': `bytes ${from}-${to}/${text.length}` });
    const session = ok(
      await admin.POST('/api/v1/services/{id}/chunked-uploads', {
        params: { path: { id: service.id }, query: { name: 'c.txt' }, header: range(0, 99) },
        body: text.subarray(0, 100) as never,
        ...bytes,
      }),
    );
    expect(session.missing).toEqual([[100, text.length - 1]]);
    const path = { id: service.id, uploadId: session.id };
    ok(await admin.GET('/api/v1/services/{id}/chunked-uploads/{uploadId}', { params: { path } }));
    const last = ok(
      await admin.PUT('/api/v1/services/{id}/chunked-uploads/{uploadId}', {
        params: { path, header: range(100, text.length - 1) },
        body: text.subarray(100) as never,
        ...bytes,
      }),
    );
    expect(last.complete).toBe(true);
    ok(await admin.PUT('/api/v1/mfiles/{id}/content', { params: { path: { id: last.mfileId! } }, body: Buffer.from('new bytes') as never, ...raw }));
    ok(await admin.DELETE('/api/v1/mfiles/{id}', { params: { path: { id: last.mfileId! } } }));
    expect((await admin.GET('/api/v1/mfiles/{id}', { params: { path: { id: last.mfileId! } } })).response.status).toBe(404);

    // tus: discovery, creation, the bytes, the offset; the Mfile named in the headers
    const tus = { 'Tus-Resumable': '1.0.0' };
    expect((await admin.OPTIONS('/api/v1/services/{id}/uploads', byService)).response.status).toBe(204);
    const opened = await admin.POST('/api/v1/services/{id}/uploads', {
      params: { path: { id: service.id }, header: tus },
      headers: { 'Upload-Length': '11', 'Upload-Metadata': `filename ${Buffer.from('t.txt').toString('base64')}` },
    });
    expect(opened.response.status).toBe(201);
    const uploadId = opened.response.headers.get('location')!.split('/').pop()!;
    const tusPath = { path: { id: service.id, uploadId } };
    const patched = await admin.PATCH('/api/v1/services/{id}/uploads/{uploadId}', {
      params: tusPath,
      body: Buffer.from('hello world') as never,
      bodySerializer: (body: unknown) => body as Buffer,
      headers: { ...tus, 'Content-Type': 'application/offset+octet-stream', 'Upload-Offset': '0' },
    });
    expect(patched.response.status).toBe(204);
    expect(patched.response.headers.get('mfile-id')).toMatch(/^[0-9a-f-]{36}$/);
    expect((await admin.HEAD('/api/v1/services/{id}/uploads/{uploadId}', { params: tusPath, headers: tus })).response.headers.get('upload-offset')).toBe('11');

    // the service's own profile, saved and reset; a key given to a user's wallet and taken back
    const steps = [{ name: 'mime', task: 'mime', options: {}, after: [] }];
    expect(ok(await admin.PUT('/api/v1/services/{id}/profile', { ...byService, body: { ingest: { steps } } })).source).toBe('service');
    expect(ok(await admin.DELETE('/api/v1/services/{id}/profile', byService)).source).not.toBe('service');
    const given = ok(await provider.PUT('/api/v1/users/{id}/keys', { params: { path: { id: user.id } }, body: { key: service.customerKey } }));
    expect(ok(await provider.GET('/api/v1/users/{id}/keys', { params: { path: { id: user.id } } })).items.map((key) => key.id)).toContain(given.id);
    ok(await provider.DELETE('/api/v1/users/{id}/keys/{keyId}', { params: { path: { id: user.id, keyId: given.id } } }));
    const unusable = await provider.PUT('/api/v1/users/{id}/keys', { params: { path: { id: user.id } }, body: { key: 'msk_not-a-key' } });
    expect(unusable.response.status).toBe(422);

    // the session of a browser with no login yet
    ok(await as().GET('/api/v1/session'));
    // a container a service's key cannot reach is not found (404); a malformed body is a 400, problems both
    expect((await admin.POST('/api/v1/containers/{id}/services', { ...byContainer, body: { name: 'x' } })).response.status).toBe(404);
    expect((await containerAdmin.POST('/api/v1/containers/{id}/services', { ...byContainer, body: { name: 42 } as never })).response.status).toBe(400);

    expect(check.violations).toEqual([]);
    // what was checked: at least these operations, successes and problems
    for (const name of [
      'mfiles.upload 201',
      'mfiles.get 200',
      'jobs.listForMfile 200',
      'jobs.create 201',
      'jobs.cancel 409',
      'jobOutputs.promote 201',
      'keys.derive 201',
      'keys.revoke 200',
      'mfiles.get 401',
      'mfiles.remove 403',
      'services.create 400',
      'services.create 404',
      'uploads.chunked.chunk 201',
      'uploads.chunked.start 201',
      'uploads.tus.create 201',
      'uploads.tus.patch 204',
      'users.give 422',
      'profiles.put 200',
      'usage.service 200',
      'session.state 200',
    ]) {
      expect([...check.checked]).toContain(name);
    }
    expect(check.checked.size).toBeGreaterThan(50);
  });
});

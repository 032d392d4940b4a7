import { DataSource } from 'typeorm';
import { dataSourceOptions } from '../../src/persistence/data-source';
import { Client, makeTenant } from '../support/client';
import { startTestApp, TestApp } from '../support/test-app';

describe('platform surface', () => {
  let app: TestApp;

  beforeAll(async () => {
    app = await startTestApp();
  });
  afterAll(() => app.close());

  it('health: live and ready with every dependency checked', async () => {
    expect((await fetch(`${app.baseUrl}/health/live`)).status).toBe(200);
    const ready = await fetch(`${app.baseUrl}/health/ready`);
    expect(ready.status).toBe(200);
    const body: any = await ready.json();
    expect(body.status).toBe('up');
    expect(Object.keys(body.checks).sort()).toEqual(['database', 'redis', 'storage']);
  });

  it('Prometheus metrics in text format, including HTTP timings and queue depths', async () => {
    await fetch(`${app.api}/tasks`);
    const reply = await fetch(`${app.baseUrl}/metrics`);
    expect(reply.headers.get('content-type')).toContain('text/plain');
    const text = await reply.text();
    expect(text).toContain('mserve_http_request_duration_seconds_bucket');
    expect(text).toMatch(/mserve_queue_jobs\{queue="normal",state="waiting"\} \d+/);
    expect(text).toContain('mserve_process_resident_memory_bytes');
  });

  it('OpenAPI states the action a key needs for every operation', async () => {
    const document: any = await (await fetch(`${app.baseUrl}/api/docs-json`)).json();
    const operations = Object.entries(document.paths as Record<string, Record<string, Record<string, unknown>>>).flatMap(([path, methods]) =>
      Object.entries(methods).map(([method, operation]) => ({ path, method, operation })),
    );
    expect(operations.length).toBeGreaterThan(35);
    const missing = operations.filter(({ operation }) => !operation['x-mserve-action']);
    expect(missing.map(({ method, path }) => `${method} ${path}`)).toEqual([]);
    const upload = document.paths['/api/v1/services/{id}/mfiles'].post;
    expect(upload['x-mserve-action']).toBe('mfile:create');
    expect(document.components.securitySchemes).toHaveProperty('key');
    expect((await fetch(`${app.baseUrl}/api/docs`)).status).toBe(200);
  });

  it('echoes a request id and puts it in problem bodies', async () => {
    const reply = await fetch(`${app.api}/containers`, { headers: { 'x-request-id': 'trace-123' } });
    expect(reply.status).toBe(401);
    expect(reply.headers.get('x-request-id')).toBe('trace-123');
    expect(((await reply.json()) as { requestId: string }).requestId).toBe('trace-123');
    const generated = await fetch(`${app.api}/containers`, { headers: { 'x-request-id': 'bad id with spaces' } });
    expect(generated.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('unknown ids are 404, malformed ids are 404, not 500', async () => {
    const admin = new Client(app.api, app.adminKey);
    for (const path of [
      '/containers/not-a-uuid',
      '/services/00000000-0000-4000-8000-000000000000',
      '/mfiles/%E2%82%AC',
      '/jobs/1',
      '/joboutputs/x',
      '/mfolders/y',
    ]) {
      const reply = await admin.get(path);
      expect([path, reply.status]).toEqual([path, 404]);
      expect(reply.headers.get('content-type')).toContain('application/problem+json');
    }
    expect((await admin.get('/keys/not-a-uuid')).status).toBe(400);
  });

  it('the task registry lists each task with its queue, inputs, options and results', async () => {
    const reply = await new Client(app.api).get('/tasks');
    expect(reply.body.items.map((task: { name: string }) => task.name)).toEqual([
      'md5',
      'sha256',
      'fixity',
      'backup',
      'retrieve',
      'fetch-url',
      'webhook',
      'mime',
      'image-metadata',
      'thumbnail',
      'poster',
      'video-metadata',
      'video-poster',
      'video-proxy',
      'transcode',
    ]);
    expect(reply.body.items[0]).toMatchObject({ defaultQueue: 'normal', inputs: ['*/*'], options: {} });
    const thumbnail = reply.body.items.find((task: { name: string }) => task.name === 'thumbnail');
    expect(thumbnail.options.width).toMatchObject({ type: 'integer', default: 210, minimum: 8 });
    expect(thumbnail.options.format).toMatchObject({ type: 'string', default: 'jpeg', enum: ['jpeg', 'webp', 'png'] });
    expect(thumbnail.outputs).toHaveProperty('thumbnail');
  });

  it('entities and migrations agree (no schema change left ungenerated)', async () => {
    const dataSource = new DataSource(dataSourceOptions(process.env.DATABASE_URL!));
    await dataSource.initialize();
    try {
      const pending = await dataSource.driver.createSchemaBuilder().log();
      expect(pending.upQueries.map((query) => query.query)).toEqual([]);
    } finally {
      await dataSource.destroy();
    }
  });

  it('every foreign key column has an index', async () => {
    const unindexed = await app.dataSource.query(`
      SELECT c.conrelid::regclass::text AS table_name, a.attname AS column_name
        FROM pg_constraint c
        JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
       WHERE c.contype = 'f'
         AND NOT EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.conrelid AND i.indkey[0] = c.conkey[1])`);
    expect(unindexed).toEqual([]);
  });
});

/** Issue 16, item 14: tenant usage on /metrics only for a provider key with usage:read, and bounded in series. */
describe('metrics: tenant usage series', () => {
  let app: TestApp;

  beforeAll(async () => {
    app = await startTestApp({ METRICS_USAGE_TOP_SERVICES: '2' });
  });
  afterAll(() => app.close());

  const scrape = async (key?: string) => {
    const reply = await fetch(`${app.baseUrl}/metrics`, { headers: key ? { authorization: `Bearer ${key}` } : {} });
    expect(reply.status).toBe(200);
    return (await reply.text()).split('\n').filter((line) => line.startsWith('mserve_usage_total{'));
  };

  it('refuses tenant series to provider keys without usage:read, and bounds them to the top N services plus "(other)"', async () => {
    const admin = new Client(app.api, app.adminKey);
    const tenants = [];
    for (let i = 0; i < 4; i += 1) {
      const tenant = await makeTenant(admin);
      expect((await admin.as(tenant.customerKey).upload(tenant.serviceId, 'a.bin', new Uint8Array(1000 * (i + 1)))).status).toBe(201);
      tenants.push(tenant);
    }
    // a provider-wide key without usage:read (and one with nothing but it) sees no tenant's figures
    const narrow = await admin.post('/keys', { actions: ['container:read', 'key:create'] });
    expect(narrow.status).toBe(201);
    expect(narrow.body.resource.type).toBe('provider');
    expect(await scrape(narrow.body.key)).toEqual([]);
    expect(await scrape()).toEqual([]);
    expect(await scrape(tenants[0].customerKey)).toEqual([]);
    // the admin key: per metric at most 2 services and one "(other)" series, whatever the number of services
    const lines = await scrape(app.adminKey);
    const perMetric = new Map<string, string[]>();
    for (const line of lines) {
      const metric = /metric="([^"]+)"/.exec(line)![1];
      perMetric.set(metric, [...(perMetric.get(metric) ?? []), line]);
    }
    expect(perMetric.get('ingest')?.length).toBe(3);
    for (const [metric, series] of perMetric) expect([metric, series.length <= 3]).toEqual([metric, true]);
    const other = perMetric.get('ingest')!.find((line) => line.includes('service="(other)"'));
    expect(other).toMatch(/container="\(other\)"/);
    // nothing is lost: the series of a metric add up to at least what these four tenants sent
    const ingest = perMetric.get('ingest')!.reduce((sum, line) => sum + Number(line.split(' ').pop()), 0);
    expect(ingest).toBeGreaterThanOrEqual(1000 + 2000 + 3000 + 4000);
    // a provider key that holds usage:read sees them too
    const reader = await admin.post('/keys', { actions: ['usage:read'] });
    expect((await scrape(reader.body.key)).length).toBe(lines.length);
  });
});

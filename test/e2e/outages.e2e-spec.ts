import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';
import { EmbeddedPostgresHandle, startEmbeddedPostgres } from '../../src/infrastructure/embedded-postgres';
import { LocalRedisHandle, startLocalRedis } from '../../src/infrastructure/local-redis';
import { runMigrations } from '../../src/persistence/data-source';
import { Client, makeTenant } from '../support/client';
import { dav, davPath } from '../support/dav';
import { freePort } from '../support/free-port';
import { eventually, ROOT, waitForExit } from '../support/processes';
import { SessionClient } from '../support/session-client';
import { startTestApp, TestApp } from '../support/test-app';

/**
 * Dependency outages against a real api: PostgreSQL and Redis of this suite's own (so stopping them disturbs no other
 * suite), stopped, hung (SIGSTOP) and brought back while requests arrive. While a dependency is down every answer that
 * needs it is a 503 problem with Retry-After (never a 500 and never a hang), readiness names it, and once it is back
 * everything works again without restarting the api.
 */
describe('dependency outages: PostgreSQL and Redis down, hung and back', () => {
  let work: string;
  let postgres: EmbeddedPostgresHandle;
  let redisServer: LocalRedisHandle;
  let pgPort: number;
  let redisPort: number;
  let app: TestApp;
  let admin: Client;
  let customer: Client;
  let tenant: Awaited<ReturnType<typeof makeTenant>>;
  let fileId: string;
  const stopped: number[] = [];

  const startPostgres = () =>
    startEmbeddedPostgres({ dataDir: join(work, 'postgres'), secretFile: join(work, 'postgres.secret'), port: pgPort, log: () => undefined });
  const startRedis = () => startLocalRedis({ dataDir: join(work, 'redis'), secretFile: join(work, 'redis.secret'), port: redisPort, log: () => undefined });
  const ready = async () => {
    const reply = await fetch(`${app.baseUrl}/health/ready`);
    return { status: reply.status, body: (await reply.json()) as { status: string; checks: Record<string, { status: string }> } };
  };
  /** A 503 problem with Retry-After naming the dependency: what every request needing it must get while it is down. */
  const expectOutage = (reply: { status: number; headers: Headers | Record<string, unknown>; body?: unknown; text: string }, dependency: string) => {
    const header = (name: string) => (reply.headers instanceof Headers ? reply.headers.get(name) : (reply.headers[name] as string | undefined));
    expect({ status: reply.status, text: reply.text }).toMatchObject({ status: 503 });
    expect(header('content-type')).toMatch(/^application\/problem\+json/);
    expect(Number(header('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(JSON.parse(reply.text)).toMatchObject({ status: 503, dependency });
  };
  /** PostgreSQL's processes: the postmaster (its pid file) first, then its children (backends, checkpointer, ...). */
  const postgresProcesses = (): number[] => {
    const postmaster = Number(readFileSync(join(work, 'postgres', 'postmaster.pid'), 'utf8').split('\n')[0]);
    const children = execFileSync('ps', ['-o', 'pid=', '--ppid', String(postmaster)], { encoding: 'utf8' })
      .split('\n')
      .map((line) => Number(line.trim()))
      .filter((pid) => pid > 0);
    return [postmaster, ...children];
  };
  const resumePostgres = () => {
    for (const pid of stopped.splice(0)) {
      try {
        process.kill(pid, 'SIGCONT');
      } catch {
        // gone already
      }
    }
  };

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'mserve-outages-'));
    pgPort = await freePort();
    redisPort = await freePort();
    postgres = await startPostgres();
    await runMigrations(postgres.url);
    redisServer = await startRedis();
    app = await startTestApp({
      DATABASE_URL: postgres.url,
      REDIS_URL: redisServer.url,
      // this database serves this suite only: the reconciler may put its queued jobs back
      JOB_RECONCILER: 'true',
      DATABASE_CONNECT_TIMEOUT_MS: '3000',
      DATABASE_QUERY_TIMEOUT_MS: '3000',
      REDIS_COMMAND_TIMEOUT_MS: '1000',
    });
    admin = new Client(app.api, app.adminKey);
    tenant = await makeTenant(admin);
    customer = admin.as(tenant.customerKey);
    // the ingest pipeline's job waits on a queue no worker serves: whether it reached Redis is what we look at
    expect(
      (await admin.as(tenant.serviceAdminKey).put(`/services/${tenant.serviceId}/profile`, { ingest: { steps: [{ task: 'md5', queue: 'hardware.outage' }] } }))
        .status,
    ).toBe(200);
    const file = await customer.upload(tenant.serviceId, 'before.txt', Buffer.from('stored before the outages'));
    expect(file.status).toBe(201);
    fileId = file.body.id;
  });

  afterAll(async () => {
    resumePostgres();
    await app?.close().catch(() => undefined);
    await redisServer?.stop().catch(() => undefined);
    await postgres?.stop().catch(() => undefined);
    rmSync(work, { recursive: true, force: true });
  });

  const worksAgain = async () => {
    await eventually(async () => (await ready()).status === 200, 'readiness to come back by itself', 60_000, 200);
    expect((await customer.get(`/mfiles/${fileId}`)).status).toBe(200);
    const listing = await dav(app.baseUrl, tenant.customerKey, 'PROPFIND', '/dav/', { headers: { depth: '1' } });
    expect(listing.status).toBe(207);
    expect((await customer.upload(tenant.serviceId, `after-${Date.now()}.txt`, Buffer.from('after'))).status).toBe(201);
  };

  it('PostgreSQL stopped: REST and WebDAV answer 503 with Retry-After, readiness names the database, and it all comes back by itself', async () => {
    await postgres.stop();
    try {
      expectOutage(await customer.get(`/mfiles/${fileId}`), 'database');
      expectOutage(await customer.upload(tenant.serviceId, 'during.txt', Buffer.from('refused')), 'database');
      expectOutage(await dav(app.baseUrl, tenant.customerKey, 'PROPFIND', '/dav/', { headers: { depth: '1' } }), 'database');
      expectOutage(await dav(app.baseUrl, tenant.customerKey, 'PUT', davPath('during.txt'), { body: 'refused' }), 'database');
      const probe = await ready();
      expect(probe.status).toBe(503);
      expect(probe.body.checks).toMatchObject({ database: { status: 'down' }, redis: { status: 'up' }, storage: { status: 'up' } });
    } finally {
      postgres = await startPostgres();
    }
    await worksAgain();
  });

  it('PostgreSQL hung (SIGSTOP): requests end with 503 instead of waiting, and after SIGCONT the pool is not wedged', async () => {
    // warm the pool, so some requests meet pooled connections (query timeout) and others new ones (connect timeout)
    await Promise.all(Array.from({ length: 8 }, () => customer.get(`/mfiles/${fileId}`)));
    const [postmaster] = postgresProcesses();
    process.kill(postmaster, 'SIGSTOP'); // no new backends while the rest are stopped
    stopped.push(postmaster);
    for (const pid of postgresProcesses().slice(1)) {
      process.kill(pid, 'SIGSTOP');
      stopped.push(pid);
    }
    try {
      const replies = await Promise.all(Array.from({ length: 25 }, () => customer.get(`/mfiles/${fileId}`)));
      for (const reply of replies) expectOutage(reply, 'database');
      expectOutage(await dav(app.baseUrl, tenant.customerKey, 'PROPFIND', '/dav/', { headers: { depth: '0' } }), 'database');
      const probe = await ready();
      expect(probe.status).toBe(503);
      expect(probe.body.checks.database.status).toBe('down');
    } finally {
      resumePostgres();
    }
    await worksAgain();
    // as many requests at once as the pool has connections (20): every one is served, none is stuck behind a hung one
    const burst = await Promise.all(Array.from({ length: 20 }, () => customer.get(`/mfiles/${fileId}`)));
    expect(burst.map((reply) => reply.status)).toEqual(burst.map(() => 200));
  });

  it('Redis stopped: what needs Redis answers 503 with Retry-After, uploads still commit, and their jobs are dispatched once Redis is back', async () => {
    // the login page was open before Redis went down (its session and CSRF token are in Redis)
    const person = new SessionClient(app.api);
    await person.refresh();
    await redisServer.stop();
    let uploadedJob: string;
    try {
      // a login reads the session and counts attempts in Redis
      const login = await person.login('admin', process.env.ADMIN_PASSWORD!);
      expectOutage(login, 'redis');
      // following jobs needs the pub/sub subscription
      expectOutage(await customer.get(`/services/${tenant.serviceId}/jobs/events`), 'redis');
      // uploads commit: PostgreSQL holds the jobs, the reconciler dispatches them later
      const upload = await customer.upload(tenant.serviceId, 'while-redis-down.txt', Buffer.from('kept'));
      expect(upload.status).toBe(201);
      const put = await dav(app.baseUrl, tenant.customerKey, 'PUT', davPath('dav-while-redis-down.txt'), { body: 'kept too' });
      expect(put.status).toBe(201);
      const jobs = (await customer.get(`/mfiles/${upload.body.id}/jobs`)).body.items;
      expect(jobs).toEqual([expect.objectContaining({ state: 'queued', queue: 'hardware.outage' })]);
      uploadedJob = jobs[0].id;
      const probe = await ready();
      expect(probe.status).toBe(503);
      expect(probe.body.checks).toMatchObject({ database: { status: 'up' }, redis: { status: 'down' }, storage: { status: 'up' } });
    } finally {
      redisServer = await startRedis();
    }
    const redis = new Redis(redisServer.url);
    try {
      await eventually(
        async () => (await redis.exists(`${app.config.queuePrefix}:hardware.outage:${uploadedJob}`)) === 1,
        'the reconciler to dispatch the job',
        60_000,
        200,
      );
    } finally {
      redis.disconnect();
    }
    await worksAgain();
    expect((await new SessionClient(app.api).login('admin', process.env.ADMIN_PASSWORD!)).status).toBe(200);
  });

  it('Redis hung (SIGSTOP): a request that needs Redis answers 503 instead of waiting for it', async () => {
    const pid = Number(
      execFileSync('ps', ['-o', 'pid=', '-C', 'redis-server', '-o', 'args='], { encoding: 'utf8' })
        .split('\n')
        .find((line) => line.includes(`:${redisPort}`))
        ?.trim()
        .split(/\s+/)[0],
    );
    expect(pid).toBeGreaterThan(0);
    const person = new SessionClient(app.api);
    await person.refresh();
    process.kill(pid, 'SIGSTOP');
    try {
      expectOutage(await person.login('admin', process.env.ADMIN_PASSWORD!), 'redis');
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    await eventually(async () => (await new SessionClient(app.api).login('admin', process.env.ADMIN_PASSWORD!)).status === 200, 'logins to work again');
  });

  it('event streams say how soon to reconnect, and are ended when the api shuts down', async () => {
    const opened = await new Promise<{ status: number; first: string; ended: Promise<void> }>((resolve, reject) => {
      const request = httpRequest(
        `${app.api}/services/${tenant.serviceId}/jobs/events`,
        { headers: { authorization: `Bearer ${tenant.customerKey}` } },
        (response) => {
          let text = '';
          const ended = new Promise<void>((done) =>
            response
              .on('end', done)
              .on('error', () => done())
              .on('close', done),
          );
          response.on('data', (chunk: Buffer) => {
            text += chunk.toString();
            if (text.includes('event: ready')) resolve({ status: response.statusCode!, first: text, ended });
          });
        },
      );
      request.on('error', reject);
      request.end();
    });
    expect(opened.status).toBe(200);
    expect(opened.first).toMatch(/^retry: \d+\n\n/);
    // without the stream being ended, close() would wait for it forever (and jest's timeout would fail this test)
    await Promise.all([app.close(), opened.ended]);
    app = undefined as unknown as TestApp;
  });
});

describe('an unhandled promise rejection', () => {
  it('is logged and stops the process gracefully, as an uncaught exception does', async () => {
    const script = `
      const { handleSignals } = require(${JSON.stringify(join(ROOT, 'dist', 'src', 'bootstrap', 'process-lifecycle.js'))});
      const { rootLogger } = require(${JSON.stringify(join(ROOT, 'dist', 'src', 'common', 'logger.js'))});
      handleSignals(rootLogger('info'), async () => { process.stdout.write('stopped gracefully\\n'); }, 1000);
      setInterval(() => undefined, 1000); // something keeps the process alive, as a server does
      Promise.reject(new Error('nobody handled this'));
    `;
    const child = spawn(process.execPath, ['-e', script], { env: { ...process.env, NODE_OPTIONS: '' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exit = await waitForExit(child);
    expect(output).toContain('nobody handled this');
    expect(output).toContain('stopped gracefully');
    expect(exit).toEqual({ code: 1, signal: null });
  });
});

import { createHash } from 'node:crypto';
import pg from 'pg';
import { MIGRATIONS } from '../../migrations';
import { MIGRATION_LOCK_LEFT, runMigrations } from '../../src/persistence/data-source';
import { FINAL_JOB_STATES, JobRow } from '../support/app-with-worker';
import { Client, makeTenant } from '../support/client';
import { dav, davPath, lockBody, lockTokenOf, startApiProcess } from '../support/dav';
import { startPgBouncer, PgBouncer } from '../support/pgbouncer';
import { eventually, startRole, waitForExit } from '../support/processes';
import { startTestApp, TestApp } from '../support/test-app';

/** Server connections PgBouncer opens per database: fewer than the api's and the worker's pools together. */
const SERVER_CONNECTIONS = 3;
const POOLS = 'api:6,worker:4';
const ALL_TIME = 'from=2020-01-01T00:00:00Z&to=2100-01-01T00:00:00Z';

/** Runs `sql` on its own short-lived connection to `url`. */
async function queryOn<T = Record<string, unknown>>(url: string, sql: string, values: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(sql, values)).rows as T[];
  } finally {
    await client.end();
  }
}

/** `url` naming another database on the same server. */
function onDatabase(url: string, database: string): string {
  const other = new URL(url);
  other.pathname = `/${database}`;
  return other.toString();
}

describe('PostgreSQL behind PgBouncer in transaction mode', () => {
  const direct = process.env.DATABASE_URL!;
  let bouncer: PgBouncer;
  let app: TestApp;
  let admin: Client;
  let worker: ReturnType<typeof startRole>;
  /** What every role behind PgBouncer is started with. */
  let pooled: Record<string, string>;

  beforeAll(async () => {
    bouncer = await startPgBouncer(direct, { poolSize: SERVER_CONNECTIONS });
    pooled = { DATABASE_URL: bouncer.url, DATABASE_MIGRATION_URL: direct, DATABASE_PREPARED_STATEMENTS: 'false', DATABASE_POOL_SIZE: POOLS };
    app = await startTestApp(pooled);
    admin = new Client(app.api, app.adminKey);
    worker = startRole('worker', { ...pooled, STORAGE_DIR: app.config.storageDir, QUEUE_PREFIX: app.config.queuePrefix, LOG_LEVEL: 'warn' }, [
      '--queues',
      'normal:4,priority:1',
    ]);
  });
  afterAll(async () => {
    if (worker?.exitCode === null) {
      worker.kill('SIGTERM');
      await waitForExit(worker).catch(() => worker.kill('SIGKILL'));
    }
    await app?.close();
    await bouncer?.stop();
  });

  const level = async (serviceId: string) => {
    const reply = await admin.get(`/services/${serviceId}/usage?bucket=total&metric=disc&${ALL_TIME}`);
    expect(reply.status).toBe(200);
    return reply.body.series[0].total.level as number;
  };
  /** The jobs of a file's ingest run once the backup step (the last) and every other have ended. */
  const endedJobs = (client: Client, mfileId: string) =>
    eventually(
      async () => {
        const items = (await client.get(`/mfiles/${mfileId}/jobs`)).body.items as JobRow[];
        return items.some((job) => job.step === 'backup') && items.every((job) => FINAL_JOB_STATES.includes(job.state)) ? items : undefined;
      },
      `the ingest run of ${mfileId} to end`,
      180_000,
      250,
    );

  it('uploads over REST and WebDAV (a PUT under a LOCK too) run their jobs to the end; usage and the disk quota add up', async () => {
    const tenant = await makeTenant(admin);
    const customer = admin.as(tenant.customerKey);
    const files = Array.from({ length: 20 }, (_, index) => ({ name: `file-${index}.txt`, bytes: Buffer.from(`file ${index} `.repeat(index + 1)) }));
    const viaDav = new Set(files.filter((_, index) => index % 4 === 0).map((file) => file.name));
    const replies = await Promise.all(
      files.map(async (file) => {
        if (!viaDav.has(file.name)) return { status: (await customer.upload(tenant.serviceId, file.name, file.bytes)).status, file };
        return { status: (await dav(app.baseUrl, tenant.customerKey, 'PUT', davPath(file.name), { body: file.bytes })).status, file };
      }),
    );
    expect(replies.map((reply) => [reply.file.name, reply.status])).toEqual(files.map((file) => [file.name, 201]));

    // a LOCK takes a transaction's advisory lock per service (dav-lock.repository): the PUT holding the token
    // passes, one without it is refused, and the UNLOCK lets it through
    const locked = Buffer.from('written under a lock');
    const lock = await dav(app.baseUrl, tenant.customerKey, 'LOCK', davPath('locked.txt'), {
      body: lockBody(),
      headers: { 'content-type': 'application/xml', timeout: 'Second-600' },
    });
    expect(lock.status).toBe(201);
    const token = lockTokenOf(lock)!;
    expect((await dav(app.baseUrl, tenant.customerKey, 'PUT', davPath('locked.txt'), { body: Buffer.from('no token') })).status).toBe(423);
    expect((await dav(app.baseUrl, tenant.customerKey, 'PUT', davPath('locked.txt'), { body: locked, headers: { if: `(<${token}>)` } })).status).toBe(204);
    expect((await dav(app.baseUrl, tenant.customerKey, 'UNLOCK', davPath('locked.txt'), { headers: { 'lock-token': `<${token}>` } })).status).toBe(204);
    files.push({ name: 'locked.txt', bytes: locked });

    const listed = (await customer.get(`/services/${tenant.serviceId}/mfiles?limit=100`)).body.items as Array<{ id: string; name: string; md5: string | null }>;
    expect(listed.map((mfile) => mfile.name).sort()).toEqual(files.map((file) => file.name).sort());
    for (const mfile of listed) {
      const jobs = await endedJobs(customer, mfile.id);
      expect(jobs.filter((job) => job.state !== 'succeeded' && job.state !== 'skipped').map((job) => [job.step, job.state, job.error])).toEqual([]);
      const bytes = files.find((file) => file.name === mfile.name)!.bytes;
      const described = (await customer.get(`/mfiles/${mfile.id}`)).body;
      expect([mfile.name, described.md5]).toEqual([mfile.name, createHash('md5').update(bytes).digest('hex')]);
    }

    // stored: every original and its backup copy (the backup step)
    const used = 2 * files.reduce((sum, file) => sum + file.bytes.length, 0);
    expect(await level(tenant.serviceId)).toBe(used);
    expect((await admin.patch(`/services/${tenant.serviceId}`, { diskQuota: used + 100 })).status).toBe(200);
    const over = await customer.upload(tenant.serviceId, 'over.txt', Buffer.alloc(101, 1));
    expect([over.status, over.body.quota?.name]).toEqual([507, 'diskQuota']);
    // 100 bytes fit; their backup copy then would not, and its job keeps nothing
    expect((await customer.upload(tenant.serviceId, 'fits.txt', Buffer.alloc(100, 1))).status).toBe(201);
    expect(await level(tenant.serviceId)).toBe(used + 100);
  }, 300_000);

  it('many concurrent requests share the few server connections: clients outnumber them, and none is a 500', async () => {
    const tenant = await makeTenant(admin);
    const customer = admin.as(tenant.customerKey);
    const requests = Array.from({ length: 60 }, (_, index) => {
      if (index % 3 === 0) return customer.upload(tenant.serviceId, `burst-${index}.txt`, Buffer.from(`burst ${index}`));
      if (index % 3 === 1) return customer.get(`/services/${tenant.serviceId}/mfiles`);
      return admin.get(`/services/${tenant.serviceId}/usage?bucket=total&${ALL_TIME}`);
    });
    const statuses = (await Promise.all(requests)).map((reply) => reply.status);
    expect(statuses.filter((status) => status !== 200 && status !== 201)).toEqual([]);
    const database = new URL(direct).pathname.slice(1);
    const servers = (await bouncer.admin('SHOW SERVERS')).filter((row) => row.database === database);
    const clients = (await bouncer.admin('SHOW CLIENTS')).filter((row) => row.database === database);
    expect(servers.length).toBeLessThanOrEqual(SERVER_CONNECTIONS);
    expect(clients.length).toBeGreaterThan(SERVER_CONNECTIONS);
    // the api and the worker name their connections: a startup parameter PgBouncer takes without ignore_startup_parameters
    expect(new Set(clients.map((row) => row.application_name))).toEqual(new Set(['mserve-api', 'mserve-worker']));
    expect(worker.exitCode).toBeNull();
  }, 120_000);

  it('left on behind PgBouncer 1.18, named prepared statements are turned off at the first one lost, said in the log, and never a 500', async () => {
    const api = await startApiProcess({ ...pooled, DATABASE_PREPARED_STATEMENTS: 'true' });
    try {
      const tenant = await makeTenant(admin);
      const customer = new Client(api.api, tenant.customerKey);
      const burst = async (round: number) =>
        Promise.all(Array.from({ length: 20 }, (_, index) => customer.upload(tenant.serviceId, `p-${round}-${index}.txt`, Buffer.from(`${round}/${index}`))));
      const statuses: number[] = [];
      // concurrent transactions on 3 server connections: a statement prepared on one is soon missing on another
      for (let round = 0; round < 10 && !api.child.output().includes('DATABASE_PREPARED_STATEMENTS=false'); round++)
        statuses.push(...(await burst(round)).map((reply) => reply.status));
      // said once, in the api's log
      const said = api.child
        .output()
        .split('\n')
        .filter((line) => line.startsWith('{'))
        .map((line) => JSON.parse(line) as { context?: string; msg: string })
        .filter((entry) => entry.context === 'database');
      expect(said.map((entry) => entry.msg)).toEqual([
        expect.stringMatching(
          /^prepared statement "ms_\w+" (already exists|does not exist): DATABASE_URL reaches PostgreSQL through a pooler .* set DATABASE_PREPARED_STATEMENTS=false/,
        ),
      ]);
      expect(statuses.filter((status) => status !== 201 && status !== 503)).toEqual([]);
      // from then on every statement runs unnamed
      expect((await burst(99)).map((reply) => reply.status)).toEqual(Array(20).fill(201));
    } finally {
      await api.stop();
    }
  }, 120_000);

  it('an api behind PgBouncer migrates on DATABASE_MIGRATION_URL, on a connection of its own that it closes', async () => {
    // a fresh database reached only by DATABASE_MIGRATION_URL: the migrations can have come only that way
    const fresh = `mserve_migrate_${Math.random().toString(36).slice(2, 10)}`;
    await queryOn(direct, `CREATE DATABASE ${fresh}`);
    const migrationUrl = onDatabase(direct, fresh);
    const api = await startApiProcess({ ...pooled, DATABASE_MIGRATION_URL: migrationUrl });
    try {
      const applied = await queryOn<{ name: string }>(migrationUrl, 'SELECT name FROM migrations ORDER BY id');
      expect(applied.map((row) => row.name)).toEqual(MIGRATIONS.map((migration) => migration.name));
      // the api serves behind PgBouncer, and no connection to the migrated database (nor its advisory lock) is left
      expect((await new Client(api.api, app.adminKey).get('/containers')).status).toBe(200);
      const left = await queryOn(direct, "SELECT pid FROM pg_stat_activity WHERE datname = $1 OR application_name = 'mserve-migrations'", [fresh]);
      expect(left).toEqual([]);
      expect(await queryOn(direct, "SELECT objid FROM pg_locks WHERE locktype = 'advisory' AND objid = 727274")).toEqual([]);
    } finally {
      await api.stop();
      await queryOn(direct, `DROP DATABASE ${fresh}`);
    }
  }, 120_000);

  /**
   * runMigrations through a PgBouncer that hands transactions to its `poolSize` server connections in turn: the unlock
   * reaches the lock's own connection only when the transactions between them are a multiple of `poolSize`.
   * Returns what runMigrations threw, if anything, and the migration locks then held.
   */
  async function migrateThroughRoundRobin(poolSize: number): Promise<{ caught?: Error; held: unknown[] }> {
    const roundRobin = await startPgBouncer(direct, { poolSize, roundRobin: true });
    // PgBouncer fills a pool to min_pool_size while a client is logged in to its database
    const holder = new pg.Client({ connectionString: roundRobin.url });
    try {
      await holder.connect();
      await eventually(async () => (await roundRobin.admin('SHOW SERVERS')).length === poolSize, 'pgbouncer to open its server connections');
      const caught = await runMigrations(roundRobin.url).then(
        () => undefined,
        (error: Error) => error,
      );
      return { caught, held: await queryOn(direct, "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND objid = 727274") };
    } finally {
      await queryOn(direct, "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND objid = 727274");
      await holder.end();
      await roundRobin.stop();
    }
  }

  it('migrations sent through PgBouncer fail the start, naming DATABASE_MIGRATION_URL, when their lock is left on another server connection', async () => {
    // the transactions between lock and unlock cannot be a multiple of 2, 3, 4 and 5 at once
    const outcomes = [];
    for (const poolSize of [2, 3, 4, 5]) outcomes.push(await migrateThroughRoundRobin(poolSize));
    for (const { caught, held } of outcomes) {
      if (caught) expect([caught.message, held.length]).toEqual([MIGRATION_LOCK_LEFT, 1]);
      else expect(held).toEqual([]);
    }
    expect(outcomes.filter(({ caught }) => caught).length).toBeGreaterThan(0);
  }, 120_000);
});

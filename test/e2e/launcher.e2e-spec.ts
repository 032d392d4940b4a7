import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, Server } from 'node:net';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { MIGRATIONS } from '../../migrations';
import { freePort } from '../support/free-port';
import { alive, killEverything, Launcher, pidFromFile, processesUsing, runningPids, startLauncher, waitUntilReady } from '../support/launcher';
import { eventually, startRole, waitForExit } from '../support/processes';

/**
 * The real launcher (`npm start`'s dist/src/launcher.js) on its embedded defaults, in a temp VAR_DIR with free
 * ports: it supervises PostgreSQL, redis-server, the api and the worker; SIGKILLed servers come back by themselves;
 * SIGTERM stops everything in order and leaves nothing behind; a taken port is reported by its variable.
 */

async function createContainer(port: number, varDir: string, name: string): Promise<number> {
  const key = readFileSync(join(varDir, 'admin.key'), 'utf8').trim();
  const response = await fetch(`http://127.0.0.1:${port}/api/v1/containers`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name }),
  });
  return response.status;
}

const launchers: Launcher[] = [];
const folders: string[] = [];

afterAll(async () => {
  killEverything(launchers, folders);
  for (const folder of folders) rmSync(folder, { recursive: true, force: true });
});

describe('launcher: supervision and shutdown', () => {
  const varDir = mkdtempSync(join(tmpdir(), 'mserve-launcher-'));
  folders.push(varDir);
  let ports: { api: number; postgres: number; redis: number };
  let launcher: Launcher;

  beforeAll(async () => {
    ports = { api: await freePort(), postgres: await freePort(), redis: await freePort() };
  });

  it('restarts redis-server and PostgreSQL after SIGKILL; readiness returns by itself, the api and worker reconnect without a restart', async () => {
    launcher = startLauncher(varDir, ports);
    launchers.push(launcher);
    await waitUntilReady(ports.api, launcher, 'the first start to be ready');
    // migrations ran before the roles: the worker never met a database without its tables
    expect(launcher.output()).toContain('[launcher] applied migrations: ');
    expect(launcher.output()).not.toMatch(/does not exist/);
    const first = runningPids(launcher.output());
    expect(Object.keys(first).sort()).toEqual(['api', 'postgres', 'redis', 'worker']);
    // the roles get glibc malloc's settings (README "Configuration") unless the environment chose its own
    const environ = readFileSync(`/proc/${first.api}/environ`, 'utf8').split('\0');
    expect(environ).toContain(`MALLOC_ARENA_MAX=${process.env.MALLOC_ARENA_MAX ?? '2'}`);
    expect(environ).toContain(`MALLOC_TRIM_THRESHOLD_=${process.env.MALLOC_TRIM_THRESHOLD_ ?? '131072'}`);
    // one worker process per core by default (WORKER_PROCESSES), each its own supervised process
    const workerPids = [...launcher.output().matchAll(/worker \(pid (\d+)\)/g)].map((match) => Number(match[1]));
    expect(new Set(workerPids).size).toBe(availableParallelism());
    expect(workerPids.every(alive)).toBe(true);
    expect(await createContainer(ports.api, varDir, 'before-faults')).toBe(201);

    // redis-server: SIGKILL, then the supervisor restarts it (AOF replay) and everything reconnects
    const redisPid = pidFromFile(join(varDir, 'redis', 'redis-server.pid'));
    expect(redisPid).toBe(first.redis);
    process.kill(redisPid, 'SIGKILL');
    await eventually(async () => launcher.output().includes('redis restarted'), 'redis to be restarted', 120_000, 100);
    expect(launcher.output()).toContain('redis exited unexpectedly (signal SIGKILL); restarting in');
    await waitUntilReady(ports.api, launcher, 'readiness after redis-server was killed');
    expect(pidFromFile(join(varDir, 'redis', 'redis-server.pid'))).not.toBe(redisPid);
    expect(await createContainer(ports.api, varDir, 'after-redis')).toBe(201);

    // the postmaster: SIGKILL, restarted, crash recovery, pools reconnect
    const postmaster = pidFromFile(join(varDir, 'postgres', 'postmaster.pid'));
    expect(postmaster).toBe(first.postgres);
    process.kill(postmaster, 'SIGKILL');
    await eventually(async () => launcher.output().includes('postgres restarted'), 'postgres to be restarted', 180_000, 100);
    expect(launcher.output()).toContain('postgres exited unexpectedly (signal SIGKILL); restarting in');
    await waitUntilReady(ports.api, launcher, 'readiness after PostgreSQL was killed');
    await eventually(async () => (await createContainer(ports.api, varDir, 'after-postgres')) === 201, 'a write after the restart', 60_000, 250);

    // the api and the worker rode both outages out in the same processes
    expect(launcher.output()).not.toMatch(/(api|worker) exited unexpectedly/);
    expect(alive(first.api) && alive(first.worker)).toBe(true);
  }, 600_000);

  it('SIGTERM stops worker, api, Redis and PostgreSQL in order, logs "stopped", leaves no process behind; a second start comes up cleanly', async () => {
    expect(launcher.exitCode).toBeNull();
    const before = {
      ...runningPids(launcher.output()),
      redis: pidFromFile(join(varDir, 'redis', 'redis-server.pid')),
      postgres: pidFromFile(join(varDir, 'postgres', 'postmaster.pid')),
    };
    expect(processesUsing(varDir).length).toBeGreaterThanOrEqual(2); // the postmaster and redis-server, seen by the same probe
    // only the launcher is signalled (what systemd, Docker and kill do), not its process group
    launcher.kill('SIGTERM');
    const exit = await waitForExit(launcher, 120_000);
    const output = launcher.output();
    expect(exit.code).toBe(0);
    const order = ['SIGTERM: stopping', 'stopping worker', 'stopping api', 'stopping redis and postgres', '[launcher] stopped'].map((line) =>
      output.indexOf(line),
    );
    expect(order.every((index) => index >= 0)).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
    for (const [name, pid] of Object.entries(before)) expect({ name, alive: alive(pid) }).toEqual({ name, alive: false });
    expect(processesUsing(varDir)).toEqual([]);

    // the same folder again: a fresh Redis with the same secret (no stale one answering WRONGPASS), the same data
    const again = startLauncher(varDir, ports);
    launchers.push(again);
    await waitUntilReady(ports.api, again, 'the second start to be ready');
    expect(again.output()).not.toMatch(/WRONGPASS|left running by an earlier start|failed/);
    expect(await createContainer(ports.api, varDir, 'second-start')).toBe(201);
    const second = runningPids(again.output());
    process.kill(again.pid!, 'SIGTERM');
    expect((await waitForExit(again, 120_000)).code).toBe(0);
    expect(again.output()).toContain('[launcher] stopped');
    for (const pid of Object.values(second)) expect(alive(pid)).toBe(false);
    expect(processesUsing(varDir)).toEqual([]);
  }, 600_000);

  it('after a launcher was SIGKILLed (no chance to stop anything), the next start stops the Redis and PostgreSQL it left and comes up', async () => {
    const killed = startLauncher(varDir, ports);
    launchers.push(killed);
    await waitUntilReady(ports.api, killed, 'the start to be killed');
    const left = { redis: pidFromFile(join(varDir, 'redis', 'redis-server.pid')), postgres: pidFromFile(join(varDir, 'postgres', 'postmaster.pid')) };
    process.kill(killed.pid!, 'SIGKILL');
    await waitForExit(killed, 60_000);
    // the api and worker notice their launcher is gone (IPC channel) and stop themselves; the servers cannot
    const roles = runningPids(killed.output());
    await eventually(async () => !alive(roles.api) && !alive(roles.worker), 'the orphaned api and worker to stop', 60_000, 100);
    expect(alive(left.redis) && alive(left.postgres)).toBe(true);

    const next = startLauncher(varDir, ports);
    launchers.push(next);
    await waitUntilReady(ports.api, next, 'the start after the killed one');
    expect(next.output()).toContain(`a redis-server left running by an earlier start (pid ${left.redis})`);
    expect(next.output()).toContain(`a PostgreSQL left running by an earlier start (pid ${left.postgres})`);
    expect(alive(left.redis) || alive(left.postgres)).toBe(false);
    expect(await createContainer(ports.api, varDir, 'after-leftovers')).toBe(201);
    process.kill(next.pid!, 'SIGTERM');
    expect((await waitForExit(next, 120_000)).code).toBe(0);
    expect(processesUsing(varDir)).toEqual([]);
  }, 600_000);
});

describe('launcher: a taken port', () => {
  let holder: Server;
  let taken: number;

  beforeAll(async () => {
    // holds the port and hangs up on whoever connects (an old launcher would take it for its Redis)
    holder = createServer((socket) => socket.destroy());
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    taken = (holder.address() as { port: number }).port;
  });
  afterAll(() => new Promise<void>((resolve) => holder.close(() => resolve())));

  it.each([
    ['EMBEDDED_POSTGRES_PORT', 'postgres'],
    ['EMBEDDED_REDIS_PORT', 'redis'],
    ['PORT', 'api'],
  ] as const)(
    'is reported with its number and %s, and nothing is left running',
    async (variable, which) => {
      const varDir = mkdtempSync(join(tmpdir(), 'mserve-launcher-port-'));
      folders.push(varDir);
      const ports = { api: await freePort(), postgres: await freePort(), redis: await freePort() };
      ports[which] = taken;
      const launcher = startLauncher(varDir, ports);
      launchers.push(launcher);
      const exit = await waitForExit(launcher, 240_000);
      const output = launcher.output();
      expect(exit.code).toBe(1);
      expect(output).toContain(`[launcher] failed to start: port ${taken} is already in use`);
      expect(output).toContain(`set ${variable} to a free port`);
      expect(output).not.toContain('undefined');
      // what did start (PostgreSQL, when Redis's port was the taken one) was stopped again
      if (existsSync(join(varDir, 'postgres', 'postmaster.pid'))) expect(alive(pidFromFile(join(varDir, 'postgres', 'postmaster.pid')))).toBe(false);
      expect(processesUsing(varDir)).toEqual([]);
    },
    300_000,
  );
});

describe('a worker started alone on an empty database', () => {
  const database = `mserve_worker_alone_${process.pid}`;
  const adminUrl = new URL(process.env.DATABASE_URL!);
  adminUrl.pathname = '/postgres';
  const url = new URL(process.env.DATABASE_URL!);
  url.pathname = `/${database}`;

  afterAll(async () => {
    const admin = new pg.Client({ connectionString: adminUrl.toString() });
    await admin.connect();
    await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
    await admin.end();
  });

  it('brings the schema to the latest migration itself before it serves (no "relation does not exist")', async () => {
    const admin = new pg.Client({ connectionString: adminUrl.toString() });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${database}`);
    await admin.end();
    const worker = startRole('worker', {
      DATABASE_URL: url.toString(),
      JOB_RECONCILER: 'true',
      QUEUE_PREFIX: `alone${process.pid}`,
      USAGE_ROLLUP_INTERVAL_MS: '0',
      LOG_LEVEL: 'info',
    });
    try {
      await eventually(async () => worker.exitCode !== null || worker.output().includes('MServe worker ready'), 'the worker to be ready', 120_000, 100);
      expect(worker.output()).toContain('MServe worker ready');
      expect(worker.output()).toContain('applied migrations');
      expect(worker.output()).not.toMatch(/does not exist/);
      const client = new pg.Client({ connectionString: url.toString() });
      await client.connect();
      try {
        expect(Number((await client.query('SELECT count(*) AS n FROM migrations')).rows[0].n)).toBe(MIGRATIONS.length);
        expect((await client.query(`SELECT to_regclass('service') AS t`)).rows[0].t).toBe('service');
      } finally {
        await client.end();
      }
    } finally {
      worker.kill('SIGTERM');
      await waitForExit(worker, 60_000);
    }
  }, 300_000);
});

import { spawn } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { loadConfig } from './config/config';
import { ensureInfrastructure, Infrastructure } from './infrastructure/infrastructure';
import { assertPortFree } from './infrastructure/local-ports';
import { SupervisedProcess } from './infrastructure/supervised-process';
import { ensureDebianPackage } from './infrastructure/system-packages';
import { runMigrations } from './persistence/data-source';

/**
 * glibc malloc settings for the api and the workers, unless the operator's environment sets them: at most 2 arenas
 * and freed memory above 128 KiB handed back to the system. The native buffers of a busy api (sockets, pg, file
 * reads) are freed but stayed in malloc's arenas: over 2,000 small REST uploads (ingest-small, one run each, load
 * average 10-14 on 2 cores) the api's RSS after the run was +11 MiB without them and -22 MiB with them, with no more
 * CPU per file (README "Configuration"). The peak during the run is V8's and did not change. Other C libraries
 * ignore them.
 */
const ROLE_MALLOC_DEFAULTS: Readonly<Record<string, string>> = { MALLOC_ARENA_MAX: '2', MALLOC_TRIM_THRESHOLD_: '131072' };

const log = (line: string) => process.stdout.write(`[launcher] ${line}\n`);

function describeLaunch(launch: { engines: boolean; api: boolean; worker: boolean }): string {
  return (['engines', 'api', 'worker'] as const).filter((part) => launch[part]).join(',');
}

function describeError(error: unknown): string {
  if (error instanceof Error) return error.message || inspect(error);
  return error === undefined ? 'an unknown error (undefined was thrown)' : inspect(error);
}

/**
 * `npm start`: the whole platform on one machine. Starts embedded PostgreSQL and a local redis-server when no
 * URLs (for Redis: no REDIS_URL and no REDIS_SENTINELS) are configured, applies the migrations, then runs one api and one worker process per core (WORKER_PROCESSES
 * to choose), each supervised on its own (`worker (pid N)` in the log: the pid says which). It supervises every
 * process it started (restarted with backoff when one dies, each restart logged), and on SIGTERM, SIGINT or
 * SIGHUP stops them in order — worker, api, Redis, PostgreSQL — logs "stopped" and exits. On a machine of a
 * multi-node install, LAUNCH says which of those parts run here: `engines` on the machine that keeps PostgreSQL and
 * Redis (listening on EMBEDDED_HOST), `api` or `worker` on the others (with DATABASE_URL and REDIS_URL pointing there).
 */
async function main(): Promise<void> {
  const config = loadConfig();
  let infrastructure: Infrastructure | undefined;
  const roles: SupervisedProcess[] = [];
  let stopping: Promise<void> | undefined;
  let startup: Promise<void> = Promise.resolve();

  const stopAll = (code: number, why: string): Promise<void> => {
    stopping ??= (async () => {
      log(`${why}: stopping`);
      // a signal during startup: let it finish what it began, then stop all of it
      await startup.catch(() => undefined);
      for (const role of [...roles].reverse()) {
        log(`stopping ${role.name}`);
        await role.stop();
      }
      if (infrastructure) {
        log('stopping redis and postgres');
        await infrastructure.stop();
      }
      log('stopped');
      process.exit(code);
    })();
    return stopping;
  };
  for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.on(signal, () => void stopAll(0, signal));

  const giveUp = (reason: string) => void stopAll(1, `giving up (${reason})`);
  const { launch } = config;
  startup = (async () => {
    // engines run elsewhere: this machine must be told where
    if (!launch.engines && (!config.databaseUrl || (!config.redisUrl && !config.redisSentinel)))
      throw new Error(`LAUNCH=${describeLaunch(launch)} starts no engines: set DATABASE_URL and REDIS_URL (or REDIS_SENTINELS) to where they run`);
    // the api's port first: a taken one is said at once, not after the api's restarts give up
    if (launch.api) await assertPortFree(config.port, 'PORT', 'api', config.host);
    infrastructure = await ensureInfrastructure(config, log, giveUp);
    // the worker's video tasks run ffmpeg and ffprobe: install them like redis-server when we may
    if (launch.worker) {
      try {
        ensureDebianPackage('ffmpeg', 'ffmpeg', log);
      } catch (error) {
        log(`warning: ${(error as Error).message} Until then video tasks fail; everything else works.`);
      }
    }
    // Migrate before any role starts, so the worker never meets a database without its tables; on DATABASE_MIGRATION_URL
    // when DATABASE_URL is a pooler's (config.migrationUrl), on the embedded PostgreSQL otherwise.
    const applied = await runMigrations(config.migrationUrl ?? infrastructure.databaseUrl);
    log(applied.length ? `applied migrations: ${applied.join(', ')}` : 'the schema is at the latest migration');
  })();
  try {
    await startup;
  } catch (error) {
    process.stderr.write(`[launcher] failed to start: ${describeError(error)}\n`);
    startup = Promise.resolve();
    await stopAll(1, 'start failed');
    return;
  }
  if (stopping) return;

  // every core does media work by default: one worker process per core (WORKER_PROCESSES to choose), each told how
  // many share the machine so that sharp's threads divide the cores instead of multiplying them
  const workerCount = launch.worker ? (config.workerProcesses ?? availableParallelism()) : 0;
  const env = {
    ...ROLE_MALLOC_DEFAULTS,
    ...process.env,
    DATABASE_URL: infrastructure!.databaseUrl,
    // with sentinels and no REDIS_URL there is none to give: the roles read REDIS_SENTINELS from this environment
    ...(infrastructure!.redisUrl ? { REDIS_URL: infrastructure!.redisUrl } : {}),
    WORKER_PROCESSES: String(workerCount),
  };
  const role = (name: 'api' | 'worker', script: string) =>
    new SupervisedProcess({
      name,
      // Own process group: a terminal's Ctrl-C reaches only the launcher, which then stops the roles in order.
      // The IPC channel lets a role notice when the launcher is gone (even after SIGKILL) and stop itself.
      spawn: () =>
        new Promise((resolve, reject) => {
          const child = spawn(process.execPath, [join(__dirname, script)], { env, stdio: ['inherit', 'inherit', 'inherit', 'ipc'], detached: true });
          child.once('spawn', () => resolve(child));
          child.once('error', reject);
        }),
      stopSignal: 'SIGTERM',
      stopTimeoutMs: config.shutdownTimeoutMs + 5000,
      log,
      onGiveUp: giveUp,
    });
  for (const supervised of [...(launch.api ? [role('api', 'main.js')] : []), ...Array.from({ length: workerCount }, () => role('worker', 'worker.js'))]) {
    roles.push(supervised);
    await supervised.start();
  }
  const pids = [infrastructure!.supervisors, roles].flat().map((supervised) => `${supervised.name} (pid ${supervised.pid})`);
  log(`running: ${pids.join(', ')}`);
}

main().catch((error) => {
  process.stderr.write(`[launcher] failed: ${describeError(error)}\n`);
  process.exit(1);
});

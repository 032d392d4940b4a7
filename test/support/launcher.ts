import { ChildProcess, spawn } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { eventually, ROOT } from './processes';

/** The real launcher (`npm start`'s dist/src/launcher.js) for tests, and what they observe of it. */

export type Launcher = ChildProcess & { output: () => string };

export function startLauncher(varDir: string, ports: { api: number; postgres: number; redis: number }): Launcher {
  const env: Record<string, string | undefined> = {
    ...process.env,
    NODE_OPTIONS: '',
    VAR_DIR: varDir,
    PORT: String(ports.api),
    EMBEDDED_POSTGRES_PORT: String(ports.postgres),
    EMBEDDED_REDIS_PORT: String(ports.redis),
    LOG_LEVEL: 'warn',
  };
  // the suite's shared infrastructure and identity must not leak in: the launcher brings its own
  for (const name of [
    'DATABASE_URL',
    'REDIS_URL',
    'ADMIN_KEY',
    'ADMIN_PASSWORD',
    'STORAGE_DIR',
    'BACKUP_DIR',
    'JOB_RECONCILER',
    'PUBLIC_URL',
    'SESSION_SECRET',
  ])
    delete env[name];
  const child = spawn(process.execPath, [join(ROOT, 'dist', 'src', 'launcher.js')], { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  return Object.assign(child, { output: () => output });
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Every process whose command line or working folder mentions `folder`. */
export function processesUsing(folder: string): string[] {
  const found: string[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8').replace(/\0/g, ' ');
      let cwd = '';
      try {
        cwd = readlinkSync(`/proc/${entry}/cwd`);
      } catch {
        // a zombie or a process gone meanwhile
      }
      if (cmdline.includes(folder) || cwd.startsWith(folder)) found.push(`${entry}: ${cmdline.trim()} (cwd ${cwd})`);
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

/** The pids the launcher announced: `running: postgres (pid 1), redis (pid 2), api (pid 3), worker (pid 4)`. */
export function runningPids(output: string): Record<string, number> {
  const line = output.split('\n').find((candidate) => candidate.includes('[launcher] running:'));
  if (!line) throw new Error(`the launcher did not announce its processes:\n${output.slice(-3000)}`);
  return Object.fromEntries([...line.matchAll(/(\w+) \(pid (\d+)\)/g)].map((match) => [match[1], Number(match[2])]));
}

export const pidFromFile = (path: string) => Number.parseInt(readFileSync(path, 'utf8').split('\n')[0], 10);

export async function ready(port: number): Promise<{ status: string; workers?: number }> {
  const response = await fetch(`http://127.0.0.1:${port}/health/ready`);
  return response.status === 200 ? ((await response.json()) as { status: string; workers?: number }) : { status: `http ${response.status}` };
}

export async function waitUntilReady(port: number, launcher: Launcher, what: string): Promise<void> {
  await eventually(
    async () => {
      if (launcher.exitCode !== null) throw new Error(`the launcher exited (${launcher.exitCode}):\n${launcher.output().slice(-3000)}`);
      const health = await ready(port);
      return health.status === 'up' && (health.workers ?? 0) >= 1;
    },
    what,
    240_000,
    250,
  ).catch((error: Error) => {
    throw new Error(`${error.message}\n--- launcher output ---\n${launcher.output().slice(-4000)}`);
  });
}

/** SIGKILLs what tests started: each launcher's process group, then anything still using their folders. */
export function killEverything(launchers: Launcher[], folders: string[]): void {
  for (const launcher of launchers) {
    if (launcher.exitCode === null && launcher.signalCode === null) {
      try {
        process.kill(-launcher.pid!, 'SIGKILL');
      } catch {
        // gone
      }
    }
  }
  for (const folder of folders) {
    for (const line of processesUsing(folder)) {
      try {
        process.kill(Number(line.split(':')[0]), 'SIGKILL');
      } catch {
        // gone
      }
    }
  }
}

/** The current pid of each supervised process: the start announcement, then every "<name> restarted (pid N" line. */
export function currentPids(output: string): Record<string, number> {
  const pids = runningPids(output);
  for (const match of output.matchAll(/\[launcher\] (\w+) restarted \(pid (\d+)/g)) pids[match[1]] = Number(match[2]);
  return pids;
}

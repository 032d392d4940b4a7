import { ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { loadConfig } from './config/config';
import { ensureInfrastructure } from './infrastructure/infrastructure';
import { ensureDebianPackage } from './infrastructure/system-packages';

/**
 * `npm start`: the whole platform on one machine. Starts embedded PostgreSQL and a local redis-server when no
 * URLs are configured, then supervises one api and one worker process (restarting a crashed one), and stops
 * everything in order on SIGTERM/SIGINT.
 */
async function main(): Promise<void> {
  const config = loadConfig();
  const log = (line: string) => process.stdout.write(`[launcher] ${line}\n`);
  const infrastructure = await ensureInfrastructure(config, log);
  // the worker's video tasks run ffmpeg and ffprobe: install them like redis-server when we may
  try {
    ensureDebianPackage('ffmpeg', 'ffmpeg', log);
  } catch (error) {
    log(`warning: ${(error as Error).message} Until then video tasks fail; everything else works.`);
  }
  const env = { ...process.env, DATABASE_URL: infrastructure.databaseUrl, REDIS_URL: infrastructure.redisUrl };
  const children = new Map<string, ChildProcess>();
  const restarts: number[] = [];
  let stopping = false;

  const stopAll = async (code: number) => {
    if (stopping) return;
    stopping = true;
    log('stopping api and worker');
    const exits = [...children.values()].map(
      (child) => new Promise<void>((resolve) => (child.exitCode !== null ? resolve() : child.once('exit', () => resolve()))),
    );
    for (const child of children.values()) child.kill('SIGTERM');
    await Promise.race([Promise.all(exits), new Promise((resolve) => setTimeout(resolve, config.shutdownTimeoutMs + 5000))]);
    for (const child of children.values()) if (child.exitCode === null) child.kill('SIGKILL');
    await infrastructure.stop();
    log('stopped');
    process.exit(code);
  };

  const start = (role: 'api' | 'worker', script: string) => {
    // Own process group: a terminal's Ctrl-C reaches only the launcher, which then stops the roles in order.
    // The IPC channel lets a role notice when the launcher is gone (even after SIGKILL) and stop itself.
    const child = spawn(process.execPath, [join(__dirname, script)], { env, stdio: ['inherit', 'inherit', 'inherit', 'ipc'], detached: true });
    children.set(role, child);
    child.on('exit', (code, signal) => {
      if (stopping) return;
      log(`${role} exited (${signal ?? code}); restarting`);
      const now = Date.now();
      restarts.push(now);
      while (restarts.length && restarts[0] < now - 60_000) restarts.shift();
      if (restarts.length > 5) {
        log('too many restarts within a minute: giving up');
        void stopAll(1);
        return;
      }
      setTimeout(() => start(role, script), 1000);
    });
  };

  start('api', 'main.js');
  start('worker', 'worker.js');
  process.on('SIGTERM', () => void stopAll(0));
  process.on('SIGINT', () => void stopAll(0));
}

main().catch((error) => {
  process.stderr.write(`[launcher] failed to start: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});

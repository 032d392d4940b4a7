import { existsSync, readFileSync, readlinkSync } from 'node:fs';
import { createServer } from 'node:net';
import { resolve } from 'node:path';

/** Linux's default ephemeral range (net.ipv4.ip_local_port_range): an outgoing connection may hold any port in it. */
export const EPHEMERAL_PORTS = { from: 32768, to: 60999 };

/** The message a person sees when an embedded server's port is taken: which port, and which variable moves it. */
export function portTakenMessage(port: number, variable: string, what: string): string {
  return (
    `port ${port} is already in use, so the ${what} cannot listen on it: stop what holds it, or set ${variable} to a free port` +
    ` (outside ${EPHEMERAL_PORTS.from}–${EPHEMERAL_PORTS.to}, the range outgoing connections borrow from)`
  );
}

/** Throws portTakenMessage when something already listens on host:port (127.0.0.1 unless said). */
export function assertPortFree(port: number, variable: string, what: string, host = '127.0.0.1'): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    const server = createServer();
    server.once('error', (error: NodeJS.ErrnoException) => {
      reject(error.code === 'EADDRINUSE' ? new Error(portTakenMessage(port, variable, what)) : error);
    });
    server.listen({ port, host, exclusive: true }, () => server.close(() => resolvePromise()));
  });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * A server of ours left running by an earlier run whose launcher was killed outright (SIGKILL gives it no chance
 * to stop its children): found by its pid file, confirmed by `isOurs` (its command line or working folder names
 * our data folder), then stopped with `signal` and awaited, so the new start finds its port and data folder free.
 */
export async function stopLeftover(options: {
  pidFile: string;
  name: string;
  isOurs: (pid: number) => boolean;
  signal: NodeJS.Signals;
  log: (line: string) => void;
}): Promise<void> {
  if (!existsSync(options.pidFile)) return;
  const pid = Number.parseInt(readFileSync(options.pidFile, 'utf8').split('\n')[0], 10);
  if (!Number.isInteger(pid) || pid <= 1 || pid === process.pid || !alive(pid) || !options.isOurs(pid)) return;
  options.log(`a ${options.name} left running by an earlier start (pid ${pid}) still holds its data folder: stopping it`);
  process.kill(pid, options.signal);
  // not our child, so no exit event: watch the pid (startup only, bounded)
  for (let waited = 0; alive(pid); waited += 100) {
    if (waited === 30_000) process.kill(pid, 'SIGKILL');
    if (waited > 60_000) throw new Error(`the earlier ${options.name} (pid ${pid}) did not stop; stop it by hand`);
    await new Promise((wake) => setTimeout(wake, 100));
  }
}

/** /proc/<pid>/cmdline holds `needle` (a data folder), or the process's working folder is `folder`. */
export function processMentions(pid: number, needle: string): boolean {
  try {
    if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').includes(needle)) return true;
    return resolve(readlinkSync(`/proc/${pid}/cwd`)) === resolve(needle);
  } catch {
    return false;
  }
}

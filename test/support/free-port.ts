import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

/** The range outgoing connections borrow their local ports from (Linux: 32768–60999 unless set otherwise). */
function ephemeralRange(): [number, number] {
  try {
    const [low, high] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    if (low > 0 && high >= low) return [low, high];
  } catch {
    // not Linux: assume its default
  }
  return [32768, 60999];
}

function tryListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/**
 * A port free now on 127.0.0.1, chosen outside the ephemeral range: a port the kernel hands out for listen(0) can be
 * taken by any outgoing connection between the moment it is chosen and the moment a server listens on it (seen in a
 * CI run: npm's downloads took the embedded PostgreSQL's port during `npm ci`). Outside that range only another
 * listener can take it.
 */
const handedOut = new Set<number>();

export async function freePort(): Promise<number> {
  const [low] = ephemeralRange();
  const top = Math.min(low - 1, 65535);
  const bottom = Math.max(10000, top - 20000);
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = bottom + Math.floor(Math.random() * (top - bottom + 1));
    if (handedOut.has(port)) continue;
    if (await tryListen(port)) {
      handedOut.add(port);
      return port;
    }
  }
  throw new Error(`no free port found in ${bottom}–${top}`);
}

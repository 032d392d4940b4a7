import { rmSync } from 'node:fs';
import { Infrastructure } from '../../src/infrastructure/infrastructure';
import type { S3Server } from './s3-server';

/** What keeps this process alive beyond its own stdio: child processes, sockets, servers, timers. */
function leftovers(): string[] {
  const handles = (process as unknown as { _getActiveHandles(): unknown[] })._getActiveHandles();
  const described: string[] = [];
  for (const handle of handles) {
    const h = handle as Record<string, unknown> & { constructor?: { name?: string } };
    const kind = h.constructor?.name ?? typeof handle;
    if ((kind === 'WriteStream' || kind === 'ReadStream' || kind === 'Socket') && [0, 1, 2].includes((h as { fd?: number }).fd ?? -1)) continue;
    if (kind === 'ChildProcess' && (h.exitCode !== null || h.signalCode !== null)) continue; // exited, handle closing
    if (kind === 'ChildProcess')
      described.push(`child process ${String(h.pid)}: ${String(h.spawnfile)} ${((h.spawnargs as string[]) ?? []).slice(1).join(' ')}`);
    else if (kind === 'Socket' && h.remotePort === undefined) described.push('pipe (of a child process, most likely)');
    else if (kind === 'Socket') described.push(`socket ${String(h.localAddress)}:${String(h.localPort)} → ${String(h.remoteAddress)}:${String(h.remotePort)}`);
    else if (kind === 'Server') described.push(`server ${JSON.stringify((h as { address(): unknown }).address())}`);
    else if (kind === 'Timeout' && (h as { hasRef?: () => boolean }).hasRef?.() === false) continue;
    else described.push(kind);
  }
  return described;
}

export default async function globalTeardown(): Promise<void> {
  const infrastructure = (globalThis as { __MSERVE_INFRA__?: Infrastructure }).__MSERVE_INFRA__;
  await infrastructure?.stop();
  await (globalThis as { __MSERVE_S3__?: S3Server }).__MSERVE_S3__?.stop();
  if (process.env.VAR_DIR?.includes('mserve-test-')) rmSync(process.env.VAR_DIR, { recursive: true, force: true });
  // A suite that leaves a handle open would keep Jest (and CI) waiting forever; jest.config's forceExit ends the run
  // regardless, and this says what was left, so the leak is seen and fixed rather than hidden.
  await new Promise((resolve) => setTimeout(resolve, 200)); // let the handles of what just stopped close
  const left = leftovers();
  if (left.length > 0) process.stderr.write(`[test infra] left open after the last suite (a leak to fix):\n  ${left.join('\n  ')}\n`);
}

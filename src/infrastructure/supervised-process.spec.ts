import { spawn } from 'node:child_process';
import { SupervisedProcess } from './supervised-process';

/** Real child processes (node -e …) under the supervisor: restarts, backoff, giving up, stop. */
function nodeChild(code: string) {
  return () =>
    new Promise<ReturnType<typeof spawn>>((resolve, reject) => {
      const child = spawn(process.execPath, ['-e', code], { stdio: 'ignore', env: { ...process.env, NODE_OPTIONS: '' } });
      child.once('spawn', () => resolve(child));
      child.once('error', reject);
    });
}

describe('SupervisedProcess', () => {
  it('restarts a process that keeps dying with a doubling backoff, logs each attempt, then gives up', async () => {
    const lines: string[] = [];
    const gaveUp = new Promise<string>((resolve) => {
      const supervised = new SupervisedProcess({
        name: 'crasher',
        spawn: nodeChild('process.exit(3)'),
        stopSignal: 'SIGTERM',
        stopTimeoutMs: 5000,
        log: (line) => lines.push(line),
        onGiveUp: resolve,
        initialBackoffMs: 10,
        maxBackoffMs: 40,
        maxAttempts: 4,
      });
      void supervised.start();
    });
    expect(await gaveUp).toBe('crasher exited unexpectedly (code 3); giving up after 4 restart attempts');
    const restarts = lines.filter((line) => line.includes('restarting in'));
    expect(restarts).toEqual([
      'crasher exited unexpectedly (code 3); restarting in 10 ms (attempt 1 of 4)',
      'crasher exited unexpectedly (code 3); restarting in 20 ms (attempt 2 of 4)',
      'crasher exited unexpectedly (code 3); restarting in 40 ms (attempt 3 of 4)',
      'crasher exited unexpectedly (code 3); restarting in 40 ms (attempt 4 of 4)',
    ]);
    expect(lines.filter((line) => /crasher restarted \(pid \d+, attempt \d\)/.test(line))).toHaveLength(4);
  }, 60_000);

  it('a killed process comes back with a new pid; stop() ends it for good', async () => {
    const lines: string[] = [];
    const supervised = new SupervisedProcess({
      name: 'sleeper',
      spawn: nodeChild('setInterval(() => {}, 1000)'),
      stopSignal: 'SIGTERM',
      stopTimeoutMs: 5000,
      log: (line) => lines.push(line),
      onGiveUp: () => undefined,
      initialBackoffMs: 10,
    });
    await supervised.start();
    const first = supervised.pid!;
    process.kill(first, 'SIGKILL');
    for (let i = 0; i < 600 && !lines.some((line) => line.startsWith('sleeper restarted')); i++) await new Promise((wake) => setTimeout(wake, 50));
    expect(lines[0]).toBe('sleeper exited unexpectedly (signal SIGKILL); restarting in 10 ms (attempt 1 of 8)');
    const second = supervised.pid!;
    expect(second).not.toBe(first);
    await supervised.stop();
    expect(() => process.kill(second, 0)).toThrow();
    expect(lines.filter((line) => line.includes('restarting in'))).toHaveLength(1);
  }, 60_000);
});

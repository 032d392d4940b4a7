import { ChildProcess } from 'node:child_process';

export interface SupervisedProcessOptions {
  /** What the log calls it: `postgres`, `redis`, `api`, `worker`. */
  name: string;
  /** Spawns the process and resolves once it serves (rejects when it exits or fails before that). */
  spawn: () => Promise<ChildProcess>;
  /** The signal that stops it cleanly (redis-server: SIGTERM, postgres: SIGINT = fast shutdown). */
  stopSignal: NodeJS.Signals;
  /** How long a clean stop may take before SIGKILL. */
  stopTimeoutMs: number;
  log: (line: string) => void;
  /** Called when restarts keep failing: the caller stops everything. */
  onGiveUp: (reason: string) => void;
  /** First restart delay, doubled per attempt up to maxBackoffMs. */
  initialBackoffMs?: number;
  maxBackoffMs?: number;
  /** Consecutive failed attempts (exits before stableAfterMs, or spawns that fail) before giving up. */
  maxAttempts?: number;
  /** A process that served this long counts as healthy again: the next exit is attempt 1. */
  stableAfterMs?: number;
}

const running = new Set<SupervisedProcess>();
let exitHookInstalled = false;

/**
 * If the supervising Node process ends without stopping its children (an uncaught error, process.exit in a test
 * harness), signal them on the way out so nothing is left behind holding a port and a data folder.
 */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const supervised of running) supervised.signalNow();
  });
}

function describeExit(code: number | null, signal: NodeJS.Signals | null): string {
  return signal ? `signal ${signal}` : `code ${code}`;
}

/**
 * One child process kept running: when it exits without being asked to, it is started again after a backoff
 * (1 s, 2 s, 4 s … up to 30 s), each restart logged with the process, why it ended and the attempt:
 *
 *   redis exited unexpectedly (signal SIGKILL); restarting in 1000 ms (attempt 1 of 8)
 *   redis restarted (pid 1234, attempt 1)
 *
 * After maxAttempts consecutive failures it gives up and tells the owner, which stops everything.
 */
export class SupervisedProcess {
  private child?: ChildProcess;
  private stopping = false;
  private attempt = 0;
  private startedAt = 0;
  private restartTimer?: NodeJS.Timeout;
  private launching?: Promise<void>;
  private readonly initialBackoffMs: number;
  private readonly maxBackoffMs: number;
  private readonly maxAttempts: number;
  private readonly stableAfterMs: number;

  constructor(private readonly options: SupervisedProcessOptions) {
    this.initialBackoffMs = options.initialBackoffMs ?? 1000;
    this.maxBackoffMs = options.maxBackoffMs ?? 30_000;
    this.maxAttempts = options.maxAttempts ?? 8;
    this.stableAfterMs = options.stableAfterMs ?? 60_000;
  }

  get name(): string {
    return this.options.name;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** The first start: errors go to the caller (a start that fails is reported, not retried). */
  async start(): Promise<void> {
    installExitHook();
    running.add(this);
    await this.launch();
  }

  private launch(): Promise<void> {
    const launching = this.spawnOnce();
    this.launching = launching;
    return launching.finally(() => {
      if (this.launching === launching) this.launching = undefined;
    });
  }

  private async spawnOnce(): Promise<void> {
    const child = await this.options.spawn();
    this.child = child;
    this.startedAt = Date.now();
    if (child.exitCode !== null || child.signalCode !== null) {
      this.onExit(child, child.exitCode, child.signalCode);
      return;
    }
    child.once('exit', (code, signal) => this.onExit(child, code, signal));
  }

  private onExit(child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (this.stopping || child !== this.child) return;
    if (Date.now() - this.startedAt >= this.stableAfterMs) this.attempt = 0;
    this.scheduleRestart(`exited unexpectedly (${describeExit(code, signal)})`);
  }

  private scheduleRestart(why: string): void {
    this.attempt += 1;
    if (this.attempt > this.maxAttempts) {
      const reason = `${this.name} ${why}; giving up after ${this.maxAttempts} restart attempts`;
      this.options.log(reason);
      this.options.onGiveUp(reason);
      return;
    }
    const delay = Math.min(this.initialBackoffMs * 2 ** (this.attempt - 1), this.maxBackoffMs);
    this.options.log(`${this.name} ${why}; restarting in ${delay} ms (attempt ${this.attempt} of ${this.maxAttempts})`);
    const attempt = this.attempt;
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      if (this.stopping) return;
      this.launch().then(
        () => {
          if (!this.stopping) this.options.log(`${this.name} restarted (pid ${this.child?.pid}, attempt ${attempt})`);
        },
        (error: unknown) => {
          if (this.stopping) return;
          this.scheduleRestart(`restart failed (${error instanceof Error ? error.message : String(error)})`);
        },
      );
    }, delay);
  }

  /** Stops it for good: no restart afterwards. Resolves once the process has exited. */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    // a restart under way finishes first, so the process it brings up is the one stopped here
    await this.launching?.catch(() => undefined);
    const child = this.child;
    running.delete(this);
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill(this.options.stopSignal);
    let timer: NodeJS.Timeout | undefined;
    const late = await Promise.race([
      exited.then(() => false),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), this.options.stopTimeoutMs))),
    ]);
    clearTimeout(timer);
    if (late) {
      this.options.log(`${this.name} did not stop within ${this.options.stopTimeoutMs} ms: killing it`);
      child.kill('SIGKILL');
      await exited;
    }
  }

  /** Synchronous, for process exit: sends the stop signal and does not wait. */
  signalNow(): void {
    this.stopping = true;
    const child = this.child;
    if (child && child.exitCode === null && child.signalCode === null) child.kill(this.options.stopSignal);
  }
}

import { Logger as PinoLogger } from 'pino';

/**
 * Runs `stop` once on SIGTERM/SIGINT (a second signal forces exit) and exits; an uncaught error is logged with
 * its stack and ends the process, so a supervisor restarts it in a known state.
 */
export function handleSignals(logger: PinoLogger, stop: () => Promise<void>, timeoutMs: number): void {
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      logger.warn(`${signal} again: exiting now`);
      process.exit(1);
    }
    stopping = true;
    logger.info(`${signal}: shutting down`);
    const force = setTimeout(() => {
      logger.error(`shutdown took longer than ${timeoutMs} ms: exiting`);
      process.exit(1);
    }, timeoutMs + 5000);
    force.unref();
    stop().then(
      () => process.exit(process.exitCode ?? 0), // 1 when a fault (the WebDAV last-resort guard) asked for the shutdown
      (error) => {
        logger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  // Started by the launcher: if it goes away, so do we.
  if (process.send) process.on('disconnect', () => onSignal('SIGTERM'));
  process.on('unhandledRejection', (reason) => logger.error({ err: reason }, 'unhandled promise rejection'));
}

export function requireUrls(config: { databaseUrl?: string; redisUrl?: string }, role: string): void {
  const missing = [!config.databaseUrl && 'DATABASE_URL', !config.redisUrl && 'REDIS_URL'].filter(Boolean);
  if (missing.length) {
    throw new Error(
      `the ${role} process needs ${missing.join(' and ')}; "npm start" sets them up (embedded PostgreSQL and a local redis-server) and starts every role`,
    );
  }
}

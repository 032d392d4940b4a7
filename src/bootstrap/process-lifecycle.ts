import { Logger as PinoLogger } from 'pino';
import type { AppConfig } from '../config/config';

/**
 * Runs `stop` once on SIGTERM/SIGINT (a second signal forces exit) and exits; an unhandled promise rejection is
 * logged with its stack and ends the process the same graceful way (in-flight requests finish, exit code 1), so a
 * supervisor restarts it in a known state, as Node itself would end it, only abruptly.
 */
export function handleSignals(logger: PinoLogger, stop: () => Promise<void>, timeoutMs: number): void {
  let stopping = false;
  const shutDown = (why: string, exitCode: number) => {
    if (stopping) {
      logger.warn(`${why} again: exiting now`);
      process.exit(1);
    }
    stopping = true;
    logger.info(`${why}: shutting down`);
    const force = setTimeout(() => {
      logger.error(`shutdown took longer than ${timeoutMs} ms: exiting`);
      process.exit(1);
    }, timeoutMs + 5000);
    force.unref();
    stop().then(
      // 1 for a fault: an unhandled rejection, or the WebDAV last-resort guard (which sets process.exitCode)
      () => process.exit(Math.max(exitCode, Number(process.exitCode ?? 0))),
      (error) => {
        logger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  const onSignal = (signal: NodeJS.Signals) => shutDown(signal, 0);
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  // Started by the launcher: if it goes away, so do we.
  if (process.send) process.on('disconnect', () => onSignal('SIGTERM'));
  process.on('unhandledRejection', (reason) => {
    logger.fatal({ err: reason }, `unhandled promise rejection: ${reason instanceof Error ? reason.message : String(reason)}`);
    // a second one while stopping is only logged: the stop already under way ends the process
    if (!stopping) shutDown('unhandled promise rejection', 1);
  });
}

/** The api and the worker need a database and a Redis (REDIS_URL, or the sentinels of a Redis group) to be given. */
export function requireUrls(config: Pick<AppConfig, 'databaseUrl' | 'redisUrl' | 'redisSentinel'>, role: string): void {
  const missing = [!config.databaseUrl && 'DATABASE_URL', !config.redisUrl && !config.redisSentinel && 'REDIS_URL'].filter(Boolean);
  if (missing.length) {
    throw new Error(
      `the ${role} process needs ${missing.join(' and ')}; "npm start" sets them up (embedded PostgreSQL and a local redis-server) and starts every role`,
    );
  }
}

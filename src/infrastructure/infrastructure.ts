import { join } from 'node:path';
import { AppConfig } from '../config/config';
import { startEmbeddedPostgres } from './embedded-postgres';
import { startLocalRedis } from './local-redis';
import { SupervisedProcess } from './supervised-process';

export interface Infrastructure {
  databaseUrl: string;
  /** undefined when Redis is reached through Sentinel without a REDIS_URL (its credentials): nothing to pass on. */
  redisUrl?: string;
  /** The embedded servers this call started (none when both URLs, or the sentinels, were configured). */
  supervisors: SupervisedProcess[];
  stop(): Promise<void>;
}

/**
 * Gives the platform a database and a Redis: the configured ones (Redis: REDIS_URL or REDIS_SENTINELS), or embedded
 * ones under VAR_DIR when none is set (PostgreSQL through embedded-postgres, a local redis-server), each supervised (restarted with backoff when it
 * dies). `onGiveUp` is told when one of them keeps failing to restart. Used by the launcher and the test harness;
 * `stop()` stops Redis, then PostgreSQL.
 */
export async function ensureInfrastructure(
  config: AppConfig,
  log: (line: string) => void,
  onGiveUp: (reason: string) => void = () => undefined,
): Promise<Infrastructure> {
  const stops: Array<() => Promise<void>> = [];
  const supervisors: SupervisedProcess[] = [];
  try {
    let databaseUrl = config.databaseUrl;
    if (!databaseUrl) {
      const postgres = await startEmbeddedPostgres({
        dataDir: join(config.varDir, 'postgres'),
        secretFile: join(config.varDir, 'secrets', 'postgres.password'),
        port: config.embeddedPostgresPort,
        host: config.embeddedHost,
        log,
        onGiveUp,
      });
      stops.push(postgres.stop);
      supervisors.push(postgres.supervisor);
      databaseUrl = postgres.url;
      log(`embedded PostgreSQL ready on ${config.embeddedHost}:${config.embeddedPostgresPort} (data in ${join(config.varDir, 'postgres')})`);
    }
    let redisUrl = config.redisUrl;
    if (!redisUrl && !config.redisSentinel) {
      const redis = await startLocalRedis({
        dataDir: join(config.varDir, 'redis'),
        secretFile: join(config.varDir, 'secrets', 'redis.password'),
        port: config.embeddedRedisPort,
        host: config.embeddedHost,
        log,
        onGiveUp,
      });
      stops.push(redis.stop);
      supervisors.push(redis.supervisor);
      redisUrl = redis.url;
      log(`local redis-server ready on ${config.embeddedHost}:${config.embeddedRedisPort} (AOF in ${join(config.varDir, 'redis')})`);
    }
    return {
      databaseUrl,
      redisUrl,
      supervisors,
      stop: async () => {
        for (const stop of stops.reverse()) await stop().catch((error) => log(`stopping infrastructure: ${String(error)}`));
      },
    };
  } catch (error) {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
    throw error;
  }
}

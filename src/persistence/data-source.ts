import { DataSource, DataSourceOptions } from 'typeorm';
import { MIGRATIONS } from '../../migrations';
import { ENTITIES } from './entities';
import { SnakeNamingStrategy } from '../database/snake-naming.strategy';

/** How long to wait for a connection (also for a free one from the pool) and for a query's answer; 0: no limit. */
export interface DatabaseTimeouts {
  connectTimeoutMs: number;
  queryTimeoutMs: number;
}

/**
 * Migrations and tools take their time (an advisory lock held by another starting process, a long migration): no
 * query limit, only the connect limit. The api and worker get the configured ones (DatabaseModule).
 */
const TOOL_TIMEOUTS: DatabaseTimeouts = { connectTimeoutMs: 10_000, queryTimeoutMs: 0 };

/**
 * A stopped or restarting PostgreSQL refuses connections and the pool makes new ones once it is back; a hung one
 * (SIGSTOP, a lost network) would hold every pooled connection and every waiting request forever: the connect timeout
 * bounds the wait for a connection (and for a free one from the pool), the query timeout the wait for an answer, and
 * TCP keep-alive finds a peer that vanished. Each ends the request with a 503 (common/database-errors.ts).
 */
export function dataSourceOptions(databaseUrl: string, timeouts: DatabaseTimeouts = TOOL_TIMEOUTS): DataSourceOptions {
  return {
    type: 'postgres',
    url: databaseUrl,
    entities: ENTITIES,
    migrations: MIGRATIONS,
    namingStrategy: new SnakeNamingStrategy(),
    synchronize: false,
    migrationsRun: false,
    migrationsTransactionMode: 'each',
    extra: {
      max: 20,
      connectionTimeoutMillis: timeouts.connectTimeoutMs,
      ...(timeouts.queryTimeoutMs > 0 && { query_timeout: timeouts.queryTimeoutMs }),
      keepAlive: true,
      keepAliveInitialDelayMillis: 10_000,
    },
  };
}

/** Applies pending migrations; several processes may start at once, so an advisory lock serialises them. */
export async function runMigrations(databaseUrl: string): Promise<string[]> {
  const dataSource = new DataSource(dataSourceOptions(databaseUrl));
  await dataSource.initialize();
  const runner = dataSource.createQueryRunner();
  try {
    await runner.connect();
    await runner.query('SELECT pg_advisory_lock(727274)');
    const applied = await dataSource.runMigrations({ transaction: 'each' });
    return applied.map((migration) => migration.name);
  } finally {
    await runner.query('SELECT pg_advisory_unlock(727274)').catch(() => undefined);
    await runner.release();
    await dataSource.destroy();
  }
}

import { DataSource, DataSourceOptions } from 'typeorm';
import { MIGRATIONS } from '../../migrations';
import { ENTITIES } from './entities';
import { SnakeNamingStrategy } from '../database/snake-naming.strategy';

/**
 * How long to wait for a connection (also for a free one from the pool) and for a query's answer (0: no limit), the
 * most connections the pool holds, and the name PostgreSQL shows for them (pg_stat_activity.application_name), so a
 * provider sizing connections sees which role holds them. application_name is the one startup parameter we send
 * besides user and database, and PgBouncer passes it on; the timeouts are the client's own timers (pg's
 * connectionTimeoutMillis, query_timeout), not startup parameters such as statement_timeout or options, which
 * PgBouncer refuses unless told to ignore them.
 */
export interface DatabaseSettings {
  connectTimeoutMs: number;
  queryTimeoutMs: number;
  poolSize: number;
  applicationName: string;
}

/**
 * Migrations and tools take their time (an advisory lock held by another starting process, a long migration): no
 * query limit, only the connect limit. The api and worker get the configured ones (DatabaseModule).
 */
const TOOL_SETTINGS: DatabaseSettings = { connectTimeoutMs: 10_000, queryTimeoutMs: 0, poolSize: 20, applicationName: 'mserve-tool' };

/** runMigrations holds two connections: one for the advisory lock, one for TypeORM's migration runner. */
const MIGRATION_SETTINGS: DatabaseSettings = { ...TOOL_SETTINGS, poolSize: 2, applicationName: 'mserve-migrations' };

/**
 * A stopped or restarting PostgreSQL refuses connections and the pool makes new ones once it is back; a hung one
 * (SIGSTOP, a lost network) would hold every pooled connection and every waiting request forever: the connect timeout
 * bounds the wait for a connection (and for a free one from the pool), the query timeout the wait for an answer, and
 * TCP keep-alive finds a peer that vanished. Each ends the request with a 503 (common/database-errors.ts).
 */
export function dataSourceOptions(databaseUrl: string, settings: DatabaseSettings = TOOL_SETTINGS): DataSourceOptions {
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
      max: settings.poolSize,
      application_name: settings.applicationName,
      connectionTimeoutMillis: settings.connectTimeoutMs,
      ...(settings.queryTimeoutMs > 0 && { query_timeout: settings.queryTimeoutMs }),
      keepAlive: true,
      keepAliveInitialDelayMillis: 10_000,
    },
  };
}

const MIGRATION_LOCK = 727274;

/**
 * Said when the unlock found no lock of this session: the lock was taken on another server connection, so
 * `migrationUrl` reaches PostgreSQL through a pooler in transaction mode, and the lock stays held there (every later
 * start would wait on it) until that connection closes.
 */
export const MIGRATION_LOCK_LEFT =
  `the migrations' advisory lock was taken on another PostgreSQL connection than the one that released it: the ` +
  `migration URL (DATABASE_MIGRATION_URL, else DATABASE_URL) goes through a pooler in transaction mode. Set ` +
  `DATABASE_MIGRATION_URL to PostgreSQL itself. The lock stays held until the pooler closes that server connection ` +
  `(or: SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND objid = ${MIGRATION_LOCK})`;

/**
 * Applies pending migrations; several processes may start at once, so an advisory lock serialises them. The lock is
 * a session's: it needs one PostgreSQL connection from lock to unlock, which a pooler in transaction mode does not
 * give (the unlock may reach another server connection and the lock stay held), so `migrationUrl` is PostgreSQL
 * itself (DATABASE_MIGRATION_URL), and the connection lasts only as long as the migrations. An unlock that finds no
 * lock is that mistake, and fails the start with MIGRATION_LOCK_LEFT rather than let the next start hang.
 */
export async function runMigrations(migrationUrl: string): Promise<string[]> {
  const dataSource = new DataSource(dataSourceOptions(migrationUrl, MIGRATION_SETTINGS));
  await dataSource.initialize();
  const runner = dataSource.createQueryRunner();
  let applied: string[];
  let released: boolean | undefined;
  try {
    await runner.connect();
    await runner.query(`SELECT pg_advisory_lock(${MIGRATION_LOCK})`);
    applied = (await dataSource.runMigrations({ transaction: 'each' })).map((migration) => migration.name);
  } finally {
    // undefined when the connection died: closing it released the lock
    released = await runner.query(`SELECT pg_advisory_unlock(${MIGRATION_LOCK}) AS released`).then(
      ([row]: Array<{ released: boolean }>) => row.released,
      () => undefined,
    );
    await runner.release();
    await dataSource.destroy();
  }
  if (released === false) throw new Error(MIGRATION_LOCK_LEFT);
  return applied;
}

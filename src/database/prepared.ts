import { Logger } from '@nestjs/common';
import { createHash } from 'node:crypto';
import { EntityManager } from 'typeorm';

/**
 * Named prepared statements for the statements every file pays for.
 *
 * PostgreSQL parses, analyses and plans an unnamed statement at every call. Measured on the small-file ingest
 * (test/bench/ingest-small.mjs, PG_STATS=1, track_planning on): 4.1 ms of planning per file against 9.9 ms of
 * execution, and the request's key lookup took 0.77 ms to plan for 0.11 ms to run. A named statement is parsed once
 * per connection and, after five calls, runs on a cached generic plan when PostgreSQL finds it no worse than the
 * custom ones.
 *
 * Only statements whose text is fixed, or varies among a handful of shapes, go this way: each distinct text stays
 * prepared on every pooled connection for the connection's life. `DATABASE_PREPARED_STATEMENTS=false` turns it off
 * for a connection pooler that cannot keep them (PgBouncer before 1.21 in transaction mode). Left on behind such a
 * pooler, the first statement it loses turns them off for the process (stopPreparing).
 */
let enabled = true;
const names = new Map<string, string>();
/** More distinct texts than this means a caller passes varying SQL: it runs unnamed rather than filling memory. */
const MAX_NAMES = 2000;

export function configurePreparedStatements(on: boolean): void {
  enabled = on;
}

function nameOf(text: string): string | undefined {
  let name = names.get(text);
  if (name === undefined && names.size < MAX_NAMES) {
    name = `ms_${createHash('sha256').update(text).digest('base64url').slice(0, 22)}`;
    names.set(text, name);
  }
  return name;
}

/**
 * pg remembers which names it prepared on its connection; a pooler in transaction mode hands each transaction any
 * server connection, where the name is missing (26000, invalid_sql_statement_name) or already there (42P05,
 * duplicate_prepared_statement). Nothing else here prepares statements, so these codes mean exactly that.
 */
export const LOST_STATEMENT_CODES = new Set(['26000', '42P05']);

function isLostStatement(error: unknown): boolean {
  const code = (error as { driverError?: { code?: unknown } })?.driverError?.code;
  return typeof code === 'string' && LOST_STATEMENT_CODES.has(code);
}

/**
 * Without this every request would fail: the misconfiguration is said once, loudly, and the process goes on with
 * unnamed statements (the failed request answers 503 and its retry passes, common/problem.filter.ts).
 */
function stopPreparing(error: unknown): void {
  if (!enabled) return;
  enabled = false;
  new Logger('database').error(
    `${(error as Error).message}: DATABASE_URL reaches PostgreSQL through a pooler in transaction mode that does not keep named prepared ` +
      'statements (PgBouncer before 1.21, or max_prepared_statements = 0). This process now runs them unnamed; set ' +
      'DATABASE_PREPARED_STATEMENTS=false (or max_prepared_statements on PgBouncer 1.21 or later)',
  );
}

/**
 * `manager.query(text, values)` as a named prepared statement: the same transaction, result shape (rows, or
 * `[rows, rowCount]` for UPDATE and DELETE), logging and errors (QueryFailedError), since TypeORM hands the query to
 * pg's `client.query` unchanged and pg takes a `{ name, text }` config in place of the text.
 */
export function queryPrepared<T = unknown>(manager: EntityManager, text: string, values: unknown[]): Promise<T> {
  const name = enabled ? nameOf(text) : undefined;
  if (!name) return manager.query(text, values) as Promise<T>;
  return (manager.query({ name, text } as unknown as string, values) as Promise<T>).catch((error: unknown) => {
    if (isLostStatement(error)) stopPreparing(error);
    throw error;
  });
}

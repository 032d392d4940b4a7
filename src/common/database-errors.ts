import { QueryRunnerAlreadyReleasedError, QueryRunnerProviderAlreadyReleasedError } from 'typeorm';

/** PostgreSQL unique_violation, for turning a lost race on a unique name into a 409. */
export function isUniqueViolation(error: unknown, constraint?: string): boolean {
  const driverError = (error as { driverError?: { code?: string; constraint?: string }; code?: string }) ?? {};
  const code = driverError.driverError?.code ?? driverError.code;
  const name = driverError.driverError?.constraint ?? (error as { constraint?: string }).constraint;
  return code === '23505' && (!constraint || name === constraint);
}

/**
 * TypeORM's postgres driver answers UPDATE/DELETE ... RETURNING with [rows, rowCount] and SELECT with rows.
 * This gives the rows either way.
 */
export function returnedRows<T>(result: unknown): T[] {
  if (Array.isArray(result) && result.length === 2 && Array.isArray(result[0]) && typeof result[1] === 'number') return result[0] as T[];
  return result as T[];
}

/** Node's socket errors: the peer is not there, went away, or does not answer. */
const CONNECTION_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'EHOSTDOWN', 'EAI_AGAIN']);

/**
 * node-postgres's and pg-pool's own words when a connection cannot be made, dies, or a query gets no answer in
 * time (DATABASE_CONNECT_TIMEOUT_MS, DATABASE_QUERY_TIMEOUT_MS).
 */
const CONNECTION_MESSAGES =
  /^(Connection terminated|timeout exceeded when trying to connect|Query read timeout|Client has encountered a connection error|Client was closed|Cannot use a pool after calling end)/;

/**
 * Whether `error` says PostgreSQL cannot be reached right now (stopped, restarting, hung, unreachable), rather than
 * that this request was wrong: a connection exception (SQLSTATE class 08), an administrator or crash shutdown or a
 * server still starting (57P01, 57P02, 57P03), too many connections (53300), a socket error or a connection/query
 * timeout, or a transaction whose connection TypeORM released when it died. Such a request is worth retrying: the answer is a 503 with Retry-After, never a 500. TypeORM wraps a
 * failed query (QueryFailedError, the driver's error in `driverError`); a failed connect reaches us unwrapped.
 */
export function isDatabaseUnavailable(error: unknown): boolean {
  // TypeORM releases a transaction's connection as soon as its socket reports an error (PostgreSQL killed or
  // restarted mid-transaction); the transaction's next statement then fails with this, not with the socket's error
  if (error instanceof QueryRunnerProviderAlreadyReleasedError || error instanceof QueryRunnerAlreadyReleasedError) return true;
  for (const candidate of [error, (error as { driverError?: unknown })?.driverError]) {
    if (!candidate || typeof candidate !== 'object') continue;
    const { code, message } = candidate as { code?: unknown; message?: unknown };
    if (typeof code === 'string') {
      if (CONNECTION_CODES.has(code)) return true;
      if (/^08[0-9A-Z]{3}$/.test(code) || code === '57P01' || code === '57P02' || code === '57P03' || code === '53300') return true;
    }
    if (typeof message === 'string' && CONNECTION_MESSAGES.test(message)) return true;
  }
  return false;
}

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

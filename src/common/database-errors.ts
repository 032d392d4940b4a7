/** PostgreSQL unique_violation, for turning a lost race on a unique name into a 409. */
export function isUniqueViolation(error: unknown, constraint?: string): boolean {
  const driverError = (error as { driverError?: { code?: string; constraint?: string }; code?: string }) ?? {};
  const code = driverError.driverError?.code ?? driverError.code;
  const name = driverError.driverError?.constraint ?? (error as { constraint?: string }).constraint;
  return code === '23505' && (!constraint || name === constraint);
}

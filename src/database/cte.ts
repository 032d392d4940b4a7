/** A piece of SQL and its parameters, its placeholders numbered from one the caller gave. */
export interface SqlPart {
  sql: string;
  params: unknown[];
}

/**
 * The data-modifying CTE items of one statement (`name AS (...)`, comma-separated), from parts that each take the
 * next free placeholder: `name` wraps a bare statement, a part without one gives items already named. A part that
 * gives nothing is left out; undefined when none gives anything. How an upload's commit, a run's jobs and a job's
 * outcome put several tables' writes into one statement, each table's owner writing its own part.
 */
export function cteItems(firstParam: number, parts: Array<{ name?: string; part: (firstParam: number) => SqlPart | undefined }>): SqlPart | undefined {
  const items: string[] = [];
  const params: unknown[] = [];
  for (const { name, part } of parts) {
    const made = part(firstParam + params.length);
    if (!made) continue;
    items.push(name ? `${name} AS (${made.sql})` : made.sql);
    params.push(...made.params);
  }
  return items.length ? { sql: items.join(', '), params } : undefined;
}

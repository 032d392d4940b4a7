import type { DataSource } from 'typeorm';

const accessSum = async (dataSource: DataSource, mfileId: string): Promise<number> =>
  (await dataSource.query("SELECT COALESCE(SUM(value), 0)::float AS sum FROM usage WHERE metric = 'access' AND resource_id = $1", [mfileId]))[0].sum;

/**
 * The access bytes metered for an Mfile once they reach `expected` (they are recorded after each response, off its
 * path, so they may trail it), or the last sum seen; then a short wait proves nothing more arrives.
 */
export async function accessMetered(dataSource: DataSource, mfileId: string, expected: number): Promise<number> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline && (await accessSum(dataSource, mfileId)) < expected) await new Promise((resolve) => setTimeout(resolve, 50));
  await new Promise((resolve) => setTimeout(resolve, 100));
  return accessSum(dataSource, mfileId);
}

import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/config';
import { runMigrations } from '../../src/persistence/data-source';
import { ensureInfrastructure, Infrastructure } from '../../src/infrastructure/infrastructure';
import { generateKeySecret } from '../../src/keys/key-secret';
import { freePort } from './free-port';
import { S3Server, startS3Server } from './s3-server';

/**
 * One real PostgreSQL and one real redis-server for the whole run (the same embedded ones `npm start` uses),
 * in a temp folder. Tests isolate themselves by tenant: each makes its own containers.
 */
export default async function globalSetup(): Promise<void> {
  const varDir = mkdtempSync(join(tmpdir(), 'mserve-test-'));
  const config = loadConfig({
    VAR_DIR: varDir,
    EMBEDDED_POSTGRES_PORT: String(await freePort()),
    EMBEDDED_REDIS_PORT: String(await freePort()),
  });
  const infrastructure = await ensureInfrastructure(config, (line) => process.stderr.write(`[test infra] ${line}\n`));
  await runMigrations(infrastructure.databaseUrl);
  (globalThis as { __MSERVE_INFRA__?: Infrastructure }).__MSERVE_INFRA__ = infrastructure;
  process.env.DATABASE_URL = infrastructure.databaseUrl;
  process.env.REDIS_URL = infrastructure.redisUrl;
  process.env.VAR_DIR = varDir;
  // Every suite runs its own apps with their own queue prefix against this one database: a reconciler would put
  // the other suites' queued jobs on its queues. Suites that test the reconciler turn it on for their app.
  process.env.JOB_RECONCILER = 'false';
  process.env.ADMIN_KEY = generateKeySecret();
  // the console's provider administrator (user `admin`, holding the admin key)
  process.env.ADMIN_PASSWORD = process.env.ADMIN_PASSWORD ?? 'test-admin-password';
  process.env.LOG_LEVEL = process.env.LOG_LEVEL ?? 'warn';
  // TEST_STORAGE=s3: one s3rver for the run, a bucket per app (test/support/test-storage.ts); stopped by the teardown
  if (process.env.TEST_STORAGE === 's3') {
    const s3 = await startS3Server();
    (globalThis as { __MSERVE_S3__?: S3Server }).__MSERVE_S3__ = s3;
    process.env.TEST_S3_ENDPOINT = s3.endpoint;
    process.env.TEST_S3_DIR = s3.dir;
  }
}

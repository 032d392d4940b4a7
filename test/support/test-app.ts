import type { NestExpressApplication } from '@nestjs/platform-express';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { createApiApp, tuneServer } from '../../src/bootstrap/api-app';
import { AppConfig, loadConfig } from '../../src/config/config';
import { ensureAdminUser } from '../../src/auth/admin-user';
import { ensureAdminKey } from '../../src/keys/admin-key';
import { newStorageEnv, storageEnvOf } from './test-storage';

export interface TestApp {
  app: NestExpressApplication;
  config: AppConfig;
  baseUrl: string;
  api: string;
  adminKey: string;
  dataSource: DataSource;
  close(): Promise<void>;
}

/**
 * The real api, listening on a free port, against the run's real PostgreSQL and Redis, storage in a temp dir — or,
 * with TEST_STORAGE=s3, in a bucket of its own on the run's s3rver (the temp dir then holds its local scratch).
 */
export async function startTestApp(overrides: Record<string, string> = {}): Promise<TestApp> {
  const storageDir = mkdtempSync(join(process.env.VAR_DIR!, 'storage-'));
  // its own backup copies too: they are named by sha256, so two suites storing the same bytes would share one
  const backupDir = overrides.BACKUP_DIR ? undefined : mkdtempSync(join(process.env.VAR_DIR!, 'backup-'));
  // each app gets its own queues, so jobs made by one suite's uploads are never run by another suite's worker
  const queuePrefix = `mserve-test-${Math.random().toString(36).slice(2, 10)}`;
  const config = loadConfig({
    ...process.env,
    PORT: '0',
    HOST: '127.0.0.1',
    STORAGE_DIR: storageDir,
    ...(backupDir && { BACKUP_DIR: backupDir }),
    QUEUE_PREFIX: queuePrefix,
    // a suite that names its adapter (its own s3rver, a tmpfs) keeps it
    ...(overrides.STORAGE ? {} : newStorageEnv()),
    ...overrides,
  });
  const app = await createApiApp(config);
  tuneServer(app, config.http);
  const dataSource = app.get(DataSource);
  await ensureAdminKey(dataSource, config, () => undefined);
  await ensureAdminUser(dataSource, config, () => undefined);
  await app.listen(config.port, '127.0.0.1');
  const address = app.getHttpServer().address() as { port: number };
  const baseUrl = `http://127.0.0.1:${address.port}`;
  return {
    app,
    config,
    baseUrl,
    api: `${baseUrl}/api/v1`,
    adminKey: config.adminKey!,
    dataSource,
    close: async () => {
      await app.close();
      rmSync(storageDir, { recursive: true, force: true });
      if (backupDir) rmSync(backupDir, { recursive: true, force: true });
    },
  };
}

/** What a worker or a second api must share with an app started by `startTestApp`: its storage (and bucket), backups and queues. */
export function sharedWith(config: AppConfig): Record<string, string> {
  return { STORAGE_DIR: config.storageDir, BACKUP_DIR: config.backupDir, QUEUE_PREFIX: config.queuePrefix, ...storageEnvOf(config) };
}

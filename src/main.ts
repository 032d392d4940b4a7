import 'reflect-metadata';
import { createApiApp, tuneServer } from './bootstrap/api-app';
import { handleSignals, requireUrls } from './bootstrap/process-lifecycle';
import { rootLogger } from './common/logger';
import { loadConfig } from './config/config';
import { runMigrations } from './persistence/data-source';
import { HealthController } from './health/health.controller';
import { ensureAdminUser } from './auth/admin-user';
import { ensureAdminKey } from './keys/admin-key';
import { DataSource } from 'typeorm';

/** The api process: REST, WebDAV and the console. Migrates, makes sure the admin key and user exist, serves. */
async function main(): Promise<void> {
  const config = loadConfig();
  const logger = rootLogger(config.logLevel, { role: 'api' });
  requireUrls(config, 'api');
  const applied = await runMigrations(config.migrationUrl!);
  if (applied.length) logger.info({ migrations: applied }, 'applied migrations');
  const app = await createApiApp(config);
  tuneServer(app, config.http);
  // secrets shown once go to the terminal only, never into the log stream
  const unlogged = (line: string) => (line.includes('shown once') ? line.replace(/: \S+$/, ': [printed once on stdout]') : line);
  await ensureAdminKey(app.get(DataSource), config, (line) => {
    logger.info(unlogged(line));
    if (line.startsWith('generated')) process.stdout.write(`\n  ${line}\n\n`);
  });
  await ensureAdminUser(app.get(DataSource), config, (line) => {
    logger.info(unlogged(line));
    if (line.includes('shown once')) process.stdout.write(`\n  ${line}\n\n`);
  });
  await app.listen(config.port, config.host);
  logger.info(`MServe api listening on http://${config.host === '0.0.0.0' ? 'localhost' : config.host}:${config.port} (console at /, OpenAPI at /api/docs)`);
  process.stdout.write(
    `\n  MServe console: ${config.publicUrl}/  (log in as ${config.adminUsername}; the password is in ${config.varDir}/admin.password unless ADMIN_PASSWORD is set)\n\n`,
  );
  handleSignals(
    logger,
    async () => {
      app.get(HealthController).markShuttingDown();
      await app.close();
    },
    config.shutdownTimeoutMs,
  );
}

main().catch((error) => {
  rootLogger().fatal({ err: error }, `api failed to start: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});

import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { handleSignals, requireUrls } from './bootstrap/process-lifecycle';
import { PinoNestLogger, rootLogger } from './common/logger';
import { loadConfig, parseQueueList } from './config/config';
import { runMigrations } from './persistence/data-source';
import { WorkerModule } from './worker/worker.module';

/** `--queues normal:4,priority:2,hardware.gpu:1` overrides WORKER_QUEUES. */
export function queuesFromArguments(argv: string[], fallback: string): string {
  const index = argv.findIndex((argument) => argument === '--queues' || argument.startsWith('--queues='));
  if (index < 0) return fallback;
  const value = argv[index].includes('=') ? argv[index].split('=')[1] : argv[index + 1];
  if (!value || !/^[a-z0-9.]+(:\d+)?(,[a-z0-9.]+(:\d+)?)*$/.test(value))
    throw new Error(`--queues must look like normal:4,priority:2,hardware.gpu:1 (got ${value})`);
  return value;
}

async function main(): Promise<void> {
  const config = loadConfig();
  const logger = rootLogger(config.logLevel, { role: 'worker' });
  requireUrls(config, 'worker');
  // A worker may start before the api or alone: it brings the schema to the latest migration itself. The advisory
  // lock inside runMigrations makes it wait while another process migrates, so it never meets missing tables.
  const applied = await runMigrations(config.migrationUrl!);
  if (applied.length) logger.info({ migrations: applied }, 'applied migrations');
  const queues = parseQueueList(queuesFromArguments(process.argv.slice(2), config.workerQueues.map((q) => `${q.queue}:${q.concurrency}`).join(',')));
  const app = await NestFactory.createApplicationContext(WorkerModule.forRoot(config, queues), { logger: new PinoNestLogger(logger) });
  await app.init();
  logger.info({ queues }, 'MServe worker ready');
  handleSignals(logger, () => app.close(), config.shutdownTimeoutMs);
}

if (require.main === module) {
  main().catch((error) => {
    rootLogger().fatal({ err: error }, `worker failed to start: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  });
}

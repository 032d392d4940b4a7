import { DynamicModule, Module } from '@nestjs/common';
import { AppConfig, QueueConsumption } from '../config/config';
import { ConfigModule } from '../config/config.module';
import { DatabaseModule } from '../persistence/database.module';
import { KeyRecheck } from '../keys/key-recheck';
import { MfilesModule } from '../mfiles/mfiles.module';
import { ResourceResolver } from '../keys/resource-resolver.service';
import { PipelinesModule } from '../pipelines/pipelines.module';
import { QueuesModule } from '../queues/queues.module';
import { RedisModule } from '../redis/redis.module';
import { StorageModule } from '../storage/storage.module';
import { TasksModule } from '../tasks/tasks.module';
import { UsageModule } from '../usage/usage.module';
import { WebhooksModule } from '../webhooks/webhooks.module';
import { JobOutcomeRecorder } from './job-outcome-recorder';
import { JobRunner } from './job-runner';
import { TaskEffects } from './task-effects';
import { WORKER_QUEUES, WorkerService } from './worker.service';

/** The worker role: no HTTP API, just queues, task handlers and the database. */
@Module({})
export class WorkerModule {
  static forRoot(config: AppConfig, queues: QueueConsumption[]): DynamicModule {
    return {
      module: WorkerModule,
      imports: [
        ConfigModule.forRoot(config),
        DatabaseModule.forRoot('worker'),
        RedisModule,
        QueuesModule,
        StorageModule,
        UsageModule,
        PipelinesModule,
        WebhooksModule,
        TasksModule,
        // new files a task fetched are committed as every new file is (MfilesService.createFromBlob)
        MfilesModule,
      ],
      // KeyRecheck and its resolver only (not KeysModule: the worker serves no HTTP and needs no key guard)
      providers: [{ provide: WORKER_QUEUES, useValue: queues }, ResourceResolver, KeyRecheck, TaskEffects, JobOutcomeRecorder, JobRunner, WorkerService],
    };
  }
}

import { DynamicModule, Module } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { AppConfig, QueueConsumption } from '../config/config';
import { CoreModule } from '../core.module';
import { PipelinesModule } from '../pipelines/pipelines.module';
import { ChecksumHandlers } from '../tasks/checksum.handlers';
import { ImageHandlers } from '../tasks/image.handlers';
import { VideoHandlers } from '../tasks/video.handlers';
import { WebHandlers } from '../tasks/web.handlers';
import { WebhooksModule } from '../webhooks/webhooks.module';
import { TaskRegistry } from '../tasks/task-registry';
import { JobRunner } from './job-runner';
import { WORKER_QUEUES, WorkerService } from './worker.service';

/** The worker role: no HTTP API, just queues, task handlers and the database. */
@Module({})
export class WorkerModule {
  static forRoot(config: AppConfig, queues: QueueConsumption[]): DynamicModule {
    return {
      module: WorkerModule,
      imports: [CoreModule.forRoot(config), DiscoveryModule, PipelinesModule, WebhooksModule],
      providers: [{ provide: WORKER_QUEUES, useValue: queues }, TaskRegistry, ChecksumHandlers, ImageHandlers, VideoHandlers, WebHandlers, JobRunner, WorkerService],
    };
  }
}

import { Module } from '@nestjs/common';
import { QueuesModule } from '../queues/queues.module';
import { RedisModule } from '../redis/redis.module';
import { UsageModule } from '../usage/usage.module';
import { WebhooksModule } from '../webhooks/webhooks.module';
import { AccessSessions } from './access-sessions';
import { ContainerProfilesController } from './container-profiles.controller';
import { ProfilesController } from './profiles.controller';
import { JobEvents } from './job-events';
import { JobReconciler } from './job-reconciler';
import { PeriodicScheduler } from './periodic-scheduler';
import { PipelinesService } from './pipelines.service';
import { ServiceEvents } from './service-events';

/** The task engine's bookkeeping, shared by the api (triggers) and the worker (dependents). */
@Module({
  imports: [QueuesModule, RedisModule, UsageModule, WebhooksModule],
  controllers: [ProfilesController, ContainerProfilesController],
  providers: [PipelinesService, JobReconciler, PeriodicScheduler, JobEvents, AccessSessions, ServiceEvents],
  exports: [PipelinesService, JobReconciler, PeriodicScheduler, JobEvents, ServiceEvents],
})
export class PipelinesModule {}

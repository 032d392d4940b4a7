import { Module } from '@nestjs/common';
import { WebhooksModule } from '../webhooks/webhooks.module';
import { JobEvents } from './job-events';
import { JobReconciler } from './job-reconciler';
import { PeriodicScheduler } from './periodic-scheduler';
import { PipelinesService } from './pipelines.service';

/** The task engine's bookkeeping, shared by the api (triggers) and the worker (dependents). */
@Module({ imports: [WebhooksModule], providers: [PipelinesService, JobReconciler, PeriodicScheduler, JobEvents], exports: [PipelinesService, JobReconciler, PeriodicScheduler, JobEvents] })
export class PipelinesModule {}

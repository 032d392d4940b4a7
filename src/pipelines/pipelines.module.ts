import { Module } from '@nestjs/common';
import { JobReconciler } from './job-reconciler';
import { PeriodicScheduler } from './periodic-scheduler';
import { PipelinesService } from './pipelines.service';

/** The task engine's bookkeeping, shared by the api (triggers) and the worker (dependents). */
@Module({ providers: [PipelinesService, JobReconciler, PeriodicScheduler], exports: [PipelinesService, JobReconciler, PeriodicScheduler] })
export class PipelinesModule {}

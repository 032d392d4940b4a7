import { Module } from '@nestjs/common';
import { JobReconciler } from './job-reconciler';
import { PipelinesService } from './pipelines.service';

/** The task engine's bookkeeping, shared by the api (triggers) and the worker (dependents). */
@Module({ providers: [PipelinesService, JobReconciler], exports: [PipelinesService, JobReconciler] })
export class PipelinesModule {}

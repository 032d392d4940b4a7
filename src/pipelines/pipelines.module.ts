import { Module } from '@nestjs/common';
import { PipelinesService } from './pipelines.service';

/** The task engine's bookkeeping, shared by the api (triggers) and the worker (dependents). */
@Module({ providers: [PipelinesService], exports: [PipelinesService] })
export class PipelinesModule {}

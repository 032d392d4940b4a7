import { Module } from '@nestjs/common';
import { KeysModule } from '../keys/keys.module';
import { QueuesModule } from '../queues/queues.module';
import { UsageModule } from '../usage/usage.module';
import { MetricsController } from './metrics.controller';

/** /metrics for Prometheus: process, HTTP and queue figures; per-tenant usage (bounded) only for a provider key with usage:read. */
@Module({ imports: [QueuesModule, UsageModule, KeysModule], controllers: [MetricsController] })
export class MetricsModule {}

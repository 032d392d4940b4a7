import { Module } from '@nestjs/common';
import { RedisModule } from '../redis/redis.module';
import { StorageModule } from '../storage/storage.module';
import { HealthController } from './health.controller';

/** /health/live and /health/ready: PostgreSQL, Redis and the storage folder. */
@Module({ imports: [RedisModule, StorageModule], controllers: [HealthController] })
export class HealthModule {}

import { Module } from '@nestjs/common';
import { DeletionModule } from '../deletion/deletion.module';
import { KeysModule } from '../keys/keys.module';
import { PipelinesModule } from '../pipelines/pipelines.module';
import { QueuesModule } from '../queues/queues.module';
import { RedisModule } from '../redis/redis.module';
import { StorageModule } from '../storage/storage.module';
import { UsageModule } from '../usage/usage.module';
import { JobsController } from './jobs.controller';
import { EventStreams } from './event-streams';
import { JobsService } from './jobs.service';

/** Jobs on request: create, follow (SSE), cancel, retry, delete. */
@Module({
  imports: [DeletionModule, KeysModule, PipelinesModule, QueuesModule, RedisModule, StorageModule, UsageModule],
  controllers: [JobsController],
  providers: [JobsService, EventStreams],
})
export class JobsModule {}

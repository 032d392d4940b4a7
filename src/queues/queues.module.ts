import { BullModule } from '@nestjs/bull';
import { Module } from '@nestjs/common';
import type { QueueOptions } from 'bull';
import { APP_CONFIG, AppConfig } from '../config/config';
import { RedisConnections } from '../redis/redis-connections';
import { RedisModule } from '../redis/redis.module';
import { QUEUE_SETTINGS, QueueName } from './queue-catalogue';
import { QUEUE_OPTIONS, QueueRegistry } from './queue-registry';
import { QueueStatusService } from './queue-status.service';
import { QueuesController } from './queues.controller';

/** Every queue shares the process's Redis connections (one client, one subscriber; a blocking one per consumed queue). */
function queueOptions(config: AppConfig, connections: RedisConnections): QueueOptions {
  return { prefix: config.queuePrefix, settings: QUEUE_SETTINGS, createClient: (type) => connections.forBull(type) };
}

@Module({
  imports: [
    RedisModule,
    BullModule.forRootAsync({ imports: [RedisModule], inject: [APP_CONFIG, RedisConnections], useFactory: queueOptions }),
    BullModule.registerQueue(...Object.values(QueueName).map((name) => ({ name }))),
  ],
  controllers: [QueuesController],
  providers: [{ provide: QUEUE_OPTIONS, inject: [APP_CONFIG, RedisConnections], useFactory: queueOptions }, QueueRegistry, QueueStatusService],
  exports: [QueueRegistry, RedisModule],
})
export class QueuesModule {}

import { BullModule } from '@nestjs/bull';
import { Global, Module } from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '../config/config';
import { queueOptions, QUEUE_OPTIONS } from './queue-options';
import { QueueName } from './queue-names';
import { QueueRegistry } from './queue-registry';
import { QueueStatusService } from './queue-status.service';
import { QueuesController } from './queues.controller';

@Global()
@Module({
  imports: [
    BullModule.forRootAsync({ inject: [APP_CONFIG], useFactory: (config: AppConfig) => queueOptions(config.redisUrl!, config.queuePrefix) }),
    BullModule.registerQueue({ name: QueueName.Normal }, { name: QueueName.Priority }),
  ],
  controllers: [QueuesController],
  providers: [{ provide: QUEUE_OPTIONS, inject: [APP_CONFIG], useFactory: (config: AppConfig) => queueOptions(config.redisUrl!, config.queuePrefix) }, QueueRegistry, QueueStatusService],
  exports: [QueueRegistry, BullModule, QUEUE_OPTIONS],
})
export class QueuesModule {}

import { DynamicModule, Module } from '@nestjs/common';
import { AppConfig } from './config/config';
import { ConfigModule } from './config/config.module';
import { DatabaseModule } from './database/database.module';
import { QueuesModule } from './queues/queues.module';
import { StorageModule } from './storage/storage.module';
import { UsageModule } from './usage/usage.module';

/** What both roles (api and worker) stand on: config, database, content store, metering, queues. */
@Module({})
export class CoreModule {
  static forRoot(config: AppConfig): DynamicModule {
    return { module: CoreModule, imports: [ConfigModule.forRoot(config), DatabaseModule, StorageModule, UsageModule, QueuesModule] };
  }
}

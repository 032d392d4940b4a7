import { Global, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { APP_CONFIG, AppConfig } from '../config/config';
import { dataSourceOptions } from './data-source';
import { REPOSITORIES } from './repositories';

/** The data source and every repository; global, as config is (docs/architecture.md). */
@Global()
@Module({
  imports: [TypeOrmModule.forRootAsync({ inject: [APP_CONFIG], useFactory: (config: AppConfig) => dataSourceOptions(config.databaseUrl!) })],
  providers: REPOSITORIES,
  exports: REPOSITORIES,
})
export class DatabaseModule {}

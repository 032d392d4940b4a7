import { Global, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { APP_CONFIG, AppConfig } from '../config/config';
import { dataSourceOptions } from './data-source';
import { REPOSITORIES } from './repositories';
import { UnitOfWork } from './unit-of-work';

/** The data source, every repository and the unit of work; global, as config is (docs/architecture.md). */
@Global()
@Module({
  imports: [TypeOrmModule.forRootAsync({ inject: [APP_CONFIG], useFactory: (config: AppConfig) => dataSourceOptions(config.databaseUrl!) })],
  providers: [...REPOSITORIES, UnitOfWork],
  exports: [...REPOSITORIES, UnitOfWork],
})
export class DatabaseModule {}

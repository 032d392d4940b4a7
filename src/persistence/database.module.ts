import { Global, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { APP_CONFIG, AppConfig } from '../config/config';
import { DatabaseHealth } from '../database/database-health';
import { dataSourceOptions } from './data-source';
import { REPOSITORIES, RESOURCE_PLACES_PROVIDER } from './repositories';
import { UnitOfWork } from '../database/unit-of-work';
import { configurePreparedStatements } from '../database/prepared';

/** The data source, every repository and the unit of work; global, as config is (docs/architecture.md). */
@Global()
@Module({
  imports: [
    TypeOrmModule.forRootAsync({
      inject: [APP_CONFIG],
      useFactory: (config: AppConfig) => {
        configurePreparedStatements(config.database.preparedStatements);
        return dataSourceOptions(config.databaseUrl!, config.database);
      },
    }),
  ],
  providers: [...REPOSITORIES, RESOURCE_PLACES_PROVIDER, UnitOfWork, DatabaseHealth],
  exports: [...REPOSITORIES, RESOURCE_PLACES_PROVIDER.provide, UnitOfWork, DatabaseHealth],
})
export class DatabaseModule {}

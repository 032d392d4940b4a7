import { DynamicModule, Global, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { APP_CONFIG, AppConfig, DatabaseRole } from '../config/config';
import { DatabaseHealth } from '../database/database-health';
import { dataSourceOptions } from './data-source';
import { REPOSITORIES, RESOURCE_PLACES_PROVIDER } from './repositories';
import { UnitOfWork } from '../database/unit-of-work';
import { configurePreparedStatements } from '../database/prepared';

/**
 * The data source, every repository and the unit of work; global, as config is (docs/architecture.md). The role
 * picks the pool's size (DATABASE_POOL_SIZE) and the connections' application_name.
 */
@Global()
@Module({})
export class DatabaseModule {
  static forRoot(role: DatabaseRole): DynamicModule {
    return {
      module: DatabaseModule,
      imports: [
        TypeOrmModule.forRootAsync({
          inject: [APP_CONFIG],
          useFactory: (config: AppConfig) => {
            configurePreparedStatements(config.database.preparedStatements);
            const { connectTimeoutMs, queryTimeoutMs, poolSize } = config.database;
            return dataSourceOptions(config.databaseUrl!, { connectTimeoutMs, queryTimeoutMs, poolSize: poolSize[role], applicationName: `mserve-${role}` });
          },
        }),
      ],
      providers: [...REPOSITORIES, RESOURCE_PLACES_PROVIDER, UnitOfWork, DatabaseHealth],
      exports: [...REPOSITORIES, RESOURCE_PLACES_PROVIDER.provide, UnitOfWork, DatabaseHealth],
    };
  }
}

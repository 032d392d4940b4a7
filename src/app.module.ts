import { DynamicModule, Module } from '@nestjs/common';
import { AuthModule } from './auth/auth.module';
import { AppConfig } from './config/config';
import { ConfigModule } from './config/config.module';
import { ContainersModule } from './containers/containers.module';
import { DatabaseModule } from './persistence/database.module';
import { DavModule } from './dav/dav.module';
import { HealthModule } from './health/health.module';
import { JobOutputsModule } from './job-outputs/job-outputs.module';
import { JobsModule } from './jobs/jobs.module';
import { KeysModule } from './keys/keys.module';
import { MetricsModule } from './metrics/metrics.module';
import { MfilesModule } from './mfiles/mfiles.module';
import { MfoldersModule } from './mfolders/mfolders.module';
import { PipelinesModule } from './pipelines/pipelines.module';
import { QueuesModule } from './queues/queues.module';
import { ServicesModule } from './services/services.module';
import { UploadsModule } from './uploads/uploads.module';
import { UsageModule } from './usage/usage.module';
import { WebhooksModule } from './webhooks/webhooks.module';

/**
 * The api role: REST, WebDAV, sessions and the console. Never runs heavy tasks itself. Each folder's module
 * declares its own controllers and providers and imports what it uses; only config and the database are global.
 */
@Module({})
export class AppModule {
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ConfigModule.forRoot(config),
        DatabaseModule.forRoot('api'),
        KeysModule,
        ContainersModule,
        ServicesModule,
        PipelinesModule,
        WebhooksModule,
        MfoldersModule,
        MfilesModule,
        UploadsModule,
        JobsModule,
        JobOutputsModule,
        DavModule,
        AuthModule,
        UsageModule,
        QueuesModule,
        HealthModule,
        MetricsModule,
      ],
    };
  }
}

import { DynamicModule, Module } from '@nestjs/common';
import { AuthModule } from './auth/auth.module';
import { AppConfig } from './config/config';
import { ContainersModule } from './containers/containers.module';
import { CoreModule } from './core.module';
import { DavModule } from './dav/dav.module';
import { HealthController } from './health/health.controller';
import { JobsModule } from './jobs/jobs.module';
import { KeysModule } from './keys/keys.module';
import { MetricsController } from './metrics/metrics.controller';
import { MfilesModule } from './mfiles/mfiles.module';
import { MfoldersModule } from './mfolders/mfolders.module';
import { ServicesModule } from './services/services.module';
import { UploadsModule } from './uploads/uploads.module';
import { UsageController } from './usage/usage.controller';

/** The api role: REST, WebDAV, sessions and the console. Never runs heavy tasks itself. */
@Module({})
export class AppModule {
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [CoreModule.forRoot(config), KeysModule, ContainersModule, ServicesModule, MfoldersModule, MfilesModule, UploadsModule, JobsModule, DavModule, AuthModule],
      controllers: [HealthController, MetricsController, UsageController],
    };
  }
}

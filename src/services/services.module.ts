import { Module } from '@nestjs/common';
import { DeletionModule } from '../deletion/deletion.module';
import { KeysModule } from '../keys/keys.module';
import { PipelinesModule } from '../pipelines/pipelines.module';
import { StorageModule } from '../storage/storage.module';
import { UsageModule } from '../usage/usage.module';
import { ServicesController } from './services.controller';
import { ServicesService } from './services.service';

/** Services: a customer's space in a container, with its profile, quotas and management properties. */
@Module({ imports: [DeletionModule, KeysModule, PipelinesModule, StorageModule, UsageModule], controllers: [ServicesController], providers: [ServicesService] })
export class ServicesModule {}

import { Module } from '@nestjs/common';
import { DeletionModule } from '../deletion/deletion.module';
import { KeysModule } from '../keys/keys.module';
import { StorageModule } from '../storage/storage.module';
import { UsageModule } from '../usage/usage.module';
import { ContainersController } from './containers.controller';
import { ContainersService } from './containers.service';

@Module({ imports: [DeletionModule, KeysModule, StorageModule, UsageModule], controllers: [ContainersController], providers: [ContainersService] })
export class ContainersModule {}

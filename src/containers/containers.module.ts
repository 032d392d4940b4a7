import { Module } from '@nestjs/common';
import { KeysModule } from '../keys/keys.module';
import { StorageModule } from '../storage/storage.module';
import { UsageModule } from '../usage/usage.module';
import { ContainersController } from './containers.controller';
import { ContainersService } from './containers.service';

@Module({ imports: [KeysModule, StorageModule, UsageModule], controllers: [ContainersController], providers: [ContainersService] })
export class ContainersModule {}

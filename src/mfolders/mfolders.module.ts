import { Module } from '@nestjs/common';
import { PipelinesModule } from '../pipelines/pipelines.module';
import { DeletionModule } from '../deletion/deletion.module';
import { KeysModule } from '../keys/keys.module';
import { StorageModule } from '../storage/storage.module';
import { UsageModule } from '../usage/usage.module';
import { MfoldersController } from './mfolders.controller';
import { MfoldersService } from './mfolders.service';

@Module({
  imports: [DeletionModule, KeysModule, PipelinesModule, StorageModule, UsageModule],
  controllers: [MfoldersController],
  providers: [MfoldersService],
  exports: [MfoldersService],
})
export class MfoldersModule {}

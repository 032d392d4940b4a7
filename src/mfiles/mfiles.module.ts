import { Module } from '@nestjs/common';
import { KeysModule } from '../keys/keys.module';
import { MfoldersModule } from '../mfolders/mfolders.module';
import { PipelinesModule } from '../pipelines/pipelines.module';
import { StorageModule } from '../storage/storage.module';
import { UsageModule } from '../usage/usage.module';
import { MfilesController } from './mfiles.controller';
import { MfilesService } from './mfiles.service';

@Module({
  imports: [KeysModule, MfoldersModule, PipelinesModule, StorageModule, UsageModule],
  controllers: [MfilesController],
  providers: [MfilesService],
  exports: [MfilesService],
})
export class MfilesModule {}

import { Module } from '@nestjs/common';
import { MfilesModule } from '../mfiles/mfiles.module';
import { MfoldersModule } from '../mfolders/mfolders.module';
import { PipelinesModule } from '../pipelines/pipelines.module';
import { RedisModule } from '../redis/redis.module';
import { StorageModule } from '../storage/storage.module';
import { UsageModule } from '../usage/usage.module';
import { ChunkedUploadController } from './chunked-upload.controller';
import { TusController } from './tus.controller';
import { UploadLock } from './upload-lock';
import { UploadSessionsService } from './upload-sessions.service';

@Module({
  imports: [MfilesModule, MfoldersModule, PipelinesModule, RedisModule, StorageModule, UsageModule],
  controllers: [TusController, ChunkedUploadController],
  providers: [UploadSessionsService, UploadLock],
  exports: [UploadSessionsService],
})
export class UploadsModule {}

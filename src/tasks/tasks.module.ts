import { Module } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { StorageModule } from '../storage/storage.module';
import { UsageModule } from '../usage/usage.module';
import { WebhooksModule } from '../webhooks/webhooks.module';
import { ChecksumHandlers } from './checksum.handlers';
import { ImageHandlers } from './image.handlers';
import { TaskRegistry } from './task-registry';
import { VideoHandlers } from './video.handlers';
import { WebHandlers } from './web.handlers';

/** The task handlers, found by decorator; boot fails when a task of the catalogue has none or two. */
@Module({
  imports: [DiscoveryModule, StorageModule, UsageModule, WebhooksModule],
  providers: [TaskRegistry, ChecksumHandlers, ImageHandlers, VideoHandlers, WebHandlers],
  exports: [TaskRegistry],
})
export class TasksModule {}

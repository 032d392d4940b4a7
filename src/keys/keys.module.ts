import { Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { KeyGuard } from './key.guard';
import { KeysController } from './keys.controller';
import { KeysService } from './keys.service';
import { ResourceResolver } from './resource-resolver.service';

/** Capability keys: issuing, deriving, revoking, and the guard every api request passes. */
@Module({
  controllers: [KeysController],
  providers: [KeysService, ResourceResolver, { provide: APP_GUARD, useClass: KeyGuard }],
  exports: [KeysService, ResourceResolver],
})
export class KeysModule {}

import { Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { KeyGuard } from './key.guard';
import { KeysController } from './keys.controller';
import { KeysService } from './keys.service';
import { ResourceResolver } from './resource-resolver.service';
import { RequestAuthenticator } from './request-authenticator';
import { RedisModule } from '../redis/redis.module';

/** Capability keys: issuing, deriving, revoking, and the guard every api request passes. */
@Module({
  imports: [RedisModule],
  controllers: [KeysController],
  providers: [KeysService, ResourceResolver, RequestAuthenticator, { provide: APP_GUARD, useClass: KeyGuard }],
  exports: [KeysService, ResourceResolver, RequestAuthenticator],
})
export class KeysModule {}

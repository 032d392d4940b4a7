import { Module } from '@nestjs/common';
import { KeysModule } from '../keys/keys.module';
import { RedisModule } from '../redis/redis.module';
import { AuthService } from './auth.service';
import { PassportService } from './passport.service';
import { SessionController } from './session.controller';
import { UsersController } from './users.controller';

/** People: sessions, password and OpenID Connect login, wallets, accounts. */
@Module({
  imports: [KeysModule, RedisModule],
  controllers: [SessionController, UsersController],
  providers: [AuthService, PassportService],
  exports: [AuthService],
})
export class AuthModule {}

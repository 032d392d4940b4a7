import { Module } from '@nestjs/common';
import { AuthService } from './auth.service';
import { PassportService } from './passport.service';
import { SessionController } from './session.controller';
import { UsersController } from './users.controller';

/** People: sessions, password and OpenID Connect login, wallets, accounts. */
@Module({
  controllers: [SessionController, UsersController],
  providers: [AuthService, PassportService],
  exports: [AuthService],
})
export class AuthModule {}

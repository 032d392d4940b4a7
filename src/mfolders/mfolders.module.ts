import { Module } from '@nestjs/common';
import { MfoldersController } from './mfolders.controller';
import { MfoldersService } from './mfolders.service';

@Module({ controllers: [MfoldersController], providers: [MfoldersService], exports: [MfoldersService] })
export class MfoldersModule {}

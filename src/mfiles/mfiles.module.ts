import { Module } from '@nestjs/common';
import { MfoldersModule } from '../mfolders/mfolders.module';
import { PipelinesModule } from '../pipelines/pipelines.module';
import { MfilesController } from './mfiles.controller';
import { MfilesService } from './mfiles.service';

@Module({ imports: [MfoldersModule, PipelinesModule], controllers: [MfilesController], providers: [MfilesService], exports: [MfilesService] })
export class MfilesModule {}

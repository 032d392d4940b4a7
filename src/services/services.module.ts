import { Module } from '@nestjs/common';
import { PipelinesModule } from '../pipelines/pipelines.module';
import { ProfilesController } from '../pipelines/profiles.controller';
import { ServicesController } from './services.controller';
import { ServicesService } from './services.service';

@Module({ imports: [PipelinesModule], controllers: [ServicesController, ProfilesController], providers: [ServicesService] })
export class ServicesModule {}

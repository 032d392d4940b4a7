import { Module } from '@nestjs/common';
import { PipelinesModule } from '../pipelines/pipelines.module';
import { ContainerProfilesController } from '../pipelines/container-profiles.controller';
import { ProfilesController } from '../pipelines/profiles.controller';
import { WebhooksController } from '../webhooks/webhooks.controller';
import { WebhooksModule } from '../webhooks/webhooks.module';
import { ServicesController } from './services.controller';
import { ServicesService } from './services.service';

@Module({ imports: [PipelinesModule, WebhooksModule], controllers: [ServicesController, ProfilesController, ContainerProfilesController, WebhooksController], providers: [ServicesService] })
export class ServicesModule {}

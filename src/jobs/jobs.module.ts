import { Module } from '@nestjs/common';
import { JobOutputsController } from '../job-outputs/job-outputs.controller';
import { JobOutputsService } from '../job-outputs/job-outputs.service';
import { MfilesModule } from '../mfiles/mfiles.module';
import { PipelinesModule } from '../pipelines/pipelines.module';
import { JobsController } from './jobs.controller';
import { JobsService } from './jobs.service';

@Module({ imports: [MfilesModule, PipelinesModule], controllers: [JobsController, JobOutputsController], providers: [JobsService, JobOutputsService] })
export class JobsModule {}

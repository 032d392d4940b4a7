import { Module } from '@nestjs/common';
import { MfilesModule } from '../mfiles/mfiles.module';
import { StorageModule } from '../storage/storage.module';
import { JobOutputsController } from './job-outputs.controller';
import { JobOutputsService } from './job-outputs.service';

/** What jobs produced: listing, downloads, and turning an output into a new Mfile. */
@Module({ imports: [MfilesModule, StorageModule], controllers: [JobOutputsController], providers: [JobOutputsService] })
export class JobOutputsModule {}

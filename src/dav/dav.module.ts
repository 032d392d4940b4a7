import { Module } from '@nestjs/common';
import { MfilesModule } from '../mfiles/mfiles.module';
import { MfoldersModule } from '../mfolders/mfolders.module';
import { DavLocks } from './dav-locks';
import { DavProperties } from './dav-properties';
import { DavService } from './dav.service';

/** WebDAV at /dav/ (mounted by the api app before the body parsers; see dav.middleware.ts). */
@Module({
  imports: [MfilesModule, MfoldersModule],
  providers: [DavService, DavLocks, DavProperties],
  exports: [DavService],
})
export class DavModule {}

import { Module } from '@nestjs/common';
import { KeysModule } from '../keys/keys.module';
import { MfilesModule } from '../mfiles/mfiles.module';
import { MfoldersModule } from '../mfolders/mfolders.module';
import { DavLockHandlers } from './dav-lock-handlers';
import { DavLocks } from './dav-locks';
import { DavPreconditions } from './dav-preconditions';
import { DavProperties } from './dav-properties';
import { DavPropertyHandlers } from './dav-property-handlers';
import { DavService } from './dav.service';

/** WebDAV at /dav/ (mounted by the api app before the body parsers; see dav.middleware.ts). */
@Module({
  imports: [KeysModule, MfilesModule, MfoldersModule],
  providers: [DavService, DavLocks, DavProperties, DavPreconditions, DavPropertyHandlers, DavLockHandlers],
  exports: [DavService],
})
export class DavModule {}

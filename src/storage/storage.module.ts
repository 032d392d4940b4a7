import { Inject, Logger, Module, OnModuleInit } from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '../config/config';
import { BackupStore } from './backup-store';
import { BlobJanitor } from './blob-janitor';
import { ContentStore } from './content-store';
import { MimeDetector } from './mime-detector';

/** Content on disk: the content store, backup copies, mime detection, and removing bytes after commit. */
@Module({
  providers: [
    { provide: ContentStore, inject: [APP_CONFIG], useFactory: (config: AppConfig) => new ContentStore(config.storageDir) },
    { provide: BackupStore, inject: [APP_CONFIG], useFactory: (config: AppConfig) => new BackupStore(config.backupDir) },
    MimeDetector,
    BlobJanitor,
  ],
  exports: [ContentStore, BackupStore, MimeDetector, BlobJanitor],
})
export class StorageModule implements OnModuleInit {
  private readonly logger = new Logger('storage');
  constructor(@Inject(ContentStore) private readonly store: ContentStore) {}

  async onModuleInit(): Promise<void> {
    const { removedTempFiles } = await this.store.init();
    if (removedTempFiles > 0) this.logger.log(`removed ${removedTempFiles} leftover temp file(s) of interrupted writes`);
  }
}

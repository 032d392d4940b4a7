import { Inject, Logger, Module, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '../config/config';
import { BackupStore } from './backup-store';
import { BlobJanitor } from './blob-janitor';
import { BlobStore } from './blob-store';
import { ContentStore } from './content-store';
import { MimeDetector } from './mime-detector';
import { S3BlobStore } from './s3-store';

/** The storage port's adapter the configuration asks for: the filesystem (default) or an S3-compatible bucket (STORAGE=s3). */
export function blobStoreFor(config: AppConfig): BlobStore {
  if (config.storage === 's3') {
    if (!config.s3) throw new Error('STORAGE=s3 needs S3_BUCKET');
    return new S3BlobStore(config.storageDir, config.s3);
  }
  return new ContentStore(config.storageDir);
}

/** Content: the storage port (filesystem or S3), backup copies, mime detection, and removing bytes after commit. */
@Module({
  providers: [
    { provide: BlobStore, inject: [APP_CONFIG], useFactory: blobStoreFor },
    { provide: BackupStore, inject: [APP_CONFIG], useFactory: (config: AppConfig) => new BackupStore(config.backupDir) },
    MimeDetector,
    BlobJanitor,
  ],
  exports: [BlobStore, BackupStore, MimeDetector, BlobJanitor],
})
export class StorageModule implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger('storage');
  constructor(@Inject(BlobStore) private readonly store: BlobStore) {}

  async onModuleInit(): Promise<void> {
    const { removedTempFiles } = await this.store.init();
    if (removedTempFiles > 0) this.logger.log(`removed ${removedTempFiles} leftover temp file(s) of interrupted writes`);
    if (this.store instanceof S3BlobStore) this.logger.log(`content in S3 bucket ${this.store.bucket}`);
  }

  onModuleDestroy(): void {
    if (this.store instanceof S3BlobStore) this.store.destroy();
  }
}

import { Inject, Logger, Module, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '../config/config';
import { BackupStore, FileBackupStore } from './backup-store';
import { BlobJanitor } from './blob-janitor';
import { BlobStore } from './blob-store';
import { ContentStore } from './content-store';
import { MimeDetector } from './mime-detector';

/**
 * The storage port's adapter the configuration asks for: the filesystem (default) or an S3-compatible bucket
 * (STORAGE=s3). The S3 adapter and the AWS SDK are loaded only then: a process on the filesystem never pays for them.
 */
export function blobStoreFor(config: AppConfig): BlobStore {
  if (config.storage === 's3') {
    if (!config.s3) throw new Error('STORAGE=s3 needs S3_BUCKET');
    // required here, not imported above: loading the AWS SDK costs a second at start (a native import() would not
    // resolve './s3-store' under nodenext without an extension the tests' transform lacks)
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { S3BlobStore } = require('./s3-store') as typeof import('./s3-store');
    return new S3BlobStore(config.storageDir, config.s3);
  }
  return new ContentStore(config.storageDir);
}

/**
 * The backup port's adapter: with the S3 content store, the backup bucket (S3_BACKUP_BUCKET or the content bucket,
 * under `backup/`), so that every node sees every copy; otherwise BACKUP_DIR.
 */
export function backupStoreFor(config: AppConfig, store: BlobStore): BackupStore {
  if (store.kind === 's3' && config.s3) {
    // required here for the same reason as the S3 adapter above
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { S3BackupStore } = require('./s3-backup-store') as typeof import('./s3-backup-store');
    const s3 = store as import('./s3-store').S3BlobStore;
    return new S3BackupStore(s3, config.s3.backupBucket, config.s3.createBucket);
  }
  return new FileBackupStore(config.backupDir, store);
}

/** Content: the storage port (filesystem or S3), backup copies, mime detection, and removing bytes after commit. */
@Module({
  providers: [
    { provide: BlobStore, inject: [APP_CONFIG], useFactory: blobStoreFor },
    { provide: BackupStore, inject: [APP_CONFIG, BlobStore], useFactory: backupStoreFor },
    MimeDetector,
    BlobJanitor,
  ],
  exports: [BlobStore, BackupStore, MimeDetector, BlobJanitor],
})
export class StorageModule implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger('storage');
  constructor(
    @Inject(BlobStore) private readonly store: BlobStore,
    @Inject(BackupStore) private readonly backups: BackupStore,
  ) {}

  async onModuleInit(): Promise<void> {
    const { removedTempFiles } = await this.store.init();
    if (removedTempFiles > 0) this.logger.log(`removed ${removedTempFiles} leftover temp file(s) of interrupted writes`);
    await this.backups.init();
    this.logger.log(`content in ${this.store.describe()}, backup copies in ${this.backups.describe()}`);
  }

  onModuleDestroy(): void {
    this.store.close();
  }
}

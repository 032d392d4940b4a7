import { Injectable, Logger } from '@nestjs/common';
import { BackupStore } from './backup-store';
import { BlobStore } from './blob-store';

/**
 * Removes bytes by their key, once the rows that named them are gone (SubtreeDeletion says when and which): a blob
 * or a backup copy that cannot be removed is logged and left for a later sweep, never an error to the caller.
 */
@Injectable()
export class BlobJanitor {
  private readonly logger = new Logger('storage');
  constructor(
    private readonly store: BlobStore,
    private readonly backups: BackupStore,
  ) {}

  /** Removes backup copies (by sha256) nobody holds any more. */
  async removeBackupCopies(sha256s: string[]): Promise<void> {
    for (const sha256 of sha256s) {
      await this.backups.remove(sha256).catch((error) => this.logger.warn(`could not remove backup copy ${sha256}: ${String(error)}`));
    }
  }

  async removeAll(blobKeys: string[]): Promise<void> {
    for (const key of blobKeys) {
      await this.store.remove(key).catch((error) => this.logger.warn(`could not remove blob ${key}: ${String(error)}`));
    }
  }
}

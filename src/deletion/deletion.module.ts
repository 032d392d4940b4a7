import { Module } from '@nestjs/common';
import { StorageModule } from '../storage/storage.module';
import { SubtreeDeletion } from './subtree-deletion';

/** The one way a subtree of content (container, service, folder, job) is deleted: rows, then bytes after commit. */
@Module({ imports: [StorageModule], providers: [SubtreeDeletion], exports: [SubtreeDeletion] })
export class DeletionModule {}

import { Injectable, Logger } from '@nestjs/common';
import { EntityManager } from 'typeorm';
import { ContentStore } from './content-store';

/**
 * Deleting rows and deleting bytes cannot share a transaction. So: collect the blob keys inside the
 * transaction that deletes the rows, and remove the bytes only after it committed. A crash in between leaves an
 * orphan blob (wasted space, found by a later sweep), never a row pointing at missing bytes.
 */
@Injectable()
export class BlobJanitor {
  private readonly logger = new Logger('storage');
  constructor(private readonly store: ContentStore) {}

  async blobsUnder(manager: EntityManager, scope: { containerId?: string; serviceId?: string; folderIds?: string[]; mfileIds?: string[]; jobIds?: string[] }): Promise<string[]> {
    const [column, value] = scope.containerId
      ? ['container_id', scope.containerId]
      : scope.serviceId
        ? ['service_id', scope.serviceId]
        : scope.folderIds
          ? ['folder_id', scope.folderIds]
          : scope.mfileIds
            ? ['id', scope.mfileIds]
            : ['job_id', scope.jobIds];
    const many = Array.isArray(value);
    const condition = `${column} ${many ? '= ANY($1::uuid[])' : '= $1'}`;
    const files: { blob_key: string }[] =
      column === 'job_id' ? [] : await manager.query(`SELECT blob_key FROM mfile WHERE ${condition}`, [value]);
    const outputs: { blob_key: string }[] =
      column === 'folder_id' || column === 'id'
        ? []
        : await manager.query(`SELECT blob_key FROM job_output WHERE ${condition} AND blob_key IS NOT NULL`, [value]);
    return [...files, ...outputs].map((row) => row.blob_key);
  }

  async removeAll(blobKeys: string[]): Promise<void> {
    for (const key of blobKeys) {
      await this.store.remove(key).catch((error) => this.logger.warn(`could not remove blob ${key}: ${String(error)}`));
    }
  }
}

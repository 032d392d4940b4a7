import { Injectable, Logger } from '@nestjs/common';
import { EntityManager } from 'typeorm';
import { BackupStore } from './backup-store';
import { ContentStore } from './content-store';

/**
 * Deleting rows and deleting bytes cannot share a transaction. So: collect the blob keys inside the
 * transaction that deletes the rows, and remove the bytes only after it committed. A crash in between leaves an
 * orphan blob (wasted space, found by a later sweep), never a row pointing at missing bytes.
 */
@Injectable()
export class BlobJanitor {
  private readonly logger = new Logger('storage');
  constructor(
    private readonly store: ContentStore,
    private readonly backups: BackupStore,
  ) {}

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

  /**
   * The backup copies a service's (or container's) backup jobs stored: they go with it, once committed, unless an
   * Mfile elsewhere holds the same bytes (copies are kept once per content). Its disc usage goes with it too.
   */
  async backupsUnder(manager: EntityManager, scope: { serviceId: string } | { containerId: string }): Promise<string[]> {
    const [column, id] = 'serviceId' in scope ? ['service_id', scope.serviceId] : ['container_id', scope.containerId];
    const rows: { sha256: string }[] = await manager.query(
      `SELECT DISTINCT result->>'sha256' AS sha256 FROM job WHERE ${column} = $1 AND task = 'backup' AND state = 'succeeded' AND (result->>'created')::boolean`,
      [id],
    );
    return rows.map((row) => row.sha256).filter((sha256) => /^[0-9a-f]{64}$/.test(sha256));
  }

  async removeBackups(manager: EntityManager, sha256s: string[]): Promise<void> {
    if (sha256s.length === 0) return;
    const held: { sha256: string }[] = await manager.query('SELECT DISTINCT sha256 FROM mfile WHERE sha256 = ANY($1::char(64)[])', [sha256s]);
    const keep = new Set(held.map((row) => row.sha256));
    for (const sha256 of sha256s.filter((one) => !keep.has(one))) {
      await this.backups.remove(sha256).catch((error) => this.logger.warn(`could not remove backup copy ${sha256}: ${String(error)}`));
    }
  }

  async removeAll(blobKeys: string[]): Promise<void> {
    for (const key of blobKeys) {
      await this.store.remove(key).catch((error) => this.logger.warn(`could not remove blob ${key}: ${String(error)}`));
    }
  }
}

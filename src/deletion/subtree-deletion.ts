import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { JobOutputRepository } from '../job-outputs/job-output.repository';
import { JobRepository } from '../jobs/job.repository';
import { MfileRepository } from '../mfiles/mfile.repository';
import { BlobJanitor } from '../storage/blob-janitor';

/** What a deletion takes away: everything in a container or a service, a folder's subtree, or jobs with their outputs. */
export type Subtree = { containerId: string } | { serviceId: string } | { folderIds: string[] } | { jobIds: string[] };

/** The steps of one deletion that differ from one kind of subtree to another; both run in its transaction. */
export interface SubtreeDeletionSteps<Locked extends { subtree: Subtree }> {
  /**
   * Locks the rows at the top of the subtree (in the order quota checks take them in, so no upload commits into
   * them meanwhile and the bytes listed next are all there are), checks the rules (throws to refuse), and says
   * what is under it, with whatever else `delete` needs of what it read.
   */
  lock(manager: EntityManager): Promise<Locked>;
  /** Deletes the rows (the foreign keys cascade to the rest) and records what leaves the usage. */
  delete(manager: EntityManager, locked: Locked): Promise<void>;
}

/**
 * The one way a subtree of content is deleted (a container, a service, a folder, a job): lock, collect the blob keys
 * and backup copies under it, delete the rows, and only once that committed remove the bytes. Deleting rows and
 * deleting bytes cannot share a transaction: a crash in between leaves an orphan blob (wasted space, found by a
 * later sweep), never a row pointing at missing bytes.
 */
@Injectable()
export class SubtreeDeletion {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly mfiles: MfileRepository,
    private readonly outputs: JobOutputRepository,
    private readonly jobs: JobRepository,
    private readonly janitor: BlobJanitor,
  ) {}

  async run<Locked extends { subtree: Subtree }>(steps: SubtreeDeletionSteps<Locked>): Promise<void> {
    let backups: string[] = [];
    const blobs = await this.dataSource.transaction(async (manager) => {
      const locked = await steps.lock(manager);
      const { subtree } = locked;
      const blobKeys = await this.blobKeysUnder(subtree, manager);
      // a service's (or container's) backup copies go with it, unless an Mfile elsewhere holds the same bytes
      if ('containerId' in subtree || 'serviceId' in subtree) backups = await this.jobs.backupCopiesUnder(subtree, manager);
      await steps.delete(manager, locked);
      return blobKeys;
    });
    await this.janitor.removeAll(blobs);
    if (backups.length === 0) return;
    // copies are kept once per content: checked after the commit, against every Mfile that is left
    const held = await this.mfiles.heldContents(backups);
    await this.janitor.removeBackupCopies(backups.filter((sha256) => !held.has(sha256)));
  }

  private async blobKeysUnder(subtree: Subtree, manager: EntityManager): Promise<string[]> {
    const files = 'jobIds' in subtree ? [] : await this.mfiles.blobKeysUnder(subtree, manager);
    const outputs = 'folderIds' in subtree ? [] : await this.outputs.blobKeysUnder(subtree, manager);
    return [...files, ...outputs];
  }
}

import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager, IsNull, LessThan } from 'typeorm';
import type { UploadStage } from '../storage/blob-store';
import { UploadSession } from './upload-session.entity';

/** What a new upload is made of (the database fills in the timestamps). */
export type NewUploadSession = Omit<UploadSession, 'container' | 'service' | 'folder' | 'createdByKey' | 'createdAt' | 'updatedAt'>;

/**
 * The only place SQL on `upload_session` is written (docs/architecture.md: services hold rules, repositories hold queries).
 * Every method takes the EntityManager of the caller's transaction when it must take part in one.
 */
@Injectable()
export class UploadSessionRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  private db(manager?: EntityManager): EntityManager {
    return manager ?? this.dataSource.manager;
  }

  /** The id of an upload of this name into this folder that is still in progress, or null. */
  async pendingNamed(folderId: string, name: string, manager?: EntityManager): Promise<string | null> {
    const pending: { id: string }[] = await this.db(manager).query(
      'SELECT id FROM upload_session WHERE folder_id = $1 AND name = $2 AND completed_at IS NULL AND expires_at > now() LIMIT 1',
      [folderId, name],
    );
    return pending.length ? pending[0].id : null;
  }

  /**
   * Inserts a new upload; returns it as given (the caller does not read it back). TypeORM's insert would write the
   * columns the database returned into the object it inserts (a bigint as a string), so it inserts a copy.
   */
  async create(fields: NewUploadSession, manager?: EntityManager): Promise<UploadSession> {
    const session = this.db(manager).create(UploadSession, fields);
    await this.db(manager).insert(UploadSession, { ...fields });
    return session;
  }

  /** An upload of this service (expired or not), or null. */
  async findInService(id: string, serviceId: string, manager?: EntityManager): Promise<UploadSession | null> {
    return this.db(manager).getRepository(UploadSession).findOneBy({ id, serviceId });
  }

  /**
   * Records the bytes received so far: the hashed prefix, the running digest states, the new expiry. False when the
   * upload is gone (removed meanwhile).
   */
  async saveProgress(
    id: string,
    progress: Pick<UploadSession, 'offset' | 'md5State' | 'sha256State' | 'expiresAt'> & Partial<Pick<UploadSession, 'received' | 'stage'>>,
    manager?: EntityManager,
    /** Only if the row's offset is still this one (what the writer read): false otherwise, as for a row gone. */
    expectedOffset?: number,
  ): Promise<boolean> {
    const where = expectedOffset === undefined ? { id } : { id, offset: expectedOffset };
    return Boolean((await this.db(manager).getRepository(UploadSession).update(where, progress)).affected);
  }

  /** The upload's bytes are staged in the store from now on (its multipart upload opened). */
  async setStage(id: string, stage: UploadStage, manager?: EntityManager): Promise<void> {
    await this.db(manager).update(UploadSession, { id }, { stage });
  }

  /** The upload became this Mfile at `completedAt`, all its `length` bytes received. */
  async markCompleted(id: string, mfileId: string, completedAt: Date, length: number, manager?: EntityManager): Promise<void> {
    await this.db(manager).update(UploadSession, { id }, { completedAt, mfileId, offset: length, md5State: null, sha256State: null, stage: null });
  }

  /** Up to `limit` uploads that expired before `now`. */
  async expired(now: Date, limit: number, manager?: EntityManager): Promise<UploadSession[]> {
    return this.db(manager)
      .getRepository(UploadSession)
      .find({ where: { expiresAt: LessThan(now) }, take: limit });
  }

  /** Deletes an upload; false when it was gone already (another process removed it). */
  async delete(id: string, manager?: EntityManager): Promise<boolean> {
    const result = await this.db(manager).getRepository(UploadSession).delete({ id });
    return Boolean(result.affected);
  }

  /** Deletes an upload that never completed; false when it is gone or completed meanwhile. */
  async deleteUnfinished(id: string, manager?: EntityManager): Promise<boolean> {
    const result = await this.db(manager).getRepository(UploadSession).delete({ id, completedAt: IsNull() });
    return Boolean(result.affected);
  }
}

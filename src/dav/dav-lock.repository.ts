import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager, MoreThan } from 'typeorm';
import { DavLock } from './dav.entities';

/** What a new lock is made of (its creation date is the database's). */
export type NewDavLock = Omit<DavLock, 'createdAt' | 'service'>;

/**
 * The only place SQL on `dav_lock` is written (docs/architecture.md: services hold rules, repositories hold queries).
 * Every method takes the EntityManager of the caller's transaction when it must take part in one.
 */
@Injectable()
export class DavLockRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  private db(manager?: EntityManager): EntityManager {
    return manager ?? this.dataSource.manager;
  }

  /** Serialises the lock decisions of one service across processes until the caller's transaction ends. */
  async lockService(serviceId: string, manager: EntityManager): Promise<void> {
    await manager.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`dav_lock:${serviceId}`]);
  }

  /** Forgets the locks of a service that expired more than a minute ago. */
  async deleteExpired(serviceId: string, manager?: EntityManager): Promise<void> {
    await this.db(manager).query("DELETE FROM dav_lock WHERE service_id = $1 AND expires_at < now() - interval '1 minute'", [serviceId]);
  }

  /** The live locks of a service. */
  findActive(serviceId: string, manager?: EntityManager): Promise<DavLock[]> {
    return this.db(manager).createQueryBuilder(DavLock, 'l').where('l.service_id = :serviceId AND l.expires_at > now()', { serviceId }).getMany();
  }

  /** Stores a new lock and returns it. */
  async insert(values: NewDavLock, manager?: EntityManager): Promise<DavLock> {
    const db = this.db(manager);
    const lock = db.create(DavLock, values);
    await db.insert(DavLock, lock);
    return lock;
  }

  /** Gives a live lock a new timeout; null when there is no such live lock. */
  async extend(token: string, timeoutSeconds: number, expiresAt: Date, manager?: EntityManager): Promise<DavLock | null> {
    const repository = this.db(manager).getRepository(DavLock);
    const result = await repository.update({ token, expiresAt: MoreThan(new Date()) }, { timeoutSeconds, expiresAt });
    return result.affected ? repository.findOneBy({ token }) : null;
  }

  /** Deletes a lock; false when there was none. */
  async delete(token: string, manager?: EntityManager): Promise<boolean> {
    const result = await this.db(manager).getRepository(DavLock).delete({ token });
    return (result.affected ?? 0) > 0;
  }

  /** Deletes the locks of a service on a path and below it ('' is the whole service). */
  async deleteWithin(serviceId: string, path: string, manager?: EntityManager): Promise<void> {
    await this.db(manager).query(`DELETE FROM dav_lock WHERE service_id = $1 AND (path = $2 OR $2 = '' OR starts_with(path, $2 || '/'))`, [serviceId, path]);
  }
}

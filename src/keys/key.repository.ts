import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { returnedRows } from '../common/database-errors';
import { Key } from './key.entity';

/** A key row as minted (its creation time is the database's). */
export type NewKey = Omit<Key, 'createdAt' | 'container' | 'service' | 'parent' | 'createdByKey'>;

/** A key and every key derived from it, at any depth. */
const DESCENDANTS = `
  WITH RECURSIVE tree AS (
    SELECT id FROM key WHERE id = $1
    UNION SELECT k.id FROM key k JOIN tree t ON k.parent_id = t.id
  )`;

/** Serialises the provider admin key's bootstrap across concurrently starting processes. */
const ADMIN_KEY_LOCK = 727275;

/**
 * The only place SQL on `key` is written (docs/architecture.md: services hold rules, repositories hold queries).
 * Every method takes the EntityManager of the caller's transaction when it must take part in one.
 */
@Injectable()
export class KeyRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  private db(manager?: EntityManager): EntityManager {
    return manager ?? this.dataSource.manager;
  }

  async findById(id: string, manager?: EntityManager): Promise<Key | null> {
    return this.db(manager).getRepository(Key).findOneBy({ id });
  }

  async findBySecretHash(secretHash: string, manager?: EntityManager): Promise<Key | null> {
    return this.db(manager).getRepository(Key).findOneBy({ secretHash });
  }

  /** These keys, in no particular order (missing ids are left out). */
  async findByIds(ids: string[], manager?: EntityManager): Promise<Key[]> {
    if (ids.length === 0) return [];
    return this.db(manager)
      .getRepository(Key)
      .findBy(ids.map((id) => ({ id })));
  }

  /** These keys, by id. */
  async findByIdsOrdered(ids: string[], manager?: EntityManager): Promise<Key[]> {
    if (ids.length === 0) return [];
    return this.db(manager).getRepository(Key).createQueryBuilder('k').where('k.id IN (:...ids)', { ids }).orderBy('k.id').getMany();
  }

  /**
   * The key if this holder holds it: named by the session (`keyIds`), or in the wallet (user_key) of the user, when
   * that user is not disabled. Null otherwise.
   */
  async findHeld(keyId: string, holder: { userId?: string; keyIds?: string[] }, manager?: EntityManager): Promise<Key | null> {
    return this.db(manager)
      .getRepository(Key)
      .createQueryBuilder('k')
      .where('k.id = :keyId', { keyId })
      .andWhere(
        '(k.id = ANY(CAST(:held AS uuid[])) OR EXISTS (SELECT 1 FROM user_key uk JOIN app_user u ON u.id = uk.user_id WHERE uk.key_id = k.id AND uk.user_id = CAST(:userId AS uuid) AND NOT u.disabled))',
        { held: holder.keyIds ?? [], userId: holder.userId ?? null },
      )
      .getOne();
  }

  /** Inserts a minted key and reads it back (with its database defaults). */
  async create(values: NewKey, manager?: EntityManager): Promise<Key> {
    const db = this.db(manager);
    const key = db.create(Key, values);
    await db.insert(Key, key);
    return db.findOneByOrFail(Key, { id: key.id });
  }

  /**
   * Up to `limit` ids, in id order after `after`, of the keys derived from `presenterId` (at any depth) or minted by it.
   */
  async managedIds(presenterId: string, after: string | null, limit: number, manager?: EntityManager): Promise<string[]> {
    const rows: { id: string }[] = await this.db(manager).query(
      `${DESCENDANTS}
       SELECT id FROM key
        WHERE (id IN (SELECT id FROM tree WHERE id <> $1) OR created_by_key_id = $1)
          AND ($2::uuid IS NULL OR id > $2::uuid)
        ORDER BY id LIMIT $3`,
      [presenterId, after, limit],
    );
    return rows.map((row) => row.id);
  }

  /** Whether `ancestorId` is `keyId` or one of the keys it was derived from. */
  async isDerivedFrom(keyId: string, ancestorId: string, manager?: EntityManager): Promise<boolean> {
    const ancestors: { id: string }[] = await this.db(manager).query(
      `WITH RECURSIVE up AS (SELECT id, parent_id FROM key WHERE id = $1 UNION SELECT k.id, k.parent_id FROM key k JOIN up ON k.id = up.parent_id)
       SELECT id FROM up WHERE id = $2`,
      [keyId, ancestorId],
    );
    return ancestors.length > 0;
  }

  /** Revokes a key and, in the same statement, everything derived from it; returns the ids it revoked. */
  async revokeTree(id: string, manager?: EntityManager): Promise<string[]> {
    const rows = returnedRows<{ id: string }>(
      await this.db(manager).query(
        `${DESCENDANTS}
         UPDATE key SET revoked_at = now() WHERE id IN (SELECT id FROM tree) AND revoked_at IS NULL RETURNING id`,
        [id],
      ),
    );
    return rows.map((row) => row.id);
  }

  /** The unrevoked keys that point at one of these resources. */
  async activeIdsForResources(resourceIds: string[], manager?: EntityManager): Promise<string[]> {
    const rows: { id: string }[] = await this.db(manager).query('SELECT id FROM key WHERE resource_id = ANY($1::uuid[]) AND revoked_at IS NULL', [resourceIds]);
    return rows.map((row) => row.id);
  }

  /** Takes the admin-key bootstrap lock until the caller's transaction ends (one starting process at a time). */
  async lockAdminKeys(manager: EntityManager): Promise<void> {
    await manager.query(`SELECT pg_advisory_xact_lock(${ADMIN_KEY_LOCK})`);
  }

  /** The unrevoked provider admin keys (ADMIN_KEY / var/admin.key). */
  async activeAdminKeys(manager?: EntityManager): Promise<Key[]> {
    return this.db(manager).getRepository(Key).createQueryBuilder('k').where('k.bootstrap = true AND k.revoked_at IS NULL').getMany();
  }
}

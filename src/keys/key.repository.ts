import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { returnedRows } from '../common/database-errors';
import { queryPrepared } from '../database/prepared';
import { Key } from './key.entity';

/** A key row as minted (its creation time is the database's). */
export type NewKey = Omit<Key, 'createdAt' | 'container' | 'service' | 'parent' | 'createdByKey'>;

/** Where a service sits and its management state, read with the key that opens a request (`findForRequest`). */
export interface ServicePlaceRow {
  containerId: string;
  suspended: boolean;
  containerSuspended: boolean;
  startsAt: Date | null;
  endsAt: Date | null;
  /** The service's root folder (null only while a service is being created). */
  rootFolderId: string | null;
}

/** A key and every key derived from it, at any depth. */
const DESCENDANTS = `
  WITH RECURSIVE tree AS (
    SELECT id FROM key WHERE id = $1
    UNION SELECT k.id FROM key k JOIN tree t ON k.parent_id = t.id
  )`;

/** How far up (or down) a chain of derived keys the recursive queries walk; chains are a handful deep in practice. */
const MAX_DEPTH = 100;

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
    return (await this.findForRequest(secretHash, null, manager)).key;
  }

  /**
   * What opens a request, in one statement (plain SQL, no query builder): the key of this secret hash, the nearest
   * key of its parent chain that is revoked or expired (as `deadAncestor`), and, when the request targets a service,
   * that service's container, state (its suspension or its container's, its time window) and root folder. `service`
   * is null when there is no such service (or none was asked for).
   */
  async findForRequest(
    secretHash: string,
    serviceId: string | null,
    manager?: EntityManager,
  ): Promise<{ key: Key | null; dead: { id: string; revoked: boolean } | null; service: ServicePlaceRow | null }> {
    const [row] = await queryPrepared<KeyRequestRow[]>(
      this.db(manager),
      // the key's columns by name: a prepared statement's result must not change shape when a migration adds one
      `WITH RECURSIVE k AS (SELECT ${KEY_COLUMNS} FROM key WHERE secret_hash = $1),
       up AS (
         SELECT a.id, a.parent_id, a.revoked_at, a.expires_at, 1 AS depth FROM key a WHERE a.id = (SELECT parent_id FROM k)
         UNION ALL SELECT a.id, a.parent_id, a.revoked_at, a.expires_at, up.depth + 1 FROM key a JOIN up ON a.id = up.parent_id WHERE up.depth < ${MAX_DEPTH}
       ),
       dead AS (SELECT id, revoked_at IS NOT NULL AS revoked FROM up WHERE revoked_at IS NOT NULL OR expires_at <= now() ORDER BY depth LIMIT 1),
       s AS (
         SELECT s.container_id, s.suspended, c.suspended AS container_suspended, s.starts_at, s.ends_at,
                (SELECT f.id FROM mfolder f WHERE f.service_id = s.id AND f.parent_id IS NULL) AS root_folder_id
           FROM service s JOIN container c ON c.id = s.container_id WHERE s.id = $2::uuid
       )
       SELECT k.*, dead.id AS dead_id, dead.revoked AS dead_revoked,
              s.container_id AS s_container_id, s.suspended AS s_suspended, s.container_suspended AS s_container_suspended,
              s.starts_at AS s_starts_at, s.ends_at AS s_ends_at, s.root_folder_id AS s_root_folder_id
         FROM (SELECT 1) one LEFT JOIN k ON true LEFT JOIN dead ON true LEFT JOIN s ON true`,
      [secretHash, serviceId],
    );
    return {
      key: row?.id ? KeyRepository.fromRow(row) : null,
      dead: row?.dead_id ? { id: row.dead_id, revoked: row.dead_revoked! } : null,
      service: row?.s_container_id
        ? {
            containerId: row.s_container_id,
            suspended: row.s_suspended!,
            containerSuspended: row.s_container_suspended!,
            startsAt: row.s_starts_at,
            endsAt: row.s_ends_at,
            rootFolderId: row.s_root_folder_id,
          }
        : null,
    };
  }

  private static fromRow(row: KeyRow): Key {
    return Object.assign(new Key(), {
      id: row.id,
      secretHash: row.secret_hash,
      label: row.label,
      resourceType: row.resource_type,
      resourceId: row.resource_id,
      containerId: row.container_id,
      serviceId: row.service_id,
      roles: row.roles,
      actions: row.actions,
      parentId: row.parent_id,
      createdByKeyId: row.created_by_key_id,
      expiresAt: row.expires_at,
      revokedAt: row.revoked_at,
      bootstrap: row.bootstrap,
      createdAt: row.created_at,
    });
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
   * The INSERT of a minted key as a data-modifying statement to run inside another statement (an upload commits its
   * Mfile and that Mfile's owner key in one): placeholders from `$firstParam`, written only where `onlyIf` holds.
   */
  createStatement(key: NewKey, firstParam: number, onlyIf: string): { sql: string; params: unknown[] } {
    const params: unknown[] = [];
    const param = (value: unknown, type: string) => `$${firstParam + params.push(value) - 1}::${type}`;
    const values = [
      param(key.id, 'uuid'),
      param(key.secretHash, 'char(64)'),
      param(key.label, 'varchar'),
      param(key.resourceType, 'varchar'),
      param(key.resourceId, 'uuid'),
      param(key.containerId, 'uuid'),
      param(key.serviceId, 'uuid'),
      param(key.roles, 'text[]'),
      param(key.actions, 'text[]'),
      param(key.parentId, 'uuid'),
      param(key.createdByKeyId, 'uuid'),
      param(key.expiresAt, 'timestamptz'),
      param(key.bootstrap, 'boolean'),
    ];
    return {
      sql: `INSERT INTO key (id, secret_hash, label, resource_type, resource_id, container_id, service_id, roles, actions, parent_id, created_by_key_id, expires_at, bootstrap)
            SELECT ${values.join(', ')} WHERE ${onlyIf}`,
      params,
    };
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

  /**
   * Locks a key and every key it was derived from FOR SHARE, root first, until the caller's transaction ends, and
   * returns them as they are now (a revocation that committed while we waited is seen). A derive holds these locks
   * while it inserts the child, so a concurrent revokeTree (which locks its root FOR UPDATE first) either runs
   * before, and the derive sees the revocation, or after, and its tree includes the new child.
   */
  async lockChain(id: string, manager: EntityManager): Promise<Array<Pick<Key, 'id' | 'revokedAt' | 'expiresAt'>>> {
    const rows: Array<{ id: string; revoked_at: Date | null; expires_at: Date | null }> = await manager.query(
      `WITH RECURSIVE up AS (
         SELECT id, parent_id, 0 AS depth FROM key WHERE id = $1
         UNION ALL SELECT k.id, k.parent_id, up.depth + 1 FROM key k JOIN up ON k.id = up.parent_id WHERE up.depth < ${MAX_DEPTH}
       )
       SELECT k.id, k.revoked_at, k.expires_at FROM key k JOIN up ON up.id = k.id ORDER BY up.depth DESC FOR SHARE OF k`,
      [id],
    );
    return rows.map((row) => ({ id: row.id, revokedAt: row.revoked_at, expiresAt: row.expires_at }));
  }

  /**
   * The nearest key this one was derived from that is revoked or expired (null when every ancestor is usable): a
   * key is only as alive as its whole chain. One index walk up `parent_id` (primary key lookups, depth-bounded).
   */
  async deadAncestor(id: string, manager?: EntityManager): Promise<{ id: string; revoked: boolean } | null> {
    const rows: Array<{ id: string; revoked: boolean }> = await this.db(manager).query(
      `WITH RECURSIVE up AS (
         SELECT k.id, k.parent_id, k.revoked_at, k.expires_at, 1 AS depth FROM key k WHERE k.id = (SELECT parent_id FROM key WHERE id = $1)
         UNION ALL SELECT k.id, k.parent_id, k.revoked_at, k.expires_at, up.depth + 1 FROM key k JOIN up ON k.id = up.parent_id WHERE up.depth < ${MAX_DEPTH}
       )
       SELECT id, revoked_at IS NOT NULL AS revoked FROM up WHERE revoked_at IS NOT NULL OR expires_at <= now() ORDER BY depth LIMIT 1`,
      [id],
    );
    return rows[0] ?? null;
  }

  /**
   * Revokes these keys and, in the same statement, everything derived from them; returns the ids it revoked. The
   * roots are locked FOR UPDATE first, in a statement of their own and ancestors first (the order a derive locks a
   * chain in, so the two cannot deadlock): derives holding a root FOR SHARE finish before the trees are read, and the
   * tree statement's snapshot includes the children they committed; later derives wait, then see the revocation.
   */
  async revokeTrees(ids: string[], manager: EntityManager): Promise<string[]> {
    if (ids.length === 0) return [];
    await manager.query(
      `WITH RECURSIVE up AS (
         SELECT id AS root, parent_id, 0 AS depth FROM key WHERE id = ANY($1::uuid[])
         UNION ALL SELECT up.root, k.parent_id, up.depth + 1 FROM key k JOIN up ON k.id = up.parent_id WHERE up.depth < ${MAX_DEPTH}
       ), roots AS (SELECT root, max(depth) AS depth FROM up GROUP BY root)
       SELECT k.id FROM key k JOIN roots ON roots.root = k.id ORDER BY roots.depth, k.id FOR UPDATE OF k`,
      [ids],
    );
    const rows = returnedRows<{ id: string }>(
      await manager.query(
        `WITH RECURSIVE tree AS (
           SELECT id FROM key WHERE id = ANY($1::uuid[])
           UNION SELECT k.id FROM key k JOIN tree t ON k.parent_id = t.id
         )
         UPDATE key SET revoked_at = now() WHERE id IN (SELECT id FROM tree) AND revoked_at IS NULL RETURNING id`,
        [ids],
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

const KEY_COLUMNS =
  'id, secret_hash, label, resource_type, resource_id, container_id, service_id, roles, actions, parent_id, created_by_key_id, expires_at, revoked_at, bootstrap, created_at';

interface KeyRow {
  id: string;
  secret_hash: string;
  label: string | null;
  resource_type: Key['resourceType'];
  resource_id: string | null;
  container_id: string | null;
  service_id: string | null;
  roles: string[];
  actions: string[];
  parent_id: string | null;
  created_by_key_id: string | null;
  expires_at: Date | null;
  revoked_at: Date | null;
  bootstrap: boolean;
  created_at: Date;
}

type KeyRequestRow = KeyRow & {
  dead_id: string | null;
  dead_revoked: boolean | null;
  s_container_id: string | null;
  s_suspended: boolean | null;
  s_container_suspended: boolean | null;
  s_starts_at: Date | null;
  s_ends_at: Date | null;
  s_root_folder_id: string | null;
};

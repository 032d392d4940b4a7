import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { Key } from '../keys/key.entity';
import { User, UserKey } from './user.entity';

/** A user row as created (its creation time is the database's). */
export type NewUser = Omit<User, 'createdAt'>;

/** A key a session or wallet holds: whether it is in the user's wallet, and the name of what it opens. */
export interface HeldKeyRow {
  id: string;
  saved: boolean;
  resourceName: string | null;
}

const RESOURCE_NAME = `
  CASE k.resource_type
    WHEN 'container' THEN (SELECT name FROM container WHERE id = k.resource_id)
    WHEN 'service' THEN (SELECT name FROM service WHERE id = k.resource_id)
    WHEN 'mfolder' THEN (SELECT name FROM mfolder WHERE id = k.resource_id)
    WHEN 'mfile' THEN (SELECT name FROM mfile WHERE id = k.resource_id)
  END`;

/** Serialises the provider administrator's bootstrap across concurrently starting processes. */
const ADMIN_USER_LOCK = 727276;

/**
 * The only place SQL on `app_user` and `user_key` is written (docs/architecture.md: services hold rules, repositories hold queries).
 * Every method takes the EntityManager of the caller's transaction when it must take part in one.
 */
@Injectable()
export class UserRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  private db(manager?: EntityManager): EntityManager {
    return manager ?? this.dataSource.manager;
  }

  async findById(id: string, manager?: EntityManager): Promise<User | null> {
    return this.db(manager).getRepository(User).findOneBy({ id });
  }

  async findEnabled(id: string, manager?: EntityManager): Promise<User | null> {
    return this.db(manager).getRepository(User).findOneBy({ id, disabled: false });
  }

  async exists(id: string, manager?: EntityManager): Promise<boolean> {
    return this.db(manager).getRepository(User).existsBy({ id });
  }

  /** The user with its password hash (not selected otherwise). */
  async findWithPasswordById(userId: string, manager?: EntityManager): Promise<User | null> {
    return this.db(manager).getRepository(User).createQueryBuilder('u').addSelect('u.passwordHash').where('u.id = :userId', { userId }).getOne();
  }

  /** The user with its password hash, by user name as given: `name` must be lower case already (the index is on lower(username)). */
  async findWithPasswordByLowerName(name: string, manager?: EntityManager): Promise<User | null> {
    return this.db(manager).getRepository(User).createQueryBuilder('u').addSelect('u.passwordHash').where('lower(u.username) = :name', { name }).getOne();
  }

  /** The user with its password hash, by user name in any case. */
  async findWithPasswordByName(name: string, manager?: EntityManager): Promise<User | null> {
    return this.db(manager)
      .getRepository(User)
      .createQueryBuilder('u')
      .addSelect('u.passwordHash')
      .where('lower(u.username) = lower(:name)', { name })
      .getOne();
  }

  /** Whether a user name is taken, in any case. */
  async nameTaken(name: string, manager?: EntityManager): Promise<boolean> {
    return this.db(manager).getRepository(User).createQueryBuilder('u').where('lower(u.username) = lower(:name)', { name }).getExists();
  }

  async findByOidc(issuer: string, subject: string, manager?: EntityManager): Promise<User | null> {
    return this.db(manager).getRepository(User).findOneBy({ oidcIssuer: issuer, oidcSubject: subject });
  }

  /** The first accounts, oldest first. */
  async list(limit: number, manager?: EntityManager): Promise<User[]> {
    return this.db(manager)
      .getRepository(User)
      .find({ order: { createdAt: 'ASC' }, take: limit });
  }

  /** Inserts a user and reads it back. */
  async create(values: NewUser, manager?: EntityManager): Promise<User> {
    const repository = this.db(manager).getRepository(User);
    const user = repository.create(values);
    await repository.insert(user);
    return repository.findOneByOrFail({ id: user.id });
  }

  /** Inserts a user without reading it back (the caller keeps the values, password hash included). */
  async insert(values: NewUser, manager?: EntityManager): Promise<User> {
    const db = this.db(manager);
    const user = db.create(User, values);
    await db.insert(User, user);
    return user;
  }

  /** Inserts a user unless its (issuer, subject) is there already (a concurrent first login), and returns the one that is. */
  async createOidcUser(values: NewUser & { oidcIssuer: string; oidcSubject: string }, manager?: EntityManager): Promise<User> {
    const repository = this.db(manager).getRepository(User);
    const user = repository.create(values);
    await repository.createQueryBuilder().insert().values(user).orIgnore().execute();
    return repository.findOneByOrFail({ oidcIssuer: values.oidcIssuer, oidcSubject: values.oidcSubject });
  }

  async update(
    id: string,
    changes: Partial<Pick<User, 'lastLoginAt' | 'email' | 'displayName' | 'passwordHash' | 'disabled'>>,
    manager?: EntityManager,
  ): Promise<void> {
    await this.db(manager).getRepository(User).update(id, changes);
  }

  /** Takes the admin-user bootstrap lock until the caller's transaction ends (one starting process at a time). */
  async lockAdminUser(manager: EntityManager): Promise<void> {
    await manager.query(`SELECT pg_advisory_xact_lock(${ADMIN_USER_LOCK})`);
  }

  /** Puts every unrevoked provider admin key in the user's wallet. */
  async giveAdminKeys(userId: string, manager?: EntityManager): Promise<void> {
    await this.db(manager).query(
      `INSERT INTO user_key (user_id, key_id) SELECT $1, id FROM key WHERE bootstrap AND revoked_at IS NULL ON CONFLICT DO NOTHING`,
      [userId],
    );
  }

  /** Puts a key in a user's wallet (nothing when it is there already). */
  async saveKey(userId: string, keyId: string, manager?: EntityManager): Promise<void> {
    await this.db(manager).createQueryBuilder().insert().into(UserKey).values({ userId, keyId }).orIgnore().execute();
  }

  async hasKey(userId: string, keyId: string, manager?: EntityManager): Promise<boolean> {
    return this.db(manager).getRepository(UserKey).existsBy({ userId, keyId });
  }

  /** Takes a key out of a user's wallet; false when it was not there. */
  async removeKey(userId: string, keyId: string, manager?: EntityManager): Promise<boolean> {
    const result = await this.db(manager).getRepository(UserKey).delete({ userId, keyId });
    return Boolean(result.affected);
  }

  /** The keys in a user's wallet, by id. */
  async walletKeys(userId: string, manager?: EntityManager): Promise<Key[]> {
    return this.db(manager)
      .getRepository(Key)
      .createQueryBuilder('k')
      .innerJoin(UserKey, 'uk', 'uk.key_id = k.id')
      .where('uk.user_id = :id', { id: userId })
      .orderBy('k.id')
      .getMany();
  }

  /**
   * The usable keys (unrevoked, unexpired, and so is every key each was derived from) among those a session names and those in the user's wallet, whether each
   * is in the wallet, and the name of what each opens.
   */
  async heldKeys(sessionKeyIds: string[], userId: string | null, manager?: EntityManager): Promise<HeldKeyRow[]> {
    const rows: { id: string; saved: boolean; resource_name: string | null }[] = await this.db(manager).query(
      `SELECT k.id, EXISTS (SELECT 1 FROM user_key uk WHERE uk.key_id = k.id AND uk.user_id = $2::uuid) AS saved, ${RESOURCE_NAME} AS resource_name
         FROM key k
        WHERE (k.id = ANY($1::uuid[]) OR k.id IN (SELECT key_id FROM user_key WHERE user_id = $2::uuid))
          AND k.revoked_at IS NULL AND (k.expires_at IS NULL OR k.expires_at > now())
          AND NOT EXISTS (
            WITH RECURSIVE up AS (
              SELECT p.id, p.parent_id, p.revoked_at, p.expires_at, 1 AS depth FROM key p WHERE p.id = k.parent_id
              UNION ALL SELECT p.id, p.parent_id, p.revoked_at, p.expires_at, up.depth + 1 FROM key p JOIN up ON p.id = up.parent_id WHERE up.depth < 100
            )
            SELECT 1 FROM up WHERE up.revoked_at IS NOT NULL OR up.expires_at <= now()
          )`,
      [sessionKeyIds, userId],
    );
    return rows.map((row) => ({ id: row.id, saved: row.saved, resourceName: row.resource_name }));
  }
}

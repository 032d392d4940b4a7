import { Inject, Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type Redis from 'ioredis';
import { randomUUID } from 'node:crypto';
import { DataSource, EntityManager, EntitySubscriberInterface, TransactionCommitEvent, TransactionRollbackEvent } from 'typeorm';
import { APP_CONFIG, AppConfig } from '../config/config';
import { REDIS_CLIENT } from '../redis/redis-connections';

/** The mark a transaction carries (QueryRunner.data) when it revoked or deleted keys. */
const KEYS_CHANGED = 'mserve:keysChanged';

/**
 * Marks the caller's transaction: it revokes or deletes keys. Once it commits, and before its caller goes on, the
 * revocation generation changes (KeyRevocations), so no api process answers from what it remembered of a key.
 */
export function keysChangedIn(manager: EntityManager): void {
  if (!manager.queryRunner) throw new Error('keys are revoked or deleted inside a transaction (its EntityManager)');
  manager.queryRunner.data[KEYS_CHANGED] = true;
}

/**
 * The revocation generation: a token in Redis that every revocation (or deletion) of keys replaces once its
 * transaction committed, before the revoking request is answered. A process may answer from what it remembered of a
 * key only under the generation it read before it looked the key up (RequestAuthenticator); a revocation committed
 * since has changed it, so the key is looked up again, in PostgreSQL, at once, in every api process.
 *
 * The replacement runs in TypeORM's after-commit event of the marked transaction (`keysChangedIn`), which the
 * committing call awaits. Redis unreachable: nothing is remembered (`generation()` is null) and the failed
 * replacement is logged; what was remembered before lives at most AUTH_CACHE_MS.
 */
@Injectable()
export class KeyRevocations implements OnModuleInit {
  private readonly logger = new Logger('keys');
  private readonly name: string;

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    @Inject(REDIS_CLIENT) private readonly redis: Redis,
    @Inject(APP_CONFIG) config: AppConfig,
  ) {
    this.name = `${config.queuePrefix}:keys:generation`;
  }

  onModuleInit(): void {
    const subscriber: EntitySubscriberInterface = {
      afterTransactionCommit: (event: TransactionCommitEvent) => {
        const runner = event.queryRunner;
        if (!runner.data?.[KEYS_CHANGED] || runner.isTransactionActive) return undefined; // a savepoint, or keys untouched
        delete runner.data[KEYS_CHANGED];
        return this.bump();
      },
      afterTransactionRollback: (event: TransactionRollbackEvent) => {
        if (!event.queryRunner.isTransactionActive) delete event.queryRunner.data?.[KEYS_CHANGED];
      },
    };
    this.dataSource.subscribers.push(subscriber);
  }

  /** The current generation; null when Redis cannot say (then nothing may be answered from memory). */
  async generation(): Promise<string | null> {
    if (this.redis.status !== 'ready') return null; // an outage costs the lookups it saved, never a wait
    try {
      return (await this.redis.get(this.name)) ?? 'initial';
    } catch {
      return null;
    }
  }

  /** A new generation (a random token, never a counter a lost Redis could count back to). */
  async bump(): Promise<void> {
    try {
      await this.redis.set(this.name, randomUUID());
    } catch (error) {
      this.logger.error(`keys were revoked but the revocation generation could not be changed: ${String(error)}`);
    }
  }
}

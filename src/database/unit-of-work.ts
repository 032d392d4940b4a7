import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';

/** Something to do once the transaction committed (put jobs on their queues, announce a change). */
export type AfterCommit = () => Promise<void>;

/**
 * One transaction in progress: its EntityManager, for the repositories it passes it to, and what to do once it
 * committed. Collect in the transaction, act after commit: a worker never receives a job the database does not
 * have yet, and nothing is announced that was rolled back.
 */
export class Work {
  private readonly hooks: AfterCommit[] = [];
  private readonly slots = new Map<object, unknown>();

  constructor(readonly manager: EntityManager) {}

  /** Runs `hook` after the commit (in the order registered); never when the transaction rolls back. */
  afterCommit(hook: AfterCommit): void {
    this.hooks.push(hook);
  }

  /**
   * What a module keeps for this unit of work under its own `key` (a job outbox), made on first use by `make`,
   * which typically registers the one after-commit hook that acts on it.
   */
  slot<T>(key: object, make: (work: Work) => T): T {
    if (!this.slots.has(key)) this.slots.set(key, make(this));
    return this.slots.get(key) as T;
  }

  /** @internal run by UnitOfWork once committed */
  async committed(): Promise<void> {
    for (const hook of this.hooks) await hook();
  }
}

/**
 * Owns the transaction of a change and its after-commit list, so that the code that makes the change (an upload:
 * mfiles, storage) and the code that reacts to it (pipelines: jobs to dispatch) both hang below it: nothing calls
 * back up into the caller. Generic on purpose: it knows no module; they register their hooks.
 */
@Injectable()
export class UnitOfWork {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /** Runs `work` in a transaction, then (once committed) what it registered to run after commit. */
  async run<T>(work: (unit: Work) => Promise<T>): Promise<T> {
    let unit: Work | undefined;
    const result = await this.dataSource.transaction((manager) => {
      unit = new Work(manager);
      return work(unit);
    });
    await unit!.committed();
    return result;
  }
}

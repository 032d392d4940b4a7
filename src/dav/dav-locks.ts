import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { randomUUID } from 'node:crypto';
import { DataSource, EntityManager } from 'typeorm';
import { DavLockRepository } from './dav-lock.repository';
import { isBelow, samePath } from './dav-path';
import { DavLock } from './dav.entities';

export const DEFAULT_LOCK_SECONDS = 600;
export const MAX_LOCK_SECONDS = 86_400;

/** A lock's path and a resource's path are names below the service root. */
export const lockKey = (names: readonly string[]) => names.join('/');
export const lockNames = (lock: DavLock): string[] => (lock.path === '' ? [] : lock.path.split('/'));

/** Does the lock apply to the resource at `names` (on it, or a Depth: infinity lock above it)? */
export function covers(lock: DavLock, names: readonly string[]): boolean {
  const path = lockNames(lock);
  return samePath(path, names) || (lock.deep && isBelow(names, path));
}

/** Is the lock on the resource at `names` or on something below it? */
export function within(lock: DavLock, names: readonly string[]): boolean {
  const path = lockNames(lock);
  return samePath(path, names) || isBelow(path, names);
}

/** RFC 4918 Timeout header: `Second-N` or `Infinite`, the first one we understand, capped. */
export function parseTimeout(header: string | undefined): number {
  for (const part of (header ?? '').split(',')) {
    const value = part.trim();
    if (/^infinite$/i.test(value)) return MAX_LOCK_SECONDS;
    const match = /^second-(\d{1,12})$/i.exec(value);
    if (match) return Math.max(1, Math.min(MAX_LOCK_SECONDS, Number(match[1])));
  }
  return DEFAULT_LOCK_SECONDS;
}

/**
 * WebDAV locks in PostgreSQL, so that every api process agrees on them. Taking a lock and checking for
 * conflicts happen in one transaction under a per-service advisory lock: two processes cannot both win.
 */
@Injectable()
export class DavLocks {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly repository: DavLockRepository,
  ) {}

  /** The live locks of a service (few: a service's locks are what its clients hold right now). */
  active(serviceId: string, manager?: EntityManager): Promise<DavLock[]> {
    return this.repository.findActive(serviceId, manager);
  }

  /**
   * Creates a lock unless a live one conflicts: an exclusive lock conflicts with any lock that covers the resource
   * or (for a deep lock) lies below it; a shared lock only with exclusive ones. Returns the lock or the conflict.
   */
  async acquire(input: Omit<DavLock, 'token' | 'expiresAt' | 'createdAt' | 'service'>, names: readonly string[]): Promise<DavLock | { conflict: DavLock }> {
    return this.dataSource.transaction(async (manager) => {
      await this.repository.lockService(input.serviceId, manager);
      await this.repository.deleteExpired(input.serviceId, manager);
      const live = await this.active(input.serviceId, manager);
      const conflict = live.find(
        (lock) => (covers(lock, names) || (input.deep && within(lock, names))) && (lock.scope === 'exclusive' || input.scope === 'exclusive'),
      );
      if (conflict) return { conflict };
      return this.repository.insert(
        {
          ...input,
          token: `urn:uuid:${randomUUID()}`,
          expiresAt: new Date(Date.now() + input.timeoutSeconds * 1000),
        },
        manager,
      );
    });
  }

  refresh(token: string, timeoutSeconds: number): Promise<DavLock | null> {
    return this.repository.extend(token, timeoutSeconds, new Date(Date.now() + timeoutSeconds * 1000));
  }

  release(token: string): Promise<boolean> {
    return this.repository.delete(token);
  }

  /** Locks on a resource and below it go with it (DELETE, or the source of a MOVE). */
  async releaseWithin(serviceId: string, names: readonly string[]): Promise<void> {
    await this.repository.deleteWithin(serviceId, lockKey(names));
  }
}

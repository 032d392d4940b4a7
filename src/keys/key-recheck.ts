import { Injectable } from '@nestjs/common';
import { EntityManager } from 'typeorm';
import { ProblemError } from '../common/problem';
import { Action } from './actions';
import { KeyRepository } from './key.repository';
import { ResourceRef, ResourceResolver } from './resource-resolver.service';

/**
 * Asks again, later and outside any request, whether a key still may do something: for work a key asked for that
 * takes effect afterwards (a worker about to replace content for a job). The key's rights may have changed since.
 */
@Injectable()
export class KeyRecheck {
  constructor(
    private readonly keys: KeyRepository,
    private readonly resolver: ResourceResolver,
  ) {}

  /** Why the key may no longer do `action` on the resource (revoked, expired, a revoked ancestor, the action, scope), or undefined when it may. */
  async refusal(keyId: string, action: Action, ref: ResourceRef, manager?: EntityManager): Promise<string | undefined> {
    const key = await this.keys.findById(keyId, manager);
    if (!key) return `the key ${keyId} that asked for it no longer exists`;
    if (key.revokedAt) return `the key ${keyId} that asked for it has been revoked`;
    if (key.expiresAt && key.expiresAt.getTime() <= Date.now()) return `the key ${keyId} that asked for it has expired`;
    // its ancestors in one statement, the rule authentication applies (KeyRepository.deadAncestor)
    const dead = key.parentId ? await this.keys.deadAncestor(key.id, manager) : null;
    if (dead) return dead.revoked ? `the key ${keyId} that asked for it derives from a revoked key` : `the key ${keyId} that asked for it has expired`;
    if (!key.actions.includes(action)) return `the key ${keyId} that asked for it lacks ${action}`;
    if (key.resourceType === 'provider') return undefined;
    try {
      const target = await this.resolver.resolve(ref, manager);
      if (key.resourceId !== null && target.ancestors.has(key.resourceId)) return undefined;
    } catch (error) {
      if (!(error instanceof ProblemError)) throw error;
    }
    return `the key ${keyId} that asked for it does not reach ${ref.type} ${ref.id}`;
  }
}

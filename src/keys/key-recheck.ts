import { Injectable } from '@nestjs/common';
import { EntityManager } from 'typeorm';
import { ProblemError } from '../common/problem';
import { Action } from './actions';
import { KeyRepository } from './key.repository';
import { ResourceRef, ResourceResolver } from './resource-resolver.service';

/** How deep a chain of derived keys is followed (derivation chains are short; a longer one is refused). */
const MAX_CHAIN = 64;

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
    let link: typeof key | null = key;
    for (let depth = 0; link; depth++) {
      if (depth > MAX_CHAIN) return `the key ${keyId} that asked for it derives from a chain too long to check`;
      if (link.revokedAt)
        return link === key ? `the key ${keyId} that asked for it has been revoked` : `the key ${keyId} that asked for it derives from a revoked key`;
      if (link.expiresAt && link.expiresAt.getTime() <= Date.now()) return `the key ${keyId} that asked for it has expired`;
      link = link.parentId ? await this.keys.findById(link.parentId, manager) : null;
    }
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

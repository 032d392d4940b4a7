import { Injectable } from '@nestjs/common';
import { ProblemError, Problems } from '../common/problem';
import { enforceServiceState } from '../common/service-state';
import { ResourceResolver } from '../keys/resource-resolver.service';
import { covers, DavLocks, within } from './dav-locks';
import { hrefOf, parseDestination } from './dav-path';
import { DavRequest, etagOf, lockRootNames, Target } from './dav-request';
import { DavNode, serviceOf } from './dav-tree';
import { DavLock } from './dav.entities';

/**
 * What must hold before a WebDAV method acts: the key's actions and the service's state, the If header
 * (RFC 4918 §10.4: lock tokens and entity tags) and the locks that protect the resource.
 */
@Injectable()
export class DavPreconditions {
  constructor(
    private readonly resolver: ResourceResolver,
    private readonly locks: DavLocks,
  ) {}

  async target(ctx: DavRequest, names: string[]): Promise<Target> {
    const node = await ctx.view.resolve(names);
    const parent = names.length ? await ctx.view.resolve(names.slice(0, -1)) : null;
    if (node && (node.kind === 'folder' || node.kind === 'file' || node.kind === 'single'))
      return { names, node, parent, serviceId: serviceOf(node), servicePath: node.servicePath };
    if (!node && parent?.kind === 'folder')
      return { names, node, parent, serviceId: parent.folder.serviceId, servicePath: [...parent.servicePath, names[names.length - 1]] };
    return { names, node, parent, serviceId: null, servicePath: [] };
  }

  /** The key must hold the action; the service must not be suspended or outside its time window for writes. */
  async need(ctx: DavRequest, action: string, serviceId: string | null, what: string): Promise<void> {
    if (!ctx.auth.actions.has(action)) throw Problems.missingActions([action], what);
    if (!serviceId) return;
    let resolved = ctx.services.get(serviceId);
    if (!resolved) {
      resolved = await this.resolver.resolve({ type: 'service', id: serviceId });
      ctx.services.set(serviceId, resolved);
    }
    enforceServiceState(resolved, action, ctx.auth.actions);
  }

  async needRead(ctx: DavRequest, node: DavNode): Promise<void> {
    if (node.kind === 'provider') return this.need(ctx, 'container:read', null, 'the containers');
    if (node.kind === 'container') return this.need(ctx, 'service:read', null, `container ${node.name}`);
    if (node.kind === 'folder') return this.need(ctx, 'mfolder:read', node.folder.serviceId, 'this folder');
    return this.need(ctx, 'mfile:read', node.mfile.serviceId, node.mfile.name);
  }

  /** The live locks of a service, read once per request. */
  async locksOf(ctx: DavRequest, serviceId: string): Promise<DavLock[]> {
    let locks = ctx.locks.get(serviceId);
    if (!locks) {
      locks = await this.locks.active(serviceId);
      ctx.locks.set(serviceId, locks);
    }
    return locks;
  }

  /** RFC 4918 §10.4: the If header must hold (412), evaluated against the resources its lists name. */
  async checkIf(ctx: DavRequest, target: Target): Promise<void> {
    if (!ctx.ifLists.length) return;
    for (const list of ctx.ifLists) {
      let subject = target;
      if (list.resource) {
        try {
          subject = await this.target(ctx, parseDestination(list.resource, ctx.req.headers.host));
        } catch {
          continue;
        }
      }
      const locks = subject.serviceId ? await this.locksOf(ctx, subject.serviceId) : [];
      const etag = etagOf(subject.node);
      const holds = list.conditions.every((condition) => {
        const value = condition.token
          ? subject.serviceId !== null && locks.some((lock) => lock.token === condition.token && covers(lock, subject.servicePath))
          : etag !== undefined && condition.etag === etag;
        return condition.not ? !value : value;
      });
      if (holds) return;
    }
    throw Problems.preconditionFailed('no list of the If header matches the current state of the resource');
  }

  /**
   * A change to `target` may go ahead only with the token of every lock that protects it (on it, above it with
   * Depth: infinity, on its parent when members are added or removed, below it when a tree is removed), taken
   * by the same key. One token of a set of shared locks on the same resource is enough.
   */
  async assertUnlocked(ctx: DavRequest, target: Target, scope: { membership?: boolean; tree?: boolean }): Promise<void> {
    if (!target.serviceId) return;
    const locks = await this.locksOf(ctx, target.serviceId);
    const parentPath = target.servicePath.slice(0, -1);
    const relevant = locks.filter(
      (lock) =>
        covers(lock, target.servicePath) ||
        (scope.tree && within(lock, target.servicePath)) ||
        (scope.membership && target.servicePath.length > 0 && covers(lock, parentPath)),
    );
    const held = (lock: DavLock) => ctx.submitted.has(lock.token) && lock.keyId === ctx.auth.key.id;
    const blocking = relevant.filter(
      (lock) => !held(lock) && !(lock.scope === 'shared' && relevant.some((other) => other.scope === 'shared' && other.path === lock.path && held(other))),
    );
    if (blocking.length) {
      throw new ProblemError(
        423,
        'locked',
        'Locked',
        `the resource is locked${ctx.submitted.size ? ' and the If header does not submit its lock token' : ': submit its lock token in an If header'}`,
        {
          lockRoot: hrefOf(lockRootNames(blocking[0], ctx.names, target.servicePath), true),
        },
      );
    }
  }

  /** The If header holds and no lock the request does not hold protects the target. */
  async writable(ctx: DavRequest, target: Target, scope: { membership?: boolean; tree?: boolean }): Promise<void> {
    await this.checkIf(ctx, target);
    await this.assertUnlocked(ctx, target, scope);
  }
}

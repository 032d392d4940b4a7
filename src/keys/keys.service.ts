import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { Problems } from '../common/problem';
import { decodeIdCursor, encodeCursor, Page } from '../common/pagination';
import { uuidv7 } from '../database/uuid';
import { Action, actionsOfRoles, isAction, isRole } from './actions';
import { Key } from './key.entity';
import { KeyRepository, NewKey, ServicePlaceRow } from './key.repository';
import { generateKeySecret, hashKeySecret, looksLikeKey, sameHash } from './key-secret';
import { ResolvedResource, ResourceRef, ResourceResolver } from './resource-resolver.service';
import { RateLimits } from '../redis/rate-limits';

export interface AuthenticatedKey {
  key: Key;
  actions: ReadonlySet<string>;
}

export interface IssuedKey {
  key: Key;
  secret: string;
}

/** What a new key is: its resource (with its tenant path), roles or actions, parent, creator, expiry, label. */
export interface IssueOptions {
  resource: Pick<ResolvedResource, 'type' | 'id' | 'containerId' | 'serviceId'> & Partial<ResolvedResource>;
  roles: string[];
  actions?: Action[];
  parent?: Key | null;
  /** The key that asked for it (only its id is kept). */
  createdBy?: Pick<Key, 'id'> | null;
  expiresAt?: Date | null;
  label?: string | null;
  bootstrap?: boolean;
  secret?: string;
}

export interface DeriveRequest {
  roles?: string[];
  actions?: string[];
  resource?: ResourceRef;
  expiresAt?: Date;
  label?: string;
}

export function covers(key: Key, resource: ResolvedResource): boolean {
  return key.resourceType === 'provider' || (key.resourceId !== null && resource.ancestors.has(key.resourceId));
}

/** The key as clients see it: never the hash. */
export function presentKey(key: Key) {
  return {
    id: key.id,
    label: key.label,
    resource: { type: key.resourceType, id: key.resourceId },
    roles: key.roles,
    actions: key.actions,
    parentId: key.parentId,
    createdByKeyId: key.createdByKeyId,
    expiresAt: key.expiresAt,
    revokedAt: key.revokedAt,
    createdAt: key.createdAt,
  };
}

@Injectable()
export class KeysService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly resolver: ResourceResolver,
    private readonly keys: KeyRepository,
    private readonly limits: RateLimits,
  ) {}

  /** Looks a presented secret up by its hash. Every failure is a 401 that says why. */
  async authenticate(secret: string | undefined): Promise<AuthenticatedKey> {
    return (await this.authenticateAt(secret, null)).auth;
  }

  /**
   * `authenticate`, and the place of the service the request targets read in the same statement (its container,
   * state and root folder; null when there is no such service, undefined when none was asked for). The key, its
   * chain and the service are read in one round trip (KeyRepository.findForRequest).
   */
  async authenticateAt(secret: string | undefined, serviceId: string | null): Promise<{ auth: AuthenticatedKey; service?: ServicePlaceRow | null }> {
    if (!secret) throw Problems.unauthenticated('no key presented: send Authorization: Bearer <key>, ?key=<key>, or the key as the Basic-auth password');
    if (!looksLikeKey(secret)) throw Problems.unauthenticated('the presented key is malformed');
    const hash = hashKeySecret(secret);
    const found = await this.keys.findForRequest(hash, serviceId);
    const key = found.key;
    if (!key || !sameHash(key.secretHash, hash)) throw Problems.unauthenticated('the presented key is not known');
    const auth = this.usable(key);
    if (key.parentId && found.dead)
      throw Problems.unauthenticated(`the presented key was derived from key ${found.dead.id}, which has ${found.dead.revoked ? 'been revoked' : 'expired'}`);
    return serviceId === null ? { auth } : { auth, service: found.service };
  }

  /**
   * A key a person holds, named by id: in their wallet (user_key) or held by their session (added with its secret).
   * Anything else is a 401, exactly as an unknown secret.
   */
  async authenticateHeld(keyId: string, holder: { userId?: string; keyIds?: string[] }): Promise<AuthenticatedKey> {
    const key = await this.keys.findHeld(keyId, holder);
    if (!key) throw Problems.unauthenticated(`key ${keyId} is not held by this session: log in, or add the key with its secret`);
    return this.usableChain(key);
  }

  /** The key, if it and every key it was derived from are neither revoked nor expired. */
  private async usableChain(key: Key): Promise<AuthenticatedKey> {
    const authenticated = this.usable(key);
    if (key.parentId) {
      const dead = await this.keys.deadAncestor(key.id);
      if (dead) throw Problems.unauthenticated(`the presented key was derived from key ${dead.id}, which has ${dead.revoked ? 'been revoked' : 'expired'}`);
    }
    return authenticated;
  }

  /** Whether a key authenticated earlier may still act (not revoked, not expired): long-lived answers (event streams) ask again. */
  async stillUsable(keyId: string): Promise<boolean> {
    const key = await this.keys.findById(keyId);
    if (key === null || key.revokedAt || (key.expiresAt && key.expiresAt.getTime() <= Date.now())) return false;
    // a revoked or expired ancestor ends its descendants too (the same rule as authentication)
    return !key.parentId || (await this.keys.deadAncestor(key.id)) === null;
  }

  private usable(key: Key): AuthenticatedKey {
    if (key.revokedAt) throw Problems.unauthenticated('the presented key has been revoked');
    if (key.expiresAt && key.expiresAt.getTime() <= Date.now()) throw Problems.unauthenticated('the presented key has expired');
    return { key, actions: new Set(key.actions) };
  }

  /** Mints a key for a resource (the resource's own capability), inside the caller's transaction. */
  async issue(manager: EntityManager, options: IssueOptions): Promise<IssuedKey> {
    const { key: values, secret } = this.mint(options);
    const key = await this.keys.create(values, manager);
    return { key, secret };
  }

  /**
   * A new key's row and secret, not yet written (the secret from the CSPRNG, only its SHA-256 in the row): for a
   * caller that writes it within a statement of its own (an upload's commit, `KeyRepository.createStatement`).
   */
  mint(options: IssueOptions): { key: NewKey; secret: string } {
    return this.minted(options);
  }

  /** A minted key's INSERT as a data-modifying statement for another statement (`KeyRepository.createStatement`). */
  statement(key: NewKey, firstParam: number, onlyIf: string): { sql: string; params: unknown[] } {
    return this.keys.createStatement(key, firstParam, onlyIf);
  }

  private minted(options: IssueOptions): { key: NewKey; secret: string } {
    const secret = options.secret ?? generateKeySecret();
    return {
      secret,
      key: {
        id: uuidv7(),
        secretHash: hashKeySecret(secret),
        // labels we compose ("mfileowner for <a 255-byte name>") may be longer than the column: they are notes, cut them
        label: options.label?.slice(0, 255) ?? null,
        resourceType: options.resource.type,
        resourceId: options.resource.id,
        containerId: options.resource.containerId,
        serviceId: options.resource.serviceId,
        roles: options.roles,
        actions: options.actions ?? actionsOfRoles(options.roles),
        parentId: options.parent?.id ?? null,
        createdByKeyId: options.createdBy?.id ?? null,
        expiresAt: options.expiresAt ?? null,
        revokedAt: null,
        bootstrap: options.bootstrap ?? false,
      },
    };
  }

  /** Derives a sub-key: never more actions, never a wider resource, never a later expiry than the parent. */
  async derive(parent: AuthenticatedKey, request: DeriveRequest): Promise<IssuedKey> {
    const roles = request.roles ?? [];
    const unknownRoles = roles.filter((role) => !isRole(role));
    const unknownActions = (request.actions ?? []).filter((action) => !isAction(action));
    if (unknownRoles.length || unknownActions.length) {
      throw Problems.badRequest(`unknown ${[...unknownRoles.map((r) => `role ${r}`), ...unknownActions.map((a) => `action ${a}`)].join(', ')}`, {
        unknownRoles,
        unknownActions,
      });
    }
    const wanted = new Set<Action>([...actionsOfRoles(roles), ...((request.actions ?? []) as Action[])]);
    if (wanted.size === 0) throw Problems.badRequest('a key needs at least one role or action');
    const missing = [...wanted].filter((action) => !parent.actions.has(action));
    if (missing.length) throw Problems.missingActions(missing, 'the presented key, so it cannot grant them');
    const target = await this.resolver.resolve(request.resource ?? { type: parent.key.resourceType, id: parent.key.resourceId });
    if (!covers(parent.key, target)) {
      throw Problems.forbidden(
        `the presented key's scope (${parent.key.resourceType} ${parent.key.resourceId ?? ''}) does not include ${target.type} ${target.id}`.replace('  ', ' '),
        { reason: 'scope' },
      );
    }
    const expiresAt = request.expiresAt ?? parent.key.expiresAt ?? null;
    if (expiresAt && expiresAt.getTime() <= Date.now()) throw Problems.badRequest('expiresAt is in the past');
    if (parent.key.expiresAt && expiresAt && expiresAt.getTime() > parent.key.expiresAt.getTime()) {
      throw Problems.forbidden(`expiresAt ${expiresAt.toISOString()} is later than the presented key's expiry ${parent.key.expiresAt.toISOString()}`, {
        reason: 'expiry',
      });
    }
    // counted once the request is known to be valid: KEYS_CREATED_PER_MINUTE per key (and ten times that per tenant)
    await this.limits.keyDerived(parent.key.id, parent.key.serviceId ?? parent.key.containerId ?? 'provider');
    return this.dataSource.transaction(async (manager) => {
      // the parent's chain, locked until the child is committed: a revocation either came first (refused here) or
      // waits for this transaction and then revokes the child with its tree (KeyRepository.revokeTrees)
      for (const ancestor of await this.keys.lockChain(parent.key.id, manager)) {
        if (ancestor.revokedAt)
          throw Problems.unauthenticated(
            ancestor.id === parent.key.id
              ? 'the presented key has been revoked'
              : `the presented key was derived from key ${ancestor.id}, which has been revoked`,
          );
        if (ancestor.expiresAt && ancestor.expiresAt.getTime() <= Date.now())
          throw Problems.unauthenticated(
            ancestor.id === parent.key.id ? 'the presented key has expired' : `the presented key was derived from key ${ancestor.id}, which has expired`,
          );
      }
      return this.issue(manager, { resource: target, roles, actions: [...wanted], parent: parent.key, expiresAt, label: request.label ?? null });
    });
  }

  /** Keys the presented key derived (at any depth) or minted when it created a resource. */
  async listManaged(presenter: Key, cursor: string | undefined, limit: number): Promise<Page<ReturnType<typeof presentKey>>> {
    const after = decodeIdCursor(cursor);
    const rows = await this.keys.managedIds(presenter.id, after, limit + 1);
    const ids = rows.slice(0, limit);
    const keys = await this.keys.findByIdsOrdered(ids);
    return { items: keys.map(presentKey), nextCursor: rows.length > limit ? encodeCursor([ids[ids.length - 1]]) : null };
  }

  async get(presenter: AuthenticatedKey, id: string): Promise<Key> {
    const key = await this.findManageable(presenter, id);
    return key;
  }

  /** Revokes a key and, in the same statement, everything derived from it. */
  async revoke(presenter: AuthenticatedKey, id: string): Promise<{ revoked: string[] }> {
    const key = await this.findManageable(presenter, id);
    // a delegate never revokes its delegator: a key derived from this one (at any depth) may hold the same actions,
    // but the key it came from is not its to take away
    if (key.id !== presenter.key.id && (await this.keys.isDerivedFrom(presenter.key.id, key.id))) {
      throw Problems.forbidden(`the presented key was derived from key ${key.id}: a key cannot revoke the keys it was derived from`, { reason: 'ancestor' });
    }
    if (key.bootstrap) throw Problems.forbidden('the provider admin key is managed through ADMIN_KEY: set a new one and restart to rotate it');
    return { revoked: await this.dataSource.transaction((manager) => this.keys.revokeTrees([key.id], manager)) };
  }

  /** Revokes every key that points at one of these resources (they are being deleted), with their sub-keys. */
  async revokeForResources(manager: EntityManager, resourceIds: string[]): Promise<void> {
    if (resourceIds.length === 0) return;
    await this.keys.revokeTrees(await this.keys.activeIdsForResources(resourceIds, manager), manager);
  }

  /**
   * A key may be seen and revoked by itself, by any key it was derived from, by the key that minted it, and by any
   * key that could have minted it (covers its resource and holds every action it has, plus key:revoke).
   */
  private async findManageable(presenter: AuthenticatedKey, id: string): Promise<Key> {
    const key = await this.keys.findById(id);
    if (!key) throw Problems.notFound('key', id);
    if (key.id === presenter.key.id || key.createdByKeyId === presenter.key.id) return key;
    if (await this.keys.isDerivedFrom(key.id, presenter.key.id)) return key;
    if (presenter.actions.has('key:revoke') && key.actions.every((action) => presenter.actions.has(action))) {
      const target = await this.resolver.resolve({ type: key.resourceType, id: key.resourceId }).catch(() => null);
      if (target && covers(presenter.key, target)) return key;
    }
    throw Problems.notFound('key', id);
  }
}

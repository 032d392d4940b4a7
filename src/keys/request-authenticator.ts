import { Injectable } from '@nestjs/common';
import type { Request } from 'express';
import { requireCsrf } from '../common/csrf';
import { Problems, ProblemError } from '../common/problem';
import { RateLimits } from '../redis/rate-limits';
import { extractHeldKeyId, extractKeySecret } from './key-extraction';
import { KeyRevocations } from './key-revocations';
import { hashKeySecret, looksLikeKey } from './key-secret';
import { AuthenticatedKey, KeysService } from './keys.service';

const AUTHENTICATED = Symbol('mserve:authenticated');
type Memo = { [AUTHENTICATED]?: Promise<AuthenticatedKey> };

/** How long a key secret's authentication is remembered at most (a revocation ends it at once: see KeyRevocations). */
export const AUTH_CACHE_MS = 10_000;
/** How many key secrets are remembered at most (the oldest are forgotten first). */
const AUTH_CACHE_ENTRIES = 10_000;

/**
 * Who a request acts as: a key secret (machines, capability links, WebDAV) or a held key named by id through the
 * session (people). Done once per request, however many places ask (the JSON body reader asks before it reads a
 * body, the guard after). Failed keys are counted per client address: past KEY_FAILURES_PER_ADDRESS in the window
 * that address gets 429 with Retry-After, refused from then on without a database lookup. Valid keys cost nothing
 * extra (a map lookup).
 *
 * A key secret that authenticated is remembered for AUTH_CACHE_MS under the revocation generation read before it
 * was looked up: the next request with it costs one Redis GET instead of the key's and its ancestors' lookups. Any
 * revocation or deletion of keys committed since has changed the generation (KeyRevocations), so a remembered key is
 * never used after its revocation was answered; its expiry is checked on every use (a sub-key never outlives its
 * parent, so its own expiry is its chain's). Held keys (sessions) are not remembered.
 */
@Injectable()
export class RequestAuthenticator {
  private readonly remembered = new Map<string, { auth: AuthenticatedKey; generation: string; until: number }>();

  constructor(
    private readonly keys: KeysService,
    private readonly limits: RateLimits,
    private readonly revocations: KeyRevocations,
  ) {}

  authenticate(request: Request, options: { held?: boolean } = {}): Promise<AuthenticatedKey> {
    const memo = request as Request & Memo;
    return (memo[AUTHENTICATED] ??= this.authenticateOnce(request, options.held ?? true));
  }

  private async authenticateOnce(request: Request, held: boolean): Promise<AuthenticatedKey> {
    const address = request.ip ?? request.socket?.remoteAddress ?? '';
    this.limits.refuseBlockedAddress(address);
    const secret = extractKeySecret(request);
    const heldId = held ? extractHeldKeyId(request) : undefined;
    if (secret && heldId) throw Problems.badRequest('a key secret and a held key id given: send one');
    try {
      if (secret && looksLikeKey(secret)) return await this.authenticateSecret(secret);
      if (secret || !heldId) return await this.keys.authenticate(secret);
      const auth = await this.keys.authenticateHeld(heldId, request.session ?? {});
      requireCsrf(request);
      return auth;
    } catch (error) {
      // only a key that was presented and failed counts (no key at all is a visitor, not a guess)
      if ((secret || heldId) && error instanceof ProblemError && error.status === 401) throw (await this.limits.keyFailed(address)) ?? error;
      throw error;
    }
  }

  /** A key secret: from memory when the revocation generation is still the one it was remembered under. */
  private async authenticateSecret(secret: string): Promise<AuthenticatedKey> {
    const hash = hashKeySecret(secret);
    const generation = await this.revocations.generation();
    const now = Date.now();
    const entry = this.remembered.get(hash);
    if (entry && generation !== null && entry.generation === generation && entry.until > now) {
      const { key, actions } = entry.auth;
      if (!key.expiresAt || key.expiresAt.getTime() > now) return { key, actions };
    }
    if (entry) this.remembered.delete(hash);
    const auth = await this.keys.authenticate(secret);
    if (generation !== null) {
      this.remembered.set(hash, { auth, generation, until: now + AUTH_CACHE_MS });
      if (this.remembered.size > AUTH_CACHE_ENTRIES) this.remembered.delete(this.remembered.keys().next().value!);
    }
    return auth;
  }
}

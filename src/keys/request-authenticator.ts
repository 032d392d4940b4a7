import { Injectable } from '@nestjs/common';
import type { Request } from 'express';
import { requireCsrf } from '../common/csrf';
import { Problems, ProblemError } from '../common/problem';
import { RateLimits } from '../redis/rate-limits';
import { extractHeldKeyId, extractKeySecret } from './key-extraction';
import type { ServicePlaceRow } from './key.repository';
import { hashKeySecret, looksLikeKey } from './key-secret';
import { AuthenticatedKey, KeysService } from './keys.service';

const AUTHENTICATED = Symbol('mserve:authenticated');
type Memo = { [AUTHENTICATED]?: Promise<AuthenticatedKey> };

/** How long a key secret that authenticated is remembered for `remembered` (which its caller must verify). */
export const REMEMBER_MS = 10_000;
/** How many key secrets are remembered at most (the oldest are forgotten first). */
const REMEMBER_ENTRIES = 10_000;

/**
 * Who a request acts as: a key secret (machines, capability links, WebDAV) or a held key named by id through the
 * session (people). Done once per request, however many places ask (the JSON body reader asks before it reads a
 * body, the guard after). Failed keys are counted per client address: past KEY_FAILURES_PER_ADDRESS in the window
 * that address gets 429 with Retry-After, refused from then on without a database lookup. Valid keys cost nothing
 * extra (a map lookup).
 */
@Injectable()
export class RequestAuthenticator {
  /** Key secrets that authenticated lately (by their hash), for `remembered`. */
  private readonly recent = new Map<string, { auth: AuthenticatedKey; until: number }>();

  constructor(
    private readonly keys: KeysService,
    private readonly limits: RateLimits,
  ) {}

  /**
   * The key of the request's secret if it authenticated here in the last REMEMBER_MS, without asking the database:
   * UNVERIFIED. It is for a caller whose first statement checks, in the same round trip, that the key and every key
   * it was derived from are still alive (WebDAV: DavTreeRepository.walk), and that calls `authenticate` when they
   * are not (the key is then looked up, refused with the usual 401 and counted as a failed key). Undefined when the
   * secret is not remembered (or the address is blocked, or the key expired by its own date).
   */
  remembered(request: Request): AuthenticatedKey | undefined {
    this.limits.refuseBlockedAddress(request.ip ?? request.socket?.remoteAddress ?? '');
    const secret = extractKeySecret(request);
    if (!secret || !looksLikeKey(secret)) return undefined;
    const hash = hashKeySecret(secret);
    const entry = this.recent.get(hash);
    if (!entry) return undefined;
    const now = Date.now();
    const { key, actions } = entry.auth;
    if (entry.until <= now || (key.expiresAt && key.expiresAt.getTime() <= now)) {
      this.recent.delete(hash);
      return undefined;
    }
    return { key, actions };
  }

  /** Forgets the request's secret (its remembered key turned out revoked or expired). */
  forget(request: Request): void {
    const secret = extractKeySecret(request);
    if (secret) this.recent.delete(hashKeySecret(secret));
  }

  authenticate(request: Request, options: { held?: boolean } = {}): Promise<AuthenticatedKey> {
    const memo = request as Request & Memo;
    return (memo[AUTHENTICATED] ??= this.authenticateOnce(request, options.held ?? true, null).then((found) => found.auth));
  }

  /**
   * `authenticate` for a request that targets a service: a key secret is looked up in the same statement that reads
   * the service's place (its container, state and root folder: KeyRepository.findForRequest), so a REST upload opens
   * with one statement. `service` is null when there is no such service, undefined when it was not read with the key
   * (the request authenticated already, or with a held key): the caller resolves the service itself then.
   */
  async authenticateAt(request: Request, serviceId: string | null): Promise<{ auth: AuthenticatedKey; service?: ServicePlaceRow | null }> {
    const memo = request as Request & Memo;
    if (memo[AUTHENTICATED]) return { auth: await memo[AUTHENTICATED] };
    const found = this.authenticateOnce(request, true, serviceId);
    const auth = found.then((result) => result.auth);
    auth.catch(() => undefined); // the refusal reaches the caller through `found`; a later asker awaits it again
    memo[AUTHENTICATED] = auth;
    return found;
  }

  private async authenticateOnce(
    request: Request,
    held: boolean,
    serviceId: string | null,
  ): Promise<{ auth: AuthenticatedKey; service?: ServicePlaceRow | null }> {
    const address = request.ip ?? request.socket?.remoteAddress ?? '';
    this.limits.refuseBlockedAddress(address);
    const secret = extractKeySecret(request);
    const heldId = held ? extractHeldKeyId(request) : undefined;
    if (secret && heldId) throw Problems.badRequest('a key secret and a held key id given: send one');
    try {
      if (secret || !heldId) {
        const found = await this.keys.authenticateAt(secret, serviceId);
        if (secret) this.remember(secret, found.auth);
        return found;
      }
      const auth = await this.keys.authenticateHeld(heldId, request.session ?? {});
      requireCsrf(request);
      return { auth };
    } catch (error) {
      // only a key that was presented and failed counts (no key at all is a visitor, not a guess)
      if ((secret || heldId) && error instanceof ProblemError && error.status === 401) throw (await this.limits.keyFailed(address)) ?? error;
      throw error;
    }
  }

  private remember(secret: string, auth: AuthenticatedKey): void {
    const hash = hashKeySecret(secret);
    this.recent.delete(hash);
    this.recent.set(hash, { auth, until: Date.now() + REMEMBER_MS });
    if (this.recent.size > REMEMBER_ENTRIES) this.recent.delete(this.recent.keys().next().value!);
  }
}

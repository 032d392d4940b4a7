import { Injectable } from '@nestjs/common';
import type { Request } from 'express';
import { requireCsrf } from '../common/csrf';
import { Problems, ProblemError } from '../common/problem';
import { RateLimits } from '../redis/rate-limits';
import { extractHeldKeyId, extractKeySecret } from './key-extraction';
import { AuthenticatedKey, KeysService } from './keys.service';

const AUTHENTICATED = Symbol('mserve:authenticated');
type Memo = { [AUTHENTICATED]?: Promise<AuthenticatedKey> };

/**
 * Who a request acts as: a key secret (machines, capability links, WebDAV) or a held key named by id through the
 * session (people). Done once per request, however many places ask (the JSON body reader asks before it reads a
 * body, the guard after). Failed keys are counted per client address: past KEY_FAILURES_PER_ADDRESS in the window
 * that address gets 429 with Retry-After, refused from then on without a database lookup. Valid keys cost nothing
 * extra (a map lookup).
 */
@Injectable()
export class RequestAuthenticator {
  constructor(
    private readonly keys: KeysService,
    private readonly limits: RateLimits,
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
}

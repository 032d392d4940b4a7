import type { Request } from 'express';
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { ProblemError } from './problem';

export const CSRF_HEADER = 'x-csrf-token';
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** The session data the CSRF rule reads and writes (declared with the rest of the session in auth/session.ts). */
interface CsrfSession {
  csrf?: string;
  createdAt?: number;
}

/**
 * The session's CSRF token, made on first use (the console reads it from GET /api/v1/session). The rule lives here,
 * not in auth/, because both the session routes and the key guard (held keys) apply it.
 */
export function csrfToken(request: { session: CsrfSession }): string {
  request.session.csrf ??= randomBytes(32).toString('base64url');
  request.session.createdAt ??= Date.now();
  return request.session.csrf;
}

/**
 * A state change carried by the session cookie must echo the session's token: a page on another site can make the
 * browser send the cookie, but cannot read the token. Requests that present a key secret carry no ambient
 * credential and need none.
 */
export function requireCsrf(request: Pick<Request, 'method' | 'headers'> & { session?: CsrfSession | null }): void {
  if (SAFE_METHODS.has(request.method)) return;
  const expected = request.session?.csrf;
  const given = request.headers[CSRF_HEADER];
  const givenBytes = typeof given === 'string' ? Buffer.from(given) : Buffer.alloc(0);
  const expectedBytes = Buffer.from(expected ?? '');
  if (!expected || givenBytes.length !== expectedBytes.length || !timingSafeEqual(givenBytes, expectedBytes)) {
    throw new ProblemError(
      403,
      'csrf',
      'Forbidden',
      "a state change through the session needs the session's CSRF token in X-CSRF-Token (GET /api/v1/session gives it)",
    );
  }
}

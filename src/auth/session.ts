import { Logger } from '@nestjs/common';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import session, { SessionData, Store } from 'express-session';
import type Redis from 'ioredis';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { AppConfig } from '../config/config';
import { readOrCreateSecret } from '../infrastructure/secret-file';

declare module 'express-session' {
  interface SessionData {
    /** The logged-in user, if any. */
    userId?: string;
    /** Keys held by this session only (pasted keys, share links), by id; the secret was checked when added. */
    keyIds?: string[];
    /** The synchronizer token every state change made through this session must echo in X-CSRF-Token. */
    csrf?: string;
    /** When the session began (ms): sessions end SESSION_MAX_SECONDS after it, however active. */
    createdAt?: number;
  }
}

export const SESSION_COOKIE = 'mserve.sid';
const PRIVATE_PATHS = /^\/api\/v1\/(session|users)(\/|$)/;
/** A session that holds nothing yet (a visitor who only read the login page) lives this long at most. */
const ANONYMOUS_TTL_SECONDS = 600;

/** Where a session lives in Redis: under the SHA-256 of its id, so a Redis dump yields no usable cookie. */
export function sessionKey(prefix: string, sid: string): string {
  return `${prefix}:sess:${createHash('sha256').update(sid).digest('hex')}`;
}

/**
 * express-session's store on the Redis the queues use: one JSON value per session with the idle timeout as its TTL,
 * under the SHA-256 of the session id (a Redis dump yields no usable cookie). Every api process shares it.
 */
export class RedisSessionStore extends Store {
  constructor(
    private readonly client: () => Redis,
    private readonly prefix: string,
    private readonly idleSeconds: number,
  ) {
    super();
  }

  private key(sid: string): string {
    return sessionKey(this.prefix, sid);
  }

  override get(sid: string, callback: (error: unknown, session?: SessionData | null) => void): void {
    this.client()
      .get(this.key(sid))
      .then((value) => callback(null, value ? (JSON.parse(value) as SessionData) : null), callback);
  }

  /** Anonymous visitors' sessions (a CSRF token, nothing held) expire within minutes: they cannot fill Redis. */
  private ttl(data: SessionData): number {
    return data.userId || data.keyIds?.length ? this.idleSeconds : Math.min(this.idleSeconds, ANONYMOUS_TTL_SECONDS);
  }

  override set(sid: string, data: SessionData, callback?: (error?: unknown) => void): void {
    this.client()
      .set(this.key(sid), JSON.stringify(data), 'EX', this.ttl(data))
      .then(() => callback?.(), callback);
  }

  override touch(sid: string, data: SessionData, callback?: (error?: unknown) => void): void {
    this.client()
      .expire(this.key(sid), this.ttl(data))
      .then(() => callback?.(), callback);
  }

  override destroy(sid: string, callback?: (error?: unknown) => void): void {
    this.client()
      .del(this.key(sid))
      .then(() => callback?.(), callback);
  }
}

/**
 * Sessions for people (the console): an HttpOnly, SameSite=Lax cookie (Lax so the OpenID Connect redirect back
 * arrives with it), Secure over HTTPS (COOKIE_SECURE=auto follows the request, behind TRUST_PROXY), idle timeout
 * SESSION_IDLE_SECONDS (rolling), absolute limit SESSION_MAX_SECONDS. Machines keep using keys; a request
 * without the cookie never touches the store.
 */
const logger = new Logger('session');

export function sessionMiddleware(config: AppConfig, client: () => Redis): RequestHandler[] {
  const secret = config.session.secret ?? readOrCreateSecret(join(config.varDir, 'session.secret'));
  const handler = session({
    name: SESSION_COOKIE,
    secret,
    store: new RedisSessionStore(client, config.queuePrefix, config.session.idleSeconds),
    resave: false,
    saveUninitialized: false,
    rolling: true,
    unset: 'destroy',
    cookie: { httpOnly: true, sameSite: 'lax', secure: config.session.cookieSecure, maxAge: config.session.idleSeconds * 1000, path: '/' },
  });
  const absoluteLimit = (request: Request, _response: Response, next: NextFunction) => {
    const created = request.session?.createdAt;
    if (created && Date.now() - created > config.session.maxSeconds * 1000) {
      request.session.regenerate((error) => next(error));
      return;
    }
    next();
  };
  // Machines present keys and carry no cookie: they skip the session entirely (no id minted, no store read).
  const cookie = `${SESSION_COOKIE}=`;
  const whenUsed = (request: Request, response: Response, next: NextFunction) => {
    // the session's answers (CSRF token, wallet) and accounts are never cached anywhere
    if (PRIVATE_PATHS.test(request.path)) response.setHeader('Cache-Control', 'no-store');
    if (request.headers.cookie?.includes(cookie) || request.path.startsWith('/api/v1/session'))
      return handler(request, response, (error?: unknown) => {
        if (!error) return absoluteLimit(request, response, next);
        // express-session reports a session write that failed at the end (Redis failing over) only after it has
        // ended the response: the answer is out, and an error handler would destroy the kept-alive connection
        // under the client's next request (seen in test/e2e/redis-sentinel as uploads failing with EPIPE)
        if (response.writableEnded) return logger.warn(`${request.method} ${request.path}: the session was not saved: ${String(error)}`);
        next(error);
      });
    next();
  };
  return [whenUsed];
}

export function hasSession(request: Request): boolean {
  return Boolean(request.session?.userId || request.session?.keyIds?.length);
}

import { Inject, Injectable, Logger } from '@nestjs/common';
import type { Request } from 'express';
import { ProblemError, Problems } from '../common/problem';
import { APP_CONFIG, AppConfig } from '../config/config';
import { uuidv7 } from '../database/uuid';
import { Key } from '../keys/key.entity';
import { KeyRepository } from '../keys/key.repository';
import { KeysService, presentKey } from '../keys/keys.service';
import { REDIS_CLIENT } from '../redis/redis-connections';
import type Redis from 'ioredis';
import { DUMMY_HASH, hashPassword, needsRehash, passwordProblem, verifyPassword } from './password';
import { sessionKey } from './session';
import { User } from './user.entity';
import { UserRepository } from './user.repository';

export function presentUser(user: User) {
  return {
    id: user.id,
    username: user.username,
    email: user.email,
    displayName: user.displayName,
    provider: user.oidcSubject ? ('oidc' as const) : ('password' as const),
    disabled: user.disabled,
    lastLoginAt: user.lastLoginAt,
    createdAt: user.createdAt,
  };
}

/**
 * People: password checks (rate-limited, same cost whether or not the user exists), OpenID Connect users made on
 * first login, and wallets — the keys a person holds. A person can do exactly what their keys can.
 */
@Injectable()
export class AuthService {
  private readonly logger = new Logger('auth');

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly keys: KeysService,
    @Inject(REDIS_CLIENT) private readonly redis: Redis,
    private readonly users: UserRepository,
    private readonly keyRows: KeyRepository,
  ) {}

  /**
   * Attempts are counted per address and per (address, user name) in Redis before any hash is computed (so
   * parallel guesses cannot slip past the count); past LOGIN_MAX_FAILURES in LOGIN_WINDOW_SECONDS (ten times that
   * per address) the answer is 429 with Retry-After. A success takes its attempt back and clears the name's count.
   */
  async checkPassword(username: string, password: string, address: string): Promise<User> {
    const { maxFailures, windowSeconds } = this.config.login;
    const name = username.trim().toLowerCase();
    const counters = [`${this.config.queuePrefix}:login:ip:${address}`, `${this.config.queuePrefix}:login:user:${address}:${name}`];
    const counted = this.redis.multi();
    for (const key of counters) counted.incr(key).expire(key, windowSeconds, 'NX');
    const replies = (await counted.exec()) ?? [];
    const [perAddress, perName] = [Number(replies[0]?.[1] ?? 0), Number(replies[2]?.[1] ?? 0)];
    if (perName > maxFailures || perAddress > maxFailures * 10) {
      const ttl = await this.redis.ttl(perName > maxFailures ? counters[1] : counters[0]);
      const retryAfterSeconds = Math.max(1, ttl);
      throw new ProblemError(
        429,
        'too-many-login-attempts',
        'Too Many Requests',
        `too many failed logins from this address: try again in ${retryAfterSeconds} s`,
        { retryAfterSeconds },
      );
    }
    const user = await this.users.findWithPasswordByLowerName(name);
    const ok = await verifyPassword(password, user?.passwordHash ?? DUMMY_HASH);
    if (!user || !user.passwordHash || !ok || user.disabled) {
      throw Problems.unauthenticated(user?.disabled && ok ? 'this account is disabled' : 'wrong user name or password');
    }
    await this.redis.multi().decr(counters[0]).del(counters[1]).exec();
    // a hash made with weaker parameters (scrypt N = 2^15 before issue 16) is replaced now that we hold the password
    const rehashed = needsRehash(user.passwordHash) ? { passwordHash: await hashPassword(password) } : {};
    await this.users.update(user.id, { lastLoginAt: new Date(), ...rehashed });
    return user;
  }

  /** The user for an OpenID Connect identity: found by (issuer, sub), or made on first login from its claims. */
  async oidcUser(issuer: string, claims: { sub: string; email?: unknown; name?: unknown; preferred_username?: unknown }): Promise<User> {
    const text = (value: unknown, max: number) => (typeof value === 'string' && value.trim() ? value.trim().slice(0, max) : null);
    const existing = await this.users.findByOidc(issuer, claims.sub);
    if (existing) {
      if (existing.disabled) throw Problems.forbidden('this account is disabled');
      await this.users.update(existing.id, {
        lastLoginAt: new Date(),
        email: text(claims.email, 320) ?? existing.email,
        displayName: text(claims.name, 200) ?? existing.displayName,
      });
      return (await this.users.findById(existing.id))!;
    }
    const values = {
      id: uuidv7(),
      username: null,
      email: text(claims.email, 320),
      displayName: text(claims.name, 200) ?? text(claims.preferred_username, 200),
      passwordHash: null,
      oidcIssuer: issuer,
      oidcSubject: claims.sub,
      disabled: false,
      lastLoginAt: new Date(),
    };
    const user = await this.users.createOidcUser(values);
    this.logger.log(`created user ${values.id} on first OpenID Connect login (${issuer})`);
    return user;
  }

  async user(id: string): Promise<User | null> {
    return this.users.findEnabled(id);
  }

  /** Every usable key this request's session holds, broadest first, with the name of what each opens. */
  async wallet(request: Request) {
    const userId = request.session?.userId ?? null;
    const sessionIds = request.session?.keyIds ?? [];
    if (!userId && sessionIds.length === 0) return [];
    const rows = await this.users.heldKeys(sessionIds, userId);
    const keys = await this.keyRows.findByIds(rows.map((row) => row.id));
    const extra = new Map(rows.map((row) => [row.id, row]));
    const order = ['provider', 'container', 'service', 'mfolder', 'mfile', 'job', 'joboutput'];
    // a key revoked or expired since it was pasted leaves the session
    if (request.session?.keyIds) request.session.keyIds = sessionIds.filter((id) => extra.has(id));
    return keys
      .sort((a, b) => order.indexOf(a.resourceType) - order.indexOf(b.resourceType) || b.actions.length - a.actions.length || a.id.localeCompare(b.id))
      .map((key) => ({ ...presentKey(key), saved: extra.get(key.id)!.saved, resourceName: extra.get(key.id)!.resourceName }));
  }

  /** Adds a key, proven by its secret, to the session (and, when asked and logged in, to the user's wallet). */
  async addKey(request: Request, secret: string, save: boolean): Promise<Key> {
    const { key } = await this.keys.authenticate(secret);
    const ids = new Set(request.session.keyIds ?? []);
    ids.add(key.id);
    request.session.keyIds = [...ids];
    if (save) {
      if (!request.session.userId) throw Problems.badRequest('log in to save a key in a wallet');
      await this.saveKey(request.session.userId, key.id);
    }
    return key;
  }

  async saveKey(userId: string, keyId: string): Promise<void> {
    await this.users.saveKey(userId, keyId);
  }

  /** Keeps (save) or drops (unsave) a key the session holds in the user's wallet; forget drops it everywhere. */
  async changeKey(request: Request, keyId: string, change: 'save' | 'unsave' | 'forget'): Promise<void> {
    const userId = request.session.userId;
    const inSession = (request.session.keyIds ?? []).includes(keyId);
    const saved = userId ? await this.users.hasKey(userId, keyId) : false;
    if (!inSession && !saved) throw Problems.notFound('held key', keyId);
    if (change === 'save') {
      if (!userId) throw Problems.badRequest('log in to save a key in a wallet');
      await this.saveKey(userId, keyId);
      return;
    }
    if (userId && saved) await this.users.removeKey(userId, keyId);
    if (change === 'unsave' && saved) request.session.keyIds = [...new Set([...(request.session.keyIds ?? []), keyId])];
    if (change === 'forget') request.session.keyIds = (request.session.keyIds ?? []).filter((id) => id !== keyId);
  }

  /** Notes a person's session, so that a password reset or a disabled account can end it. */
  async rememberSession(userId: string, sid: string): Promise<void> {
    const set = `${this.config.queuePrefix}:user-sessions:${userId}`;
    await this.redis.multi().sadd(set, sessionKey(this.config.queuePrefix, sid)).expire(set, this.config.session.maxSeconds).exec();
  }

  /** Ends every session of a person (but `keep`, the one asking, when they changed their own password). */
  async endSessions(userId: string, keep?: string): Promise<void> {
    const set = `${this.config.queuePrefix}:user-sessions:${userId}`;
    const kept = keep ? sessionKey(this.config.queuePrefix, keep) : undefined;
    const keys = (await this.redis.smembers(set)).filter((key) => key !== kept);
    const multi = this.redis.multi();
    if (keys.length) multi.del(...keys).srem(set, ...keys);
    await multi.exec();
  }

  async setPassword(userId: string, password: string): Promise<void> {
    const problem = passwordProblem(password);
    if (problem) throw Problems.badRequest(problem, { errors: [problem] });
    await this.users.update(userId, { passwordHash: await hashPassword(password) });
  }

  async createUser(input: { username: string; password?: string; email?: string; displayName?: string }): Promise<User> {
    const problem = input.password !== undefined ? passwordProblem(input.password) : undefined;
    if (problem) throw Problems.badRequest(problem, { errors: [problem] });
    const taken = await this.users.nameTaken(input.username);
    if (taken) throw Problems.conflict(`the user name ${input.username} is taken`);
    return this.users.create({
      id: uuidv7(),
      username: input.username,
      email: input.email ?? null,
      displayName: input.displayName ?? null,
      passwordHash: input.password !== undefined ? await hashPassword(input.password) : null,
      oidcIssuer: null,
      oidcSubject: null,
      disabled: false,
      lastLoginAt: null,
    });
  }
}

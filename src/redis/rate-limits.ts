import { Inject, Injectable } from '@nestjs/common';
import type Redis from 'ioredis';
import { randomUUID } from 'node:crypto';
import { APP_CONFIG, AppConfig } from '../config/config';
import { ProblemError } from '../common/problem';
import { REDIS_CLIENT } from './redis-connections';

/** A limit that was reached: the 429 problem says which and when to try again (Retry-After). */
export function tooManyRequests(code: string, detail: string, retryAfterSeconds: number, extra: Record<string, unknown> = {}): ProblemError {
  return new ProblemError(429, code, 'Too Many Requests', detail, { retryAfterSeconds: Math.max(1, Math.ceil(retryAfterSeconds)), ...extra });
}

/**
 * Adds a slot to a set of open things (streams) that expire by score; refuses past the limit. One round trip: old
 * slots of a crashed process fall out by their expiry, so a count can never leak upwards for good.
 */
const TAKE_SLOT = `
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return {0, tonumber(oldest[2]) - tonumber(ARGV[1])}
end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[4])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]) - tonumber(ARGV[1]))
return {1, 0}`;

/**
 * Every counting limit of the api in one place, kept in Redis so all api processes share them: fixed-window counters
 * (`count`) and concurrent slots (`takeSlot`). The counters are touched only by what they limit (a failed key, a
 * derived key, an opened stream), never by ordinary valid requests.
 */
interface SlotCommands {
  mserveTakeSlot(key: string, now: number, expiresAt: number, max: number, slot: string): Promise<[number, number]>;
}

/** TAKE_SLOT as a named command of the connection (defined once, run by its digest), as the upload lock does. */
function slotCommands(client: Redis): SlotCommands {
  const commands = client as unknown as Redis & Partial<SlotCommands>;
  if (typeof commands.mserveTakeSlot !== 'function') client.defineCommand('mserveTakeSlot', { numberOfKeys: 1, lua: TAKE_SLOT });
  return commands as unknown as SlotCommands;
}

@Injectable()
export class RateLimits {
  /** Addresses known to be over their failed-key limit, until when (ms): refused without a Redis or database trip. */
  private readonly blocked = new Map<string, number>();

  constructor(
    @Inject(REDIS_CLIENT) private readonly redis: Redis,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  private name(...parts: string[]): string {
    return [this.config.queuePrefix, 'limit', ...parts].join(':');
  }

  /** Counts one event in a fixed window; the count so far and the seconds until the window ends. */
  async count(bucket: string, windowSeconds: number): Promise<{ count: number; resetSeconds: number }> {
    const key = this.name(bucket);
    const replies = (await this.redis.multi().incr(key).expire(key, windowSeconds, 'NX').ttl(key).exec()) ?? [];
    const count = Number(replies[0]?.[1] ?? 0);
    const ttl = Number(replies[2]?.[1] ?? windowSeconds);
    return { count, resetSeconds: ttl > 0 ? ttl : windowSeconds };
  }

  /** Refuses a request from an address that recently failed too many keys (no I/O: a map lookup). */
  refuseBlockedAddress(address: string): void {
    const until = this.blocked.get(address);
    if (until === undefined) return;
    const left = until - Date.now();
    if (left <= 0) {
      this.blocked.delete(address);
      return;
    }
    throw this.tooManyFailures(left / 1000);
  }

  /** Counts a failed key from this address; past KEY_FAILURES_PER_ADDRESS in the window, a 429 instead of the failure. */
  async keyFailed(address: string): Promise<ProblemError | undefined> {
    const { max, windowSeconds } = this.config.limits.keyFailures;
    const { count, resetSeconds } = await this.count(`keyfail:${address}`, windowSeconds);
    if (count <= max) return undefined;
    this.blocked.set(address, Date.now() + resetSeconds * 1000);
    if (this.blocked.size > 100_000) this.blocked.delete(this.blocked.keys().next().value!);
    return this.tooManyFailures(resetSeconds);
  }

  private tooManyFailures(retryAfterSeconds: number): ProblemError {
    return tooManyRequests(
      'too-many-failed-keys',
      `too many unknown, revoked or malformed keys from this address (over ${this.config.limits.keyFailures.max} in ${this.config.limits.keyFailures.windowSeconds} s): try again in ${Math.max(1, Math.ceil(retryAfterSeconds))} s`,
      retryAfterSeconds,
    );
  }

  /**
   * Counts a key derived by `keyId` (and against its tenant, `scope`, ten times the limit, so a chain of sub-keys
   * cannot multiply the budget); refuses with 429 past KEYS_CREATED_PER_MINUTE.
   */
  async keyDerived(keyId: string, scope: string): Promise<void> {
    const max = this.config.limits.keysCreatedPerMinute;
    const [perKey, perScope] = await Promise.all([this.count(`derive:key:${keyId}`, 60), this.count(`derive:scope:${scope}`, 60)]);
    if (perKey.count > max || perScope.count > max * 10) {
      const which = perKey.count > max ? `this key (${max} a minute)` : `keys of this tenant (${max * 10} a minute)`;
      const reset = perKey.count > max ? perKey.resetSeconds : perScope.resetSeconds;
      throw tooManyRequests('too-many-keys-created', `too many keys derived by ${which}: try again in ${reset} s`, reset);
    }
  }

  /**
   * Takes one of SSE_STREAMS_PER_KEY slots for an event stream of `keyId` that lives at most `lifetimeSeconds`;
   * the returned function gives it back. 429 when all are taken.
   */
  async takeStreamSlot(keyId: string, lifetimeSeconds: number): Promise<() => void> {
    const max = this.config.limits.streamsPerKey;
    const key = this.name('streams', keyId);
    const slot = randomUUID();
    const now = Date.now();
    // a slot outlives its stream's lifetime by a margin: a stream still closing is not a free slot yet
    const [taken, waitMs] = await slotCommands(this.redis).mserveTakeSlot(key, now, now + (lifetimeSeconds + 30) * 1000, max, slot);
    if (!taken)
      throw tooManyRequests(
        'too-many-streams',
        `this key already has ${max} event streams open (SSE_STREAMS_PER_KEY): close one, or follow the service's stream instead of each job`,
        Math.min(waitMs / 1000, 60),
      );
    return () => void this.redis.zrem(key, slot).catch(() => undefined);
  }
}

import { Inject, Injectable } from '@nestjs/common';
import type Redis from 'ioredis';
import { randomBytes } from 'node:crypto';
import { ProblemError } from '../common/problem';
import { REDIS_CLIENT } from '../redis/redis-connections';

const TTL_MS = 10_000;
const RELEASE = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end`;
const EXTEND = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end`;

/** The two scripts as named Redis commands (sent as EVALSHA): fixed Lua, nothing a user wrote. */
interface LockCommands {
  mserveLockRelease(key: string, token: string): Promise<number>;
  mserveLockExtend(key: string, token: string, ttlMs: string): Promise<number>;
}

function lockCommands(client: Redis): LockCommands {
  const commands = client as unknown as Redis & Partial<LockCommands>;
  if (typeof commands.mserveLockRelease !== 'function') {
    client.defineCommand('mserveLockRelease', { numberOfKeys: 1, lua: RELEASE });
    client.defineCommand('mserveLockExtend', { numberOfKeys: 1, lua: EXTEND });
  }
  return commands as unknown as LockCommands;
}

/**
 * One mutating request per upload at a time, across every api process: a Redis lock with a token (only its
 * holder can release it), a TTL so a crashed process cannot hold it forever, renewed while the request streams.
 */
@Injectable()
export class UploadLock {
  constructor(@Inject(REDIS_CLIENT) private readonly redis: Redis) {}

  async withLock<T>(uploadId: string, work: () => Promise<T>): Promise<T> {
    const client = this.redis;
    const commands = lockCommands(client);
    const key = `mserve:upload-lock:${uploadId}`;
    const token = randomBytes(16).toString('hex');
    const acquired = await client.set(key, token, 'PX', TTL_MS, 'NX');
    if (acquired !== 'OK') {
      throw new ProblemError(423, 'upload-locked', 'Locked', 'another request is writing to this upload right now; retry when it has finished');
    }
    const renew = setInterval(() => void commands.mserveLockExtend(key, token, String(TTL_MS)).catch(() => undefined), TTL_MS / 3);
    try {
      return await work();
    } finally {
      clearInterval(renew);
      await commands.mserveLockRelease(key, token).catch(() => undefined);
    }
  }
}

import { Inject, Injectable, Logger } from '@nestjs/common';
import type Redis from 'ioredis';
import { createHash } from 'node:crypto';
import { APP_CONFIG, AppConfig } from '../config/config';
import { REDIS_CLIENT } from '../redis/redis-connections';

/** Who is downloading: the key it presented and the address it came from. */
export interface DownloadClient {
  keyId?: string;
  address?: string;
}

/**
 * Download sessions, for the access trigger: a video player seeking through a file sends a Range request per seek,
 * a download manager several at once, and each answered GET would otherwise start the access pipeline again. The
 * downloads of one file's content by one client (key and address) are one session while each comes within
 * ACCESS_SESSION_SECONDS of the one before (sliding); only the first starts the pipeline. New content (another
 * sha256) is a new session. Kept in Redis, so all api processes agree.
 */
@Injectable()
export class AccessSessions {
  private readonly logger = new Logger('access-sessions');

  constructor(
    @Inject(REDIS_CLIENT) private readonly redis: Redis,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  private keyOf(mfile: { id: string; sha256: string }, client: DownloadClient): string {
    const who = createHash('sha256')
      .update(`${client.keyId ?? ''}\u0000${client.address ?? ''}`)
      .digest('base64url')
      .slice(0, 22);
    return `${this.config.queuePrefix}:access:${mfile.id}:${mfile.sha256.slice(0, 16)}:${who}`;
  }

  /** Whether this download starts a session (every download extends the one it belongs to). */
  async starts(mfile: { id: string; sha256: string }, client: DownloadClient): Promise<boolean> {
    const seconds = this.config.accessSessionSeconds;
    if (seconds === 0) return true;
    const key = this.keyOf(mfile, client);
    try {
      if ((await this.redis.set(key, '1', 'EX', seconds, 'NX')) === 'OK') return true;
      await this.redis.expire(key, seconds);
      return false;
    } catch (error) {
      // without Redis no job can be queued either; the run is made (the reconciler queues it once Redis is back)
      this.logger.warn(`could not read the download session of ${mfile.id}: ${String(error)}`);
      return true;
    }
  }

  /** A session whose run could not be made: forgotten, so the client's next download tries again. */
  async forget(mfile: { id: string; sha256: string }, client: DownloadClient): Promise<void> {
    await this.redis.del(this.keyOf(mfile, client)).catch(() => undefined);
  }
}

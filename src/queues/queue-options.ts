import { QueueOptions } from 'bull';

export const QUEUE_OPTIONS = Symbol('QUEUE_OPTIONS');

export function queueOptions(redisUrl: string, prefix: string): QueueOptions {
  const url = new URL(redisUrl);
  return {
    prefix,
    // A worker renews its lock every 2.5 s; a job whose lock lapsed (the worker died) is found within 5 s and
    // runs again elsewhere, instead of Bull's default 30 s lock and 30 s stall check.
    settings: { lockDuration: 10_000, lockRenewTime: 2_500, stalledInterval: 5_000, maxStalledCount: 2 },
    redis: {
      host: url.hostname,
      port: Number(url.port || 6379),
      password: url.password ? decodeURIComponent(url.password) : undefined,
      username: url.username ? decodeURIComponent(url.username) : undefined,
      db: url.pathname.length > 1 ? Number(url.pathname.slice(1)) : 0,
      tls: url.protocol === 'rediss:' ? {} : undefined,
      maxRetriesPerRequest: null,
      enableReadyCheck: false,
    },
  };
}

/** The heartbeat key of one worker (and, with `*`, the pattern of all of them). */
export function workerKey(prefix: string, workerId: string): string {
  return `${prefix}:workers:${workerId}`;
}

import { QueueOptions } from 'bull';

export const QUEUE_OPTIONS = Symbol('QUEUE_OPTIONS');

export function queueOptions(redisUrl: string): QueueOptions {
  const url = new URL(redisUrl);
  return {
    prefix: 'mserve',
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

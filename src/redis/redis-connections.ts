import { Logger } from '@nestjs/common';
import Redis, { RedisOptions } from 'ioredis';

/** The process's shared Redis command connection (locks, throttling, sessions, heartbeats, Bull's commands). */
export const REDIS_CLIENT = Symbol('REDIS_CLIENT');

/** Connection options from `REDIS_URL` (redis:// or rediss://, user, password, database number). */
export function redisOptions(redisUrl: string): RedisOptions {
  const url = new URL(redisUrl);
  return {
    host: url.hostname,
    port: Number(url.port || 6379),
    password: url.password ? decodeURIComponent(url.password) : undefined,
    username: url.username ? decodeURIComponent(url.username) : undefined,
    db: url.pathname.length > 1 ? Number(url.pathname.slice(1)) : 0,
    tls: url.protocol === 'rediss:' ? {} : undefined,
    // Bull's subscriber and blocking connections require both: their commands wait for a reconnect instead of failing
    // (a subscription is renewed by ioredis on reconnect). The shared command connection is bounded instead (below).
    maxRetriesPerRequest: null,
    enableReadyCheck: false,
  };
}

/**
 * The shared command connection serves requests (sessions, logins, upload locks, job dispatch, health), which must
 * answer a Redis outage with a 503 in bounded time rather than wait for Redis to return: a command fails after
 * `commandTimeoutMs` (Redis hung), and a command queued while the connection is down fails at the next failed
 * reconnection attempt (Redis stopped). The ready check waits until a restarted Redis has replayed its AOF, so
 * 'ready' (the reconciler's signal) means commands work. Bull accepts both on its `client` connection.
 */
export function commandConnectionOptions(commandTimeoutMs: number): RedisOptions {
  return { commandTimeout: commandTimeoutMs, maxRetriesPerRequest: 1, enableReadyCheck: true };
}

/**
 * Every Redis connection of a process, made from one configuration and closed together: one shared command
 * connection (REDIS_CLIENT, also Bull's `client` for every queue; bounded, see commandConnectionOptions), one shared subscriber for Bull's events, and
 * dedicated connections where a command blocks or a connection subscribes (Bull's `bclient` per consumed queue,
 * the job-event stream). A queue no longer lends its connection to unrelated work.
 */
export class RedisConnections {
  private readonly logger = new Logger('redis');
  private readonly opened = new Set<Redis>();
  readonly client: Redis;
  private sharedSubscriber?: Redis;

  constructor(
    private readonly options: RedisOptions,
    commandOptions: RedisOptions = {},
  ) {
    this.client = this.open('client', commandOptions);
  }

  /** Bull's event subscriber, shared by every queue of the process. */
  subscriber(): Redis {
    this.sharedSubscriber ??= this.open('subscriber');
    return this.sharedSubscriber;
  }

  /** A connection of its own, for blocking commands or SUBSCRIBE. Closed with the others. */
  dedicated(role: string): Redis {
    return this.open(role);
  }

  /** The `createClient` Bull is given: shared client and subscriber, a blocking connection per queue. */
  forBull(type: 'client' | 'subscriber' | 'bclient'): Redis {
    if (type === 'client') return this.client;
    if (type === 'subscriber') return this.subscriber();
    return this.dedicated('bull-bclient');
  }

  async close(): Promise<void> {
    // blocked connections (BRPOPLPUSH) would hold QUIT until their timeout: those are cut, the rest quit cleanly
    await Promise.all(
      [...this.opened].map(async (connection) => {
        this.opened.delete(connection);
        if (connection.status === 'end') return;
        if ((connection as Redis & { blocked?: boolean }).blocked || connection.status !== 'ready') connection.disconnect();
        else await connection.quit().catch(() => connection.disconnect());
      }),
    );
  }

  private open(role: string, extra: RedisOptions = {}): Redis {
    const connection = new Redis({ ...this.options, ...extra, connectionName: `mserve-${role}`, lazyConnect: false });
    let reported = false;
    // an 'error' event with no listener would take the process down; ioredis reconnects by itself
    connection.on('error', (error: Error) => {
      if (reported) return;
      reported = true;
      this.logger.warn(`${role} connection: ${error.message} (reconnecting)`);
    });
    connection.on('ready', () => {
      if (reported) this.logger.log(`${role} connection is back`);
      reported = false;
    });
    this.opened.add(connection);
    connection.once('end', () => this.opened.delete(connection));
    return connection;
  }
}

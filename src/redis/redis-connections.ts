import { Logger } from '@nestjs/common';
import Redis, { RedisOptions } from 'ioredis';
import type { AppConfig } from '../config/config';
import type { RedisSentinelConfig } from '../config/redis-sentinels';

/** The process's shared Redis command connection (locks, throttling, sessions, heartbeats, Bull's commands). */
export const REDIS_CLIENT = Symbol('REDIS_CLIENT');

/** Where Redis is: REDIS_URL alone, or the master of a Sentinel group (REDIS_URL then gives only how to log in). */
export type RedisTarget = Pick<AppConfig, 'redisUrl' | 'redisSentinel'>;

/** What REDIS_URL says about logging in, whatever the address: user, password, database number, TLS (rediss://). */
function credentialsOf(url: URL): RedisOptions {
  return {
    password: url.password ? decodeURIComponent(url.password) : undefined,
    username: url.username ? decodeURIComponent(url.username) : undefined,
    db: url.pathname.length > 1 ? Number(url.pathname.slice(1)) : 0,
    tls: url.protocol === 'rediss:' ? {} : undefined,
  };
}

/**
 * A replica's refusal (READONLY) or a blocked command cut when its server became a replica (UNBLOCKED): this
 * connection is on a demoted master. Reconnecting asks the sentinels again, and the command is sent again on the
 * new master (2: reconnect and resend), so a caller sees the failover as a slower answer, not an error.
 */
function reconnectOnDemotion(error: Error): 2 | false {
  return /^(READONLY|UNBLOCKED) /.test(error.message) ? 2 : false;
}

/**
 * The master of a Sentinel group: ioredis asks the sentinels for its address at each (re)connection and checks the
 * node's role where it runs a ready check. A killed master fails the connection, and the reconnection finds the
 * promoted replica once the sentinels have voted. A master the sentinels demote has its clients cut by them
 * (CLIENT KILL TYPE normal on reconfiguration); one they cannot reach answers READONLY, handled above. ioredis's
 * failoverDetector (+switch-master) is left off on purpose: when the announcement arrives while a connection is
 * still asking the sentinels for the master (the master was killed, so every connection is), ioredis ends that
 * connection for good ("Connection is closed."), seen in test/e2e/redis-sentinel as a worker that stopped
 * consuming. rediss:// means TLS to the data nodes and to the sentinels alike.
 */
function sentinelOptions(sentinel: RedisSentinelConfig, redisUrl: string | undefined): RedisOptions {
  const credentials = redisUrl ? credentialsOf(new URL(redisUrl)) : {};
  return {
    ...credentials,
    sentinels: sentinel.sentinels,
    name: sentinel.name,
    role: 'master',
    sentinelPassword: sentinel.password,
    enableTLSForSentinelMode: credentials.tls !== undefined,
    sentinelTLS: credentials.tls,
    reconnectOnError: reconnectOnDemotion,
  };
}

/** One Redis server at REDIS_URL's address. */
function serverOptions(redisUrl: string): RedisOptions {
  const url = new URL(redisUrl);
  return { host: url.hostname, port: Number(url.port || 6379), ...credentialsOf(url) };
}

/** Connection options from `REDIS_URL` (redis:// or rediss://, user, password, database number), or for Sentinel. */
export function redisOptions(target: RedisTarget): RedisOptions {
  return {
    ...(target.redisSentinel ? sentinelOptions(target.redisSentinel, target.redisUrl) : serverOptions(target.redisUrl!)),
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

/** Redis reached through Sentinel: the master of one monitored group, wherever the sentinels say it is now. */
export interface RedisSentinelConfig {
  sentinels: Array<{ host: string; port: number }>;
  /** The master group's name (`sentinel monitor <name> …` in the sentinels' configuration). */
  name: string;
  /** AUTH for the sentinels themselves (their `requirepass`); the data nodes' password comes from REDIS_URL. */
  password?: string;
}

/** Sentinel's own default port, as `redis-sentinel` listens when its configuration names none. */
const SENTINEL_PORT = 26379;

/** One `host[:port]` entry; an IPv6 address in brackets (`[::1]:26379`). Throws naming a bad entry. */
function parseSentinel(entry: string): { host: string; port: number } {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^\s:[\]]+))(?::(\d{1,5}))?$/.exec(entry);
  const port = match?.[3] === undefined ? SENTINEL_PORT : Number(match[3]);
  if (!match || port < 1 || port > 65535) throw new Error(`"${entry}" is not a sentinel address: write host:port (or [ipv6]:port)`);
  return { host: match[1] ?? match[2], port };
}

/**
 * `REDIS_SENTINELS` and `REDIS_SENTINEL_NAME` read together: both (Sentinel) or neither (REDIS_URL alone). Throws
 * an error whose message names the variable at fault.
 */
export function parseRedisSentinel(sentinels: string | undefined, name: string | undefined, password: string | undefined): RedisSentinelConfig | undefined {
  if (!sentinels && !name) {
    if (password) throw new Error('REDIS_SENTINEL_PASSWORD: only with REDIS_SENTINELS and REDIS_SENTINEL_NAME');
    return undefined;
  }
  if (!sentinels || !name) throw new Error('REDIS_SENTINELS and REDIS_SENTINEL_NAME: set both (Redis through Sentinel) or neither (REDIS_URL)');
  const entries = sentinels
    .split(',')
    .map((entry) => entry.trim())
    .filter(Boolean);
  if (entries.length === 0) throw new Error('REDIS_SENTINELS: list at least one sentinel as host:port');
  try {
    return { sentinels: entries.map(parseSentinel), name, password };
  } catch (error) {
    throw new Error(`REDIS_SENTINELS: ${(error as Error).message}`, { cause: error });
  }
}

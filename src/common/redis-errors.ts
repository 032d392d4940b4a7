/**
 * Redis's own replies while it cannot serve commands for a moment: replaying its append-only file after a restart
 * (LOADING; PING is still answered then, so readiness can be up while other commands are refused), running a long
 * script (BUSY), a replica that lost or is not its master (MASTERDOWN, READONLY during a Sentinel failover), a
 * cluster slot moving (TRYAGAIN, CLUSTERDOWN).
 */
const TRANSIENT_REPLIES = /^(LOADING|BUSY|MASTERDOWN|READONLY|TRYAGAIN|CLUSTERDOWN) /;

/**
 * ioredis's own words when a command could not be answered because Redis is down, restarting or hung: the command
 * waited longer than REDIS_COMMAND_TIMEOUT_MS, or was dropped while the connection kept failing to reconnect
 * (MaxRetriesPerRequestError), or the connection is closed or not writable; and Redis's transient replies above.
 * Such a request is worth retrying: the answer is a 503 with Retry-After, never a 500.
 */
export function isRedisUnavailable(error: unknown): boolean {
  if (!error || typeof error !== 'object') return false;
  const { name, message } = error as { name?: unknown; message?: unknown };
  if (name === 'MaxRetriesPerRequestError') return true;
  if (typeof message === 'string' && TRANSIENT_REPLIES.test(message)) return true;
  return (
    typeof message === 'string' && /^(Command timed out|Connection is closed\.|Stream isn't writeable|Reached the max retries per request limit)/.test(message)
  );
}

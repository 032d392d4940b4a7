import { ConfigurationError, loadConfig } from './config';
import { parseRedisSentinel } from './redis-sentinels';

const problemsOf = (environment: NodeJS.ProcessEnv): string[] => {
  try {
    loadConfig(environment);
  } catch (error) {
    if (error instanceof ConfigurationError) return error.problems;
    throw error;
  }
  return [];
};

describe('REDIS_SENTINELS and REDIS_SENTINEL_NAME', () => {
  it('reads host:port lists, with the sentinel default port, IPv6 in brackets and spaces around commas', () => {
    expect(parseRedisSentinel('10.0.0.1:26380, sentinel-b ,[::1]:26381', 'media', 'secret')).toEqual({
      sentinels: [
        { host: '10.0.0.1', port: 26380 },
        { host: 'sentinel-b', port: 26379 },
        { host: '::1', port: 26381 },
      ],
      name: 'media',
      password: 'secret',
    });
  });

  it('is absent when neither is set, and REDIS_URL then stays the only Redis', () => {
    expect(parseRedisSentinel(undefined, undefined, undefined)).toBeUndefined();
    expect(loadConfig({ REDIS_URL: 'redis://127.0.0.1:6379' })).toMatchObject({ redisUrl: 'redis://127.0.0.1:6379', redisSentinel: undefined });
  });

  it('is read by loadConfig, with or without REDIS_URL', () => {
    expect(loadConfig({ REDIS_SENTINELS: 'a:1,b:2', REDIS_SENTINEL_NAME: 'media' })).toMatchObject({
      redisUrl: undefined,
      redisSentinel: {
        sentinels: [
          { host: 'a', port: 1 },
          { host: 'b', port: 2 },
        ],
        name: 'media',
        password: undefined,
      },
    });
    expect(loadConfig({ REDIS_SENTINELS: 'a:1', REDIS_SENTINEL_NAME: 'media', REDIS_URL: 'rediss://:pw@ignored:1/2' }).redisUrl).toBe(
      'rediss://:pw@ignored:1/2',
    );
  });

  it('refuses one without the other, a password without sentinels, and bad entries, naming the variable', () => {
    expect(problemsOf({ REDIS_SENTINELS: 'a:26379' })).toEqual([expect.stringMatching(/^REDIS_SENTINELS and REDIS_SENTINEL_NAME: set both/)]);
    expect(problemsOf({ REDIS_SENTINEL_NAME: 'media' })).toEqual([expect.stringMatching(/^REDIS_SENTINELS and REDIS_SENTINEL_NAME: set both/)]);
    expect(problemsOf({ REDIS_SENTINEL_PASSWORD: 'pw' })).toEqual([expect.stringMatching(/^REDIS_SENTINEL_PASSWORD: only with/)]);
    expect(problemsOf({ REDIS_SENTINELS: 'a:26379,b:99999', REDIS_SENTINEL_NAME: 'media' })).toEqual([
      expect.stringContaining('"b:99999" is not a sentinel address'),
    ]);
    expect(problemsOf({ REDIS_SENTINELS: 'redis://a:26379', REDIS_SENTINEL_NAME: 'media' })).toEqual([
      expect.stringMatching(/^REDIS_SENTINELS: "redis:\/\/a:26379"/),
    ]);
    expect(problemsOf({ REDIS_SENTINELS: ' , ', REDIS_SENTINEL_NAME: 'media' })).toEqual(['REDIS_SENTINELS: list at least one sentinel as host:port']);
    expect(problemsOf({ REDIS_SENTINELS: 'a', REDIS_SENTINEL_NAME: 'my master' }).join('\n')).toContain('REDIS_SENTINEL_NAME');
  });
});

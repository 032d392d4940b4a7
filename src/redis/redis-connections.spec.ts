import { redisOptions } from './redis-connections';

describe('redisOptions', () => {
  it('connects to REDIS_URL: address, user, password, database, TLS', () => {
    expect(redisOptions({ redisUrl: 'rediss://user:p%40ss@redis.example:6390/3' })).toMatchObject({
      host: 'redis.example',
      port: 6390,
      username: 'user',
      password: 'p@ss',
      db: 3,
      tls: {},
    });
    expect(redisOptions({ redisUrl: 'redis://127.0.0.1' })).toMatchObject({ host: '127.0.0.1', port: 6379, db: 0, tls: undefined });
    expect(redisOptions({ redisUrl: 'redis://127.0.0.1' }).sentinels).toBeUndefined();
  });

  it('with sentinels: the group master, REDIS_URL giving only the credentials, failovers followed', () => {
    const options = redisOptions({
      redisUrl: 'redis://:data-pw@not-used:1/2',
      redisSentinel: { sentinels: [{ host: '10.0.0.1', port: 26379 }], name: 'media', password: 'sentinel-pw' },
    });
    expect(options).toMatchObject({
      sentinels: [{ host: '10.0.0.1', port: 26379 }],
      name: 'media',
      role: 'master',
      sentinelPassword: 'sentinel-pw',
      password: 'data-pw',
      db: 2,
      enableTLSForSentinelMode: false,
      maxRetriesPerRequest: null,
    });
    expect(options.host).toBeUndefined();
    // see sentinelOptions: the detector can end a connection for good during a failover
    expect(options.failoverDetector).toBeFalsy();
    expect(options.port).toBeUndefined();
    const reconnect = options.reconnectOnError!;
    expect(reconnect(new Error("READONLY You can't write against a read only replica."))).toBe(2);
    expect(reconnect(new Error('UNBLOCKED force unblock from blocking operation, instance state changed (master -> replica?)'))).toBe(2);
    expect(reconnect(new Error('ERR unknown command'))).toBe(false);
  });

  it('with sentinels and rediss://: TLS to the data nodes and to the sentinels', () => {
    const options = redisOptions({ redisUrl: 'rediss://:pw@x', redisSentinel: { sentinels: [{ host: 'a', port: 1 }], name: 'media' } });
    expect(options).toMatchObject({ tls: {}, enableTLSForSentinelMode: true, sentinelTLS: {} });
    const plain = redisOptions({ redisSentinel: { sentinels: [{ host: 'a', port: 1 }], name: 'media' } });
    expect([plain.password, plain.tls, plain.enableTLSForSentinelMode]).toEqual([undefined, undefined, false]);
  });
});

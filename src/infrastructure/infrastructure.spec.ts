import { requireUrls } from '../bootstrap/process-lifecycle';
import { loadConfig } from '../config/config';
import { ensureInfrastructure } from './infrastructure';

describe('Redis given as sentinels', () => {
  const sentinels = { DATABASE_URL: 'postgres://db.invalid/mserve', REDIS_SENTINELS: '127.0.0.1:26379', REDIS_SENTINEL_NAME: 'mserve' };

  it('npm start runs no local redis-server, and has no REDIS_URL to pass on unless one was given', async () => {
    const given = await ensureInfrastructure(loadConfig(sentinels), () => undefined);
    expect(given).toMatchObject({ databaseUrl: sentinels.DATABASE_URL, redisUrl: undefined, supervisors: [] });
    const withCredentials = await ensureInfrastructure(loadConfig({ ...sentinels, REDIS_URL: 'redis://:pw@master/1' }), () => undefined);
    expect(withCredentials).toMatchObject({ redisUrl: 'redis://:pw@master/1', supervisors: [] });
  });

  it('an api or worker started alone accepts sentinels in place of REDIS_URL, and names what is missing', () => {
    expect(() => requireUrls(loadConfig(sentinels), 'worker')).not.toThrow();
    expect(() => requireUrls(loadConfig({ DATABASE_URL: sentinels.DATABASE_URL }), 'worker')).toThrow(/the worker process needs REDIS_URL;/);
  });
});

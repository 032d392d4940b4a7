import { ConfigurationError, loadConfig, parseQueueList } from './config';

describe('loadConfig', () => {
  it('gives embedded defaults under ./var', () => {
    const config = loadConfig({});
    expect(config.port).toBe(3000);
    expect(config.databaseUrl).toBeUndefined();
    expect(config.storageDir).toMatch(/\/var\/storage$/);
    expect(config.workerQueues).toEqual([
      { queue: 'normal', concurrency: 2 },
      { queue: 'priority', concurrency: 1 },
    ]);
  });

  it('puts the embedded ports outside the ephemeral ranges outgoing connections borrow from', () => {
    const config = loadConfig({});
    for (const port of [config.embeddedPostgresPort, config.embeddedRedisPort]) {
      expect(port).toBeLessThan(32768); // Linux 32768–60999, IANA 49152–65535
      expect(port).toBeGreaterThan(1023);
      expect(port).not.toBe(config.port);
    }
  });

  it('lists every bad variable in one error', () => {
    try {
      loadConfig({ PORT: 'eighty', DATABASE_URL: 'mysql://x', ADMIN_KEY: 'short', LOG_LEVEL: 'loud', WORKER_QUEUES: 'normal:x' });
      throw new Error('should have failed');
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigurationError);
      const problems = (error as ConfigurationError).problems.join('\n');
      for (const name of ['PORT', 'DATABASE_URL', 'ADMIN_KEY', 'LOG_LEVEL', 'WORKER_QUEUES']) expect(problems).toContain(name);
    }
  });

  it('parses queue lists', () => {
    expect(parseQueueList('normal:4,priority,hardware.gpu:1')).toEqual([
      { queue: 'normal', concurrency: 4 },
      { queue: 'priority', concurrency: 1 },
      { queue: 'hardware.gpu', concurrency: 1 },
    ]);
  });
});

import { ConfigurationError, DEFAULT_POOL_SIZES, loadConfig, parseQueueList } from './config';

/** The problems loadConfig names for `environment`, or none. */
function problemsOf(environment: NodeJS.ProcessEnv): string[] {
  try {
    loadConfig(environment);
    return [];
  } catch (error) {
    if (!(error instanceof ConfigurationError)) throw error;
    return error.problems;
  }
}

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

  it('runs every part of the platform on loopback engines by default; LAUNCH and EMBEDDED_HOST make one machine of several', () => {
    expect(loadConfig({})).toMatchObject({ embeddedHost: '127.0.0.1', launch: { engines: true, api: true, worker: true } });
    expect(loadConfig({ LAUNCH: 'engines', EMBEDDED_HOST: '10.0.0.5' })).toMatchObject({
      embeddedHost: '10.0.0.5',
      launch: { engines: true, api: false, worker: false },
    });
    expect(loadConfig({ LAUNCH: 'worker,api' }).launch).toEqual({ engines: false, api: true, worker: true });
    for (const [name, value] of [
      ['LAUNCH', 'api,'],
      ['LAUNCH', 'db'],
      ['LAUNCH', ''],
      ['EMBEDDED_HOST', 'localhost'],
      ['EMBEDDED_HOST', '10.0.0.256'],
      ['EMBEDDED_HOST', '0.0.0.0'],
      ['EMBEDDED_HOST', '203.0.113.7'],
      ['EMBEDDED_HOST', '172.32.0.1'],
    ])
      expect(() => loadConfig({ [name]: value })).toThrow(name);
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

  it('keeps content on the filesystem by default, and reads and checks the S3 settings with STORAGE=s3', () => {
    expect(loadConfig({})).toMatchObject({ storage: 'filesystem', s3: undefined });
    const s3 = loadConfig({
      STORAGE: 's3',
      S3_ENDPOINT: 'http://127.0.0.1:9000',
      S3_BUCKET: 'media',
      S3_ACCESS_KEY_ID: 'id',
      S3_SECRET_ACCESS_KEY: 'secret',
      S3_FORCE_PATH_STYLE: 'true',
    });
    expect(s3).toMatchObject({
      storage: 's3',
      s3: {
        endpoint: 'http://127.0.0.1:9000',
        bucket: 'media',
        backupBucket: 'media',
        region: 'us-east-1',
        credentials: { accessKeyId: 'id', secretAccessKey: 'secret' },
        forcePathStyle: true,
        createBucket: false,
        localCopyMaxBytes: 20 * 1024 ** 3,
      },
    });
    expect(loadConfig({ STORAGE: 's3', S3_BUCKET: 'media' }).s3?.credentials).toBeUndefined();
    // backups in a bucket of their own, or (unset) the content bucket's backup/ prefix
    expect(loadConfig({ STORAGE: 's3', S3_BUCKET: 'media', S3_BACKUP_BUCKET: 'media-backup' }).s3?.backupBucket).toBe('media-backup');
    const problems = (environment: NodeJS.ProcessEnv) => {
      try {
        loadConfig(environment);
        return [];
      } catch (error) {
        return (error as ConfigurationError).problems;
      }
    };
    expect(problems({ STORAGE: 's3' })).toEqual(['S3_BUCKET: required when STORAGE=s3']);
    expect(problems({ STORAGE: 's3', S3_BUCKET: 'media', S3_ACCESS_KEY_ID: 'id' })).toEqual([
      expect.stringMatching(/^S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY/),
    ]);
    expect(problems({ STORAGE: 'nfs' })[0]).toMatch(/^STORAGE: /);
    expect(problems({ STORAGE: 's3', S3_BUCKET: 'Bad_Bucket' })[0]).toMatch(/^S3_BUCKET: /);
    expect(problems({ STORAGE: 's3', S3_BUCKET: 'media', S3_BACKUP_BUCKET: 'Bad_Bucket' })[0]).toMatch(/^S3_BACKUP_BUCKET: /);
    expect(problems({ STORAGE: 's3', S3_BUCKET: 'media', S3_ENDPOINT: 'ftp://x' })[0]).toMatch(/^S3_ENDPOINT: /);
  });

  it('turns presigned downloads on with a size, on S3 only, with a lifetime and the origin clients reach the store at', () => {
    const s3 = { STORAGE: 's3', S3_BUCKET: 'media', S3_ENDPOINT: 'http://10.0.0.9:9000' };
    expect(loadConfig(s3).s3!.presignedDownloads).toBeUndefined();
    expect(
      loadConfig({ ...s3, S3_PRESIGNED_DOWNLOAD_MIN_BYTES: '1048576', S3_PUBLIC_ENDPOINT: 'https://media-store.example.org' }).s3!.presignedDownloads,
    ).toEqual({ minBytes: 1048576, ttlSeconds: 300, endpoint: 'https://media-store.example.org' });
    expect(() => loadConfig({ ...s3, S3_PRESIGNED_DOWNLOAD_MIN_BYTES: '1', S3_PRESIGNED_TTL_SECONDS: '5' })).toThrow('S3_PRESIGNED_TTL_SECONDS');
    expect(() => loadConfig({ ...s3, S3_PRESIGNED_DOWNLOAD_MIN_BYTES: '1', S3_PRESIGNED_TTL_SECONDS: '3601' })).toThrow('S3_PRESIGNED_TTL_SECONDS');
    expect(() => loadConfig({ ...s3, S3_PUBLIC_ENDPOINT: 'https://store.example.org/bucket' })).toThrow('S3_PUBLIC_ENDPOINT');
  });

  it('migrates on DATABASE_MIGRATION_URL when set, on DATABASE_URL otherwise, and never on the embedded PostgreSQL', () => {
    const pooled = 'postgres://mserve@pgbouncer:6432/mserve';
    const direct = 'postgres://mserve@postgres:5432/mserve';
    expect(loadConfig({ DATABASE_URL: pooled })).toMatchObject({ databaseUrl: pooled, migrationUrl: pooled });
    expect(loadConfig({ DATABASE_URL: pooled, DATABASE_MIGRATION_URL: direct })).toMatchObject({ databaseUrl: pooled, migrationUrl: direct });
    expect(loadConfig({ DATABASE_URL: pooled, DATABASE_MIGRATION_URL: '' }).migrationUrl).toBe(pooled);
    expect(problemsOf({ DATABASE_MIGRATION_URL: direct })).toEqual([expect.stringMatching(/^DATABASE_MIGRATION_URL: set it only with DATABASE_URL/)]);
    expect(problemsOf({ DATABASE_URL: pooled, DATABASE_MIGRATION_URL: 'mysql://x' })).toEqual([
      'DATABASE_MIGRATION_URL: DATABASE_MIGRATION_URL must be a postgres:// URL',
    ]);
  });

  it('sizes the pool per role: defaults, one size for all, or api:N,worker:N with the others kept', () => {
    expect(loadConfig({}).database.poolSize).toEqual(DEFAULT_POOL_SIZES);
    expect(DEFAULT_POOL_SIZES).toEqual({ api: 20, worker: 10 });
    expect(loadConfig({ DATABASE_POOL_SIZE: '' }).database.poolSize).toEqual(DEFAULT_POOL_SIZES);
    expect(loadConfig({ DATABASE_POOL_SIZE: '6' }).database.poolSize).toEqual({ api: 6, worker: 6 });
    expect(loadConfig({ DATABASE_POOL_SIZE: 'worker:3' }).database.poolSize).toEqual({ api: 20, worker: 3 });
    expect(loadConfig({ DATABASE_POOL_SIZE: 'worker:4,api:12' }).database.poolSize).toEqual({ api: 12, worker: 4 });
    for (const bad of ['-1', 'api:', 'api:x', 'web:5', 'api:5,', 'api=5', '5,6'])
      expect(problemsOf({ DATABASE_POOL_SIZE: bad })).toEqual(['DATABASE_POOL_SIZE: DATABASE_POOL_SIZE must be a number or look like api:20,worker:10']);
    expect(problemsOf({ DATABASE_POOL_SIZE: '0' })).toEqual([
      'DATABASE_POOL_SIZE: the api pool needs at least 1 connection',
      'DATABASE_POOL_SIZE: the worker pool needs at least 1 connection',
    ]);
    expect(problemsOf({ DATABASE_POOL_SIZE: 'api:0' })).toEqual(['DATABASE_POOL_SIZE: the api pool needs at least 1 connection']);
  });

  it('parses queue lists', () => {
    expect(parseQueueList('normal:4,priority,hardware.gpu:1')).toEqual([
      { queue: 'normal', concurrency: 4 },
      { queue: 'priority', concurrency: 1 },
      { queue: 'hardware.gpu', concurrency: 1 },
    ]);
  });
});

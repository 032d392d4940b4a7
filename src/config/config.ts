import { resolve } from 'node:path';
import { parseCorsOrigins } from './cors-origins';
import { parseRedisSentinel, RedisSentinelConfig } from './redis-sentinels';
import { plainToInstance, Transform } from 'class-transformer';
import { IsIn, IsInt, IsIP, IsOptional, IsString, Matches, Max, Min, MinLength, validateSync } from 'class-validator';

const toInt = ({ value }: { value: unknown }) => (value === undefined || value === '' ? undefined : Number(value));
const emptyToUndefined = ({ value }: { value: unknown }) => (value === '' ? undefined : value);

/**
 * Every environment variable MServe reads. Validated once at boot; nothing else reads process.env.
 * Defaults give a one-machine platform on embedded PostgreSQL and a local redis-server under ./var.
 */
export class EnvironmentSchema {
  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(0)
  @Max(65535)
  PORT = 3000;

  @IsOptional()
  @IsString()
  HOST = '0.0.0.0';

  @IsOptional()
  @Transform(emptyToUndefined)
  @Matches(/^postgres(ql)?:\/\//, { message: 'DATABASE_URL must be a postgres:// URL' })
  DATABASE_URL?: string;

  /** Where migrations run, under their session-level advisory lock: PostgreSQL itself, not a pooler in transaction mode. */
  @IsOptional()
  @Transform(emptyToUndefined)
  @Matches(/^postgres(ql)?:\/\//, { message: 'DATABASE_MIGRATION_URL must be a postgres:// URL' })
  DATABASE_MIGRATION_URL?: string;

  @IsOptional()
  @Transform(emptyToUndefined)
  @Matches(/^rediss?:\/\//, { message: 'REDIS_URL must be a redis:// or rediss:// URL' })
  REDIS_URL?: string;

  /** Sentinels to ask for the master (host:port, comma-separated); with REDIS_SENTINEL_NAME. */
  @IsOptional()
  @Transform(emptyToUndefined)
  @IsString()
  REDIS_SENTINELS?: string;

  @IsOptional()
  @Transform(emptyToUndefined)
  @Matches(/^[\x21-\x7e]{1,200}$/, { message: 'REDIS_SENTINEL_NAME must be the master group name the sentinels monitor (no spaces)' })
  REDIS_SENTINEL_NAME?: string;

  @IsOptional()
  @Transform(emptyToUndefined)
  @IsString()
  REDIS_SENTINEL_PASSWORD?: string;

  @IsOptional()
  @IsString()
  VAR_DIR = './var';

  @IsOptional()
  @Transform(emptyToUndefined)
  @IsString()
  STORAGE_DIR?: string;

  @IsOptional()
  @Transform(emptyToUndefined)
  @IsString()
  @MinLength(32, { message: 'ADMIN_KEY must be at least 32 characters' })
  ADMIN_KEY?: string;

  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(1)
  MAX_UPLOAD_BYTES = 1024 ** 4;

  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(1024)
  MAX_JSON_BYTES = 1024 * 1024;

  /** The most entries a WebDAV PROPFIND Depth: infinity lists; past it the answer is DAV:propfind-finite-depth. */
  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(1)
  DAV_PROPFIND_MAX_ENTRIES = 10_000;

  /**
   * How many heavy WebDAV requests (PROPFIND Depth: infinity) the keys of one tenant (a service; keys above services:
   * their container) may have running at once in an api process; more are 429. Per tenant, not per key id, so that
   * deriving sub-keys does not multiply it.
   */
  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(1)
  DAV_HEAVY_REQUESTS_PER_TENANT = 1;

  /** How many heavy WebDAV requests an api process runs at once, all tenants together; more are 429. */
  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(1)
  DAV_HEAVY_REQUESTS = 2;

  @IsOptional()
  @IsIn(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
  LOG_LEVEL = 'info';

  @IsOptional()
  @Matches(/^[a-z0-9.]+(:\d+)?(,[a-z0-9.]+(:\d+)?)*$/, { message: 'WORKER_QUEUES must look like normal:4,priority:2,hardware.gpu:1' })
  WORKER_QUEUES = 'normal:2,priority:1';

  /** How many worker processes `npm start` runs; 0 (the default): one per core (os.availableParallelism()). */
  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(0)
  @Max(256)
  WORKER_PROCESSES = 0;

  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(65535)
  // Both embedded ports lie below 32768: outside Linux's ephemeral range (32768–60999) and the IANA one
  // (49152–65535, macOS and Windows), where an outgoing connection could be holding them at start.
  EMBEDDED_POSTGRES_PORT = 25432;

  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(65535)
  EMBEDDED_REDIS_PORT = 25379;

  /**
   * The IPv4 address the embedded PostgreSQL and Redis listen on. Loopback by default; a private address lets the
   * api and workers of other machines use this machine's engines (both ask for a password; PostgreSQL then also
   * accepts its subnet, `samenet`).
   */
  @IsOptional()
  @IsIP(4, { message: 'EMBEDDED_HOST must be an IPv4 address' })
  // the engines speak no TLS: loopback or a private network only, never every interface or a public address
  @Matches(/^(127\.|10\.|192\.168\.|172\.(1[6-9]|2\d|3[01])\.)/, {
    message: 'EMBEDDED_HOST must be a loopback or private (RFC 1918) address: the embedded engines speak no TLS',
  })
  EMBEDDED_HOST = '127.0.0.1';

  /**
   * What `npm start` runs on this machine, a comma-separated list: `engines` (the embedded PostgreSQL and Redis, for
   * the URLs that are unset), `api`, `worker` (WORKER_PROCESSES of them). Default all three: the whole platform.
   */
  @IsOptional()
  @Matches(/^(engines|api|worker)(,(engines|api|worker))*$/, { message: 'LAUNCH must be a comma-separated list of engines, api and worker' })
  LAUNCH = 'engines,api,worker';

  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(100)
  SHUTDOWN_TIMEOUT_MS = 10000;

  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(100)
  DATABASE_CONNECT_TIMEOUT_MS = 5000;

  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(0)
  DATABASE_QUERY_TIMEOUT_MS = 120000;

  /** Hot statements as named prepared statements (database/prepared.ts); false behind a pooler that cannot keep them. */
  @IsOptional()
  @IsIn(['true', 'false'])
  DATABASE_PREPARED_STATEMENTS = 'true';

  /** Connections each process may hold: `N` for every role, or per role (`api:20,worker:10`); roles left out keep their default. */
  @IsOptional()
  @Transform(emptyToUndefined)
  @Matches(/^(\d+|(api|worker):\d+(,(api|worker):\d+)*)$/, { message: 'DATABASE_POOL_SIZE must be a number or look like api:20,worker:10' })
  DATABASE_POOL_SIZE?: string;

  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(100)
  REDIS_COMMAND_TIMEOUT_MS = 5000;

  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(1000)
  PAGE_LIMIT_MAX = 500;

  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(60)
  UPLOAD_EXPIRY_SECONDS = 86400;

  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(1)
  IMAGE_MAX_PIXELS = 268402689;

  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(1)
  VIDEO_MAX_PIXELS = 35389440;

  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(0)
  @Max(10000)
  METRICS_USAGE_TOP_SERVICES = 50;

  @IsOptional()
  @Matches(/^[A-Za-z0-9_-]{1,50}$/, { message: 'QUEUE_PREFIX must be 1-50 letters, digits, _ or -' })
  QUEUE_PREFIX = 'mserve';

  @IsOptional()
  @Transform(emptyToUndefined)
  @IsString()
  BACKUP_DIR?: string;

  @IsOptional()
  @IsIn(['filesystem', 's3'])
  STORAGE = 'filesystem';

  @IsOptional()
  @Transform(emptyToUndefined)
  @Matches(/^https?:\/\/[^/]+\/?$/, { message: 'S3_ENDPOINT must be an http:// or https:// origin (scheme, host and port only)' })
  S3_ENDPOINT?: string;

  @IsOptional()
  @Transform(emptyToUndefined)
  @Matches(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, { message: 'S3_BUCKET must be a bucket name (3-63 lower-case letters, digits, dots and hyphens)' })
  S3_BUCKET?: string;

  @IsOptional()
  @Transform(emptyToUndefined)
  @Matches(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, { message: 'S3_BACKUP_BUCKET must be a bucket name (3-63 lower-case letters, digits, dots and hyphens)' })
  S3_BACKUP_BUCKET?: string;

  @IsOptional()
  @IsString()
  S3_REGION = 'us-east-1';

  @IsOptional()
  @Transform(emptyToUndefined)
  @IsString()
  S3_ACCESS_KEY_ID?: string;

  @IsOptional()
  @Transform(emptyToUndefined)
  @IsString()
  S3_SECRET_ACCESS_KEY?: string;

  @IsOptional()
  @IsIn(['true', 'false'])
  S3_FORCE_PATH_STYLE = 'false';

  @IsOptional()
  @IsIn(['true', 'false'])
  S3_CREATE_BUCKET = 'false';

  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(1024 * 1024)
  S3_LOCAL_COPY_MAX_BYTES = 20 * 1024 ** 3;

  /** STORAGE=s3: a GET of an Mfile's content of at least this many bytes answers 307 to a presigned URL of the object; 0 (default): never. */
  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(0)
  S3_PRESIGNED_DOWNLOAD_MIN_BYTES = 0;

  /** How long a presigned download URL works. */
  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(10)
  // a leaked URL outlives a revoked key by this much: at most an hour
  @Max(3600)
  S3_PRESIGNED_TTL_SECONDS = 300;

  /** The origin clients reach the store at, for presigned URLs, when it differs from S3_ENDPOINT (a private address). */
  @IsOptional()
  @Transform(emptyToUndefined)
  @Matches(/^https?:\/\/[^/]+\/?$/, { message: 'S3_PUBLIC_ENDPOINT must be an http:// or https:// origin (scheme, host and port only)' })
  S3_PUBLIC_ENDPOINT?: string;

  @IsOptional()
  @IsIn(['true', 'false'])
  OUTBOUND_ALLOW_PRIVATE = 'false';

  @IsOptional()
  @IsIn(['true', 'false'])
  JOB_RECONCILER = 'true';

  /**
   * How often the reconciler also looks for jobs left unsettled that long (a machine that died between a commit and
   * its dispatch, and never came back to reconcile at its own start); 0: only at start and when Redis comes back.
   */
  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(0)
  JOB_RECONCILE_INTERVAL_MS = 300_000;

  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(1)
  PERIODIC_MIN_INTERVAL_SECONDS = 60;

  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(0)
  @Max(7 * 86400)
  ACCESS_SESSION_SECONDS = 1800;

  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(0)
  USAGE_ROLLUP_INTERVAL_MS = 5000;

  @IsOptional()
  @Transform(emptyToUndefined)
  @Matches(/^https?:\/\/[^/]+$/, { message: 'PUBLIC_URL must be the origin people use, like https://media.example.org (no path)' })
  PUBLIC_URL?: string;

  @IsOptional()
  @Matches(/^[a-z0-9._-]{1,64}$/i, { message: 'ADMIN_USERNAME must be 1-64 letters, digits, . _ or -' })
  ADMIN_USERNAME = 'admin';

  @IsOptional()
  @Transform(emptyToUndefined)
  @IsString()
  @MinLength(12, { message: 'ADMIN_PASSWORD must be at least 12 characters' })
  ADMIN_PASSWORD?: string;

  @IsOptional()
  @Transform(emptyToUndefined)
  @IsString()
  @MinLength(32, { message: 'SESSION_SECRET must be at least 32 characters' })
  SESSION_SECRET?: string;

  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(1)
  SESSION_IDLE_SECONDS = 8 * 3600;

  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(1)
  SESSION_MAX_SECONDS = 7 * 86400;

  @IsOptional()
  @IsIn(['auto', 'true', 'false'])
  COOKIE_SECURE = 'auto';

  @IsOptional()
  @Transform(emptyToUndefined)
  @IsString()
  TRUST_PROXY?: string;

  @IsOptional()
  @Transform(emptyToUndefined)
  @IsString()
  CORS_ORIGINS?: string;

  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(1)
  LOGIN_MAX_FAILURES = 5;

  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(1)
  LOGIN_WINDOW_SECONDS = 900;

  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(0)
  MAX_CONNECTIONS_PER_ADDRESS = 256;

  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(100)
  JSON_BODY_TIMEOUT_MS = 30_000;

  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(1)
  KEY_FAILURES_PER_ADDRESS = 100;

  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(1)
  KEY_FAILURE_WINDOW_SECONDS = 60;

  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(1)
  KEYS_CREATED_PER_MINUTE = 600;

  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(1)
  SSE_STREAMS_PER_KEY = 32;

  @IsOptional()
  @Transform(emptyToUndefined)
  @Matches(/^https?:\/\//, { message: 'OIDC_ISSUER must be an http(s) URL' })
  OIDC_ISSUER?: string;

  @IsOptional()
  @Transform(emptyToUndefined)
  @IsString()
  OIDC_CLIENT_ID?: string;

  @IsOptional()
  @Transform(emptyToUndefined)
  @IsString()
  OIDC_CLIENT_SECRET?: string;

  @IsOptional()
  @Matches(/^openid( [\x21-\x7e]+)*$|^[\x21-\x7e]+( [\x21-\x7e]+)* openid( [\x21-\x7e]+)*$/, {
    message: 'OIDC_SCOPES must be space-separated scopes including openid',
  })
  OIDC_SCOPES = 'openid email profile';

  @IsOptional()
  @IsString()
  OIDC_LABEL = 'OpenID Connect';

  @IsOptional()
  @IsIn(['true', 'false'])
  OIDC_ALLOW_HTTP = 'false';
}

export interface QueueConsumption {
  queue: string;
  concurrency: number;
}

export interface AppConfig {
  port: number;
  host: string;
  databaseUrl?: string;
  /** Where migrations run (DATABASE_MIGRATION_URL, else databaseUrl): a direct connection when databaseUrl is a pooler's. */
  migrationUrl?: string;
  /** The Redis server; with redisSentinel only its credentials, database number and TLS (the sentinels say where the master is). */
  redisUrl?: string;
  /** Present when REDIS_SENTINELS and REDIS_SENTINEL_NAME are set: every connection goes to that group's current master. */
  redisSentinel?: RedisSentinelConfig;
  varDir: string;
  storageDir: string;
  /** Where `backup` keeps verified copies (another disk or mount in production). */
  backupDir: string;
  /**
   * Which adapter keeps the bytes: the filesystem under storageDir (default), or an S3-compatible bucket (STORAGE=s3;
   * storageDir then holds only this node's scratch: temp files, local copies for tools, resumable-upload parts).
   */
  storage: 'filesystem' | 's3';
  s3?: S3Config;
  /** Whether webhooks and fetch-url may reach loopback, private and link-local addresses. */
  outboundAllowPrivate: boolean;
  /** Put PostgreSQL's queued jobs back on Redis at start and on reconnect (off only where one database serves unrelated queue prefixes, as in the tests). */
  jobReconciler: boolean;
  /** JOB_RECONCILE_INTERVAL_MS: a pass when some job has been unsettled that long; 0: none but at start and on Redis's return. */
  jobReconcileIntervalMs: number;
  /** The shortest period a profile's periodic schedule may have (each tick walks the whole service). */
  periodicMinIntervalSeconds: number;
  /** Downloads of one file by one client (key and address) this close together are one session: one access run (0: every download). */
  accessSessionSeconds: number;
  adminKey?: string;
  maxUploadBytes: number;
  maxJsonBytes: number;
  davPropfindMaxEntries: number;
  davHeavyRequestsPerTenant: number;
  davHeavyRequests: number;
  logLevel: string;
  workerQueues: QueueConsumption[];
  /**
   * How many worker processes share this machine: what `npm start` runs (WORKER_PROCESSES, or one per core when 0),
   * also what each of them divides the cores by for sharp's threads. undefined: a worker started on its own.
   */
  workerProcesses?: number;
  embeddedPostgresPort: number;
  embeddedRedisPort: number;
  embeddedHost: string;
  /** What `npm start` runs here (LAUNCH). */
  launch: { engines: boolean; api: boolean; worker: boolean };
  shutdownTimeoutMs: number;
  /**
   * Waits on PostgreSQL: for a connection (or a free pooled one), for a query's answer (0: none); a hung database is
   * then a 503. poolSize: the most connections one process of each role holds.
   */
  database: { connectTimeoutMs: number; queryTimeoutMs: number; preparedStatements: boolean; poolSize: DatabasePoolSizes };
  /** The longest a request waits on a Redis command (also while Redis is down or reconnecting) before its 503. */
  redisCommandTimeoutMs: number;
  pageLimitMax: number;
  uploadExpirySeconds: number;
  /** Images with more pixels are refused before decoding (decompression bombs). */
  imageMaxPixels: number;
  /** Videos whose frames have more pixels are refused before decoding (8192×4320 by default). */
  videoMaxPixels: number;
  /** /metrics carries usage series for the top N services per metric (by value), the rest summed as service="(other)". */
  metricsUsageTopServices: number;
  /** How often usage facts are added to the hourly/daily/monthly rollups (0: never, in this process). */
  usageRollupIntervalMs: number;
  /** Redis key prefix of the queues and worker heartbeats: deployments (or test runs) sharing a Redis stay apart. */
  queuePrefix: string;
  /** The origin people reach the console at (OpenID Connect redirect URI); default http://localhost:PORT. */
  publicUrl: string;
  adminUsername: string;
  adminPassword?: string;
  session: { secret?: string; idleSeconds: number; maxSeconds: number; cookieSecure: 'auto' | boolean; trustProxy?: string };
  /** Web apps on other origins that may call the API from a browser (bootstrap/cors.ts): any, or these; none by default. */
  cors: { any: boolean; origins: string[] };
  login: { maxFailures: number; windowSeconds: number };
  /** The HTTP edge's limits: connections per client address (0: none), the time a JSON body may take to arrive. */
  http: { maxConnectionsPerAddress: number; jsonBodyTimeoutMs: number };
  /** Counting limits (429 with Retry-After): failed keys per address and window, keys derived per key a minute, open event streams per key. */
  limits: { keyFailures: { max: number; windowSeconds: number }; keysCreatedPerMinute: number; streamsPerKey: number };
  /** Present when OIDC_ISSUER and OIDC_CLIENT_ID are set. */
  oidc?: { issuer: string; clientId: string; clientSecret?: string; scopes: string; label: string; allowHttp: boolean };
}

export type DatabaseRole = 'api' | 'worker';
export type DatabasePoolSizes = Record<DatabaseRole, number>;

/**
 * The api serves many short requests at once (today's 20); a worker holds about one connection per job it runs plus
 * its schedulers', so 10 covers the default queues (normal:2,priority:1) with room to spare.
 */
export const DEFAULT_POOL_SIZES: DatabasePoolSizes = { api: 20, worker: 10 };

/** `12` sets every role; `api:20,worker:4` sets those roles; roles not named keep DEFAULT_POOL_SIZES. */
export function parsePoolSizes(spec: string | undefined): DatabasePoolSizes {
  if (!spec) return { ...DEFAULT_POOL_SIZES };
  if (/^\d+$/.test(spec)) return { api: Number(spec), worker: Number(spec) };
  const sizes = { ...DEFAULT_POOL_SIZES };
  for (const part of spec.split(',')) {
    const [role, size] = part.split(':');
    sizes[role as DatabaseRole] = Number(size);
  }
  return sizes;
}

export interface S3Config {
  endpoint?: string;
  bucket: string;
  region: string;
  credentials?: { accessKeyId: string; secretAccessKey: string };
  forcePathStyle: boolean;
  /**
   * Where backup copies go with STORAGE=s3: this bucket (same endpoint and credentials), or the content bucket when
   * unset; either way under the prefix `backup/` (`backup/ab/<sha256>`).
   */
  backupBucket: string;
  /** Create the bucket (and the backup bucket) at start when it is missing (tests, the compose stack). */
  createBucket: boolean;
  /** The most bytes of local copies (withLocalFile) held at once on this node; a copy waits for room (one alone may exceed it). */
  localCopyMaxBytes: number;
  /** Large downloads redirected to a presigned URL of the object (S3_PRESIGNED_DOWNLOAD_MIN_BYTES); undefined: every byte through the api. */
  presignedDownloads?: { minBytes: number; ttlSeconds: number; endpoint?: string };
}

export class ConfigurationError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n  - ${problems.join('\n  - ')}`);
  }
}

export function parseQueueList(spec: string): QueueConsumption[] {
  return spec.split(',').map((part) => {
    const [queue, concurrency] = part.split(':');
    return { queue, concurrency: concurrency ? Number(concurrency) : 1 };
  });
}

function launchedParts(list: string): AppConfig['launch'] {
  const parts = new Set(list.split(','));
  return { engines: parts.has('engines'), api: parts.has('api'), worker: parts.has('worker') };
}

/** Reads and validates the environment once; lists every bad variable in one error. */
export function loadConfig(environment: NodeJS.ProcessEnv = process.env): AppConfig {
  const known = Object.keys(new EnvironmentSchema());
  const raw: Record<string, unknown> = {};
  for (const name of [
    ...known,
    'DATABASE_URL',
    'DATABASE_MIGRATION_URL',
    'DATABASE_POOL_SIZE',
    'REDIS_URL',
    'REDIS_SENTINELS',
    'REDIS_SENTINEL_NAME',
    'REDIS_SENTINEL_PASSWORD',
    'STORAGE_DIR',
    'S3_ENDPOINT',
    'S3_BUCKET',
    'S3_BACKUP_BUCKET',
    'S3_ACCESS_KEY_ID',
    'S3_SECRET_ACCESS_KEY',
    'S3_PUBLIC_ENDPOINT',
    'ADMIN_KEY',
    'PUBLIC_URL',
    'ADMIN_PASSWORD',
    'TRUST_PROXY',
    'CORS_ORIGINS',
    'OIDC_ISSUER',
    'OIDC_CLIENT_ID',
    'OIDC_CLIENT_SECRET',
    'SESSION_SECRET',
  ]) {
    if (environment[name] !== undefined) raw[name] = environment[name];
  }
  const parsed = plainToInstance(EnvironmentSchema, raw);
  const errors = validateSync(parsed, { whitelist: true });
  if (errors.length > 0) {
    throw new ConfigurationError(errors.flatMap((error) => Object.values(error.constraints ?? {}).map((message) => `${error.property}: ${message}`)));
  }
  const pairingProblems = [
    parsed.DATABASE_MIGRATION_URL && !parsed.DATABASE_URL
      ? 'DATABASE_MIGRATION_URL: set it only with DATABASE_URL (the embedded PostgreSQL migrates itself)'
      : '',
    parsed.STORAGE === 's3' && !parsed.S3_BUCKET ? 'S3_BUCKET: required when STORAGE=s3' : '',
    parsed.STORAGE === 's3' && !parsed.S3_ACCESS_KEY_ID !== !parsed.S3_SECRET_ACCESS_KEY
      ? 'S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY: set both or neither (neither: the AWS SDK default credential chain)'
      : '',
  ].filter(Boolean);
  if (pairingProblems.length) throw new ConfigurationError(pairingProblems);
  let cors: AppConfig['cors'];
  try {
    cors = parseCorsOrigins(parsed.CORS_ORIGINS);
  } catch (error) {
    throw new ConfigurationError([`CORS_ORIGINS: ${(error as Error).message}`]);
  }
  const poolSize = parsePoolSizes(parsed.DATABASE_POOL_SIZE);
  const emptyPools = Object.entries(poolSize).filter(([, size]) => size < 1);
  if (emptyPools.length) throw new ConfigurationError(emptyPools.map(([role]) => `DATABASE_POOL_SIZE: the ${role} pool needs at least 1 connection`));
  let redisSentinel: RedisSentinelConfig | undefined;
  try {
    redisSentinel = parseRedisSentinel(parsed.REDIS_SENTINELS, parsed.REDIS_SENTINEL_NAME, parsed.REDIS_SENTINEL_PASSWORD);
  } catch (error) {
    throw new ConfigurationError([(error as Error).message]);
  }
  const varDir = resolve(parsed.VAR_DIR);
  return {
    port: parsed.PORT,
    host: parsed.HOST,
    databaseUrl: parsed.DATABASE_URL,
    migrationUrl: parsed.DATABASE_MIGRATION_URL ?? parsed.DATABASE_URL,
    redisUrl: parsed.REDIS_URL,
    redisSentinel,
    varDir,
    storageDir: resolve(parsed.STORAGE_DIR ?? `${varDir}/storage`),
    backupDir: resolve(parsed.BACKUP_DIR ?? `${varDir}/backup`),
    storage: parsed.STORAGE === 's3' ? 's3' : 'filesystem',
    s3:
      parsed.STORAGE === 's3' && parsed.S3_BUCKET
        ? {
            endpoint: parsed.S3_ENDPOINT,
            bucket: parsed.S3_BUCKET,
            backupBucket: parsed.S3_BACKUP_BUCKET ?? parsed.S3_BUCKET,
            region: parsed.S3_REGION,
            credentials:
              parsed.S3_ACCESS_KEY_ID && parsed.S3_SECRET_ACCESS_KEY
                ? { accessKeyId: parsed.S3_ACCESS_KEY_ID, secretAccessKey: parsed.S3_SECRET_ACCESS_KEY }
                : undefined,
            forcePathStyle: parsed.S3_FORCE_PATH_STYLE === 'true',
            createBucket: parsed.S3_CREATE_BUCKET === 'true',
            localCopyMaxBytes: parsed.S3_LOCAL_COPY_MAX_BYTES,
            presignedDownloads:
              parsed.S3_PRESIGNED_DOWNLOAD_MIN_BYTES > 0
                ? { minBytes: parsed.S3_PRESIGNED_DOWNLOAD_MIN_BYTES, ttlSeconds: parsed.S3_PRESIGNED_TTL_SECONDS, endpoint: parsed.S3_PUBLIC_ENDPOINT }
                : undefined,
          }
        : undefined,
    outboundAllowPrivate: parsed.OUTBOUND_ALLOW_PRIVATE === 'true',
    jobReconciler: parsed.JOB_RECONCILER === 'true',
    jobReconcileIntervalMs: parsed.JOB_RECONCILE_INTERVAL_MS,
    periodicMinIntervalSeconds: parsed.PERIODIC_MIN_INTERVAL_SECONDS,
    accessSessionSeconds: parsed.ACCESS_SESSION_SECONDS,
    adminKey: parsed.ADMIN_KEY,
    maxUploadBytes: parsed.MAX_UPLOAD_BYTES,
    maxJsonBytes: parsed.MAX_JSON_BYTES,
    davPropfindMaxEntries: parsed.DAV_PROPFIND_MAX_ENTRIES,
    davHeavyRequestsPerTenant: parsed.DAV_HEAVY_REQUESTS_PER_TENANT,
    davHeavyRequests: parsed.DAV_HEAVY_REQUESTS,
    logLevel: parsed.LOG_LEVEL,
    workerQueues: parseQueueList(parsed.WORKER_QUEUES),
    workerProcesses: parsed.WORKER_PROCESSES > 0 ? parsed.WORKER_PROCESSES : undefined,
    embeddedPostgresPort: parsed.EMBEDDED_POSTGRES_PORT,
    embeddedRedisPort: parsed.EMBEDDED_REDIS_PORT,
    embeddedHost: parsed.EMBEDDED_HOST,
    launch: launchedParts(parsed.LAUNCH),
    shutdownTimeoutMs: parsed.SHUTDOWN_TIMEOUT_MS,
    database: {
      connectTimeoutMs: parsed.DATABASE_CONNECT_TIMEOUT_MS,
      queryTimeoutMs: parsed.DATABASE_QUERY_TIMEOUT_MS,
      preparedStatements: parsed.DATABASE_PREPARED_STATEMENTS === 'true',
      poolSize,
    },
    redisCommandTimeoutMs: parsed.REDIS_COMMAND_TIMEOUT_MS,
    pageLimitMax: parsed.PAGE_LIMIT_MAX,
    uploadExpirySeconds: parsed.UPLOAD_EXPIRY_SECONDS,
    imageMaxPixels: parsed.IMAGE_MAX_PIXELS,
    videoMaxPixels: parsed.VIDEO_MAX_PIXELS,
    metricsUsageTopServices: parsed.METRICS_USAGE_TOP_SERVICES,
    queuePrefix: parsed.QUEUE_PREFIX,
    usageRollupIntervalMs: parsed.USAGE_ROLLUP_INTERVAL_MS,
    publicUrl: parsed.PUBLIC_URL ?? `http://localhost:${parsed.PORT}`,
    adminUsername: parsed.ADMIN_USERNAME,
    adminPassword: parsed.ADMIN_PASSWORD,
    session: {
      secret: parsed.SESSION_SECRET,
      idleSeconds: parsed.SESSION_IDLE_SECONDS,
      maxSeconds: parsed.SESSION_MAX_SECONDS,
      cookieSecure: parsed.COOKIE_SECURE === 'auto' ? 'auto' : parsed.COOKIE_SECURE === 'true',
      trustProxy: parsed.TRUST_PROXY,
    },
    cors,
    login: { maxFailures: parsed.LOGIN_MAX_FAILURES, windowSeconds: parsed.LOGIN_WINDOW_SECONDS },
    http: { maxConnectionsPerAddress: parsed.MAX_CONNECTIONS_PER_ADDRESS, jsonBodyTimeoutMs: parsed.JSON_BODY_TIMEOUT_MS },
    limits: {
      keyFailures: { max: parsed.KEY_FAILURES_PER_ADDRESS, windowSeconds: parsed.KEY_FAILURE_WINDOW_SECONDS },
      keysCreatedPerMinute: parsed.KEYS_CREATED_PER_MINUTE,
      streamsPerKey: parsed.SSE_STREAMS_PER_KEY,
    },
    oidc:
      parsed.OIDC_ISSUER && parsed.OIDC_CLIENT_ID
        ? {
            issuer: parsed.OIDC_ISSUER,
            clientId: parsed.OIDC_CLIENT_ID,
            clientSecret: parsed.OIDC_CLIENT_SECRET,
            scopes: parsed.OIDC_SCOPES,
            label: parsed.OIDC_LABEL,
            allowHttp: parsed.OIDC_ALLOW_HTTP === 'true',
          }
        : undefined,
  };
}

export const APP_CONFIG = Symbol('APP_CONFIG');

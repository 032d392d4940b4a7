import { randomBytes } from 'node:crypto';
import { AppConfig } from '../../src/config/config';
import { s3rverEnv } from './s3-server';

/**
 * Which storage adapter the e2e suites put their apps on, chosen per run: `TEST_STORAGE=s3` runs them on the S3
 * adapter against the run's s3rver process (started by the global setup, see `TEST_S3_ENDPOINT`), anything else
 * on the filesystem store.
 */
export const TEST_STORAGE: 'filesystem' | 's3' = process.env.TEST_STORAGE === 's3' ? 's3' : 'filesystem';

/** The environment that puts a new app on the run's adapter: nothing on the filesystem, a bucket of its own on S3. */
export function newStorageEnv(): Record<string, string> {
  if (TEST_STORAGE !== 's3') return {};
  const endpoint = process.env.TEST_S3_ENDPOINT;
  if (!endpoint) throw new Error('TEST_STORAGE=s3 but the global setup started no s3rver (TEST_S3_ENDPOINT is unset)');
  return s3rverEnv(endpoint, `mserve-${randomBytes(6).toString('hex')}`);
}

/** The environment of an app's store as its config says it (for a worker or a second api on the same store). */
export function storageEnvOf(config: Pick<AppConfig, 'storage' | 's3'>): Record<string, string> {
  if (config.storage !== 's3' || !config.s3) return {};
  const { s3 } = config;
  return {
    STORAGE: 's3',
    ...(s3.endpoint && { S3_ENDPOINT: s3.endpoint }),
    S3_BUCKET: s3.bucket,
    S3_REGION: s3.region,
    ...(s3.credentials && { S3_ACCESS_KEY_ID: s3.credentials.accessKeyId, S3_SECRET_ACCESS_KEY: s3.credentials.secretAccessKey }),
    S3_FORCE_PATH_STYLE: String(s3.forcePathStyle),
    S3_CREATE_BUCKET: String(s3.createBucket),
  };
}

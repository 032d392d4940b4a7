import type { S3Config } from '../../src/config/config';
import { S3Client } from '@aws-sdk/client-s3';
import { ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './free-port';
import { eventually, ROOT } from './processes';

/**
 * The S3 adapter's settings for a bucket on an s3rver at `endpoint` (its credentials, path-style, the bucket made
 * at start, backups in the same bucket unless said): what the contract specs construct their stores with.
 */
export function s3rverStoreConfig(endpoint: string, bucket: string, options: Partial<S3Config> = {}): S3Config {
  return {
    endpoint,
    bucket,
    backupBucket: bucket,
    region: 'us-east-1',
    credentials: S3RVER_CREDENTIALS,
    forcePathStyle: true,
    createBucket: true,
    localCopyMaxBytes: 64 * 1024 * 1024,
    ...options,
  };
}

/** The credentials s3rver accepts (any well-formed signature made with them). */
export const S3RVER_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

/** The environment that points MServe at `bucket` on the s3rver at `endpoint` (STORAGE=s3, bucket made at start). */
export function s3rverEnv(endpoint: string, bucket: string): Record<string, string> {
  return {
    STORAGE: 's3',
    S3_ENDPOINT: endpoint,
    S3_BUCKET: bucket,
    S3_REGION: 'us-east-1',
    S3_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId,
    S3_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey,
    S3_FORCE_PATH_STYLE: 'true',
    S3_CREATE_BUCKET: 'true',
  };
}

export interface S3Server {
  endpoint: string;
  port: number;
  /** Its data folder: each bucket a folder, each object files beside it. */
  dir: string;
  /** The running s3rver process (a new one after `restart`). */
  readonly process: ChildProcess;
  /** A client of this server (its credentials, path-style, only the checksums S3 requires: s3rver knows no others); destroy it after use. */
  client(): S3Client;
  /** The environment that points MServe at `bucket` on this server (STORAGE=s3, bucket made at start). */
  env(bucket: string): Record<string, string>;
  /** Kills the process (SIGKILL), keeping its data: the store is down until `restart`. */
  kill(): Promise<void>;
  /** A new process on the same port and data folder, once it listens: the store is back with what it held. */
  restart(): Promise<void>;
  /** Kills it (SIGKILL) and removes its data. */
  stop(): Promise<void>;
}

/** s3rver serving `dir` on `port` of 127.0.0.1, once it accepts connections. */
async function launchS3rver(port: number, dir: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, [join(ROOT, 'node_modules', 's3rver', 'bin', 's3rver.js'), '-d', dir, '-a', '127.0.0.1', '-p', String(port), '-s'], {
    env: { ...process.env, NODE_OPTIONS: '' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  await eventually(() => {
    if (child.exitCode !== null) throw new Error(`s3rver exited with ${child.exitCode}: ${stderr}`);
    return new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1', () => {
        socket.end();
        resolve(true);
      });
      socket.on('error', () => resolve(false));
    });
  }, `s3rver listening on ${port}`);
  return child;
}

/** Ends `child` with SIGKILL (if it still runs) and waits for its exit. */
async function killProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;
}

/** A real S3 server (s3rver, from npm) as a child process on a free port of 127.0.0.1, its data in a temp folder. */
export async function startS3Server(): Promise<S3Server> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'mserve-s3rver-'));
  let child = await launchS3rver(port, dir);
  const endpoint = `http://127.0.0.1:${port}`;
  return {
    endpoint,
    port,
    dir,
    get process() {
      return child;
    },
    client: () =>
      new S3Client({
        endpoint,
        region: 'us-east-1',
        forcePathStyle: true,
        credentials: S3RVER_CREDENTIALS,
        requestChecksumCalculation: 'WHEN_REQUIRED',
        responseChecksumValidation: 'WHEN_REQUIRED',
      }),
    env: (bucket) => s3rverEnv(endpoint, bucket),
    kill: () => killProcess(child),
    restart: async () => {
      await killProcess(child);
      child = await launchS3rver(port, dir);
    },
    stop: async () => {
      await killProcess(child);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

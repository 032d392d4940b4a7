import { DeleteObjectCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AppConfig } from '../../src/config/config';

/** Every regular file under a folder (relative paths, sorted; none when the folder is not there), to check what is really on disk. */
export function filesUnder(root: string): string[] {
  if (!existsSync(root)) return [];
  const found: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (statSync(path).isFile()) found.push(path.slice(root.length + 1));
    }
  };
  walk(root);
  return found.sort();
}

/** Where an app keeps its bytes, as its config says: the adapter, its STORAGE_DIR and, on S3, the bucket. */
export type StoreOf = Pick<AppConfig, 'storage' | 'storageDir' | 's3'>;

/** Runs `fn` with a client of the app's bucket (closed afterwards). */
async function withBucket<T>(s3: NonNullable<AppConfig['s3']>, fn: (client: S3Client) => Promise<T>): Promise<T> {
  const client = new S3Client({
    endpoint: s3.endpoint,
    region: s3.region,
    forcePathStyle: s3.forcePathStyle,
    credentials: s3.credentials,
    // s3rver knows no flexible checksums
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
  try {
    return await fn(client);
  } finally {
    client.destroy();
  }
}

/** The keys of a bucket's objects under `prefix` (every page). */
function objectsUnder(s3: NonNullable<AppConfig['s3']>, prefix: string): Promise<string[]> {
  return withBucket(s3, async (client) => {
    const keys: string[] = [];
    let token: string | undefined;
    do {
      const page = await client.send(new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: prefix, ContinuationToken: token }));
      keys.push(...(page.Contents ?? []).map((object) => object.Key!));
      token = page.NextContinuationToken;
    } while (token);
    return keys.sort();
  });
}

/** The local files of this node's STORAGE_DIR under one of its folders (`blobs/...`, `tmp/...`). */
const localUnder = (store: StoreOf, folder: string) =>
  existsSync(join(store.storageDir, folder)) ? filesUnder(join(store.storageDir, folder)).map((path) => `${folder}/${path}`) : [];

/**
 * The blobs the store holds now, whatever the adapter, each as `blobs/<blob key>`: the files under STORAGE_DIR/blobs
 * on the filesystem, the bucket's objects under `blobs/` on S3.
 */
export function storedBlobs(store: StoreOf): Promise<string[]> {
  return store.storage === 's3' ? objectsUnder(store.s3!, 'blobs/') : Promise.resolve(localUnder(store, 'blobs'));
}

/**
 * The backup copy of `sha256`, whatever the adapter: `BACKUP_DIR/ab/<sha256>` on the filesystem, the object
 * `backup/ab/<sha256>` of the backup bucket on S3; undefined when there is none.
 */
export async function backupCopy(store: StoreOf & Pick<AppConfig, 'backupDir'>, sha256: string): Promise<Buffer | undefined> {
  const name = `${sha256.slice(0, 2)}/${sha256}`;
  if (store.storage !== 's3') {
    const path = join(store.backupDir, name);
    return existsSync(path) ? readFileSync(path) : undefined;
  }
  const s3 = store.s3!;
  return withBucket(s3, async (client) => {
    try {
      const answer = await client.send(new GetObjectCommand({ Bucket: s3.backupBucket, Key: `backup/${name}` }));
      return Buffer.from(await answer.Body!.transformToByteArray());
    } catch (error) {
      if ((error as { name?: string }).name === 'NoSuchKey') return undefined;
      throw error;
    }
  });
}

/** Removes the backup copy of `sha256`, whatever the adapter (a copy lost: what data loss looks like). */
export async function removeBackup(store: StoreOf & Pick<AppConfig, 'backupDir'>, sha256: string): Promise<void> {
  const name = `${sha256.slice(0, 2)}/${sha256}`;
  if (store.storage !== 's3') return rmSync(join(store.backupDir, name));
  const s3 = store.s3!;
  await withBucket(s3, (client) => client.send(new DeleteObjectCommand({ Bucket: s3.backupBucket, Key: `backup/${name}` })));
}

/**
 * The multipart uploads open in the app's bucket, when it is on the run's s3rver (TEST_STORAGE=s3): s3rver answers
 * ListMultipartUploads with NotImplemented, and keeps each open one as a folder under `<bucket>/._S3rver_uploads`.
 */
function openMultipartUploads(s3: NonNullable<AppConfig['s3']>): string[] {
  const dir = process.env.TEST_S3_DIR;
  if (!dir || s3.endpoint !== process.env.TEST_S3_ENDPOINT) return [];
  const uploads = join(dir, s3.bucket, '._S3rver_uploads');
  return existsSync(uploads) ? readdirSync(uploads).map((id) => `multipart upload ${id}`) : [];
}

/**
 * What is staged and not (or no longer) on its way to a blob: the node's local `uploads/` (resumable-upload parts)
 * and `tmp/` (incoming bytes, task outputs, local copies) in every adapter, and on S3 any object under `uploads/`
 * and any open multipart upload. (s3rver cannot abort a multipart upload: it answers AbortMultipartUpload with 405,
 * so a check of `uploads` on S3 belongs after uploads that completed, not after aborted ones.)
 */
export async function stagedFiles(
  store: StoreOf,
  folders: Array<'uploads' | 'tmp'> = ['uploads', 'tmp'],
  options: { afterAbort?: boolean } = {},
): Promise<string[]> {
  const local = folders.flatMap((folder) => localUnder(store, folder));
  // after an abort, s3rver's own leftovers are not ours to count (on S3 the abort drops them; s3-resumable checks
  // that the abort is sent and what stays in s3rver's staging)
  const remote =
    store.storage === 's3' && folders.includes('uploads')
      ? [...(await objectsUnder(store.s3!, 'uploads/')), ...(options.afterAbort ? [] : openMultipartUploads(store.s3!))]
      : [];
  return [...local, ...remote];
}

/** Overwrites a blob's bytes behind the app's back (bit rot), in the folder or the bucket. */
export async function overwriteBlob(store: StoreOf, blobKey: string, bytes: Buffer): Promise<void> {
  if (store.storage !== 's3') return writeFileSync(join(store.storageDir, 'blobs', blobKey), bytes);
  await withBucket(store.s3!, (client) => client.send(new PutObjectCommand({ Bucket: store.s3!.bucket, Key: `blobs/${blobKey}`, Body: bytes })));
}

/** Removes a blob behind the app's back (a lost file), from the folder or the bucket. */
export async function removeBlob(store: StoreOf, blobKey: string): Promise<void> {
  if (store.storage !== 's3') return rmSync(join(store.storageDir, 'blobs', blobKey));
  await withBucket(store.s3!, (client) => client.send(new DeleteObjectCommand({ Bucket: store.s3!.bucket, Key: `blobs/${blobKey}` })));
}

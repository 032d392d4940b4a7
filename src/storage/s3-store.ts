import {
  CopyObjectCommand,
  CreateBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rm, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough, Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ProblemError, Problems } from '../common/problem';
import type { S3Config } from '../config/config';
import { uuidv7 } from '../database/uuid';
import { BLOB_KEY, BlobDigest, blobMissing, BlobStore, ReceiveOptions, StoredBlob } from './blob-store';
import { ContentStore, DigestingCounter, digestFile, digestStream, HEAD_BYTES, translateStorageError } from './content-store';

/** Multipart part size: above S3's 5 MiB minimum; a stream upload holds at most QUEUE_SIZE + 1 of them in memory. */
const PART_BYTES = 8 * 1024 * 1024;
const QUEUE_SIZE = 4;

/** Socket errors of a store that is down or unreachable, and the SDK's own words for a request with no answer in time. */
const UNREACHABLE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'EHOSTDOWN', 'EAI_AGAIN', 'ENOTFOUND']);
const UNAVAILABLE_NAMES = new Set([
  'TimeoutError',
  'RequestTimeout',
  'RequestTimeoutException',
  'SlowDown',
  'ServiceUnavailable',
  'InternalError',
  'ThrottlingException',
]);
const FULL_NAMES = new Set(['XMinioStorageFull', 'StorageFull', 'InsufficientStorage', 'QuotaExceeded', 'XAmzQuotaExceeded']);

/** Whether an S3 client error says the store cannot be reached or cannot answer right now (worth a retry). */
export function isObjectStoreUnavailable(error: unknown): boolean {
  if (!error || typeof error !== 'object') return false;
  const { code, name, message, $metadata } = error as { code?: unknown; name?: unknown; message?: unknown; $metadata?: { httpStatusCode?: number } };
  if (typeof code === 'string' && UNREACHABLE_CODES.has(code)) return true;
  // the SDK wraps a socket error that is no Error of this realm ("AWS SDK error wrapper for Error: connect ECONNREFUSED ..."): its code is then only in the words
  if (
    typeof message === 'string' &&
    /^AWS SDK error wrapper for .*\b(ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|EHOSTUNREACH|ENETUNREACH|EHOSTDOWN|EAI_AGAIN|ENOTFOUND)\b/.test(message)
  )
    return true;
  if (typeof name === 'string' && UNAVAILABLE_NAMES.has(name)) return true;
  const status = $metadata?.httpStatusCode;
  return status === 500 || status === 502 || status === 503 || status === 504;
}

export function isNotFound(error: unknown): boolean {
  const { name, $metadata } = (error ?? {}) as { name?: string; $metadata?: { httpStatusCode?: number } };
  return name === 'NoSuchKey' || name === 'NotFound' || name === 'NoSuchBucket' || $metadata?.httpStatusCode === 404;
}

/**
 * An S3 client error as the rest of MServe knows storage errors: a store that is down or unreachable is a 503 with
 * Retry-After (`dependency: 'storage'`, logged as an outage), a full one a 507, a missing object ENOENT; anything
 * else as it is (a 500: misconfiguration, refused credentials).
 */
export function translateS3Error(error: unknown, blobKey?: string): unknown {
  if (error instanceof ProblemError) return error;
  const { name, $metadata } = (error ?? {}) as { name?: string; $metadata?: { httpStatusCode?: number } };
  if ((name && FULL_NAMES.has(name)) || $metadata?.httpStatusCode === 507)
    return Problems.insufficientStorage('the object storage is full: the upload was discarded and nothing was stored');
  if (isObjectStoreUnavailable(error)) return Problems.unavailable('the object storage (S3) is unavailable right now: retry later', { dependency: 'storage' });
  if (blobKey && name !== 'NoSuchBucket' && isNotFound(error)) return blobMissing(blobKey, error);
  return error;
}

/**
 * Room for local copies, in bytes: a copy waits until what is held leaves room for it (one larger than the whole
 * room is let in alone). Counts what is held, at most, and in all.
 */
export class LocalCopyRoom {
  held = 0;
  active = 0;
  peak = 0;
  made = 0;
  private readonly waiting: Array<{ bytes: number; go: () => void }> = [];

  constructor(private readonly max: number) {}

  async take(bytes: number): Promise<void> {
    if (!this.fits(bytes)) await new Promise<void>((go) => this.waiting.push({ bytes, go }));
    this.held += bytes;
    this.active++;
    this.made++;
    this.peak = Math.max(this.peak, this.held);
  }

  give(bytes: number): void {
    this.held -= bytes;
    this.active--;
    while (this.waiting.length && this.fits(this.waiting[0].bytes)) this.waiting.shift()!.go();
  }

  private fits(bytes: number): boolean {
    return this.active === 0 || this.held + bytes <= this.max;
  }
}

/**
 * The S3-compatible adapter of the storage port (AWS S3, MinIO, Ceph RGW, Garage, R2...): a blob is the object
 * `blobs/<blobKey>` of one bucket. Uploads stream through our hashing into `@aws-sdk/lib-storage`'s Upload
 * (PutObject, or a multipart upload of {@link PART_BYTES} parts for larger ones): the digests are ours, never S3's
 * ETag. Reads are ranged GetObject streams, copies CopyObject, the probe HeadBucket. What must be local (task
 * scratch, resumable-upload parts, local copies for tools) lives under `localRoot` (STORAGE_DIR), on this node only.
 */
export class S3BlobStore extends BlobStore {
  readonly kind = 's3' as const;
  readonly client: S3Client;
  readonly bucket: string;
  /** The node's own scratch: the filesystem store's temp and uploads folders (its blobs folder stays empty). */
  private readonly local: ContentStore;
  /** Local copies held for tools: bounded, counted. */
  readonly localCopies: LocalCopyRoom;

  constructor(
    readonly localRoot: string,
    private readonly config: S3Config,
  ) {
    super();
    this.bucket = config.bucket;
    this.local = new ContentStore(localRoot);
    this.localCopies = new LocalCopyRoom(config.localCopyMaxBytes);
    this.client = new S3Client({
      endpoint: config.endpoint,
      region: config.region,
      forcePathStyle: config.forcePathStyle,
      credentials: config.credentials,
      // only what S3 requires: many S3-compatible servers know no flexible checksums (our own digests are the truth)
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      // a store that is down answers within a few seconds, as a 503 the client may retry (not the SDK's backoff)
      maxAttempts: 2,
    });
  }

  objectKey(blobKey: string): string {
    if (!BLOB_KEY.test(blobKey)) throw new Error(`invalid blob key ${blobKey}`);
    return `blobs/${blobKey}`;
  }

  private newBlobKey(): string {
    const id = uuidv7();
    return `${id.slice(-2)}/${id.slice(-4, -2)}/${id}`;
  }

  async init(): Promise<{ removedTempFiles: number }> {
    const local = await this.local.init();
    if (this.config.createBucket) await ensureBucket(this.client, this.bucket);
    return local;
  }

  /** An upload of `body` into the new object `blobKey` (PutObject, or multipart for more than a part). */
  private upload(body: Readable, blobKey: string): Upload {
    return new Upload({
      client: this.client,
      params: { Bucket: this.bucket, Key: this.objectKey(blobKey), Body: body },
      partSize: PART_BYTES,
      queueSize: QUEUE_SIZE,
      leavePartsOnError: false,
    });
  }

  /** Streams `body` into the new object `blobKey`. */
  private async put(body: Readable, blobKey: string): Promise<void> {
    await this.upload(body, blobKey).done();
  }

  async receive(source: Readable, options: ReceiveOptions): Promise<StoredBlob> {
    const counter = new DigestingCounter(options.maxBytes);
    // the Upload reads a plain stream: it would take the counter's own `size` (0 at first) for the body's length
    const body = new PassThrough({ highWaterMark: 1024 * 1024 });
    const blobKey = this.newBlobKey();
    const upload = this.upload(body, blobKey);
    const sending = upload.done();
    const feeding = pipeline(source, counter, body);
    let sent = false;
    try {
      // the source's failure (aborted, too large) is the client's; the upload's is the store's
      await Promise.all([
        feeding.catch((error: unknown) => {
          throw { fromSource: translateStorageError(error) };
        }),
        sending.then(
          () => void (sent = true),
          (error: unknown) => {
            throw { fromStore: translateS3Error(error) };
          },
        ),
      ]);
      if (options.expectedSize !== undefined && counter.size !== options.expectedSize) {
        throw Problems.badRequest(`the upload ended after ${counter.size} of the ${options.expectedSize} declared bytes: nothing was stored`);
      }
      const digest = { md5: counter.md5.digest('hex'), sha256: counter.sha256.digest('hex') };
      options.verify?.(digest);
      return { blobKey, size: counter.size, ...digest, head: counter.head() };
    } catch (caught) {
      // nothing is left behind: a multipart upload in flight is aborted (its parts dropped), a finished object removed
      body.destroy();
      counter.destroy();
      await upload.abort().catch(() => undefined);
      await sending.catch(() => undefined);
      await feeding.catch(() => undefined);
      if (sent) await this.remove(blobKey).catch(() => undefined);
      const wrapped = caught as { fromSource?: unknown; fromStore?: unknown };
      throw wrapped && typeof wrapped === 'object' && ('fromSource' in wrapped || 'fromStore' in wrapped) ? (wrapped.fromSource ?? wrapped.fromStore) : caught;
    }
  }

  async commitTemp(localPath: string, digest: BlobDigest): Promise<StoredBlob> {
    const blobKey = this.newBlobKey();
    try {
      await this.put(createReadStream(localPath, { highWaterMark: 1024 * 1024 }), blobKey);
    } catch (error) {
      throw translateS3Error(error);
    }
    await unlink(localPath).catch(() => undefined);
    return { blobKey, ...digest };
  }

  async commitFile(localPath: string): Promise<StoredBlob> {
    try {
      return await this.commitTemp(localPath, await digestFile(localPath));
    } finally {
      await unlink(localPath).catch(() => undefined);
    }
  }

  async duplicate(blobKey: string, digest: { size: number; md5: string; sha256: string }): Promise<StoredBlob> {
    const copy = this.newBlobKey();
    try {
      // CopyObject copies up to 5 GiB in one request (larger ones would need UploadPartCopy: not in this slice)
      await this.client.send(
        new CopyObjectCommand({
          Bucket: this.bucket,
          Key: this.objectKey(copy),
          CopySource: `${this.bucket}/${this.objectKey(blobKey)}`,
        }),
      );
      const head = digest.size > 0 ? await this.readAll(copy, { start: 0, end: Math.min(digest.size, HEAD_BYTES) - 1 }) : Buffer.alloc(0);
      return { blobKey: copy, size: digest.size, md5: digest.md5, sha256: digest.sha256, head };
    } catch (error) {
      await this.remove(copy).catch(() => undefined);
      throw translateS3Error(error, blobKey);
    }
  }

  read(blobKey: string, range?: { start: number; end: number }): Readable {
    const out = new PassThrough({ highWaterMark: 256 * 1024 });
    const key = this.objectKey(blobKey);
    this.client
      .send(new GetObjectCommand({ Bucket: this.bucket, Key: key, Range: range ? `bytes=${range.start}-${range.end}` : undefined }), {
        abortSignal: abortOnClose(out),
      })
      .then(
        (answer) => {
          const expected = range ? range.end - range.start + 1 : undefined;
          // a store that answers more than the range asked (s3rver does for bytes=0-0) is cut to it
          const body = answer.Body as Readable;
          return expected !== undefined && (answer.ContentLength ?? 0) > expected ? pipeline(body, takeBytes(expected), out) : pipeline(body, out);
        },
        (error: unknown) => out.destroy(translateS3Error(error, blobKey) as Error),
      )
      .catch((error: unknown) => out.destroy(translateS3Error(error, blobKey) as Error));
    return out;
  }

  async readAll(blobKey: string, range?: { start: number; end: number }): Promise<Buffer> {
    const chunks: Buffer[] = [];
    for await (const chunk of this.read(blobKey, range)) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks);
  }

  digest(blobKey: string): Promise<BlobDigest> {
    return digestStream(this.read(blobKey));
  }

  async size(blobKey: string): Promise<number> {
    try {
      const answer = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.objectKey(blobKey) }));
      return answer.ContentLength ?? 0;
    } catch (error) {
      throw translateS3Error(error, blobKey);
    }
  }

  async remove(blobKey: string): Promise<void> {
    try {
      // DeleteObject of a missing key succeeds (S3 and compatible stores alike)
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.objectKey(blobKey) }));
    } catch (error) {
      if (isNotFound(error) && (error as S3ServiceException).name !== 'NoSuchBucket') return;
      throw translateS3Error(error);
    }
  }

  async probe(): Promise<void> {
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }));
    } catch (error) {
      throw translateS3Error(error);
    }
  }

  /**
   * Downloads the object into a folder of its own in the local temp folder (named like every temp file, so a crash's
   * leftovers are swept at the next start), within the room for local copies, and removes it when `fn` settles.
   */
  async withLocalFile<T>(blobKey: string, fn: (path: string) => Promise<T>): Promise<T> {
    const bytes = await this.size(blobKey);
    await this.localCopies.take(bytes);
    const folder = this.local.newTempPath();
    try {
      await mkdir(folder);
      const path = join(folder, 'blob');
      try {
        await pipeline(this.read(blobKey), createWriteStream(path, { flags: 'wx' }));
      } catch (error) {
        throw translateStorageError(error);
      }
      return await fn(path);
    } finally {
      await rm(folder, { recursive: true, force: true });
      this.localCopies.give(bytes);
    }
  }

  newTempPath(): string {
    return this.local.newTempPath();
  }

  partPath(uploadId: string): string {
    return this.local.partPath(uploadId);
  }

  serverPaths(): Array<[string, string]> {
    return [[this.localRoot, 'the storage']];
  }

  describe(): string {
    return `S3 bucket ${this.bucket}${this.config.endpoint ? ` at ${this.config.endpoint}` : ''}`;
  }

  override close(): void {
    this.client.destroy();
  }

  /** The same as {@link close}. */
  destroy(): void {
    this.close();
  }
}

/** Creates `bucket` when it is missing (S3_CREATE_BUCKET: tests, the compose stack). */
export async function ensureBucket(client: S3Client, bucket: string): Promise<void> {
  const exists = await client.send(new HeadBucketCommand({ Bucket: bucket })).then(
    () => true,
    (error) => {
      if (isNotFound(error)) return false;
      throw translateS3Error(error);
    },
  );
  if (!exists)
    await client.send(new CreateBucketCommand({ Bucket: bucket })).catch((error: unknown) => {
      // another node made it meanwhile
      if ((error as { name?: string }).name !== 'BucketAlreadyOwnedByYou' && (error as { name?: string }).name !== 'BucketAlreadyExists') throw error;
    });
}

/** Passes the first `limit` bytes and drops the rest. */
function takeBytes(limit: number): Transform {
  let left = limit;
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      const taken = left > 0 ? chunk.subarray(0, left) : undefined;
      left -= taken?.length ?? 0;
      callback(null, taken);
    },
  });
}

/** An AbortSignal that fires when `stream` is closed before it ended (a download cut short): the GET is dropped. */
function abortOnClose(stream: Readable): AbortSignal {
  const controller = new AbortController();
  stream.once('close', () => {
    if (!stream.readableEnded) controller.abort();
  });
  return controller.signal;
}

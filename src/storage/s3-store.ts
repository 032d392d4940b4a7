import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  CreateBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rm, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough, Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ProblemError, Problems } from '../common/problem';
import type { S3Config } from '../config/config';
import { uuidv7 } from '../database/uuid';
import { AppendStage, BLOB_KEY, RangeStage, BlobDigest, blobMissing, BlobStore, ReceiveOptions, StagedUpload, StageWrite, StoredBlob } from './blob-store';
import { ContentStore, DigestingCounter, digestFile, digestStream, HEAD_BYTES, translateStorageError } from './content-store';
import { MAX_PARTS, PartCutter, restGoesTo } from './part-cutter';

/** Multipart part size: above S3's 5 MiB minimum; a stream upload holds at most QUEUE_SIZE + 1 of them in memory. */
const PART_BYTES = 8 * 1024 * 1024;
const QUEUE_SIZE = 4;
/**
 * The part size of a multipart upload of `size` bytes: 8 MiB, or larger (whole MiB) when 10,000 parts of 8 MiB
 * would not hold it (S3's limit). A stream of unknown length gets 8 MiB parts (at most about 78 GiB).
 */
export function partBytesFor(size?: number): number {
  if (!size) return PART_BYTES;
  return Math.max(PART_BYTES, Math.ceil(size / MAX_PARTS / (1024 * 1024)) * 1024 * 1024);
}

/** The largest object CopyObject copies in one request. */
const COPY_OBJECT_MAX_BYTES = 5 * 1024 ** 3;

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

/** An object that is not there, in a bucket that is (a missing bucket is a configuration fault, never "no object"). */
export function isMissingObject(error: unknown): boolean {
  return isNotFound(error) && (error as { name?: string } | undefined)?.name !== 'NoSuchBucket';
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
  if (blobKey && isMissingObject(error)) return blobMissing(blobKey, error);
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
 * ETag. Reads are ranged GetObject streams, copies CopyObject, the probe HeadBucket. Resumable uploads are staged in
 * the bucket ({@link S3AppendStage}, {@link S3RangeStage}). What must be local (task scratch, local copies for tools)
 * lives under `localRoot` (STORAGE_DIR), on this node only.
 */
export class S3BlobStore extends BlobStore {
  readonly kind = 's3' as const;
  readonly client: S3Client;
  readonly bucket: string;
  /** The node's own scratch: the filesystem store's temp and uploads folders (its blobs folder stays empty). */
  private readonly local: ContentStore;
  /** Local copies held for tools: bounded, counted. */
  readonly localCopies: LocalCopyRoom;
  /** tus and Content-Range uploads are staged in the bucket: the nodes share no disk. */
  override readonly appendStage: S3AppendStage;
  override readonly rangeStage: S3RangeStage;

  constructor(
    readonly localRoot: string,
    private readonly config: S3Config,
    /** Above this, copies are streamed instead of CopyObject (S3's limit: 5 GiB); smaller in tests of that path. */
    private readonly copyObjectMaxBytes = COPY_OBJECT_MAX_BYTES,
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
    this.appendStage = new S3AppendStage(this);
    this.rangeStage = new S3RangeStage(this);
  }

  /** Signs presigned downloads: the main client, or one for the origin clients reach the store at (S3_PUBLIC_ENDPOINT). */
  private signer?: S3Client;

  override async presignedRead(blobKey: string, answer: { contentType: string; contentDisposition: string }): Promise<string | undefined> {
    const presigned = this.config.presignedDownloads;
    if (!presigned) return undefined;
    this.signer ??= presigned.endpoint
      ? new S3Client({
          endpoint: presigned.endpoint,
          region: this.config.region,
          forcePathStyle: this.config.forcePathStyle,
          credentials: this.config.credentials,
        })
      : this.client;
    // signing is local (no request): the store checks the signature and the expiry when the client comes
    return getSignedUrl(
      this.signer,
      new GetObjectCommand({
        Bucket: this.bucket,
        Key: this.objectKey(blobKey),
        ResponseContentType: answer.contentType,
        ResponseContentDisposition: answer.contentDisposition,
        ResponseCacheControl: 'private, no-cache',
      }),
      { expiresIn: presigned.ttlSeconds },
    );
  }

  objectKey(blobKey: string): string {
    if (!BLOB_KEY.test(blobKey)) throw new Error(`invalid blob key ${blobKey}`);
    return `blobs/${blobKey}`;
  }

  newBlobKey(): string {
    const id = uuidv7();
    return `${id.slice(-2)}/${id.slice(-4, -2)}/${id}`;
  }

  async init(): Promise<{ removedTempFiles: number }> {
    const local = await this.local.init();
    if (this.config.createBucket) await ensureBucket(this.client, this.bucket);
    return local;
  }

  /** An upload of `body` into the new object `key` (PutObject, or multipart for more than a part). */
  private upload(body: Readable, key: string, size?: number): Upload {
    return new Upload({
      client: this.client,
      params: { Bucket: this.bucket, Key: key, Body: body },
      partSize: partBytesFor(size),
      queueSize: QUEUE_SIZE,
      leavePartsOnError: false,
    });
  }

  /** Streams `body` into the new object `blobKey`. */
  private async put(body: Readable, blobKey: string, size?: number): Promise<void> {
    await this.upload(body, this.objectKey(blobKey), size).done();
  }

  async receive(source: Readable, options: ReceiveOptions): Promise<StoredBlob> {
    const counter = new DigestingCounter(options.maxBytes);
    const blobKey = this.newBlobKey();
    let digest = { md5: '', sha256: '' };
    await this.streamInto(source, counter, this.objectKey(blobKey), options.expectedSize, () => {
      if (options.expectedSize !== undefined && counter.size !== options.expectedSize) {
        throw Problems.badRequest(`the upload ended after ${counter.size} of the ${options.expectedSize} declared bytes: nothing was stored`);
      }
      digest = { md5: counter.md5.digest('hex'), sha256: counter.sha256.digest('hex') };
      options.verify?.(digest);
    });
    return { blobKey, size: counter.size, ...digest, head: counter.head() };
  }

  /**
   * Streams `source` through `through` (which counts, hashes, limits) into the new object `key`, then runs `check`.
   * On any failure nothing is left behind: a multipart upload in flight is aborted (its parts dropped), a finished
   * object removed; the source's failure (aborted, too large) is the client's, the upload's the store's.
   */
  async streamInto(source: Readable, through: Transform, key: string, size: number | undefined, check: () => void): Promise<void> {
    // the Upload reads a plain stream: it would take a counter's own `size` (0 at first) for the body's length
    const body = new PassThrough({ highWaterMark: 1024 * 1024 });
    const upload = this.upload(body, key, size);
    const sending = upload.done();
    const feeding = pipeline(source, through, body);
    let sent = false;
    try {
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
      check();
    } catch (caught) {
      body.destroy();
      through.destroy();
      await upload.abort().catch(() => undefined);
      await sending.catch(() => undefined);
      await feeding.catch(() => undefined);
      if (sent) await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key })).catch(() => undefined);
      const wrapped = caught as { fromSource?: unknown; fromStore?: unknown };
      throw wrapped && typeof wrapped === 'object' && ('fromSource' in wrapped || 'fromStore' in wrapped) ? (wrapped.fromSource ?? wrapped.fromStore) : caught;
    }
  }

  async commitTemp(localPath: string, digest: BlobDigest): Promise<StoredBlob> {
    const blobKey = this.newBlobKey();
    try {
      await this.put(createReadStream(localPath, { highWaterMark: 1024 * 1024 }), blobKey, digest.size);
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
    if (digest.size > this.copyObjectMaxBytes) return this.duplicateStreamed(blobKey, digest);
    const copy = this.newBlobKey();
    try {
      // CopyObject: a server-side copy, up to 5 GiB in one request (larger: duplicateStreamed)
      await this.client.send(
        new CopyObjectCommand({
          Bucket: this.bucket,
          Key: this.objectKey(copy),
          CopySource: `${this.bucket}/${this.objectKey(blobKey)}`,
        }),
      );
      const head = await this.headOf(copy, digest.size);
      return { blobKey: copy, size: digest.size, md5: digest.md5, sha256: digest.sha256, head };
    } catch (error) {
      await this.remove(copy).catch(() => undefined);
      throw translateS3Error(error, blobKey);
    }
  }

  /**
   * A copy above CopyObject's 5 GiB: the object read and uploaded again (multipart) through our hashing, and kept only
   * if it hashes to the recorded digest (so a copy never vouches for bytes nobody read). Slower than a server-side
   * UploadPartCopy, which would need no transfer; s3rver, the store the tests run against, does not implement
   * UploadPartCopy, so that path could not be tested and is not used.
   */
  private async duplicateStreamed(blobKey: string, digest: { size: number; md5: string; sha256: string }): Promise<StoredBlob> {
    const copy = await this.receive(this.read(blobKey), {
      maxBytes: digest.size,
      expectedSize: digest.size,
      verify: (read) => {
        if (read.sha256 !== digest.sha256 || read.md5 !== digest.md5)
          throw new Error(`blob ${blobKey} hashes to ${read.sha256}, not the recorded ${digest.sha256}: not copied`);
      },
    });
    return copy;
  }

  read(blobKey: string, range?: { start: number; end: number }): Readable {
    return this.readObject(this.objectKey(blobKey), range, blobKey);
  }

  /** Any object of the bucket by its key (a blob's, a staged upload's), streamed with its errors translated. */
  readObject(key: string, range?: { start: number; end: number }, blobKey?: string): Readable {
    const out = new PassThrough({ highWaterMark: 256 * 1024 });
    this.client
      .send(new GetObjectCommand({ Bucket: this.bucket, Key: key, Range: range ? `bytes=${range.start}-${range.end}` : undefined }), {
        abortSignal: abortOnClose(out),
      })
      .then(
        (answer) => {
          const expected = range ? range.end - range.start + 1 : undefined;
          // a store that answers more than the range asked (s3rver does for bytes=0-0) is cut to it
          const body = answer.Body as Readable;
          relayObject(body, out, expected !== undefined && (answer.ContentLength ?? 0) > expected ? takeBytes(expected) : undefined, blobKey);
        },
        (error: unknown) => out.destroy(translateS3Error(error, blobKey) as Error),
      );
    return out;
  }

  /** The first bytes of a blob (for its mime type), in one ranged read. */
  async headOf(blobKey: string, size: number): Promise<Buffer> {
    return size > 0 ? this.readAll(blobKey, { start: 0, end: Math.min(size, HEAD_BYTES) - 1 }) : Buffer.alloc(0);
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
      if (isMissingObject(error)) return;
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
    if (this.signer && this.signer !== this.client) this.signer.destroy();
  }

  /** The same as {@link close}. */
  destroy(): void {
    this.close();
  }
}

/** The tail object of a staged upload: named by where it ends, so a new tail never overwrites the one the row names. */
function tailKey(uploadId: string, staged: StagedUpload): string {
  const end = staged.parts.reduce((sum, part) => sum + part.size, 0) + staged.tail;
  return `${stagePrefix(uploadId)}tail-${end}`;
}

/** Every object staged for an upload is under this prefix (tails: one named by the row, maybe one a failed save left). */
function stagePrefix(uploadId: string): string {
  if (!/^[0-9a-f-]{36}$/.test(uploadId)) throw new Error(`invalid upload id ${uploadId}`);
  return `uploads/${uploadId}/`;
}

/**
 * A staging error as a problem: a multipart upload the store no longer knows (completed by a commit whose row was
 * never written, or aborted from outside) cannot take the chunk, and retrying will not help: a 409.
 */
export function stageError(error: unknown): unknown {
  const { name, code } = (error ?? {}) as { name?: string; code?: string };
  if (name === 'NoSuchUpload') return stagingGone('completed or aborted');
  // a staged object gone (a lifecycle rule, another node's cleanup) or parts the store no longer takes
  if (name === 'NoSuchKey' || code === 'ENOENT' || name === 'InvalidPart' || name === 'InvalidPartOrder' || name === 'EntityTooSmall')
    return stagingGone(name ?? code ?? 'missing');
  return translateS3Error(error);
}

/** 409: what the bucket holds of an upload no longer matches its row; the client starts again. */
function stagingGone(why: string): ProblemError {
  return Problems.conflict(`the upload's staging in the object storage is gone or incomplete (${why}): start a new upload`);
}

/** s3rver (our test store) answers AbortMultipartUpload with 405 MethodNotAllowed; S3 and the stores we target abort. */
function isAbortUnsupported(error: unknown): boolean {
  const { name, $metadata } = (error ?? {}) as { name?: string; $metadata?: { httpStatusCode?: number } };
  return name === 'MethodNotAllowed' || $metadata?.httpStatusCode === 405;
}

/**
 * tus uploads staged in the bucket (see {@link AppendStage}): a multipart upload opened for the final blob key at
 * creation; each chunk, after the tail it continues, cut into parts of {@link PART_BYTES} sent with UploadPart as it
 * streams (one in memory at a time); a chunk's last bytes a part of their own when S3 takes them as one (5 MiB),
 * else the new tail object `uploads/<uploadId>/tail-<end>`; at the end, the rest as the last part and
 * CompleteMultipartUpload. Requests per chunk: a GET of the tail (when there is one), one UploadPart per part, a
 * PUT of the new tail and a DELETE of the old one.
 */
export class S3AppendStage implements AppendStage {
  /** 10,000 parts of 8 MiB: chunks of 8 MiB or more reach it; 5 MiB chunks make 5 MiB parts (about 50 GiB). */
  readonly maxBytes = MAX_PARTS * PART_BYTES;

  constructor(private readonly store: S3BlobStore) {}

  private get client(): S3Client {
    return this.store.client;
  }

  async open(): Promise<StagedUpload> {
    const blobKey = this.store.newBlobKey();
    try {
      const opened = await this.client.send(new CreateMultipartUploadCommand({ Bucket: this.store.bucket, Key: this.store.objectKey(blobKey) }));
      return { kind: 'parts', blobKey, multipartId: opened.UploadId!, parts: [], tail: 0 };
    } catch (error) {
      throw translateS3Error(error);
    }
  }

  async write(uploadId: string, staged: StagedUpload, source: Readable, options: { allowed: number; onBytes: (chunk: Buffer) => void }): Promise<StageWrite> {
    const cutter = new PartCutter(PART_BYTES);
    let current = staged;
    let size = 0;
    let inStore = true;
    try {
      if (staged.tail) cutter.push(await this.readTail(uploadId, staged));
      inStore = false;
      for await (const chunk of source as AsyncIterable<Buffer>) {
        if (size + chunk.length > options.allowed)
          throw Problems.tooLarge(`the request carries more bytes than the upload has left (${options.allowed}): nothing past the declared length is stored`);
        options.onBytes(chunk);
        size += chunk.length;
        inStore = true;
        for (const part of cutter.push(chunk)) current = await this.sendPart(current, part);
        inStore = false;
      }
      return { staged: { ...current, tail: 0 }, rest: cutter.rest(), size };
    } catch (error) {
      source.resume();
      // the store's failure keeps nothing of the chunk; the client's keeps what came before it (tus resumes there)
      if (inStore) throw stageError(error);
      return { staged: { ...current, tail: 0 }, rest: cutter.rest(), size, error: translateStorageError(error) };
    }
  }

  async keep(uploadId: string, written: StageWrite): Promise<StagedUpload> {
    const { staged, rest } = written;
    // nothing new: the tail object the row names stays as it is
    if (written.size === 0) return { ...staged, tail: rest.length };
    try {
      if (restGoesTo(rest.length) === 'part') return { ...(await this.sendPart(staged, rest)), tail: 0 };
      const kept = { ...staged, tail: rest.length };
      if (rest.length)
        await this.client.send(new PutObjectCommand({ Bucket: this.store.bucket, Key: tailKey(uploadId, kept), Body: rest, ContentLength: rest.length }));
      return kept;
    } catch (error) {
      throw stageError(error);
    }
  }

  async dropTail(uploadId: string, before: StagedUpload, after?: StagedUpload): Promise<void> {
    if (!before.tail || (after?.tail && tailKey(uploadId, after) === tailKey(uploadId, before))) return;
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.store.bucket, Key: tailKey(uploadId, before) }));
    } catch (error) {
      throw translateS3Error(error);
    }
  }

  async commit(uploadId: string, before: StagedUpload, written: StageWrite, digest: Omit<BlobDigest, 'head'>): Promise<StoredBlob> {
    const { blobKey } = written.staged;
    try {
      const staged = written.rest.length ? await this.sendPart(written.staged, written.rest) : written.staged;
      await this.client.send(
        new CompleteMultipartUploadCommand({
          Bucket: this.store.bucket,
          Key: this.store.objectKey(blobKey),
          UploadId: staged.multipartId!,
          MultipartUpload: { Parts: staged.parts.map((part) => ({ PartNumber: part.number, ETag: part.etag })) },
        }),
      );
    } catch (error) {
      throw stageError(error);
    }
    // the blob is whole: a tail left behind is only a leftover (removed with the upload's prefix if this fails)
    await this.dropTail(uploadId, before).catch(() => undefined);
    return { blobKey, ...digest, head: await this.store.headOf(blobKey, digest.size) };
  }

  async discard(uploadId: string, staged: StagedUpload): Promise<void> {
    try {
      // a blob completed by a chunk whose answer then failed (the row never said so) is this upload's too: an
      // upload that made its Mfile has no stage left to discard
      await this.client.send(new DeleteObjectCommand({ Bucket: this.store.bucket, Key: this.store.objectKey(staged.blobKey) }));
      if (staged.multipartId)
        await this.client
          .send(new AbortMultipartUploadCommand({ Bucket: this.store.bucket, Key: this.store.objectKey(staged.blobKey), UploadId: staged.multipartId }))
          .catch((error: unknown) => {
            // gone already (completed or aborted by another node); or a store that cannot abort (s3rver): its parts
            // stay in its own staging, out of every listing (a bucket lifecycle rule drops them on S3, see README)
            if (!isNotFound(error) && !isAbortUnsupported(error)) throw error;
          });
    } catch (error) {
      throw translateS3Error(error);
    }
    await removeStaged(this.store, uploadId);
  }

  private async readTail(uploadId: string, staged: StagedUpload): Promise<Buffer> {
    const chunks: Buffer[] = [];
    try {
      for await (const chunk of this.store.readObject(tailKey(uploadId, staged))) chunks.push(chunk as Buffer);
    } catch (error) {
      throw stageError(error);
    }
    const tail = Buffer.concat(chunks);
    if (tail.length !== staged.tail) throw stagingGone(`its tail has ${tail.length} bytes, not the ${staged.tail} recorded`);
    return tail;
  }

  /** Sends `body` as the next part (numbered after the recorded ones: a failed chunk's parts are overwritten). */
  private async sendPart(staged: StagedUpload, body: Buffer): Promise<StagedUpload> {
    const number = staged.parts.length + 1;
    if (number > MAX_PARTS) throw Problems.tooLarge(`the upload needs more than the store's ${MAX_PARTS} parts: send larger chunks`);
    const sent = await this.client.send(
      new UploadPartCommand({
        Bucket: this.store.bucket,
        Key: this.store.objectKey(staged.blobKey),
        UploadId: staged.multipartId!,
        PartNumber: number,
        Body: body,
        ContentLength: body.length,
      }),
    );
    return { ...staged, parts: [...staged.parts, { number, etag: sent.ETag!, size: body.length }] };
  }
}

/**
 * Content-Range uploads staged in the bucket (see {@link RangeStage}): each chunk streamed into the object
 * `uploads/<uploadId>/range-<start>-<end>` (PutObject, or a multipart upload for a chunk above a part); at the end
 * the objects are read in order, through our hashing, into the new blob (a multipart upload), then removed.
 * Requests per chunk: one PutObject (or one per 8 MiB); at the end one GET per chunk and one UploadPart per 8 MiB.
 */
export class S3RangeStage implements RangeStage {
  constructor(private readonly store: S3BlobStore) {}

  async put(uploadId: string, [start, end]: [number, number], source: Readable, onBytes: (chunk: Buffer) => void): Promise<{ size: number }> {
    const allowed = end - start + 1;
    let size = 0;
    const counter = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        if (size + chunk.length > allowed)
          return callback(Problems.tooLarge(`the body carries more than the ${allowed} bytes Content-Range announces: the chunk was not recorded`));
        size += chunk.length;
        onBytes(chunk);
        callback(null, chunk);
      },
    });
    await this.store.streamInto(source, counter, rangeKey(uploadId, [start, end]), end - start + 1, () => undefined);
    return { size };
  }

  async remove(uploadId: string, range: [number, number]): Promise<void> {
    try {
      await this.store.client.send(new DeleteObjectCommand({ Bucket: this.store.bucket, Key: rangeKey(uploadId, range) }));
    } catch (error) {
      throw translateS3Error(error);
    }
  }

  assemble(uploadId: string, ranges: Array<[number, number]>, options: ReceiveOptions): Promise<StoredBlob> {
    const ordered = [...ranges].sort((a, b) => a[0] - b[0]);
    const store = this.store;
    async function* inOrder() {
      for (const range of ordered) {
        try {
          yield* store.readObject(rangeKey(uploadId, range));
        } catch (error) {
          throw stageError(error);
        }
      }
    }
    return this.store.receive(Readable.from(inOrder()), options);
  }

  discard(uploadId: string): Promise<void> {
    return removeStaged(this.store, uploadId);
  }
}

/** The object of one Content-Range chunk. */
function rangeKey(uploadId: string, [start, end]: [number, number]): string {
  return `${stagePrefix(uploadId)}range-${start}-${end}`;
}

/** Removes every object under an upload's staging prefix. */
async function removeStaged(store: S3BlobStore, uploadId: string): Promise<void> {
  try {
    let token: string | undefined;
    do {
      const listed = await store.client.send(new ListObjectsV2Command({ Bucket: store.bucket, Prefix: stagePrefix(uploadId), ContinuationToken: token }));
      for (const object of listed.Contents ?? []) await store.client.send(new DeleteObjectCommand({ Bucket: store.bucket, Key: object.Key! }));
      token = listed.IsTruncated ? listed.NextContinuationToken : undefined;
    } while (token);
  } catch (error) {
    throw translateS3Error(error);
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

/**
 * Pipes an object's body into `out` (through `through`, if given) with the body's errors translated: a store that
 * drops the connection mid-read is an outage (503), not the reader's own aborted stream (what a bare ECONNRESET
 * means to `receive`). Piped by hand: `pipeline` would end `out` with the raw error before a translated one.
 */
export function relayObject(body: Readable, out: PassThrough, through?: Transform, blobKey?: string): void {
  body.once('error', (error) => out.destroy(translateS3Error(error, blobKey) as Error));
  out.once('close', () => body.destroy());
  (through ? body.pipe(through) : body).pipe(out);
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

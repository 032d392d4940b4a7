import { CopyObjectCommand, DeleteObjectCommand, GetObjectCommand, HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { createHash } from 'node:crypto';
import { PassThrough, Readable } from 'node:stream';
import { uuidv7 } from '../database/uuid';
import { BackupSource, backupName, BackupStore, SMALL_COPY_BYTES, SourceMismatch } from './backup-store';
import { BlobDigest } from './blob-store';
import { digestStream } from './content-store';
import { ensureBucket, isMissingObject, relayObject, S3BlobStore, translateS3Error } from './s3-store';

/** Every backup object's key starts with this, in the content bucket or a bucket of its own. */
export const BACKUP_PREFIX = 'backup/';

/**
 * The S3 adapter of the backup port (STORAGE=s3): a copy is the object `backup/ab/<sha256>` of the backup bucket
 * (S3_BACKUP_BUCKET, or the content bucket), reached with the content store's client, so every node sees the copies
 * any node made. A copy is made server-side (CopyObject: the bytes never pass through the worker) into a temporary
 * key, verified by reading that copy back and hashing it, and only then copied (server-side again) to its
 * content-addressed key: a source that no longer hashes right never touches the key, so it cannot replace a good
 * copy another node made meanwhile. CopyObject copies up to 5 GiB per object, as `duplicate` does. A small copy
 * (up to SMALL_COPY_BYTES, what an upload's commit makes) is read once and put instead ({@link putSmall}).
 */
export class S3BackupStore extends BackupStore {
  readonly kind = 's3' as const;

  constructor(
    private readonly content: S3BlobStore,
    readonly bucket: string,
    private readonly createBucket: boolean,
  ) {
    super();
  }

  keyOf(sha256: string): string {
    return `${BACKUP_PREFIX}${backupName(sha256)}`;
  }

  override async init(): Promise<void> {
    if (this.createBucket && this.bucket !== this.content.bucket) await ensureBucket(this.content.client, this.bucket);
  }

  async has(sha256: string): Promise<boolean> {
    try {
      await this.content.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.keyOf(sha256) }));
      return true;
    } catch (error) {
      if (isMissingObject(error)) return false;
      throw translateS3Error(error);
    }
  }

  async put(source: BackupSource): Promise<{ created: boolean; size: number }> {
    const key = this.keyOf(source.sha256);
    const existing = await this.digestOf(key);
    if (existing?.sha256 === source.sha256) return { created: false, size: existing.size };
    if (source.size <= SMALL_COPY_BYTES) return this.putSmall(source, key, !existing);
    // named like nothing else in the bucket; a process killed before its removal leaves it (a lifecycle rule on
    // backup/tmp/ expires such leftovers)
    const temp = `${BACKUP_PREFIX}tmp/${uuidv7()}`;
    try {
      await this.copy(`${this.content.bucket}/${this.content.objectKey(source.blobKey)}`, temp, source.blobKey);
      const copied = await this.digestOf(temp);
      if (copied?.sha256 !== source.sha256)
        throw new SourceMismatch(`the stored bytes hash to ${copied?.sha256 ?? 'nothing'}, not the recorded ${source.sha256}: not backed up`);
      await this.copy(`${this.bucket}/${temp}`, key);
      // a damaged copy replaced is no new copy (its place was counted already)
      return { created: !existing, size: copied.size };
    } finally {
      await this.deleteKey(temp).catch(() => undefined);
    }
  }

  /**
   * A small copy from one read: the blob's bytes, hashed in memory, are put under the key only if they are the
   * recorded sha256, with their Content-MD5 so the store refuses them if they change on the way. Three requests (the
   * look for a copy, the read, the put) instead of the large path's five; the same rule: a source that no longer
   * hashes right never touches the key.
   */
  private async putSmall(source: BackupSource, key: string, created: boolean): Promise<{ created: boolean; size: number }> {
    const bytes = await this.content.readAll(source.blobKey);
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    if (sha256 !== source.sha256) throw new SourceMismatch(`the stored bytes hash to ${sha256}, not the recorded ${source.sha256}: not backed up`);
    try {
      await this.content.client.send(
        new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: bytes, ContentMD5: createHash('md5').update(bytes).digest('base64') }),
      );
    } catch (error) {
      throw translateS3Error(error);
    }
    return { created, size: bytes.length };
  }

  async open(sha256: string): Promise<Readable> {
    let body: Readable;
    try {
      body = (await this.content.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.keyOf(sha256) }))).Body as Readable;
    } catch (error) {
      throw this.translate(error, sha256);
    }
    const out = new PassThrough({ highWaterMark: 256 * 1024 });
    relayObject(body, out);
    return out;
  }

  async remove(sha256: string): Promise<void> {
    await this.deleteKey(this.keyOf(sha256));
  }

  describe(): string {
    return `S3 bucket ${this.bucket} under ${BACKUP_PREFIX}`;
  }

  /** What the object `key` hashes to now, in one read; undefined when it is not there. */
  private async digestOf(key: string): Promise<BlobDigest | undefined> {
    try {
      const answer = await this.content.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      return await digestStream(answer.Body as Readable);
    } catch (error) {
      if (isMissingObject(error)) return undefined;
      throw translateS3Error(error);
    }
  }

  /** A server-side copy of `copySource` (`bucket/key`) to `key` of the backup bucket; `blobKey`: a missing source is ENOENT. */
  private async copy(copySource: string, key: string, blobKey?: string): Promise<void> {
    try {
      await this.content.client.send(new CopyObjectCommand({ Bucket: this.bucket, Key: key, CopySource: copySource }));
    } catch (error) {
      throw translateS3Error(error, blobKey);
    }
  }

  private async deleteKey(key: string): Promise<void> {
    try {
      // DeleteObject of a missing key succeeds (S3 and compatible stores alike)
      await this.content.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }));
    } catch (error) {
      throw translateS3Error(error);
    }
  }

  /** A missing copy is ENOENT, as on the filesystem; anything else as the content store says it. */
  private translate(error: unknown, sha256: string): unknown {
    if (isMissingObject(error)) return Object.assign(new Error(`backup copy ${sha256} is missing`, { cause: error }), { code: 'ENOENT' });
    return translateS3Error(error);
  }
}

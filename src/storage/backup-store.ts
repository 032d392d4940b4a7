import { createWriteStream } from 'node:fs';
import { readFile, stat, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createHash, randomUUID } from 'node:crypto';
import { BlobStore } from './blob-store';
import { DigestingCounter, digestFile, KnownFolders, readWholeFile, translateStorageError } from './content-store';

/** Copies up to this size are made from one read into memory; larger ones stream. */
export const SMALL_COPY_BYTES = 256 * 1024;

/** The blob a backup copy is made of: its key in the content store and the digest recorded for it. */
export interface BackupSource {
  blobKey: string;
  sha256: string;
  size: number;
}

/**
 * The backup port: verified copies of content, addressed by sha256, kept once however many Mfiles hold the same
 * bytes. A copy counts only once the bytes it holds were hashed and found to be the recorded ones. Two adapters:
 * the filesystem ({@link FileBackupStore}, `BACKUP_DIR`) and, with `STORAGE=s3`, a bucket (`S3BackupStore`,
 * `S3_BACKUP_BUCKET` or the content bucket under `backup/`), so that every node sees the copies any node made.
 */
export abstract class BackupStore {
  /** Which adapter: for the start-up log and the tests. */
  abstract readonly kind: 'filesystem' | 's3';

  /** Makes what the adapter needs before the first copy (the backup bucket, where asked). */
  init(): Promise<void> {
    return Promise.resolve();
  }

  /** Whether a copy of these bytes is there (not whether it is intact: {@link open} and hash to know). */
  abstract has(sha256: string): Promise<boolean>;

  /**
   * Copies the blob in unless a verified copy is there already (`created: false`; a damaged one is replaced, also
   * `created: false`: its place was counted already). A copy that does not hash to `sha256` is not kept and the error
   * is a {@link SourceMismatch} (the stored bytes changed since they were recorded).
   */
  abstract put(source: BackupSource): Promise<{ created: boolean; size: number }>;

  /** The copy's bytes as a stream; a missing copy errors with code `ENOENT`. */
  abstract open(sha256: string): Promise<Readable>;

  /** Removes a copy; one already gone is no error. */
  abstract remove(sha256: string): Promise<void>;

  /** Where the copies are, for the start-up log. */
  abstract describe(): string;
}

/** The filesystem adapter's checked name of a copy's place: never built from anything but a sha256. */
export function backupName(sha256: string): string {
  if (!/^[0-9a-f]{64}$/.test(sha256)) throw new Error(`invalid sha256 ${sha256}`);
  return `${sha256.slice(0, 2)}/${sha256}`;
}

/**
 * The filesystem adapter (`<backupDir>/ab/<sha256>`). Written like the content store (temp, fsync, rename, fsync of
 * the folder) and verified by hashing what was written before it counts. The blob reaches it through the content
 * store's `withLocalFile` (the blob's own file with the filesystem store: no extra copy).
 */
export class FileBackupStore extends BackupStore {
  readonly kind = 'filesystem' as const;
  private readonly folders = new KnownFolders();

  constructor(
    readonly root: string,
    private readonly content: BlobStore,
  ) {
    super();
  }

  pathOf(sha256: string): string {
    return join(this.root, backupName(sha256));
  }

  async has(sha256: string): Promise<boolean> {
    return stat(this.pathOf(sha256)).then(
      () => true,
      () => false,
    );
  }

  put(source: BackupSource): Promise<{ created: boolean; size: number }> {
    return this.content.withLocalFile(source.blobKey, (path) => this.putFile(path, source.sha256, source.size));
  }

  /** {@link put} of a local file (what `withLocalFile` lends). */
  async putFile(source: string, sha256: string, size?: number): Promise<{ created: boolean; size: number }> {
    const target = this.pathOf(sha256);
    let replacing = false;
    if (await this.has(sha256)) {
      const existing = await digestFile(target);
      if (existing.sha256 === sha256) return { created: false, size: existing.size };
      await unlink(target); // a damaged copy is replaced (its place was counted already: not a new copy)
      replacing = true;
    }
    const folder = join(this.root, sha256.slice(0, 2));
    await this.folders.ensure(folder);
    const temp = join(folder, `.${randomUUID()}.tmp`);
    try {
      // the copy is fsynced by its writer (`flush`), checked against the recorded digest, then renamed into place
      const written = size !== undefined && size <= SMALL_COPY_BYTES ? await copySmall(source, temp) : await copyStreamed(source, temp);
      if (written.sha256 !== sha256) throw new SourceMismatch(`the stored bytes hash to ${written.sha256}, not the recorded ${sha256}: not backed up`);
      await this.folders.renameInto(folder, temp, target);
      return { created: !replacing, size: written.size };
    } catch (error) {
      await unlink(temp).catch(() => undefined);
      throw error instanceof SourceMismatch ? error : translateStorageError(error);
    }
  }

  open(sha256: string): Promise<Readable> {
    return readWholeFile(this.pathOf(sha256));
  }

  async remove(sha256: string): Promise<void> {
    await unlink(this.pathOf(sha256)).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'ENOENT') throw error;
    });
  }

  describe(): string {
    return `folder ${this.root}`;
  }
}

export class SourceMismatch extends Error {}

/**
 * A small file (most of them) read whole and hashed once, written through one descriptor: the streams' objects and
 * buffers cost more than the bytes for a few KiB.
 */
async function copySmall(source: string, temp: string): Promise<{ sha256: string; size: number }> {
  const bytes = await readFile(source);
  await writeFile(temp, bytes, { flag: 'wx', flush: true });
  return { sha256: createHash('sha256').update(bytes).digest('hex'), size: bytes.length };
}

/** A larger one streamed, hashed on the way. */
async function copyStreamed(source: string, temp: string): Promise<{ sha256: string; size: number }> {
  const counter = new DigestingCounter(Number.MAX_SAFE_INTEGER);
  await pipeline(await readWholeFile(source), counter, createWriteStream(temp, { flags: 'wx', flush: true }));
  return { sha256: counter.sha256.digest('hex'), size: counter.size };
}

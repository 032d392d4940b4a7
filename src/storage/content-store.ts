import { createHash, Hash } from 'node:crypto';
import { constants, createReadStream, createWriteStream, ReadStream } from 'node:fs';
import { copyFile, FileHandle, mkdir, open, readdir, readFile, rename, rm, stat, unlink } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { Readable, Transform, TransformCallback, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ProblemError, Problems } from '../common/problem';
import { uuidv7 } from '../database/uuid';
import { BLOB_KEY, BlobDigest, BlobStore, ReceiveOptions, StoredBlob } from './blob-store';

export type { BlobDigest, ReceiveOptions, StoredBlob } from './blob-store';

export const HEAD_BYTES = 4100;
/** The largest read buffer of a file stream (large files read in 1 MiB steps). */
const MAX_READ_BUFFER = 1024 * 1024;
/** The smallest read buffer of a file stream (below this the number of reads, not the buffer, costs). */
const MIN_READ_BUFFER = 64 * 1024;

/**
 * The read buffer (highWaterMark) for a file stream of `bytes` bytes: the size of what is read, between 64 KiB and
 * `max`. A stream without an end allocates a whole buffer for every read, its last (empty) one included, so a 2 KiB
 * file read with a 1 MiB highWaterMark cost two 1 MiB allocations: most of the worker's garbage with small files.
 * Unknown sizes get `max`.
 */
export function readBufferSize(bytes: number | undefined, max = MAX_READ_BUFFER): number {
  if (bytes === undefined || !Number.isFinite(bytes) || bytes < 0) return max;
  return Math.min(max, Math.max(MIN_READ_BUFFER, Math.ceil(bytes)));
}

/** A stream of the whole file, its read buffer sized to the file (one fstat on the descriptor it opens). */
export async function readWholeFile(path: string): Promise<Readable> {
  const handle = await open(path, 'r');
  try {
    const { size } = await handle.stat();
    return handle.createReadStream({ highWaterMark: readBufferSize(size) });
  } catch (error) {
    await handle.close();
    throw error;
  }
}
const TEMP_PREFIX = `${hostname().replace(/[^A-Za-z0-9.-]/g, '_')}~${process.pid}~`;

/** Hashes (md5 and sha256) and counts bytes as they pass: one read of the data, never a second. */
export class DigestingCounter extends Transform {
  readonly md5: Hash = createHash('md5');
  readonly sha256: Hash = createHash('sha256');
  size = 0;
  private readonly headChunks: Buffer[] = [];
  private headLength = 0;

  constructor(private readonly maxBytes: number) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.size += chunk.length;
    if (this.size > this.maxBytes) {
      callback(Problems.tooLarge(`the content is larger than the ${this.maxBytes} bytes allowed here`, { limit: this.maxBytes }));
      return;
    }
    this.md5.update(chunk);
    this.sha256.update(chunk);
    if (this.headLength < HEAD_BYTES) {
      this.headChunks.push(chunk.subarray(0, HEAD_BYTES - this.headLength));
      this.headLength += Math.min(chunk.length, HEAD_BYTES - this.headLength);
    }
    callback(null, chunk);
  }

  head(): Buffer {
    return Buffer.concat(this.headChunks);
  }
}

// Every durable write here fsyncs through the writer's own descriptor (`flush` of fs write streams and writeFile,
// Node 20.10 and 21.0 on) instead of reopening the file to fsync it: an older Node would ignore the option and lose
// that durability silently, so it is refused at once.
{
  const [major, minor] = process.versions.node.split('.').map(Number);
  if (major < 20 || (major === 20 && minor < 10)) throw new Error(`MServe needs Node.js 20.10 or later (fs writes with flush); this is ${process.version}`);
}

/**
 * Folders known to exist: a commit makes its shard folder (`ab/cd`, 65,536 of them) only the first time this process
 * writes there, not with a mkdir per file. A folder removed behind our back is made again when a rename finds it gone.
 */
export class KnownFolders {
  private readonly known = new Set<string>();

  constructor(private readonly max = 70_000) {}

  async ensure(folder: string): Promise<void> {
    if (this.known.has(folder)) return;
    await mkdir(folder, { recursive: true });
    if (this.known.size < this.max) this.known.add(folder);
  }

  /**
   * `rename(from, to)` into `folder` made durable (the folder fsynced after it), making the folder (again) if it is
   * not there: how a written and fsynced temp file becomes visible, atomically, in both stores.
   */
  async renameInto(folder: string, from: string, to: string): Promise<void> {
    await this.ensure(folder);
    await rename(from, to).catch(async (error: NodeJS.ErrnoException) => {
      if (
        error.code !== 'ENOENT' ||
        !(await stat(from).then(
          () => true,
          () => false,
        ))
      )
        throw error;
      this.known.delete(folder);
      await this.ensure(folder);
      await rename(from, to);
    });
    const handle = await open(folder, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  }
}

/** How often (in bytes written) a long write asks the kernel to write its dirty pages back. */
export const WRITEBACK_EVERY_BYTES = 32 * 1024 * 1024;

/**
 * Overlaps the disk's write-back with the transfer: every {@link WRITEBACK_EVERY_BYTES} it starts an `fdatasync`
 * of the file (on its own descriptor, so the writer's close can never race it) without waiting for it, unless
 * the previous one is still running. The final fsync before the rename then has little left to flush, instead
 * of the whole upload (measured: 1 GiB plain write + fsync 383 MB/s, with periodic fdatasync 465 MB/s).
 */
export class Writeback extends Transform {
  private sinceSync = 0;
  private pending: Promise<void> | undefined;
  private handle: Promise<FileHandle> | undefined;
  private failure: unknown;
  /** Write-backs completed so far. */
  syncs = 0;

  constructor(
    private readonly path: string,
    private readonly interval = WRITEBACK_EVERY_BYTES,
  ) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    if (this.failure) return callback(this.failure as Error);
    this.sinceSync += chunk.length;
    if (this.sinceSync >= this.interval && !this.pending) {
      this.sinceSync = 0;
      const handle = (this.handle ??= open(this.path, 'r'));
      this.pending = handle
        .then((opened) => opened.datasync())
        .then(() => void this.syncs++)
        .catch((error: NodeJS.ErrnoException) => {
          // the writer downstream opens the file asynchronously: not there yet is no failure, the next interval tries again
          if (error.code === 'ENOENT') {
            if (this.handle === handle) this.handle = undefined;
          } else this.failure = error;
        })
        .finally(() => (this.pending = undefined));
    }
    callback(null, chunk);
  }

  /** Waits for a write-back in flight and releases the descriptor; rethrows what it failed with (EIO, ENOSPC). */
  async settle(): Promise<void> {
    await this.pending;
    const handle = this.handle;
    this.handle = undefined;
    if (handle) await (await handle.catch(() => undefined))?.close();
    if (this.failure) throw this.failure;
  }
}

/** md5, sha256, size and head of a file, in one read, keeping none of its bytes. */
export async function digestFile(path: string): Promise<BlobDigest> {
  return digestStream(await readWholeFile(path));
}

/** md5, sha256, size and head of a stream's bytes, in one read, keeping none of them. */
export async function digestStream(source: Readable): Promise<BlobDigest> {
  const counter = new DigestingCounter(Number.MAX_SAFE_INTEGER);
  await pipeline(source, counter, new Writable({ write: (_chunk, _encoding, callback) => callback() }));
  return { size: counter.size, md5: counter.md5.digest('hex'), sha256: counter.sha256.digest('hex'), head: counter.head() };
}

function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * The content store on a filesystem: the default adapter of the storage port ({@link BlobStore}). Bytes go to a temp file, are fsynced, then renamed into place (rename is atomic on one
 * filesystem), and the folder is fsynced so the rename survives a crash. Nothing half-written is ever visible
 * under blobs/. Blob keys are ours (`ab/cd/<uuid>`), never derived from user input.
 */
export class ContentStore extends BlobStore {
  readonly kind = 'filesystem' as const;
  private readonly blobsDir: string;
  private readonly tempDir: string;
  private readonly uploadsDir: string;
  private readonly folders = new KnownFolders();

  constructor(readonly root: string) {
    super();
    this.blobsDir = join(root, 'blobs');
    this.tempDir = join(root, 'tmp');
    this.uploadsDir = join(root, 'uploads');
  }

  /** The growing file of a resumable upload (tus or Content-Range), by upload id. */
  partPath(uploadId: string): string {
    if (!/^[0-9a-f-]{36}$/.test(uploadId)) throw new Error(`invalid upload id ${uploadId}`);
    return join(this.uploadsDir, `${uploadId}.part`);
  }

  async init(): Promise<{ removedTempFiles: number }> {
    await mkdir(this.blobsDir, { recursive: true });
    await mkdir(this.tempDir, { recursive: true });
    await mkdir(this.uploadsDir, { recursive: true });
    return { removedTempFiles: await this.cleanTemp() };
  }

  /**
   * Removes leftovers of interrupted writes: temp files of dead processes on this host at once, and those of
   * other hosts (shared storage) once untouched for an hour.
   */
  async cleanTemp(now = Date.now()): Promise<number> {
    let removed = 0;
    for (const name of await readdir(this.tempDir).catch(() => [] as string[])) {
      const [host, pid] = name.split('~');
      const path = join(this.tempDir, name);
      const sameHost = host === TEMP_PREFIX.split('~')[0];
      const dead = sameHost ? Number(pid) !== process.pid && !isProcessAlive(Number(pid)) : false;
      const stale = await stat(path).then(
        (s) => now - s.mtimeMs > 3600_000,
        () => false,
      );
      if (dead || stale) {
        await rm(path, { force: true, recursive: true });
        removed++;
      }
    }
    return removed;
  }

  pathOf(blobKey: string): string {
    if (!BLOB_KEY.test(blobKey)) throw new Error(`invalid blob key ${blobKey}`);
    return join(this.blobsDir, blobKey);
  }

  newTempPath(): string {
    return join(this.tempDir, `${TEMP_PREFIX}${uuidv7()}`);
  }

  /** Streams `source` into a new blob, hashing on the way. On any failure nothing is left behind. */
  async receive(source: Readable, options: ReceiveOptions): Promise<StoredBlob> {
    const tempPath = this.newTempPath();
    const counter = new DigestingCounter(options.maxBytes);
    const writeback = new Writeback(tempPath);
    try {
      try {
        await pipeline(source, counter, writeback, createWriteStream(tempPath, { flags: 'wx', highWaterMark: 256 * 1024, flush: true }));
      } finally {
        await writeback.settle();
      }
      if (options.expectedSize !== undefined && counter.size !== options.expectedSize) {
        throw Problems.badRequest(`the upload ended after ${counter.size} of the ${options.expectedSize} declared bytes: nothing was stored`);
      }
      const digest = { md5: counter.md5.digest('hex'), sha256: counter.sha256.digest('hex') };
      options.verify?.(digest);
      return await this.commitTemp(tempPath, { size: counter.size, ...digest, head: counter.head() }, true);
    } catch (error) {
      await unlink(tempPath).catch(() => undefined);
      throw translateStorageError(error);
    }
  }

  /**
   * Adopts a file a task wrote into the temp folder (an ffmpeg output): hashes it (md5, sha256, head) in one read,
   * then commits it by rename like any upload. The file is gone afterwards, committed or removed.
   */
  async commitFile(tempPath: string): Promise<StoredBlob> {
    try {
      return await this.commitTemp(tempPath, await digestFile(tempPath));
    } catch (error) {
      await unlink(tempPath).catch(() => undefined);
      throw translateStorageError(error);
    }
  }

  /** fsync (unless the writer did: `synced`), then atomic rename into blobs/, made durable (`KnownFolders.renameInto`). */
  async commitTemp(tempPath: string, digest: Omit<StoredBlob, 'blobKey'>, synced = false): Promise<StoredBlob> {
    if (!synced) {
      const handle = await open(tempPath, 'r+');
      try {
        await handle.sync();
      } finally {
        await handle.close();
      }
    }
    const id = uuidv7();
    const blobKey = `${id.slice(-2)}/${id.slice(-4, -2)}/${id}`;
    const finalPath = this.pathOf(blobKey);
    const folder = join(this.blobsDir, blobKey.slice(0, 5));
    await this.folders.renameInto(folder, tempPath, finalPath);
    return { blobKey, ...digest };
  }

  /** A second, independent blob with the same bytes (a reflink where the file system can, else a copy). */
  async duplicate(blobKey: string, digest: { size: number; md5: string; sha256: string }): Promise<StoredBlob> {
    const tempPath = this.newTempPath();
    try {
      await copyFile(this.pathOf(blobKey), tempPath, constants.COPYFILE_EXCL | constants.COPYFILE_FICLONE);
      const handle = await open(tempPath, 'r');
      const head = Buffer.alloc(HEAD_BYTES);
      let read: number;
      try {
        ({ bytesRead: read } = await handle.read(head, 0, HEAD_BYTES, 0));
      } finally {
        await handle.close();
      }
      return await this.commitTemp(tempPath, { size: digest.size, md5: digest.md5, sha256: digest.sha256, head: head.subarray(0, read) });
    } catch (error) {
      await unlink(tempPath).catch(() => undefined);
      throw translateStorageError(error);
    }
  }

  /**
   * The blob's bytes (or a range of them). `size`, the blob's size when known, sizes the read buffer of a whole-file
   * read (a range sizes it by itself: a stream with an end never reads past it).
   */
  read(blobKey: string, range?: { start: number; end: number }, size?: number): ReadStream {
    const bytes = range ? range.end - range.start + 1 : size;
    return createReadStream(this.pathOf(blobKey), { ...range, highWaterMark: readBufferSize(bytes, 256 * 1024) });
  }

  readAll(blobKey: string): Promise<Buffer> {
    return readFile(this.pathOf(blobKey));
  }

  digest(blobKey: string): Promise<BlobDigest> {
    return digestFile(this.pathOf(blobKey));
  }

  /** Its own file, at no cost (`fn` must not change it). */
  withLocalFile<T>(blobKey: string, fn: (path: string) => Promise<T>): Promise<T> {
    return fn(this.pathOf(blobKey));
  }

  describe(): string {
    return `the filesystem at ${this.root}`;
  }

  serverPaths(blobKey?: string): Array<[string, string]> {
    return [...(blobKey ? [[this.pathOf(blobKey), 'the file'] as [string, string]] : []), [this.root, 'the storage']];
  }

  async size(blobKey: string): Promise<number> {
    return (await stat(this.pathOf(blobKey))).size;
  }

  async remove(blobKey: string): Promise<void> {
    await unlink(this.pathOf(blobKey)).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'ENOENT') throw error;
    });
  }

  /** Writes a probe file and removes it: the readiness check for the storage. */
  async probe(): Promise<void> {
    const path = this.newTempPath();
    const handle = await open(path, 'wx');
    await handle.close();
    await unlink(path);
  }
}

export function translateStorageError(error: unknown): unknown {
  const code = (error as NodeJS.ErrnoException)?.code;
  if (code === 'ENOSPC' || code === 'EDQUOT') return Problems.insufficientStorage('the storage is full: the upload was discarded and nothing was stored');
  if (code === 'ERR_STREAM_PREMATURE_CLOSE' || code === 'ECONNRESET' || code === 'ECONNABORTED') {
    return new ProblemError(400, 'upload-aborted', 'Upload aborted', 'the client closed the connection before the upload finished: nothing was stored');
  }
  return error;
}

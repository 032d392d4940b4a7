import { Readable } from 'node:stream';

export interface StoredBlob {
  blobKey: string;
  size: number;
  md5: string;
  sha256: string;
  /** The first bytes, for magic-number mime detection without reading the file again. */
  head: Buffer;
}

/** What a blob's bytes hash to (read once). */
export type BlobDigest = Omit<StoredBlob, 'blobKey'>;

export interface ReceiveOptions {
  /** Refuse (413) once more than this many bytes arrive. */
  maxBytes: number;
  /** When the client declared a length, anything else is an incomplete upload. */
  expectedSize?: number;
  /** Checked before the commit: a mismatch discards the bytes (the error comes from `verify`). */
  verify?: (digest: { md5: string; sha256: string }) => void;
}

/** One part of a staged upload's multipart upload, as CompleteMultipartUpload needs it back. */
export interface StagedPart {
  number: number;
  etag: string;
  size: number;
}

/**
 * Where an upload staged in the store stands ({@link AppendStage}): kept in the upload's row after every chunk, so
 * the next chunk can be taken by any node. Its bytes are `parts` (in order) then `tail` bytes in the tail object.
 */
export interface StagedUpload {
  kind: 'parts';
  /** The blob the upload becomes: the multipart upload's key. */
  blobKey: string;
  /** The store's multipart upload, opened with the first part; null while every byte is in the tail. */
  multipartId: string | null;
  parts: StagedPart[];
  /** Bytes in the tail object, below the store's minimum part size: prepended to the next chunk. */
  tail: number;
}

/**
 * A Content-Range upload staged in the store ({@link RangeStage}): each range received is an object of its own,
 * listed here once it is recorded (an object a failed request left is in no list, and goes with the upload).
 */
export interface StagedRanges {
  kind: 'ranges';
  /** [start, end] inclusive of every range object recorded, in the order received. */
  objects: Array<[number, number]>;
}

/** An upload's bytes staged in the store, as its row keeps them. */
export type UploadStage = StagedUpload | StagedRanges;

/** What {@link AppendStage.write} made of one chunk: new parts sent, the rest (tail and new bytes) still in memory. */
export interface StageWrite {
  /** The parts before and the new ones; `tail` 0: the old tail's bytes are in `rest` or in a new part. */
  staged: StagedUpload;
  /** The bytes not in a part yet: the old tail followed by this chunk's last bytes. */
  rest: Buffer;
  /** New bytes taken from the chunk (hashed, in parts or in `rest`). */
  size: number;
  /** The chunk's source failed or overran (the client's fault): what came before it is in `staged` and `rest`. */
  error?: unknown;
}

/**
 * Staging of append-only resumable uploads (tus) in the store itself, for adapters whose nodes share no disk (S3):
 * a chunk is cut into parts uploaded as it streams; what is left below the minimum part size is the tail, an object
 * of its own, until the next chunk or the end. Nothing here is saved in the upload's row: the caller saves the
 * {@link StagedUpload} it is given back (then calls {@link dropTail} for the one before), so a chunk that fails
 * counts for nothing (its parts are overwritten by the next chunk's, which reuses their numbers).
 */
export interface AppendStage {
  /** The most bytes one upload staged here can hold (the store's part count times the part size). */
  readonly maxBytes: number;
  /** A new staging for an upload: its blob key chosen, its multipart upload opened, no bytes yet. */
  open(): Promise<StagedUpload>;
  /** Streams one chunk into parts (after the tail), calling `onBytes` with each new byte once; store errors throw. */
  write(uploadId: string, staged: StagedUpload, source: Readable, options: { allowed: number; onBytes: (chunk: Buffer) => void }): Promise<StageWrite>;
  /** Keeps a written chunk for the next one: `rest` as a part when it is large enough, else as a new tail object. */
  keep(uploadId: string, written: StageWrite): Promise<StagedUpload>;
  /** Removes the tail object of `before` once the upload's row names `after` instead (no-op when it is the same one). */
  dropTail(uploadId: string, before: StagedUpload, after?: StagedUpload): Promise<void>;
  /** The last chunk is in: `rest` is the last part, the blob is completed (its head read back), `before`'s tail removed. */
  commit(uploadId: string, before: StagedUpload, written: StageWrite, digest: Omit<BlobDigest, 'head'>): Promise<StoredBlob>;
  /** Drops everything staged for the upload (the multipart upload aborted, its tail objects removed). */
  discard(uploadId: string, staged: StagedUpload): Promise<void>;
}

/**
 * Staging of Content-Range uploads (chunks in any order) in the store, for adapters whose nodes share no disk: each
 * range is an object of its own; when every byte is in, they are read in order into the new blob, hashed on the way
 * (the one re-read of these uploads: their digests are not carried across chunks). The caller records the ranges.
 */
export interface RangeStage {
  /** Streams one chunk into the object of `[start, end]`, at most `end - start + 1` bytes; `onBytes` sees each. */
  put(uploadId: string, range: [number, number], source: Readable, onBytes: (chunk: Buffer) => void): Promise<{ size: number }>;
  /** Removes one range object (a chunk refused after it was stored). */
  remove(uploadId: string, range: [number, number]): Promise<void>;
  /** The ranges, read in order, become a new blob (digests, head); `options` as for {@link BlobStore.receive}. */
  assemble(uploadId: string, ranges: Array<[number, number]>, options: ReceiveOptions): Promise<StoredBlob>;
  /** Removes every object staged for the upload. */
  discard(uploadId: string): Promise<void>;
}

/** The blob key scheme, whatever the adapter: `ab/cd/<uuid>`, ours, never derived from user input. */
export const BLOB_KEY = /^[0-9a-f]{2}\/[0-9a-f]{2}\/[0-9a-f-]{36}$/;

/** A blob that is not there: every adapter says so with this code (as the filesystem's ENOENT). */
export function blobMissing(blobKey: string, cause?: unknown): NodeJS.ErrnoException {
  return Object.assign(new Error(`blob ${blobKey} is missing`, { cause }), { code: 'ENOENT' });
}

/**
 * The storage port: what the rest of MServe needs from the place that keeps the bytes of files and job outputs.
 * Two adapters implement it: the filesystem store ({@link ContentStore}, the default, `STORAGE_DIR`) and the
 * S3-compatible store (`STORAGE=s3`, {@link S3BlobStore}). Nothing outside the adapters knows where a blob lives;
 * a tool that must open a path (ffmpeg, ffprobe, sharp on a lone job, backups) asks for {@link withLocalFile}.
 *
 * Some of it is local in every adapter, on the node's own disk under `STORAGE_DIR`: the scratch folder of task
 * outputs ({@link newTempPath}) and the part files of resumable uploads ({@link partPath}); both reach the store
 * through {@link commitFile} / {@link commitTemp}. A part file serves one node only: an adapter whose nodes share no
 * disk offers {@link appendStage} and {@link rangeStage}, where tus uploads (append-only: parts and a tail) and
 * Content-Range uploads (chunks in any order: an object per range) are staged in the store, so any node takes the
 * next chunk.
 *
 * Errors: a missing blob is an error with code `ENOENT` ({@link blobMissing}); a full store a 507 problem; a store
 * that cannot be reached a 503 problem with Retry-After (`dependency: 'storage'`).
 */
export abstract class BlobStore {
  /** Which adapter: for logs, readiness and the few places that differ (documented where they do). */
  abstract readonly kind: 'filesystem' | 's3';

  /** Makes the local folders, removes leftovers of interrupted writes (and, where asked, the bucket). */
  abstract init(): Promise<{ removedTempFiles: number }>;

  /** Streams `source` into a new blob, hashing (md5, sha256, size, head) on the way. On any failure nothing is left behind. */
  abstract receive(source: Readable, options: ReceiveOptions): Promise<StoredBlob>;

  /** Stores bytes a task made in memory (a thumbnail). */
  storeBuffer(bytes: Buffer): Promise<StoredBlob> {
    return this.receive(Readable.from([bytes]), { maxBytes: Number.MAX_SAFE_INTEGER });
  }

  /**
   * Adopts a local file whose digest is known (an assembled resumable upload): it becomes a new blob and is gone from
   * the local disk afterwards. On failure the local file stays (its owner removes it). `synced`: the writer fsynced it.
   */
  abstract commitTemp(localPath: string, digest: BlobDigest, synced?: boolean): Promise<StoredBlob>;

  /** Adopts a file a task wrote into {@link newTempPath} (an ffmpeg output): hashed in one read, then committed; gone afterwards either way. */
  abstract commitFile(localPath: string): Promise<StoredBlob>;

  /** A second, independent blob with the same bytes (a reflink or copy on disk, a server-side copy in S3). */
  abstract duplicate(blobKey: string, digest: { size: number; md5: string; sha256: string }): Promise<StoredBlob>;

  /**
   * The blob's bytes (or an inclusive range of them) as a stream; a missing blob errors the stream (ENOENT). `size`,
   * when known, sizes the read buffer of a whole read.
   */
  abstract read(blobKey: string, range?: { start: number; end: number }, size?: number): Readable;

  /** The whole blob in memory: only for small ones (a batch's shared input). */
  abstract readAll(blobKey: string): Promise<Buffer>;

  /** md5, sha256, size and head of what is stored now, in one read (fixity): ENOENT when the blob is gone. */
  abstract digest(blobKey: string): Promise<BlobDigest>;

  abstract size(blobKey: string): Promise<number>;

  /** Removes a blob; one already gone is no error. */
  abstract remove(blobKey: string): Promise<void>;

  /** The readiness check: a cheap round trip to the store. */
  abstract probe(): Promise<void>;

  /**
   * Runs `fn` on a local file with the blob's bytes, for tools that need a path. The filesystem adapter passes its
   * own file (no copy: `fn` must not change it); the S3 adapter downloads a copy into its bounded temp folder and
   * removes it when `fn` settles, also when it throws.
   */
  abstract withLocalFile<T>(blobKey: string, fn: (path: string) => Promise<T>): Promise<T>;

  /** A fresh path in the node's local scratch folder (task outputs, before {@link commitFile}). */
  abstract newTempPath(): string;

  /** The growing local file of a resumable upload (tus or Content-Range), by upload id: staged on the node's disk. */
  abstract partPath(uploadId: string): string;

  /** Staging of tus uploads in the store, shared by every node; undefined where the part file serves (one disk). */
  readonly appendStage?: AppendStage;

  /** Staging of Content-Range uploads in the store, shared by every node; undefined where the part file serves. */
  readonly rangeStage?: RangeStage;

  /**
   * The server's own paths and what a message shown to a customer calls them ("the file", "the storage"): tool
   * messages are cleaned of them. `blobKey`: the job's input.
   */
  abstract serverPaths(blobKey?: string): Array<[string, string]>;

  /** Where the content is, for the start-up log: a folder, or a bucket at an endpoint. */
  abstract describe(): string;

  /**
   * A URL that lets whoever holds it GET the blob straight from the store for a short while (S3_PRESIGNED_TTL_SECONDS),
   * answered with `answer`'s headers; undefined where the adapter cannot (the filesystem) or is not set up to
   * (S3_PRESIGNED_DOWNLOAD_MIN_BYTES unset). Who gets one is the caller's decision.
   */
  presignedRead(_blobKey: string, _answer: { contentType: string; contentDisposition: string }): Promise<string | undefined> {
    return Promise.resolve(undefined);
  }

  /** Releases what the adapter holds open (the S3 client's connections); nothing for the filesystem. */
  close(): void {}
}

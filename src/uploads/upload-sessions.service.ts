import { Inject, Injectable, Logger, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { createHash, Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { FileHandle, open, unlink } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { DataSource } from 'typeorm';
import { isUniqueViolation } from '../common/database-errors';
import { ProblemError, Problems } from '../common/problem';
import { normalizeName, unsafeNameReason } from '../common/validation';
import { APP_CONFIG, AppConfig } from '../config/config';
import { UnitOfWork } from '../database/unit-of-work';
import { uuidv7 } from '../database/uuid';
import { RequestAuth } from '../keys/authorize.decorator';
import { MfilesService } from '../mfiles/mfiles.service';
import { MfolderRepository } from '../mfolders/mfolder.repository';
import { MfoldersService } from '../mfolders/mfolders.service';
import { PipelinesService } from '../pipelines/pipelines.service';
import { NewServiceEvent, ServiceEvents } from '../pipelines/service-events';
import { AppendStage, BlobStore, RangeStage, StagedRanges, StagedUpload, StageWrite, StoredBlob, UploadStage } from '../storage/blob-store';
import { translateStorageError, WRITEBACK_EVERY_BYTES } from '../storage/content-store';
import { MimeDetector } from '../storage/mime-detector';
import { ByteRange, classifyRange, mergeRange, missingRanges } from './byte-ranges';
import { ExpectedDigests, verifyDigests } from '../storage/digest-headers';
import { ResumableDigest } from './resumable-digest';
import { QuotaService } from '../usage/quota.service';
import { UploadLock } from './upload-lock';
import { UploadProtocol, UploadSession } from './upload-session.entity';
import { UploadSessionRepository } from './upload-session.repository';

/** A digest the client sent for one chunk (tus Upload-Checksum, or Content-MD5 / Content-Digest of a request). */
export interface ChunkChecksum {
  algorithm: 'md5' | 'sha1' | 'sha256';
  /** base64 of the expected digest */
  expected: string;
  header: string;
  /** tus answers a mismatch with 460; the other headers with 400. */
  status: number;
}

export interface CreateUpload {
  protocol: UploadProtocol;
  name: string;
  length: number;
  folderId?: string;
  metadata?: Record<string, string>;
  declaredType?: string;
  /** Whole-file digests to verify when the last byte is in. */
  expected?: ExpectedDigests;
}

export interface UploadProgress {
  session: UploadSession;
  /** Set when this request completed the upload. */
  mfile?: { id: string; key: string; keyId: string; md5: string; sha256: string; ingestRunId: string | null };
  duplicate?: boolean;
}

const HEAD_BYTES = 4100;

/**
 * Resumable uploads, one store underneath both protocols. Bytes go into a part file at their offset; the contiguous
 * prefix is hashed as it arrives (hash state persisted per chunk); when the last byte is in, the part file is
 * fsynced, renamed into the blob store and becomes an Mfile through the same path as every other upload. On a
 * store whose nodes share no disk (S3) the bytes are staged in the store instead (AppendStage for tus, RangeStage
 * for Content-Range), so any api node takes the next chunk.
 */
@Injectable()
export class UploadSessionsService implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger('uploads');
  private janitor?: NodeJS.Timeout;

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly sessions: UploadSessionRepository,
    private readonly mfolderRepository: MfolderRepository,
    private readonly store: BlobStore,
    private readonly mfiles: MfilesService,
    private readonly folders: MfoldersService,
    private readonly mime: MimeDetector,
    private readonly lock: UploadLock,
    private readonly pipelines: PipelinesService,
    private readonly unitOfWork: UnitOfWork,
    private readonly quotas: QuotaService,
    private readonly serviceEvents: ServiceEvents,
  ) {}

  onModuleInit(): void {
    this.janitor = setInterval(() => void this.removeExpired().catch((error) => this.logger.warn(`upload janitor: ${String(error)}`)), 60_000);
    this.janitor.unref();
  }

  onModuleDestroy(): void {
    if (this.janitor) clearInterval(this.janitor);
  }

  private expiry(): Date {
    return new Date(Date.now() + this.config.uploadExpirySeconds * 1000);
  }

  /** Creates an upload after checking name, size and quota (declared length reserved against the quota). */
  async create(auth: RequestAuth, given: CreateUpload): Promise<UploadSession> {
    // names are kept in NFC (tus metadata and Content-Range names alike): "é" and "e" + U+0301 are one name
    const input = typeof given.name === 'string' ? { ...given, name: normalizeName(given.name) } : given;
    const reason = unsafeNameReason(input.name);
    if (reason) throw Problems.badRequest(`name ${reason}`, { errors: [`name ${reason}`] });
    if (!Number.isSafeInteger(input.length) || input.length < 0) throw Problems.badRequest('the upload length must be a non-negative integer');
    if (input.length > this.config.maxUploadBytes) {
      throw Problems.tooLarge(`the upload declares ${input.length} bytes; the limit is ${this.config.maxUploadBytes}`, { limit: this.config.maxUploadBytes });
    }
    const staging = input.protocol === 'tus' ? this.store.appendStage : undefined;
    if (staging && input.length > staging.maxBytes) {
      throw Problems.tooLarge(
        `the upload declares ${input.length} bytes; staged in the object storage, a tus upload holds at most ${staging.maxBytes} (10,000 parts): upload it over REST`,
        { limit: staging.maxBytes },
      );
    }
    const folder = await this.mfiles.targetFolder(auth, auth.target!, input.folderId);
    const session = await this.dataSource.transaction(async (manager) => {
      // the declared length counts against the disk quota from creation on (reserved until the upload ends), and
      // against the monthly ingest quota: uploads running at the same time cannot jointly overshoot either
      await this.quotas.enforce(manager, folder.serviceId, { disc: input.length, reservations: true, ingest: input.length }).catch((error: unknown) => {
        this.mfiles.announceRefusal(folder.serviceId, error, { operation: 'upload', name: input.name, size: input.length });
        throw error;
      });
      await this.folders.assertNameFree(manager, folder.id, input.name);
      const pending = await this.sessions.pendingNamed(folder.id, input.name, manager);
      if (pending)
        throw Problems.conflict(`an upload of "${input.name}" into this folder is already in progress`, { existing: { type: 'upload', id: pending } });
      return this.sessions.create(
        {
          id: uuidv7(),
          containerId: folder.containerId,
          serviceId: folder.serviceId,
          folderId: folder.id,
          name: input.name,
          protocol: input.protocol,
          length: input.length,
          offset: 0,
          received: [],
          md5State: null,
          sha256State: null,
          stage: null,
          metadata: {
            ...(input.metadata ? { tus: input.metadata } : {}),
            ...(input.declaredType ? { declaredType: input.declaredType } : {}),
            ...(input.expected?.md5 ? { expectedMd5: input.expected.md5 } : {}),
            ...(input.expected?.sha256 ? { expectedSha256: input.expected.sha256 } : {}),
          },
          createdByKeyId: auth.key.id,
          expiresAt: this.expiry(),
          completedAt: null,
          mfileId: null,
        },
        manager,
      );
    });
    if (this.stagedInStore(session)) return this.openStage(session);
    const handle = await open(this.store.partPath(session.id), 'wx');
    await handle.close();
    return session; // as inserted: not read back
  }

  /**
   * Whether a new upload's bytes are staged in the store (a store whose nodes share no disk) rather than in the
   * node's part file. An empty file has no bytes to stage (S3 completes no multipart upload without a part).
   */
  private stagedInStore(session: UploadSession): boolean {
    return session.protocol === 'tus' ? Boolean(this.store.appendStage) && session.length > 0 : Boolean(this.store.rangeStage);
  }

  /** Opens the store's staging of a new upload and records it in the row (the upload is dropped if that fails). */
  private async openStage(session: UploadSession): Promise<UploadSession> {
    let opened: StagedUpload | undefined;
    try {
      opened = session.protocol === 'tus' ? await this.requireStage().open() : undefined;
      const stage: UploadStage = opened ?? { kind: 'ranges', objects: [] };
      await this.sessions.setStage(session.id, stage);
      return Object.assign(new UploadSession(), session, { stage });
    } catch (error) {
      await this.sessions.delete(session.id);
      // a multipart upload opened for a row that could not name it would be no one's to abort
      if (opened)
        await this.requireStage()
          .discard(session.id, opened)
          .catch(() => undefined);
      throw error;
    }
  }

  /** An upload of this service, or 404 (also once it has expired). */
  async find(serviceId: string, id: string): Promise<UploadSession> {
    const session = /^[0-9a-f-]{36}$/i.test(id) ? await this.sessions.findInService(id, serviceId) : null;
    if (!session || (session.completedAt === null && session.expiresAt.getTime() <= Date.now())) throw Problems.notFound('upload', id);
    return session;
  }

  /**
   * tus PATCH: appends at `offset`, which must be the current one. Without a chunk checksum, bytes that arrived
   * before the connection broke are kept (fsynced, hashed, offset moved), so the client resumes from there; with
   * one, a chunk counts only whole and verified (460 otherwise, the offset does not move).
   */
  async append(auth: RequestAuth, session: UploadSession, source: Readable, offset: number, checksums: ChunkChecksum[]): Promise<UploadProgress> {
    return this.lock.withLock(session.id, async () => {
      const current = await this.find(session.serviceId, session.id);
      if (current.completedAt) throw Problems.conflict('the upload is already complete', { mfileId: current.mfileId });
      if (offset !== current.offset)
        throw new ProblemError(409, 'offset-mismatch', 'Conflict', `Upload-Offset ${offset} does not match the upload's offset ${current.offset}`, {
          offset: current.offset,
        });
      if (current.stage?.kind === 'parts') return this.appendStaged(auth, current, current.stage, source, checksums);
      const digest = await this.digestOf(current);
      const handle = await open(this.store.partPath(current.id), 'r+');
      let written = 0;
      try {
        await handle.truncate(current.offset);
        const outcome = await this.writeStream(
          handle,
          source,
          current.offset,
          current.length - current.offset,
          checksums,
          (chunk) => digest.update(chunk),
          (n) => (written = n),
        );
        if (outcome.error) {
          if (checksums.length === 0 && written > 0) {
            await handle.datasync();
            await this.saveProgress(current, current.offset + written, digest);
          } else await handle.truncate(current.offset);
          throw outcome.error;
        }
        const mismatch = this.checksumMismatch(checksums, outcome.chunkDigests);
        if (mismatch) {
          await handle.truncate(current.offset);
          throw mismatch;
        }
        await handle.datasync();
      } finally {
        await handle.close();
      }
      const reached = current.offset + written;
      // the last bytes: straight to the commit, which records the upload completed (or discards it); its progress is
      // not saved first (a completion that fails before its commit leaves the saved offset, and the client sends the
      // last chunk again: the part file is cut back to that offset)
      if (reached === current.length)
        return this.complete(auth, Object.assign(new UploadSession(), current, { offset: reached }), digest, this.partFile(current));
      return { session: await this.saveProgress(current, reached, digest) };
    });
  }

  /**
   * tus PATCH of an upload staged in the store (see AppendStage): the same rules as the part file's. The row is
   * saved only after the chunk's parts and tail are in the store, so a chunk that fails anywhere counts for nothing
   * (without a chunk checksum, the bytes that came before the client's connection broke are kept, as on disk).
   */
  private async appendStaged(
    auth: RequestAuth,
    current: UploadSession,
    before: StagedUpload,
    source: Readable,
    checksums: ChunkChecksum[],
  ): Promise<UploadProgress> {
    const stage = this.requireStage();
    const digest = await this.digestOf(current);
    const chunkDigests = chunkHashers(checksums);
    const written = await stage.write(current.id, before, source, {
      allowed: current.length - current.offset,
      onBytes: (chunk) => {
        digest.update(chunk);
        for (const hash of chunkDigests.values()) hash.update(chunk);
      },
    });
    const reached = current.offset + written.size;
    if (written.error) {
      if (checksums.length === 0 && written.size > 0) await this.keepStaged(current, before, written, reached, digest);
      throw written.error;
    }
    const mismatch = this.checksumMismatch(checksums, chunkDigests);
    if (mismatch) throw mismatch;
    if (reached === current.length) {
      const bytes: CommittableBytes = {
        commit: (final) => stage.commit(current.id, before, written, { size: current.length, ...final }),
        discard: () => stage.discard(current.id, before),
      };
      return this.complete(auth, Object.assign(new UploadSession(), current, { offset: reached }), digest, bytes);
    }
    return { session: await this.keepStaged(current, before, written, reached, digest) };
  }

  /** Keeps a staged chunk (its rest as a part or the new tail), records it, then drops the tail the row named before. */
  private async keepStaged(
    current: UploadSession,
    before: StagedUpload,
    written: StageWrite,
    reached: number,
    digest: ResumableDigest,
  ): Promise<UploadSession> {
    const stage = this.requireStage();
    const kept = await stage.keep(current.id, written);
    const saved = await this.saveProgress(current, reached, digest, undefined, kept);
    // a tail left by a failure here is named by no row: removed with the upload's prefix when it ends
    await stage.dropTail(current.id, before, kept).catch((error) => this.logger.warn(`upload ${current.id}: could not remove its old tail: ${String(error)}`));
    return saved;
  }

  /**
   * Content-Range PUT: writes `[start, end]` wherever it falls. In-order bytes are hashed as they stream; a chunk that
   * arrived ahead of a gap is hashed when the gap is filled (read back once from the part file, the only re-read).
   * The same chunk twice is accepted and ignored; a partial overlap is a 409.
   */
  async writeRange(
    auth: RequestAuth,
    session: UploadSession,
    source: Readable,
    range: { start: number; end: number; total: number },
    checksums: ChunkChecksum[],
  ): Promise<UploadProgress> {
    return this.lock.withLock(session.id, async () => {
      const current = await this.find(session.serviceId, session.id);
      if (range.total !== current.length) throw Problems.badRequest(`Content-Range total ${range.total} disagrees with the upload's length ${current.length}`);
      if (range.end >= current.length || range.start > range.end)
        throw new ProblemError(416, 'range-out-of-bounds', 'Range Not Satisfiable', `bytes ${range.start}-${range.end} are outside 0-${current.length - 1}`);
      if (current.completedAt) throw Problems.conflict('the upload is already complete', { mfileId: current.mfileId });
      const kind = classifyRange(current.received, [range.start, range.end]);
      if (kind === 'inside') {
        source.resume();
        await new Promise((resolve) => (source.readableEnded ? resolve(undefined) : source.once('end', resolve).once('error', resolve)));
        // every byte is in but the assembly failed (the store, a crash): this retry completes it
        if (current.stage?.kind === 'ranges' && current.offset === current.length) return this.completeRanges(auth, current, current.stage);
        return { session: current, duplicate: true };
      }
      if (kind === 'overlap') throw Problems.conflict(`bytes ${range.start}-${range.end} overlap ranges already received`, { received: current.received });
      if (current.stage?.kind === 'ranges') return this.writeRangeStaged(auth, current, current.stage, source, range, checksums);
      const inOrder = range.start === current.offset;
      const digest = await this.digestOf(current);
      const size = range.end - range.start + 1;
      const handle = await open(this.store.partPath(current.id), 'r+');
      try {
        const outcome = await this.writeStream(
          handle,
          source,
          range.start,
          size,
          checksums,
          inOrder ? (chunk) => digest.update(chunk) : undefined,
          () => undefined,
        );
        if (outcome.error) throw outcome.error;
        if (outcome.size !== size)
          throw Problems.badRequest(`the body has ${outcome.size} bytes but Content-Range announces ${size}: the chunk was not recorded`);
        const mismatch = this.checksumMismatch(checksums, outcome.chunkDigests);
        if (mismatch) throw mismatch;
        await handle.datasync();
      } finally {
        await handle.close();
      }
      const received = mergeRange(current.received, [range.start, range.end]);
      let offset = inOrder ? range.end + 1 : current.offset;
      // Hash chunks that were waiting for this gap to fill.
      for (const [start, end] of received) {
        if (start > offset || end < offset) continue;
        for await (const chunk of createReadStream(this.store.partPath(current.id), { start: offset, end, highWaterMark: 1024 * 1024 }))
          digest.update(chunk as Buffer);
        offset = end + 1;
      }
      const updated = await this.saveProgress(current, offset, digest, received);
      if (updated.offset === updated.length) return this.complete(auth, updated, digest, this.partFile(current));
      return { session: updated };
    });
  }

  /**
   * Content-Range PUT of an upload staged in the store (see RangeStage): the chunk becomes an object of its own,
   * recorded in the row once whole and verified (else removed). The digests are computed when the ranges are
   * assembled, in order, at the end: nothing is hashed per chunk.
   */
  private async writeRangeStaged(
    auth: RequestAuth,
    current: UploadSession,
    staged: StagedRanges,
    source: Readable,
    range: { start: number; end: number },
    checksums: ChunkChecksum[],
  ): Promise<UploadProgress> {
    const stage = this.requireRangeStage();
    const chunk: ByteRange = [range.start, range.end];
    const chunkDigests = chunkHashers(checksums);
    const { size } = await stage.put(current.id, chunk, source, (bytes) => {
      for (const hash of chunkDigests.values()) hash.update(bytes);
    });
    const refusal =
      size !== range.end - range.start + 1
        ? Problems.badRequest(`the body has ${size} bytes but Content-Range announces ${range.end - range.start + 1}: the chunk was not recorded`)
        : this.checksumMismatch(checksums, chunkDigests);
    if (refusal) {
      await stage.remove(current.id, chunk);
      throw refusal;
    }
    const received = mergeRange(current.received, chunk);
    const offset = received[0][0] === 0 ? received[0][1] + 1 : 0;
    const recorded: StagedRanges = { kind: 'ranges', objects: [...staged.objects, chunk] };
    const progress = { offset, md5State: null, sha256State: null, expiresAt: this.expiry(), received, stage: recorded };
    if (!(await this.sessions.saveProgress(current.id, progress))) throw Problems.notFound('upload', current.id);
    const updated = Object.assign(new UploadSession(), current, progress);
    if (offset < current.length) return { session: updated };
    return this.completeRanges(auth, updated, recorded);
  }

  /**
   * The last range is in: the range objects read in order into the new blob, then the Mfile. A store that fails here
   * leaves every range recorded: the client's retry of any chunk (a duplicate) comes back here.
   */
  private async completeRanges(auth: RequestAuth, updated: UploadSession, recorded: StagedRanges): Promise<UploadProgress> {
    const stage = this.requireRangeStage();
    const current = updated;
    let refused: unknown;
    try {
      const blob = await stage.assemble(current.id, recorded.objects, {
        maxBytes: current.length,
        expectedSize: current.length,
        verify: (digest) => {
          try {
            verifyDigests({ md5: current.metadata.expectedMd5, sha256: current.metadata.expectedSha256 }, digest);
          } catch (error) {
            refused = error;
            throw error;
          }
        },
      });
      await stage.discard(current.id).catch((error) => this.logger.warn(`upload ${current.id}: could not remove its range objects: ${String(error)}`));
      return await this.createMfile(auth, updated, blob);
    } catch (error) {
      // declared digests that do not match end the upload, as on disk; a store that failed leaves it to be retried
      if (error === refused) {
        await this.sessions.delete(current.id);
        await stage.discard(current.id).catch(() => undefined);
      }
      throw error;
    }
  }

  missing(session: UploadSession): ByteRange[] {
    return missingRanges(session.protocol === 'tus' ? (session.offset ? [[0, session.offset - 1]] : []) : session.received, session.length);
  }

  /** Termination: the upload and its bytes are gone. */
  async terminate(session: UploadSession): Promise<void> {
    await this.lock.withLock(session.id, async () => {
      const current = await this.find(session.serviceId, session.id);
      // staged bytes first: a store that cannot be reached is a 503 and the upload stays, for the client to retry
      await this.dropBytes(current);
      await this.sessions.delete(session.id);
      ResumableDigest.forget(session.id);
    });
  }

  /** The store's staging, for an upload staged there (a node configured with another store cannot continue it). */
  private requireStage(): AppendStage {
    return this.stageOf('appendStage');
  }

  private requireRangeStage(): RangeStage {
    return this.stageOf('rangeStage');
  }

  /** The store's stage of that kind, or 503: an upload staged in an object store this node is not set up to use. */
  private stageOf<K extends 'appendStage' | 'rangeStage'>(kind: K): NonNullable<BlobStore[K]> {
    const stage = this.store[kind];
    if (!stage) throw Problems.unavailable('this upload is staged in an object store this node does not use', { dependency: 'storage' });
    return stage as NonNullable<BlobStore[K]>;
  }

  /** Drops an upload's bytes, wherever they are staged. */
  private async dropBytes(session: UploadSession): Promise<void> {
    if (session.stage?.kind === 'parts') await this.requireStage().discard(session.id, session.stage);
    else if (session.stage?.kind === 'ranges') await this.requireRangeStage().discard(session.id);
    else await unlink(this.store.partPath(session.id)).catch(() => undefined);
  }

  /** Removes expired uploads and their bytes (sliding expiry: every chunk extends it). */
  async removeExpired(now = new Date()): Promise<number> {
    const expired = await this.sessions.expired(now, 500);
    const abandoned: NewServiceEvent[] = [];
    for (const session of expired) {
      if (session.completedAt) {
        await this.sessions.delete(session.id);
        ResumableDigest.forget(session.id);
        continue;
      }
      // an upload that completed since it was listed is not abandoned: it keeps its part (now its blob) and its row
      const removed = await this.sessions.deleteUnfinished(session.id);
      if (!removed) continue;
      ResumableDigest.forget(session.id);
      await this.dropBytes(session).catch((error) => this.logger.warn(`expired upload ${session.id}: could not remove its staged bytes: ${String(error)}`));
      // told once, by the process whose delete removed it
      abandoned.push({
        type: 'upload.expired',
        serviceId: session.serviceId,
        data: { upload: { id: session.id, protocol: session.protocol, name: session.name, size: session.length, received: session.offset } },
      });
    }
    this.serviceEvents.emit(...abandoned);
    if (expired.length) this.logger.log(`removed ${expired.length} expired upload(s)`);
    return expired.length;
  }

  private async writeStream(
    handle: FileHandle,
    source: Readable,
    position: number,
    allowed: number,
    checksums: ChunkChecksum[],
    onBytes: ((chunk: Buffer) => void) | undefined,
    onWritten: (total: number) => void,
  ): Promise<{ size: number; error?: unknown; chunkDigests: Map<string, Hash> }> {
    const chunkDigests = chunkHashers(checksums);
    // Chunks are gathered into batches of WRITE_BATCH_BYTES and written with one writev each; while one batch is
    // being written, the previous one is hashed, so the disk and the hashing overlap. A batch counts (is hashed and
    // reported as written) only once it is on disk, so the digest state always matches the bytes kept.
    let size = 0;
    let queued = 0;
    let batch: Buffer[] = [];
    let batchBytes = 0;
    let inFlight: { write: Promise<void>; chunks: Buffer[]; bytes: number } | undefined;
    // overlap the disk's write-back with the transfer, as ContentStore's Writeback does (same handle: awaited below)
    let sinceSync = 0;
    let writeback: Promise<void> | undefined;
    let writebackError: unknown;
    const account = (chunks: Buffer[], bytes: number) => {
      for (const chunk of chunks) {
        onBytes?.(chunk);
        for (const hash of chunkDigests.values()) hash.update(chunk);
      }
      size += bytes;
      onWritten(size);
      sinceSync += bytes;
      if (sinceSync >= WRITEBACK_EVERY_BYTES && !writeback) {
        sinceSync = 0;
        writeback = handle
          .datasync()
          .catch((error: unknown) => void (writebackError = error))
          .finally(() => (writeback = undefined));
      }
    };
    /** Waits for the batch on its way to disk, starts writing the next one, then hashes the finished one. */
    const rotate = async (next?: Buffer[], nextBytes = 0) => {
      const done = inFlight;
      inFlight = undefined;
      if (done) await done.write;
      if (next?.length) {
        inFlight = { write: writeFully(handle, next, position + queued), chunks: next, bytes: nextBytes };
        queued += nextBytes;
      }
      if (done) account(done.chunks, done.bytes);
    };
    try {
      for await (const chunk of source as AsyncIterable<Buffer>) {
        if (queued + batchBytes + chunk.length > allowed) {
          throw Problems.tooLarge(`the request carries more bytes than the upload has left (${allowed}): nothing past the declared length is stored`);
        }
        batch.push(chunk);
        batchBytes += chunk.length;
        if (batchBytes >= WRITE_BATCH_BYTES) {
          const full = batch;
          const fullBytes = batchBytes;
          batch = [];
          batchBytes = 0;
          await rotate(full, fullBytes);
        }
      }
      await rotate(batch, batchBytes);
      await rotate();
      await writeback;
      if (writebackError) throw writebackError;
      return { size, chunkDigests };
    } catch (error) {
      // a batch that reached the disk before the failure still counts (tus keeps it for the resume)
      if (inFlight) await rotate().catch(() => undefined);
      await writeback;
      source.resume();
      return { size, error: translateStorageError(error), chunkDigests };
    }
  }

  private checksumMismatch(checksums: ChunkChecksum[], digests: Map<string, Hash>): ProblemError | undefined {
    for (const checksum of checksums) {
      const actual = digests.get(checksum.algorithm)!.digest('base64');
      if (actual !== checksum.expected) {
        return new ProblemError(
          checksum.status,
          'checksum-mismatch',
          'Checksum Mismatch',
          `the ${checksum.header} (${checksum.algorithm}) does not match this chunk: it was not stored`,
          {
            digest: checksum.header,
            algorithm: checksum.algorithm,
            expected: checksum.expected,
            actual,
          },
        );
      }
    }
    return undefined;
  }

  /** The digest of the upload's first `offset` bytes, to continue (see ResumableDigest: native in this process when it can be). */
  private digestOf(session: UploadSession): Promise<ResumableDigest> {
    return ResumableDigest.resume({
      id: session.id,
      offset: session.offset,
      state: { md5: session.md5State, sha256: session.sha256State },
      partPath: session.stage ? null : this.store.partPath(session.id),
    });
  }

  private async saveProgress(
    session: UploadSession,
    offset: number,
    digest: ResumableDigest,
    received?: ByteRange[],
    stage?: StagedUpload,
  ): Promise<UploadSession> {
    const state = digest.save(offset);
    const progress = {
      offset,
      md5State: state.md5,
      sha256State: state.sha256,
      expiresAt: this.expiry(),
      ...(received ? { received } : {}),
      ...(stage ? { stage } : {}),
    };
    // under the upload's lock nothing else writes it: the row is what was read plus this, not read back. The write
    // is also conditional on the offset read: a lock lost meanwhile (it lives in Redis; a failover can drop it) must
    // not let a second writer's progress be overwritten by this one's
    if (!(await this.sessions.saveProgress(session.id, progress, undefined, session.offset))) {
      if (await this.sessions.findInService(session.id, session.serviceId))
        throw Problems.conflict('the upload moved on meanwhile (another request wrote it): ask for its offset again');
      throw Problems.notFound('upload', session.id);
    }
    return Object.assign(new UploadSession(), session, progress);
  }

  /** The bytes of an upload in its part file: committed with their head read from it. */
  private partFile(session: UploadSession): CommittableBytes {
    const partPath = this.store.partPath(session.id);
    return {
      commit: async (final) => {
        const head = Buffer.alloc(Math.min(HEAD_BYTES, session.length));
        if (head.length) {
          const handle = await open(partPath, 'r');
          await handle.read(head, 0, head.length, 0).finally(() => handle.close());
        }
        return this.store.commitTemp(partPath, { size: session.length, ...final, head });
      },
      discard: () => unlink(partPath).catch(() => undefined),
    };
  }

  /** The last byte is in: verify, commit the bytes atomically, and create the Mfile (ingest usage, owner key). */
  private async complete(auth: RequestAuth, session: UploadSession, digest: ResumableDigest, bytes: CommittableBytes): Promise<UploadProgress> {
    const final = digest.finish();
    try {
      verifyDigests({ md5: session.metadata.expectedMd5, sha256: session.metadata.expectedSha256 }, final);
    } catch (error) {
      await this.sessions.delete(session.id);
      await bytes.discard().catch((cause) => this.logger.warn(`upload ${session.id}: could not remove its bytes: ${String(cause)}`));
      throw error;
    }
    return this.createMfile(auth, session, await bytes.commit(final));
  }

  /** The upload's verified bytes are a blob: the Mfile is created with them (or the blob removed, the upload dropped). */
  private async createMfile(auth: RequestAuth, session: UploadSession, blob: StoredBlob): Promise<UploadProgress> {
    const mimetype = await this.mime.detect(blob.head, session.name);
    const completedAt = new Date();
    try {
      const mfile = await this.unitOfWork.run(async (work) => {
        const { manager } = work;
        const folder = await this.mfolderRepository.reload(session.folderId, manager);
        const outbox = this.pipelines.outboxFor(work);
        const created = await this.mfiles.createFromBlob(work, {
          folder,
          name: session.name,
          blob,
          mimetype,
          createdBy: auth.key,
          ingest: outbox,
        });
        await this.sessions.markCompleted(session.id, created.id, completedAt, session.length, manager);
        // told with the file's creation and its jobs, after commit
        outbox.tell({
          type: 'upload.completed',
          serviceId: session.serviceId,
          data: { upload: { id: session.id, protocol: session.protocol, name: session.name, size: session.length }, mfileId: created.id },
        });
        return created;
      });
      return {
        session: Object.assign(new UploadSession(), session, { completedAt, mfileId: mfile.id, md5State: null, sha256State: null }),
        mfile: { id: mfile.id, key: mfile.key, keyId: mfile.keyId, md5: mfile.md5, sha256: mfile.sha256, ingestRunId: mfile.ingest?.runId ?? null },
      };
    } catch (error) {
      await this.store.remove(blob.blobKey);
      await this.sessions.delete(session.id);
      if (isUniqueViolation(error)) throw Problems.conflict(`a file named "${session.name}" appeared in the folder while uploading: the upload was discarded`);
      throw error;
    }
  }
}

/** An upload's bytes, all in: what becomes the blob (once verified), or is dropped. */
interface CommittableBytes {
  commit(final: { md5: string; sha256: string }): Promise<StoredBlob>;
  discard(): Promise<void>;
}

/** Bytes gathered before one write to the part file. */
const WRITE_BATCH_BYTES = 1024 * 1024;

/** Writes all of `chunks` at `position` (writev, continuing after a short write). */
async function writeFully(handle: FileHandle, chunks: Buffer[], position: number): Promise<void> {
  const { bytesWritten } = await handle.writev(chunks, position);
  const total = chunks.reduce((sum, chunk) => sum + chunk.length, 0);
  if (bytesWritten === total) return;
  const rest = Buffer.concat(chunks).subarray(bytesWritten);
  let done = 0;
  while (done < rest.length) done += (await handle.write(rest, done, rest.length - done, position + bytesWritten + done)).bytesWritten;
}

/** One hasher per algorithm a chunk's declared checksums name, fed the chunk's bytes and compared by checksumMismatch. */
function chunkHashers(checksums: ChunkChecksum[]): Map<string, Hash> {
  return new Map(checksums.map((checksum) => [checksum.algorithm, createHash(checksum.algorithm)]));
}

import { Inject, Injectable, Logger } from '@nestjs/common';
import { cteItems } from '../database/cte';
import { InjectDataSource } from '@nestjs/typeorm';
import type { IncomingMessage } from 'node:http';
import { DataSource, EntityManager } from 'typeorm';
import { isUniqueViolation } from '../common/database-errors';
import { decodeCursor, Page, toPage } from '../common/pagination';
import { ProblemError, Problems } from '../common/problem';
import { APP_CONFIG, AppConfig } from '../config/config';
import { UnitOfWork, Work } from '../database/unit-of-work';
import { uuidv7 } from '../database/uuid';
import { RequestAuth } from '../keys/authorize.decorator';
import { covers, KeysService } from '../keys/keys.service';
import { ResolvedResource, ResourceResolver } from '../keys/resource-resolver.service';
import { JsonObject } from '../database/columns';
import { Key } from '../keys/key.entity';
import { Mfolder } from '../mfolders/mfolder.entity';
import { MfolderRepository } from '../mfolders/mfolder.repository';
import { MfoldersService } from '../mfolders/mfolders.service';
import { ServiceRepository } from '../services/service.repository';
import { BackupStore, SMALL_COPY_BYTES } from '../storage/backup-store';
import { BlobJanitor } from '../storage/blob-janitor';
import { BlobStore, StoredBlob } from '../storage/blob-store';
import { MimeDetector } from '../storage/mime-detector';
import { JobOutbox } from '../pipelines/job-outbox';
import type { DownloadClient } from '../pipelines/access-sessions';
import { PipelinesService } from '../pipelines/pipelines.service';
import { NewServiceEvent, ServiceEvents } from '../pipelines/service-events';
import { mfileEventData } from '../webhooks/service-event';
import type { BackupFact } from '../pipelines/profile';
import { openUpload, UploadSource } from '../storage/upload-source';
import { QuotaService } from '../usage/quota.service';
import { UsageService } from '../usage/usage.service';
import { ContentRequest, ContentSink, redirectContent, sendContent } from './download';
import { contentDisposition, isActiveContent } from './content-headers';
import { ListMfilesQuery, UpdateMfileDto } from './dto';
import { Mfile } from './mfile.entity';
import { PublicMfile, presentMfile } from './mfile.presenter';
import { MfileRepository } from './mfile.repository';

/** The folder a new Mfile goes into: all a commit needs of it (a service's root is known from the request's key). */
export type FolderPlace = Pick<Mfolder, 'id' | 'serviceId' | 'containerId'>;

/** The ingest run an upload started: its id and its jobs as created (facts already `succeeded`). */
export interface IngestRun {
  runId: string;
  jobs: Array<{ id: string; step: string | null; task: string; state: string; queue: string }>;
}

/** A new Mfile as its creator is answered: the file, its owner key (shown once) and the ingest run it started. */
export type CreatedMfile = PublicMfile & { key: string; keyId: string; ingest: IngestRun | null };

/** What a new Mfile is made from (`createFromBlob`). */
export interface NewMfileInput {
  folder: FolderPlace;
  name: string;
  blob: StoredBlob;
  mimetype: string;
  /** The key that asked (its id is kept on the owner key); null for a file a task of the service's profile made. */
  createdBy: Pick<Key, 'id'> | null;
  /** New content from outside: its ingest pipeline's runnable jobs go to this outbox. Null for a promoted job output. */
  ingest: JobOutbox | null;
  /** False for a copy: no byte came from outside. */
  meterIngest?: boolean;
  metadata?: JsonObject;
  /** Its id, when its creator named it before (a task's result says which file it made); a new one otherwise. */
  id?: string;
  /** The job whose task fetched the bytes (fetch-url without input): `mfile.created` names it (`via: {task, jobId}`). */
  byJob?: { task: string; jobId: string };
}

/** Who a download is for, as the access trigger's sessions tell clients apart: its key and its address. */
function clientOf(request: ContentRequest): DownloadClient {
  type Keyed = { auth?: { key?: { id?: string } } };
  const http = request as ContentRequest & Keyed & { dav?: Keyed; ip?: string; socket?: { remoteAddress?: string } };
  return { keyId: http.auth?.key?.id ?? http.dav?.auth?.key?.id, address: http.ip ?? http.socket?.remoteAddress };
}

const meteredIngest = (input: NewMfileInput) => input.ingest !== null && input.meterIngest !== false;

@Injectable()
export class MfilesService {
  private readonly logger = new Logger('mfiles');

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly mfileRepository: MfileRepository,
    private readonly mfolderRepository: MfolderRepository,
    private readonly serviceRepository: ServiceRepository,
    private readonly store: BlobStore,
    private readonly backups: BackupStore,
    private readonly mime: MimeDetector,
    private readonly keys: KeysService,
    private readonly resolver: ResourceResolver,
    private readonly folders: MfoldersService,
    private readonly janitor: BlobJanitor,
    private readonly usage: UsageService,
    private readonly quotas: QuotaService,
    private readonly pipelines: PipelinesService,
    private readonly serviceEvents: ServiceEvents,
    private readonly unitOfWork: UnitOfWork,
  ) {}

  async get(id: string, manager?: EntityManager): Promise<Mfile> {
    const mfile = await this.mfileRepository.findById(id, manager);
    if (!mfile) throw Problems.notFound('mfile', id);
    return mfile;
  }

  /** The folder an upload lands in: the one asked for (inside the key's scope and the service) or the root. */
  async targetFolder(auth: RequestAuth, target: ResolvedResource, folderId: string | undefined): Promise<FolderPlace> {
    if (target.type === 'mfolder' && !folderId) return this.folders.get(target.id!);
    // the root folder read with the request's key (KeyGuard): no query of its own
    if (target.type === 'service' && !folderId && target.rootFolderId)
      return { id: target.rootFolderId, serviceId: target.serviceId!, containerId: target.containerId! };
    if (folderId) {
      const resolved = await this.resolver.resolve({ type: 'mfolder', id: folderId });
      if (!covers(auth.key, resolved) || resolved.serviceId !== target.serviceId) throw Problems.notFound('mfolder', folderId);
      return this.folders.get(folderId);
    }
    const root = await this.mfolderRepository.findServiceRoot(target.serviceId!);
    if (!root) throw Problems.notFound('service', target.serviceId!);
    return root;
  }

  /**
   * Simple upload: stream to a temp file with md5 and sha256 computed on the way, commit atomically, then create
   * the Mfile, its mfileowner key and the ingest usage in one transaction. Any failure leaves neither bytes nor row.
   */
  async upload(auth: RequestAuth, request: IncomingMessage, query: { name?: string; folderId?: string }) {
    const target = auth.target!;
    const folder = await this.targetFolder(auth, target, query.folderId);
    const source = await openUpload(request, { maxBytes: this.config.maxUploadBytes, nameOverride: query.name });
    return this.createFromSource(auth.key, folder, source);
  }

  /** A new Mfile from a stream of bytes (a REST or WebDAV upload): stored, verified, committed, then the row. */
  async createFromSource(createdBy: Key, folder: FolderPlace, source: UploadSource) {
    const blob = await this.store.receive(source.stream, { maxBytes: this.config.maxUploadBytes, expectedSize: source.expectedSize, verify: source.verify });
    try {
      const mimetype = await this.mime.detect(blob.head, source.name);
      const input = { folder, name: source.name, blob, mimetype, createdBy };
      // the common case (no disk or ingest quota) commits in its one statement; a service with quotas in a transaction
      const outbox = new JobOutbox();
      const created = await this.createAlone({ ...input, ingest: outbox });
      if (created) {
        await this.pipelines.dispatch(outbox);
        return created;
      }
      return await this.unitOfWork.run((work) => this.createFromBlob(work, { ...input, ingest: this.pipelines.outboxFor(work) }));
    } catch (error) {
      await this.store.remove(blob.blobKey);
      if (isUniqueViolation(error)) throw Problems.conflict(`a file named "${source.name}" already exists in this folder`);
      this.announceRefusal(folder.serviceId, error, { operation: 'upload', name: source.name, size: blob.size });
      throw error;
    }
  }

  /** A change a quota refused: told to the service's engines (`quota.exceeded`) as the caller gets its problem. */
  announceRefusal(serviceId: string, error: unknown, refused: Record<string, unknown>): void {
    if (error instanceof ProblemError && error.code === 'quota-exceeded')
      this.serviceEvents.emit({ type: 'quota.exceeded', serviceId, data: { quota: error.extra.quota ?? null, refused } });
  }

  /** An Mfile's event for the service's engines, once its change committed. */
  private announce(type: 'mfile.created' | 'mfile.replaced' | 'mfile.moved' | 'mfile.deleted', mfile: Mfile, extra: Record<string, unknown> = {}): void {
    this.serviceEvents.emit(this.fileEvent(type, mfile, extra));
  }

  private fileEvent(
    type: 'mfile.created' | 'mfile.replaced' | 'mfile.moved' | 'mfile.deleted',
    mfile: Mfile,
    extra: Record<string, unknown> = {},
  ): NewServiceEvent {
    return { type, serviceId: mfile.serviceId, data: { mfile: mfileEventData(mfile), ...extra } };
  }

  /**
   * A copy of an Mfile (WebDAV COPY): its bytes duplicated (a reflink where the file system can), a new row with
   * its own key, disc usage and the ingest pipeline — but no ingest usage, since no byte came from outside.
   */
  async copy(createdBy: Key, source: Mfile, folder: Mfolder, name: string) {
    const blob = await this.store.duplicate(source.blobKey, source);
    try {
      // detected again under the new name (as a mime task would), so that the copy's type is a fact like an upload's
      const mimetype = await this.mime.detect(blob.head, name);
      return await this.unitOfWork.run((work) =>
        this.createFromBlob(work, {
          folder,
          name,
          blob,
          mimetype,
          createdBy,
          ingest: this.pipelines.outboxFor(work),
          meterIngest: false,
          metadata: {},
        }),
      );
    } catch (error) {
      await this.store.remove(blob.blobKey);
      if (isUniqueViolation(error)) throw Problems.conflict(`a file named "${name}" already exists in this folder`);
      this.announceRefusal(folder.serviceId, error, { operation: 'copy', name, size: blob.size, from: source.id });
      throw error;
    }
  }

  /**
   * Turns committed bytes into an Mfile, inside the caller's transaction: the quota check (service row locked), then
   * in one statement the row (unless the name is taken), its mfileowner key, its usage and its pipeline's jobs. Every
   * way an Mfile comes to be goes through here (or `createAlone`). With `ingest` (new content from outside, any upload
   * path) it is metered as ingest and the service's ingest pipeline is started, its `mime`, `md5` and `sha256` steps
   * recorded as facts (the type was detected from the first bytes and the digests computed while they streamed in), its first jobs
   * going to that outbox; without (a promoted job output) neither.
   */
  async createFromBlob(work: Work, input: NewMfileInput): Promise<CreatedMfile> {
    await this.quotas.enforce(work.manager, input.folder.serviceId, { disc: input.blob.size, ingest: meteredIngest(input) ? input.blob.size : 0 });
    return (await this.write(work.manager, input, work))!;
  }

  /**
   * `createFromBlob` without a transaction of its own, for an upload whose service and container have no disk or
   * ingest quota: the quota check is a guard inside the one statement that writes everything (it locks the service
   * row FOR SHARE, as `enforce` would), so the commit is two statements (the profile read, the write), without
   * BEGIN and COMMIT. Undefined, with nothing written, when a quota applies: the caller runs `createFromBlob` then.
   * The runnable jobs go to `input.ingest`, to be dispatched by the caller once this returned.
   */
  async createAlone(input: NewMfileInput): Promise<CreatedMfile | undefined> {
    return this.write(this.dataSource.manager, input, 'guarded');
  }

  /**
   * The commit of a new Mfile: `'guarded'`, one statement of its own with the no-quota guard (`createAlone`); or a
   * statement in the transaction of `work`, whose quotas the caller enforced (`createFromBlob`).
   */
  private async write(manager: EntityManager, input: NewMfileInput, mode: 'guarded' | Work): Promise<CreatedMfile | undefined> {
    const guarded = mode === 'guarded';
    const { folder, name, blob } = input;
    const id = input.id ?? uuidv7();
    const tenant = { containerId: folder.containerId, serviceId: folder.serviceId };
    const owner = this.keys.mint({
      resource: { type: 'mfile', id, ...tenant },
      roles: ['mfileowner'],
      createdBy: input.createdBy,
      label: `mfileowner for ${name}`,
    });
    const scope = { ...tenant, resourceType: 'mfile' as const, resourceId: id };
    const usage = [
      ...(meteredIngest(input) ? [{ metric: 'ingest' as const, value: blob.size, ...scope }] : []),
      { metric: 'disc' as const, value: blob.size, ...scope },
      { metric: 'mfiles' as const, value: 1, ...scope },
    ];
    // small new bytes are backed up now if no quota applies (planRun decides), and the run records it as a fact
    const backUp = blob.size <= SMALL_COPY_BYTES ? () => this.backUp(blob) : undefined;
    const run = input.ingest
      ? await this.pipelines.planRun(
          manager,
          'ingest',
          { id, ...tenant },
          // a copy's digests are its source's as recorded, not read from these bytes: its md5 and sha256 steps run
          { mimetype: input.mimetype, size: blob.size, fresh: input.meterIngest === false ? {} : { md5: blob.md5, sha256: blob.sha256 } },
          backUp,
        )
      : undefined;
    // A copy made for a commit that then fails stays: copies are kept once per content, and another upload of the
    // same bytes may already count on it (removing it here could lose theirs); docs/architecture.md "Facts at commit".
    const backup = run?.backup ? { backup: { sha256: run.backup.sha256, at: run.backup.at } } : {};
    const written = await this.mfileRepository.createWith(
      {
        id,
        ...tenant,
        folderId: folder.id,
        name,
        size: blob.size,
        md5: blob.md5,
        sha256: blob.sha256,
        mimetype: input.mimetype,
        blobKey: blob.blobKey,
        metadata: { ...(input.metadata ?? {}), ...backup },
      },
      (firstParam, inserted) =>
        cteItems(firstParam, [
          { name: 'owner_key', part: (first) => this.keys.statement(owner.key, first, inserted) },
          { name: 'mfile_usage', part: (first) => this.usage.statement(usage, first, inserted) },
          { part: (first) => (run ? this.pipelines.runStatement(run, first, inserted) : undefined) },
        ]),
      manager,
      guarded ? (firstParam) => this.quotas.noQuotaGuard(folder.serviceId, firstParam) : undefined,
    );
    if (!written.guarded) return undefined;
    if (!written.mfile) {
      // the name is taken: say by what (a file the unique index found, or a subfolder)
      await this.folders.assertNameFree(manager, folder.id, name);
      throw Problems.conflict(`a file named "${name}" already exists in this folder`);
    }
    if (run && input.ingest) this.pipelines.runCommitted(run, input.ingest);
    // the copy is checked once the row is committed: a service deletion that found these bytes held by no file
    // between the copy and the commit may have removed it (then it is made again)
    // (a guarded statement has committed already; a transaction's work waits for its commit)
    const committed = async (then: () => Promise<void>) => (mode === 'guarded' ? then() : mode.afterCommit(then));
    if (run?.backup) await committed(() => this.keepBackup(blob));
    // told after commit: with the run's jobs (one webhook lookup for both), or on its own for a promoted output
    const created = this.fileEvent(
      'mfile.created',
      written.mfile,
      input.byJob
        ? { via: { task: input.byJob.task, jobId: input.byJob.jobId } } // as a task's mfile.replaced names it
        : { via: input.ingest === null ? 'promote' : input.meterIngest === false ? 'copy' : 'upload' },
    );
    if (input.ingest) input.ingest.tell(created);
    else await committed(async () => this.serviceEvents.emit(created));
    const ingest = run?.jobs.length
      ? { runId: run.jobs[0].runId!, jobs: run.jobs.map((job) => ({ id: job.id, step: job.step, task: job.task, state: job.state, queue: job.queue })) }
      : null;
    return { ...presentMfile(written.mfile), key: owner.secret, keyId: owner.key.id, ingest };
  }

  /** The bytes' verified copy in the backup store, made before their commit (the backup step's fact). */
  private async backUp(blob: StoredBlob): Promise<BackupFact> {
    const { created, size } = await this.backups.put(blob);
    return { sha256: blob.sha256, size, created, at: new Date().toISOString() };
  }

  /** A committed file's copy made at its commit, there still (or made again). */
  private async keepBackup(blob: StoredBlob): Promise<void> {
    if (await this.backups.has(blob.sha256)) return;
    await this.backUp(blob).catch((error) => this.logger.warn(`the backup copy of ${blob.sha256} went and could not be made again: ${String(error)}`));
  }

  /** Replaces the content (an update): same streaming path; the old bytes go only after the new ones committed. */
  async replaceContent(id: string, request: IncomingMessage) {
    const current = await this.get(id);
    const source = await openUpload(request, { maxBytes: this.config.maxUploadBytes, nameOverride: current.name });
    return this.replaceFromSource(current, source);
  }

  /** New content for an existing Mfile (REST replace or a WebDAV PUT over a file). */
  async replaceFromSource(current: Mfile, source: UploadSource) {
    const id = current.id;
    const blob: StoredBlob = await this.store.receive(source.stream, {
      maxBytes: this.config.maxUploadBytes,
      expectedSize: source.expectedSize,
      verify: source.verify,
    });
    let oldBlobKey: string;
    let updated: Mfile;
    let previous: { size: number; sha256: string } | undefined;
    try {
      const mimetype = await this.mime.detect(blob.head, current.name);
      ({ oldBlobKey, updated } = await this.unitOfWork.run(async (work) => {
        const { manager } = work;
        const outbox = this.pipelines.outboxFor(work);
        const locked = await this.mfileRepository.lockById(id, manager);
        if (!locked) throw Problems.notFound('mfile', id);
        await this.quotas.enforce(manager, locked.serviceId, { disc: blob.size, releasing: locked.size, ingest: blob.size });
        // the dimensions, renditions and backup of the old bytes describe bytes that are gone
        await this.mfileRepository.replaceContent(
          id,
          { size: blob.size, md5: blob.md5, sha256: blob.sha256, mimetype, blobKey: blob.blobKey },
          blob.sha256 !== locked.sha256,
          manager,
        );
        const scope = { containerId: locked.containerId, serviceId: locked.serviceId, resourceType: 'mfile' as const, resourceId: id };
        await this.usage.record(manager, { metric: 'ingest', value: blob.size, ...scope }, { metric: 'disc', value: blob.size - locked.size, ...scope });
        // new bytes: their type and MD5 are known (facts), the steps whose condition they fail are left out
        await this.pipelines.instantiate(manager, 'update', locked, outbox, { mimetype, size: blob.size, fresh: { md5: blob.md5, sha256: blob.sha256 } });
        previous = { size: locked.size, sha256: locked.sha256 };
        return { oldBlobKey: locked.blobKey, updated: await this.get(id, manager) };
      }));
    } catch (error) {
      await this.store.remove(blob.blobKey);
      this.announceRefusal(current.serviceId, error, { operation: 'replace', mfileId: id, size: blob.size });
      throw error;
    }
    this.announce('mfile.replaced', updated, { previous });
    await this.janitor.removeAll([oldBlobKey]);
    return presentMfile(updated);
  }

  async list(scope: { serviceId?: string; folderId?: string }, query: ListMfilesQuery): Promise<Page<PublicMfile>> {
    // a cursor of the other sort order does not have its shape: refused as not one this server issued for this list
    const after = query.cursor ? decodeCursor(query.cursor, query.sort === 'name' ? ['text', 'uuid'] : ['uuid']) : null;
    const rows = await this.mfileRepository.page({
      serviceId: scope.serviceId,
      folderId: scope.folderId ?? query.folderId,
      name: query.name,
      mimetype: query.mimetype,
      createdFrom: query.createdFrom,
      createdTo: query.createdTo,
      sort: query.sort,
      after,
      limit: query.limit,
    });
    const page = toPage(rows, query.limit, (last) => (query.sort === 'name' ? [last.name, last.id] : [last.id]));
    return { ...page, items: page.items.map(presentMfile) };
  }

  async update(auth: RequestAuth, id: string, dto: UpdateMfileDto): Promise<PublicMfile> {
    try {
      const moved = await this.dataSource.transaction(async (manager) => {
        const mfile = await this.get(id, manager);
        const folderId = dto.folderId ?? mfile.folderId;
        if (dto.folderId && dto.folderId !== mfile.folderId) {
          const target = await this.resolver.resolve({ type: 'mfolder', id: dto.folderId }, manager);
          if (!covers(auth.key, target) || target.serviceId !== mfile.serviceId) throw Problems.notFound('mfolder', dto.folderId);
        }
        const name = dto.name ?? mfile.name;
        await this.mfolderRepository.lockNames(folderId, manager);
        await this.folders.assertNameFree(manager, folderId, name, mfile.id);
        await this.mfileRepository.moveTo(id, { name, folderId }, manager);
        return { before: mfile, after: await this.get(id, manager) };
      });
      if (moved.before.name !== moved.after.name || moved.before.folderId !== moved.after.folderId)
        this.announce('mfile.moved', moved.after, { from: { name: moved.before.name, folderId: moved.before.folderId } });
      return presentMfile(moved.after);
    } catch (error) {
      if (isUniqueViolation(error)) throw Problems.conflict(`the name "${dto.name}" is already taken in the target folder`);
      throw error;
    }
  }

  async remove(id: string): Promise<void> {
    const removed = await this.dataSource.transaction(async (manager) => {
      const mfile = await this.mfileRepository.lockById(id, manager);
      if (!mfile) throw Problems.notFound('mfile', id);
      await this.keys.revokeForResources(manager, [id]);
      const scope = { containerId: mfile.containerId, serviceId: mfile.serviceId, resourceType: 'mfile' as const, resourceId: id };
      await this.usage.record(manager, { metric: 'disc', value: -mfile.size, ...scope }, { metric: 'mfiles', value: -1, ...scope });
      await this.mfileRepository.delete(id, manager);
      return mfile;
    });
    this.announce('mfile.deleted', removed);
    await this.janitor.removeAll([removed.blobKey]);
  }

  /**
   * Answers a GET or HEAD of an Mfile's content (REST and WebDAV alike): the download path, throttled to the
   * service's accessSpeed, and for a GET the bytes actually sent are metered and the access pipeline started.
   */
  async sendDownload(request: ContentRequest, sink: ContentSink, mfile: Mfile, options: { mayRedirect?: boolean } = {}): Promise<void> {
    if (request.method === 'HEAD') {
      await sendContent(this.store, request, sink, mfile);
      return;
    }
    const bytesPerSecond = await this.accessSpeedOf(mfile.serviceId);
    const url = options.mayRedirect && !bytesPerSecond && storeCanAnswer(request) ? await this.presignedUrlFor(mfile) : undefined;
    const sent = url ? redirectContent(request, sink, mfile, url) : await sendContent(this.store, request, sink, mfile, { bytesPerSecond });
    this.recordAccess(mfile, sent, clientOf(request));
  }

  /**
   * A presigned URL of the content when the store gives one (STORAGE=s3 with S3_PRESIGNED_DOWNLOAD_MIN_BYTES) and
   * the file is that large. Never for a service with an accessSpeed (its cap is applied by sending the bytes
   * ourselves) and never on WebDAV (the caller decides: desktop clients follow redirects badly).
   */
  private async presignedUrlFor(mfile: Mfile): Promise<string | undefined> {
    const presigned = this.config.s3?.presignedDownloads;
    if (!presigned || mfile.size < presigned.minBytes || mfile.size === 0) return undefined;
    return this.store.presignedRead(mfile.blobKey, {
      contentType: mfile.mimetype,
      contentDisposition: contentDisposition(mfile.name, isActiveContent(mfile.mimetype) ? 'attachment' : 'inline'),
    });
  }

  /** The service's download bandwidth cap in bytes per second (`accessSpeed`), null when unlimited. */
  async accessSpeedOf(serviceId: string): Promise<number | null> {
    return this.serviceRepository.accessSpeedOf(serviceId);
  }

  /**
   * After a download was answered: meter the bytes sent and, once per download session of `client`, start the
   * access pipeline (never delaying the answer).
   */
  recordAccess(mfile: Mfile, bytes: number, client: DownloadClient): void {
    if (bytes <= 0) return;
    void this.pipelines.trigger('access', mfile, client);
    this.meterAccess({ containerId: mfile.containerId, serviceId: mfile.serviceId, resourceType: 'mfile', resourceId: mfile.id }, bytes);
  }

  /** Meters the bytes a download sent (an Mfile's or a job output's), off the answer's path. */
  meterAccess(about: { containerId: string; serviceId: string; resourceType: 'mfile' | 'joboutput'; resourceId: string }, bytes: number): void {
    if (bytes <= 0) return;
    this.usage
      .record(this.dataSource.manager, { metric: 'access', value: bytes, ...about })
      .catch((error) => this.logger.error(`could not record access usage for ${about.resourceType} ${about.resourceId}: ${String(error)}`));
  }
}

/**
 * Whether the store can answer this GET as MServe would: a whole file or one range, with no precondition a client
 * may send again after the redirect (the store would compare If-Match or If-Range with its own ETag, not our sha256
 * one; it serves one range at most). Anything else is answered by the api.
 */
function storeCanAnswer(request: ContentRequest): boolean {
  const { headers } = request;
  if (headers['if-match'] || headers['if-range'] || headers['if-unmodified-since']) return false;
  const range = headers.range;
  return !range || !range.includes(',');
}

import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { createHash } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import { DataSource } from 'typeorm';
import { Mfile } from '../mfiles/mfile.entity';
import { BackupStore, SourceMismatch } from '../storage/backup-store';
import { BlobStore, StoredBlob } from '../storage/blob-store';
import { MimeDetector } from '../storage/mime-detector';
import { UsageService } from '../usage/usage.service';
import { SharedInput } from './shared-input';
import { TaskName } from './task-catalogue';
import { TaskContext, TaskFailure, TaskHandler, TaskOutcome } from './task-handler.decorator';

/** Tasks on the stored bytes themselves: checksums, fixity, backup and retrieval, media type. */
@Injectable()
export class ChecksumHandlers {
  constructor(
    private readonly store: BlobStore,
    private readonly mime: MimeDetector,
    private readonly usage: UsageService,
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly backups: BackupStore,
  ) {}

  private async digest(algorithm: 'md5' | 'sha256', blobKey: string, size: number, shared?: SharedInput): Promise<string> {
    if (shared)
      return createHash(algorithm)
        .update(await shared.content())
        .digest('hex');
    const hash = createHash(algorithm);
    await pipeline(this.store.read(blobKey, undefined, size), hash);
    return hash.digest('hex');
  }

  @TaskHandler(TaskName.Md5)
  async md5(context: TaskContext<TaskName.Md5>): Promise<TaskOutcome<TaskName.Md5>> {
    const [input] = context.inputs;
    const md5 = await this.digest('md5', input.blobKey, input.size, context.shared);
    return { status: 'succeeded', result: { md5, matchesRecorded: md5 === input.md5 } };
  }

  @TaskHandler(TaskName.Sha256)
  async sha256(context: TaskContext<TaskName.Sha256>): Promise<TaskOutcome<TaskName.Sha256>> {
    const [input] = context.inputs;
    const sha256 = await this.digest('sha256', input.blobKey, input.size, context.shared);
    return { status: 'succeeded', result: { sha256, matchesRecorded: sha256 === input.sha256 } };
  }

  /**
   * One read, both digests and the size. A difference is corruption, metered as such; the bytes are then restored
   * from a verified backup copy, or, without one, the loss is metered as `dataloss` and the job fails.
   */
  @TaskHandler(TaskName.Fixity)
  async fixity(context: TaskContext<TaskName.Fixity>): Promise<TaskOutcome<TaskName.Fixity>> {
    const [input] = context.inputs;
    const now = await this.store.digest(input.blobKey).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return { md5: '', sha256: '', size: -1 }; // gone: corruption
      throw error; // EIO, EMFILE...: not evidence about the bytes, try again
    });
    const ok = now.md5 === input.md5 && now.sha256 === input.sha256 && now.size === input.size;
    if (ok) return { status: 'succeeded', result: { ok, ...now, restored: false } };
    await this.meter('corruption', input, context.jobId);
    const what =
      now.size < 0
        ? 'the file is missing'
        : [
            now.size !== input.size ? `size ${now.size} instead of ${input.size}` : '',
            now.sha256 !== input.sha256 ? `sha256 ${now.sha256} instead of ${input.sha256}` : '',
            now.md5 !== input.md5 ? 'md5 differs' : '',
          ]
            .filter(Boolean)
            .join(', ');
    const restored = await this.restore(input);
    if (!restored) {
      await this.meter('dataloss', input, context.jobId);
      return { status: 'failed', error: `corruption: the stored bytes of "${input.name}" changed (${what}) and there is no backup to restore them from` };
    }
    return {
      status: 'succeeded',
      result: { ok: false, ...now, restored: true },
      mfilePatch: { content: restored, metadata: { restoredAt: new Date().toISOString() } },
    };
  }

  @TaskHandler(TaskName.Backup)
  async backup(context: TaskContext<TaskName.Backup>): Promise<TaskOutcome<TaskName.Backup>> {
    const [input] = context.inputs;
    try {
      const { created, size } = await this.backups.put(input);
      return {
        status: 'succeeded',
        result: { sha256: input.sha256, size, created },
        mfilePatch: { metadata: { backup: { sha256: input.sha256, at: new Date().toISOString() } } },
        // identical content is kept once, so only the copy that stored new bytes adds to what is on disk (and to
        // the disk quota: a copy that does not fit is removed again and the job fails)
        usage: created ? [{ metric: 'disc', value: size, about: 'backup' }] : [],
        discard: created ? () => this.backups.remove(input.sha256) : undefined,
      };
    } catch (error) {
      if (error instanceof SourceMismatch) throw new TaskFailure(`"${input.name}": ${error.message} (run fixity)`);
      throw error;
    }
  }

  @TaskHandler(TaskName.Retrieve)
  async retrieve(context: TaskContext<TaskName.Retrieve>): Promise<TaskOutcome<TaskName.Retrieve>> {
    const [input] = context.inputs;
    const now = await this.store.digest(input.blobKey).catch(() => undefined);
    const restored = await this.restore(input);
    if (!restored) throw new TaskFailure(`"${input.name}" has no verified backup copy (sha256 ${input.sha256})`);
    return {
      status: 'succeeded',
      result: { sha256: input.sha256, size: restored.size, storedWasDamaged: !now || now.sha256 !== input.sha256 },
      mfilePatch: { content: restored, metadata: { restoredAt: new Date().toISOString() } },
    };
  }

  /** A new blob with the backup's bytes, if a copy exists and still hashes right; undefined otherwise. */
  private async restore(input: Mfile): Promise<StoredBlob | undefined> {
    if (!(await this.backups.has(input.sha256))) return undefined;
    const blob = await this.store.receive(await this.backups.open(input.sha256), {
      maxBytes: Number.MAX_SAFE_INTEGER,
    });
    if (blob.sha256 !== input.sha256) {
      await this.store.remove(blob.blobKey);
      return undefined; // the copy is damaged too
    }
    return blob;
  }

  private meter(metric: 'corruption' | 'dataloss', input: Mfile, jobId: string) {
    return this.usage.record(this.dataSource.manager, {
      metric,
      value: 1,
      containerId: input.containerId,
      serviceId: input.serviceId,
      resourceType: 'mfile',
      resourceId: input.id,
      idempotencyKey: `${jobId}:${metric}`,
    });
  }

  @TaskHandler(TaskName.Mime)
  async detectMime(context: TaskContext<TaskName.Mime>): Promise<TaskOutcome<TaskName.Mime>> {
    const [input] = context.inputs;
    const chunks: Buffer[] = [];
    if (context.shared) chunks.push((await context.shared.content()).subarray(0, 4100));
    else if (input.size > 0)
      for await (const chunk of this.store.read(input.blobKey, { start: 0, end: Math.min(input.size, 4100) - 1 })) chunks.push(chunk as Buffer);
    const mimetype = await this.mime.detect(Buffer.concat(chunks), input.name);
    const changed = mimetype !== input.mimetype;
    return { status: 'succeeded', result: { mimetype, previous: input.mimetype, changed }, ...(changed ? { mfilePatch: { mimetype } } : {}) };
  }
}

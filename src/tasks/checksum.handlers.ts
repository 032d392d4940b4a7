import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { createHash } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import { DataSource } from 'typeorm';
import { ContentStore, DigestingCounter } from '../storage/content-store';
import { MimeDetector } from '../storage/mime-detector';
import { UsageService } from '../usage/usage.service';
import { Writable } from 'node:stream';
import { TaskName } from './task-catalogue';
import { TaskContext, TaskHandler, TaskOutcome } from './task-handler.decorator';

/** Tasks on the stored bytes themselves: checksums, fixity, media type. */
@Injectable()
export class ChecksumHandlers {
  constructor(
    private readonly store: ContentStore,
    private readonly mime: MimeDetector,
    private readonly usage: UsageService,
    @InjectDataSource() private readonly dataSource: DataSource,
  ) {}

  private async digest(algorithm: 'md5' | 'sha256', blobKey: string): Promise<string> {
    const hash = createHash(algorithm);
    await pipeline(this.store.read(blobKey), hash);
    return hash.digest('hex');
  }

  @TaskHandler(TaskName.Md5)
  async md5(context: TaskContext<TaskName.Md5>): Promise<TaskOutcome<TaskName.Md5>> {
    const [input] = context.inputs;
    const md5 = await this.digest('md5', input.blobKey);
    return { status: 'succeeded', result: { md5, matchesRecorded: md5 === input.md5 } };
  }

  @TaskHandler(TaskName.Sha256)
  async sha256(context: TaskContext<TaskName.Sha256>): Promise<TaskOutcome<TaskName.Sha256>> {
    const [input] = context.inputs;
    const sha256 = await this.digest('sha256', input.blobKey);
    return { status: 'succeeded', result: { sha256, matchesRecorded: sha256 === input.sha256 } };
  }

  /** One read, both digests and the size; a difference is corruption, metered as such, and fails the job. */
  @TaskHandler(TaskName.Fixity)
  async fixity(context: TaskContext<TaskName.Fixity>): Promise<TaskOutcome<TaskName.Fixity>> {
    const [input] = context.inputs;
    const counter = new DigestingCounter(Number.MAX_SAFE_INTEGER);
    await pipeline(this.store.read(input.blobKey), counter, new Writable({ write: (_chunk, _encoding, callback) => callback() }));
    const now = { md5: counter.md5.digest('hex'), sha256: counter.sha256.digest('hex'), size: counter.size };
    const ok = now.md5 === input.md5 && now.sha256 === input.sha256 && now.size === input.size;
    if (ok) return { status: 'succeeded', result: { ok, ...now } };
    await this.usage.record(this.dataSource.manager, {
      metric: 'corruption',
      value: 1,
      containerId: input.containerId,
      serviceId: input.serviceId,
      resourceType: 'mfile',
      resourceId: input.id,
      idempotencyKey: `${context.jobId}:corruption`,
    });
    const what = [now.size !== input.size ? `size ${now.size} instead of ${input.size}` : '', now.sha256 !== input.sha256 ? `sha256 ${now.sha256} instead of ${input.sha256}` : '', now.md5 !== input.md5 ? 'md5 differs' : '']
      .filter(Boolean)
      .join(', ');
    return { status: 'failed', error: `corruption: the stored bytes of "${input.name}" changed (${what}); no backup to restore from` };
  }

  @TaskHandler(TaskName.Mime)
  async detectMime(context: TaskContext<TaskName.Mime>): Promise<TaskOutcome<TaskName.Mime>> {
    const [input] = context.inputs;
    const chunks: Buffer[] = [];
    if (input.size > 0) for await (const chunk of this.store.read(input.blobKey, { start: 0, end: Math.min(input.size, 4100) - 1 })) chunks.push(chunk as Buffer);
    const mimetype = await this.mime.detect(Buffer.concat(chunks), input.name);
    const changed = mimetype !== input.mimetype;
    return { status: 'succeeded', result: { mimetype, previous: input.mimetype, changed }, ...(changed ? { mfilePatch: { mimetype } } : {}) };
  }
}

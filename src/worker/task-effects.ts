import { Injectable } from '@nestjs/common';
import { Work } from '../database/unit-of-work';
import { ProblemError } from '../common/problem';
import { uuidv7 } from '../database/uuid';
import { JobOutputRepository, NewJobOutput } from '../job-outputs/job-output.repository';
import { ClaimedJob } from '../jobs/job.repository';
import { KeyRecheck } from '../keys/key-recheck';
import { MfileRepository } from '../mfiles/mfile.repository';
import { MfilesService } from '../mfiles/mfiles.service';
import { MfolderRepository } from '../mfolders/mfolder.repository';
import { JobOutbox } from '../pipelines/job-outbox';
import { PipelinesService } from '../pipelines/pipelines.service';
import { isTaskName, TaskName, TASKS } from '../tasks/task-catalogue';
import { TaskOutcome, TaskTarget } from '../tasks/task-handler.decorator';
import { QuotaService } from '../usage/quota.service';
import { UsageFact, UsageService } from '../usage/usage.service';
import { mfileEventData } from '../webhooks/service-event';

/** A claimed job while it runs, with what task effects need to know about its first input. */
export type RunningJob = ClaimedJob & {
  /** The first input, which task effects (metadata, renditions, content) apply to. */
  inputId?: string;
  /** That input's blob when the job was claimed: new content replaces it only if it is still the current one. */
  inputBlobKey?: string;
  /** That input's digest when the job was claimed: what the task found out describes these bytes only. */
  inputSha256?: string;
};

export type Outcome = TaskOutcome<TaskName> | { status: 'skipped'; reason: string };
export type Success = Extract<Outcome, { status: 'succeeded' }>;

/** A task's success may not take effect: the transaction recording it is rolled back, the job fails saying why. */
export class EffectRefusal extends Error {}

/** A job's results would exceed a disk quota. */
export class QuotaRefusal extends EffectRefusal {}

/**
 * What a task's success does, inside the transaction that records it: its outputs stored (and metered), and its
 * changes to its input Mfile (type, metadata, rendition links, restored or fetched bytes) applied.
 */
@Injectable()
export class TaskEffects {
  constructor(
    private readonly mfiles: MfileRepository,
    private readonly outputs: JobOutputRepository,
    private readonly usage: UsageService,
    private readonly quotas: QuotaService,
    private readonly pipelines: PipelinesService,
    private readonly rights: KeyRecheck,
    private readonly folders: MfolderRepository,
    private readonly files: MfilesService,
  ) {}

  /**
   * Stores the outputs and applies the task's changes to its input Mfile (type, metadata, rendition links, restored
   * bytes), or, for a task without input, to its target (the file it found, or a new one). Returns the blobs it
   * replaced, to remove once this has committed. Throws a QuotaRefusal when what it adds does not fit a disk (or
   * ingest) quota, an EffectRefusal when its target cannot be written (its folder deleted, its name taken meanwhile).
   */
  async apply(work: Work, job: RunningJob, outcome: Success, outbox: JobOutbox, reportedDisc: number): Promise<string[]> {
    const { manager } = work;
    const target = job.inputId ? undefined : outcome.target;
    // a task without input writes the file it found as a task with an input writes its input (same checks, same path)
    const input = job.inputId ? { mfileId: job.inputId } : target?.kind === 'existing' ? { mfileId: target.mfileId } : undefined;
    const readBlobKey = job.inputBlobKey ?? (target?.kind === 'existing' ? target.blobKey : undefined);
    const readSha256 = job.inputSha256 ?? (target?.kind === 'existing' ? target.sha256 : undefined);
    const renditions: Record<string, unknown> = {};
    const outputs = outcome.outputs ?? [];
    const patch = (input && outcome.mfilePatch) || {};
    const released: string[] = [];
    let previous: { blobKey: string; size: number } | undefined;
    let stale = false;
    if (input && patch.content) {
      // a task that replaces content does so for the key that asked for it: that key must still hold mfile:write there
      if (job.requestedByKeyId && isTaskName(job.task) && TASKS[job.task].changesContent) {
        const refusal = await this.rights.refusal(job.requestedByKeyId, 'mfile:write', { type: 'mfile', id: input.mfileId }, manager);
        if (refusal) throw new EffectRefusal(`${refusal}: mfile:write on mfile ${input.mfileId} is needed to replace its content; nothing was changed`);
      }
      previous = await this.mfiles.lockContent(input.mfileId, manager);
      if (!previous || previous.blobKey !== readBlobKey) {
        // the content changed (or the Mfile went) while the task ran: its bytes are stale, the newer ones stay
        released.push(patch.content.blobKey);
        if (outputs.length === 0) return released;
        previous = undefined;
        stale = true;
      }
    }
    const content = previous ? patch.content : undefined;
    // what the job stores counts against the disk quotas (and new content fetched from outside against the ingest
    // quotas), checked with the service row locked like any upload (a new file checks its own, as any new file)
    const adding = outputs.reduce((sum, output) => sum + output.blob.size, 0) + (content?.size ?? 0) + reportedDisc;
    if (adding > 0) {
      try {
        await this.quotas.enforce(manager, job.serviceId, {
          disc: adding,
          releasing: previous?.size ?? 0,
          ingest: content && patch.newContent ? content.size : 0,
        });
      } catch (error) {
        if (error instanceof ProblemError) throw new QuotaRefusal(error.detail ?? error.title);
        throw error;
      }
    }
    const scope = { containerId: job.containerId, serviceId: job.serviceId };
    if (outputs.length) {
      const facts: UsageFact[] = [];
      const rows: NewJobOutput[] = outputs.map((output) => {
        const id = uuidv7();
        renditions[output.role] = {
          jobOutputId: id,
          jobId: job.id,
          mimetype: output.mimetype,
          size: output.blob.size,
          ...(output.data ?? {}),
          url: `/api/v1/joboutputs/${id}/content`,
        };
        facts.push({ metric: 'disc', value: output.blob.size, ...scope, resourceType: 'joboutput', resourceId: id, idempotencyKey: `${id}:disc` });
        return {
          id,
          ...scope,
          jobId: job.id,
          name: output.name,
          mimetype: output.mimetype,
          size: output.blob.size,
          sha256: output.blob.sha256,
          md5: output.blob.md5,
          blobKey: output.blob.blobKey,
          data: output.data ?? null,
        };
      });
      await this.outputs.insertMany(rows, manager);
      await this.usage.record(manager, ...facts);
    }
    if (target?.kind === 'new') {
      await this.createTarget(work, job, target, outcome, outbox);
      return released;
    }
    if (!input || stale) return released;
    if (content && previous) {
      // other bytes (a fetch): what described the old ones goes; the same bytes restored keep it
      const replaced = await this.mfiles.replaceContentFromTask(input.mfileId, content, patch.newContent === true, manager);
      // new bytes from outside are told to the service's engines as any replace is (restored ones are the same bytes)
      if (replaced && patch.newContent)
        outbox.tell({
          type: 'mfile.replaced',
          serviceId: job.serviceId,
          data: { mfile: mfileEventData(replaced), previous: { size: previous.size }, via: { task: job.task, jobId: job.id } },
        });
      const mfileScope = { ...scope, resourceType: 'mfile' as const, resourceId: input.mfileId };
      // restored bytes are stored bytes (disc) but nothing ingested; new content (a fetch) is both, and an update
      await this.usage.record(
        manager,
        { metric: 'disc', value: content.size - previous.size, ...mfileScope, idempotencyKey: `${job.id}:disc` },
        ...(patch.newContent ? [{ metric: 'ingest' as const, value: content.size, ...mfileScope, idempotencyKey: `${job.id}:ingest` }] : []),
      );
      if (patch.newContent)
        await this.pipelines.instantiate(manager, 'update', { id: input.mfileId, containerId: job.containerId, serviceId: job.serviceId }, outbox);
      if (previous.blobKey !== content.blobKey) released.push(previous.blobKey);
    }
    if (Object.keys(renditions).length || patch.metadata || patch.mimetype) {
      // one statement: new metadata keys, the latest rendition links merged into the old ones, the type; only while
      // the file still holds the bytes the task read (content replaced meanwhile: the outputs stay with the job, but
      // they no longer describe the file)
      await this.mfiles.applyTaskFindings(
        input.mfileId,
        { metadata: patch.metadata ?? {}, renditions, mimetype: patch.mimetype ?? null, sha256: content?.sha256 ?? readSha256 },
        manager,
      );
    }
    return released;
  }

  /**
   * The new file a task without input fetched (fetch-url into a folder), committed as every new file is
   * (`MfilesService.createFromBlob`: quotas, its row, owner key and usage, its ingest pipeline with the bytes' type and
   * digests as facts, `mfile.created` naming the job), in the folder the task found, if it is still there and the name
   * still free; else the job fails and nothing is kept.
   */
  private async createTarget(work: Work, job: RunningJob, target: Extract<TaskTarget, { kind: 'new' }>, outcome: Success, outbox: JobOutbox): Promise<void> {
    const patch = outcome.mfilePatch;
    if (!patch?.content) throw new Error(`job ${job.id}: a new file without content`);
    await this.folders.lockNames(target.folderId, work.manager);
    const folder = await this.folders.findFolder(target.folderId, work.manager);
    if (!folder || folder.serviceId !== job.serviceId) throw new EffectRefusal(`the folder was deleted while ${job.task} ran: nothing was stored`);
    // under the folder's name lock: a subfolder or file of that name made while the task ran (the file index alone
    // would not see a folder, and WebDAV cannot show a file and a folder of one name)
    const taken = await this.folders.entriesNamed(folder.id, target.name, work.manager);
    if (taken.length)
      throw new EffectRefusal(
        `a ${taken[0].kind === 'mfolder' ? 'folder' : 'file'} named "${target.name}" appeared in the folder while ${job.task} ran: nothing was stored`,
      );
    try {
      await this.files.createFromBlob(work, {
        id: target.mfileId,
        folder,
        name: target.name,
        blob: patch.content,
        mimetype: patch.mimetype ?? 'application/octet-stream',
        createdBy: job.requestedByKeyId ? { id: job.requestedByKeyId } : null,
        ingest: outbox,
        metadata: patch.metadata ?? {},
        byJob: { task: job.task, jobId: job.id },
      });
    } catch (error) {
      if (error instanceof ProblemError) {
        const why = error.detail ?? error.title;
        throw error.code === 'quota-exceeded' ? new QuotaRefusal(why) : new EffectRefusal(`${why}: nothing was stored`);
      }
      throw error;
    }
  }
}

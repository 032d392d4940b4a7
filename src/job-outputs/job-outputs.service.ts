import { Injectable } from '@nestjs/common';
import { isUniqueViolation } from '../common/database-errors';
import { decodeIdCursor, Page, PageQueryLike, toPage } from '../common/pagination';
import { Problems } from '../common/problem';
import { RequestAuth } from '../keys/authorize.decorator';
import { MfilesService } from '../mfiles/mfiles.service';
import { UnitOfWork } from '../database/unit-of-work';
import { MfolderRepository } from '../mfolders/mfolder.repository';
import { BlobStore } from '../storage/blob-store';
import { JobOutput } from './job-output.entity';
import { JobOutputRepository } from './job-output.repository';

export function presentOutput(output: JobOutput) {
  const { blobKey, ...visible } = output;
  return { ...visible, hasContent: blobKey !== null };
}

@Injectable()
export class JobOutputsService {
  constructor(
    private readonly unitOfWork: UnitOfWork,
    private readonly outputs: JobOutputRepository,
    private readonly folders: MfolderRepository,
    private readonly store: BlobStore,
    private readonly mfiles: MfilesService,
  ) {}

  async get(id: string): Promise<JobOutput> {
    const output = await this.outputs.findById(id);
    if (!output) throw Problems.notFound('job output', id);
    return output;
  }

  async list(jobId: string, query: PageQueryLike): Promise<Page<ReturnType<typeof presentOutput>>> {
    const after = decodeIdCursor(query.cursor);
    const page = toPage(await this.outputs.pageOfJob(jobId, query.limit, after ?? undefined), query.limit, (last) => [last.id]);
    return { ...page, items: page.items.map(presentOutput) };
  }

  /**
   * Promotes a file output to a new Mfile in the job's service root folder. The bytes are copied into a new blob
   * (outputs and Mfiles have separate lifecycles), hashed on the way like any ingest.
   */
  async promote(auth: RequestAuth, id: string) {
    const output = await this.get(id);
    if (!output.blobKey) throw Problems.conflict('this output is a result, not a file: there is nothing to turn into an Mfile');
    if (output.mfileId) throw Problems.conflict('this output was already promoted', { mfileId: output.mfileId });
    const blob = await this.store.receive(this.store.read(output.blobKey), { maxBytes: Number.MAX_SAFE_INTEGER });
    try {
      return await this.unitOfWork.run(async (work) => {
        const { manager } = work;
        const locked = await this.outputs.lock(id, manager);
        if (!locked || locked.mfileId) throw Problems.conflict('this output was already promoted');
        const folder = await this.folders.findServiceRoot(output.serviceId, manager);
        if (!folder) throw Problems.notFound('folder', `root of service ${output.serviceId}`);
        const created = await this.mfiles.createFromBlob(work, {
          folder,
          name: output.name,
          blob,
          mimetype: output.mimetype ?? 'application/octet-stream',
          createdBy: auth.key,
          ingest: null,
          metadata: { promotedFrom: { jobOutputId: output.id, jobId: output.jobId } },
        });
        await this.outputs.markPromoted(id, created.id, manager);
        return created;
      });
    } catch (error) {
      await this.store.remove(blob.blobKey);
      if (isUniqueViolation(error)) throw Problems.conflict(`a file named "${output.name}" already exists in the service's root folder`);
      this.mfiles.announceRefusal(output.serviceId, error, { operation: 'promote', name: output.name, size: blob.size, jobOutputId: output.id });
      throw error;
    }
  }
}

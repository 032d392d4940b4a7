import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, IsNull } from 'typeorm';
import { isUniqueViolation } from '../common/database-errors';
import { decodeIdCursor, Page, PageQueryLike, toPage } from '../common/pagination';
import { Problems } from '../common/problem';
import { RequestAuth } from '../keys/authorize.decorator';
import { MfilesService } from '../mfiles/mfiles.service';
import { Mfolder } from '../mfolders/mfolder.entity';
import { ContentStore } from '../storage/content-store';
import { JobOutput } from './job-output.entity';

export function presentOutput(output: JobOutput) {
  const { blobKey, ...visible } = output;
  return { ...visible, hasContent: blobKey !== null };
}

@Injectable()
export class JobOutputsService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly store: ContentStore,
    private readonly mfiles: MfilesService,
  ) {}

  async get(id: string): Promise<JobOutput> {
    const output = await this.dataSource.getRepository(JobOutput).findOneBy({ id });
    if (!output) throw Problems.notFound('job output', id);
    return output;
  }

  async list(jobId: string, query: PageQueryLike): Promise<Page<ReturnType<typeof presentOutput>>> {
    const builder = this.dataSource.getRepository(JobOutput).createQueryBuilder('o').where('o.job_id = :jobId', { jobId }).orderBy('o.id').limit(query.limit + 1);
    const after = decodeIdCursor(query.cursor);
    if (after) builder.andWhere('o.id > :after', { after });
    const page = toPage(await builder.getMany(), query.limit, (last) => [last.id]);
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
      return await this.dataSource.transaction(async (manager) => {
        const locked = await manager.findOne(JobOutput, { where: { id }, lock: { mode: 'pessimistic_write' } });
        if (!locked || locked.mfileId) throw Problems.conflict('this output was already promoted');
        const folder = await manager.findOneByOrFail(Mfolder, { serviceId: output.serviceId, parentId: IsNull() });
        const created = await this.mfiles.createFromBlob(manager, {
          folder,
          name: output.name,
          blob,
          mimetype: output.mimetype ?? 'application/octet-stream',
          createdBy: auth.key,
          ingest: null,
          metadata: { promotedFrom: { jobOutputId: output.id, jobId: output.jobId } },
        });
        await manager.update(JobOutput, { id }, { mfileId: created.id });
        return created;
      });
    } catch (error) {
      await this.store.remove(blob.blobKey);
      if (isUniqueViolation(error)) throw Problems.conflict(`a file named "${output.name}" already exists in the service's root folder`);
      throw error;
    }
  }
}

import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, IsNull } from 'typeorm';
import { isUniqueViolation } from '../common/database-errors';
import { decodeIdCursor, Page, PageQueryLike, toPage } from '../common/pagination';
import { Problems } from '../common/problem';
import { uuidv7 } from '../database/uuid';
import { RequestAuth } from '../keys/authorize.decorator';
import { KeysService } from '../keys/keys.service';
import { ResourceResolver } from '../keys/resource-resolver.service';
import { Mfile } from '../mfiles/mfile.entity';
import { presentMfile } from '../mfiles/mfiles.service';
import { Mfolder } from '../mfolders/mfolder.entity';
import { MfoldersService } from '../mfolders/mfolders.service';
import { ContentStore } from '../storage/content-store';
import { UsageService } from '../usage/usage.service';
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
    private readonly keys: KeysService,
    private readonly resolver: ResourceResolver,
    private readonly folders: MfoldersService,
    private readonly usage: UsageService,
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
        const root = await manager.findOneByOrFail(Mfolder, { serviceId: output.serviceId, parentId: IsNull() });
        await this.folders.assertNameFree(manager, root.id, output.name);
        const mfile = manager.create(Mfile, {
          id: uuidv7(),
          containerId: output.containerId,
          serviceId: output.serviceId,
          folderId: root.id,
          name: output.name,
          size: blob.size,
          md5: blob.md5,
          sha256: blob.sha256,
          mimetype: output.mimetype ?? 'application/octet-stream',
          blobKey: blob.blobKey,
          metadata: { promotedFrom: { jobOutputId: output.id, jobId: output.jobId } },
        });
        await manager.insert(Mfile, mfile);
        await manager.update(JobOutput, { id }, { mfileId: mfile.id });
        const resource = await this.resolver.resolve({ type: 'mfile', id: mfile.id }, manager);
        const issued = await this.keys.issue(manager, { resource, roles: ['mfileowner'], createdBy: auth.key, label: `mfileowner for ${output.name}` });
        const scope = { containerId: mfile.containerId, serviceId: mfile.serviceId, resourceType: 'mfile' as const, resourceId: mfile.id };
        await this.usage.record(manager, { metric: 'disc', value: blob.size, ...scope }, { metric: 'mfiles', value: 1, ...scope });
        return { ...presentMfile(await manager.findOneByOrFail(Mfile, { id: mfile.id })), key: issued.secret, keyId: issued.key.id };
      });
    } catch (error) {
      await this.store.remove(blob.blobKey);
      if (isUniqueViolation(error)) throw Problems.conflict(`a file named "${output.name}" already exists in the service's root folder`);
      throw error;
    }
  }
}

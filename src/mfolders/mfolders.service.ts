import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { isUniqueViolation } from '../common/database-errors';
import { decodeIdCursor, Page, toPage } from '../common/pagination';
import { Problems } from '../common/problem';
import { uuidv7 } from '../database/uuid';
import { RequestAuth } from '../keys/authorize.decorator';
import { covers, KeysService } from '../keys/keys.service';
import { ResourceResolver } from '../keys/resource-resolver.service';
import { MfileRepository } from '../mfiles/mfile.repository';
import { SubtreeDeletion } from '../deletion/subtree-deletion';
import { UsageService } from '../usage/usage.service';
import { ServiceEvents } from '../pipelines/service-events';
import { mfileEventData } from '../webhooks/service-event';
import { CreateMfolderDto, ListMfoldersQuery, UpdateMfolderDto } from './dto';
import { Mfolder } from './mfolder.entity';
import { MfolderRepository } from './mfolder.repository';

@Injectable()
export class MfoldersService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly folders: MfolderRepository,
    private readonly mfiles: MfileRepository,
    private readonly resolver: ResourceResolver,
    private readonly keys: KeysService,
    private readonly deletion: SubtreeDeletion,
    private readonly usage: UsageService,
    private readonly serviceEvents: ServiceEvents,
  ) {}

  async get(id: string, manager?: EntityManager): Promise<Mfolder> {
    const folder = await this.folders.findById(id, manager);
    if (!folder) throw Problems.notFound('mfolder', id);
    return folder;
  }

  /** A name is taken in a folder by a subfolder or a file (WebDAV cannot show both). */
  async assertNameFree(manager: EntityManager, folderId: string, name: string, except?: string): Promise<void> {
    const rows = await this.folders.entriesNamed(folderId, name, manager);
    const clash = rows.find((row) => row.id !== except);
    if (clash) throw Problems.conflict(`an ${clash.kind} named "${name}" already exists in this folder`, { existing: { type: clash.kind, id: clash.id } });
  }

  async create(parentId: string, dto: CreateMfolderDto): Promise<Mfolder> {
    try {
      return await this.dataSource.transaction(async (manager) => {
        const parent = await this.get(parentId, manager);
        await this.folders.lockNames(parentId, manager);
        await this.assertNameFree(manager, parentId, dto.name);
        const folder = await this.folders.create(
          { id: uuidv7(), containerId: parent.containerId, serviceId: parent.serviceId, parentId, name: dto.name },
          manager,
        );
        return this.folders.reload(folder.id, manager);
      });
    } catch (error) {
      if (isUniqueViolation(error)) throw Problems.conflict(`a folder named "${dto.name}" already exists in this folder`);
      throw error;
    }
  }

  async listChildren(parentId: string, query: ListMfoldersQuery): Promise<Page<Mfolder>> {
    const after = decodeIdCursor(query.cursor);
    return toPage(await this.folders.pageOfChildren({ parentId, after, name: query.name, limit: query.limit }), query.limit, (last) => [last.id]);
  }

  /** Renames and/or moves a folder; never under itself, never out of its service or the key's scope. */
  async update(auth: RequestAuth, id: string, dto: UpdateMfolderDto): Promise<Mfolder> {
    try {
      return await this.dataSource.transaction(async (manager) => {
        const folder = await this.get(id, manager);
        if (folder.parentId === null) throw Problems.conflict('the root folder of a service cannot be renamed or moved');
        const parentId = dto.parentId ?? folder.parentId;
        if (dto.parentId && dto.parentId !== folder.parentId) {
          const target = await this.resolver.resolve({ type: 'mfolder', id: dto.parentId }, manager);
          if (!covers(auth.key, target) || target.serviceId !== folder.serviceId) throw Problems.notFound('mfolder', dto.parentId);
          if (target.ancestors.has(folder.id)) throw Problems.conflict('a folder cannot be moved into itself or one of its subfolders');
        }
        const name = dto.name ?? folder.name;
        await this.folders.lockNames(parentId, manager);
        await this.assertNameFree(manager, parentId, name, folder.id);
        await this.folders.moveTo(id, { name, parentId }, manager);
        return this.get(id, manager);
      });
    } catch (error) {
      if (isUniqueViolation(error)) throw Problems.conflict(`the name "${dto.name}" is already taken in the target folder`);
      throw error;
    }
  }

  /** Deletes a folder and its whole subtree (files included). Needs mfile:delete as well when it holds files. */
  async remove(auth: RequestAuth, id: string): Promise<void> {
    let removed: { serviceId: string; files: Awaited<ReturnType<MfileRepository['lockInFolders']>> } | undefined;
    await this.deletion.run({
      lock: async (manager) => {
        const folder = await this.get(id, manager);
        if (folder.parentId === null) throw Problems.conflict('the root folder of a service cannot be deleted; delete the service instead');
        const folderIds = await this.folders.subtreeIds(id, manager);
        const files = await this.mfiles.lockInFolders(folderIds, manager);
        if (files.length && !auth.actions.has('mfile:delete')) throw Problems.missingActions(['mfile:delete'], `the ${files.length} file(s) in this folder`);
        return { subtree: { folderIds }, folder, files };
      },
      delete: async (manager, { subtree: { folderIds }, folder, files }) => {
        await this.keys.revokeForResources(manager, [...folderIds, ...files.map((file) => file.id)]);
        // per file, so each Mfile's own usage ends at zero too
        await this.usage.record(
          manager,
          ...files.flatMap((file) => {
            const scope = { containerId: folder.containerId, serviceId: folder.serviceId, resourceType: 'mfile' as const, resourceId: file.id };
            return [
              { metric: 'disc' as const, value: -file.size, ...scope },
              { metric: 'mfiles' as const, value: -1, ...scope },
            ];
          }),
        );
        await this.folders.delete(id, manager);
        removed = { serviceId: folder.serviceId, files };
      },
    });
    // each file that went with the folder, as a delete of the file tells it
    if (removed)
      this.serviceEvents.emit(
        ...removed.files.map((file) => ({
          type: 'mfile.deleted' as const,
          serviceId: removed!.serviceId,
          data: { mfile: mfileEventData(file), with: { folderId: id } },
        })),
      );
  }
}

import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { isUniqueViolation } from '../common/database-errors';
import { decodeIdCursor, escapeLike, Page, toPage } from '../common/pagination';
import { Problems } from '../common/problem';
import { uuidv7 } from '../database/uuid';
import { RequestAuth } from '../keys/authorize.decorator';
import { covers, KeysService } from '../keys/keys.service';
import { ResourceResolver } from '../keys/resource-resolver.service';
import { BlobJanitor } from '../storage/blob-janitor';
import { UsageService } from '../usage/usage.service';
import { CreateMfolderDto, ListMfoldersQuery, UpdateMfolderDto } from './dto';
import { Mfolder } from './mfolder.entity';

@Injectable()
export class MfoldersService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly resolver: ResourceResolver,
    private readonly keys: KeysService,
    private readonly janitor: BlobJanitor,
    private readonly usage: UsageService,
  ) {}

  async get(id: string, manager: EntityManager = this.dataSource.manager): Promise<Mfolder> {
    const folder = await manager.findOneBy(Mfolder, { id });
    if (!folder) throw Problems.notFound('mfolder', id);
    return folder;
  }

  /** A name is taken in a folder by a subfolder or a file (WebDAV cannot show both). */
  async assertNameFree(manager: EntityManager, folderId: string, name: string, except?: string): Promise<void> {
    const rows: { id: string; kind: string }[] = await manager.query(
      `SELECT id, 'mfolder' AS kind FROM mfolder WHERE parent_id = $1 AND name = $2
       UNION ALL SELECT id, 'mfile' FROM mfile WHERE folder_id = $1 AND name = $2`,
      [folderId, name],
    );
    const clash = rows.find((row) => row.id !== except);
    if (clash) throw Problems.conflict(`an ${clash.kind} named "${name}" already exists in this folder`, { existing: { type: clash.kind, id: clash.id } });
  }

  async create(parentId: string, dto: CreateMfolderDto): Promise<Mfolder> {
    try {
      return await this.dataSource.transaction(async (manager) => {
        const parent = await this.get(parentId, manager);
        await manager.query('SELECT id FROM mfolder WHERE id = $1 FOR NO KEY UPDATE', [parentId]);
        await this.assertNameFree(manager, parentId, dto.name);
        const folder = manager.create(Mfolder, { id: uuidv7(), containerId: parent.containerId, serviceId: parent.serviceId, parentId, name: dto.name });
        await manager.insert(Mfolder, folder);
        return manager.findOneByOrFail(Mfolder, { id: folder.id });
      });
    } catch (error) {
      if (isUniqueViolation(error)) throw Problems.conflict(`a folder named "${dto.name}" already exists in this folder`);
      throw error;
    }
  }

  async listChildren(parentId: string, query: ListMfoldersQuery): Promise<Page<Mfolder>> {
    const builder = this.dataSource.getRepository(Mfolder).createQueryBuilder('f').where('f.parent_id = :parentId', { parentId }).orderBy('f.id').limit(query.limit + 1);
    const after = decodeIdCursor(query.cursor);
    if (after) builder.andWhere('f.id > :after', { after });
    if (query.name) builder.andWhere("f.name ILIKE :name ESCAPE '\\'", { name: `%${escapeLike(query.name)}%` });
    return toPage(await builder.getMany(), query.limit, (last) => [last.id]);
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
        await manager.query('SELECT id FROM mfolder WHERE id = $1 FOR NO KEY UPDATE', [parentId]);
        await this.assertNameFree(manager, parentId, name, folder.id);
        await manager.update(Mfolder, { id }, { name, parentId });
        return this.get(id, manager);
      });
    } catch (error) {
      if (isUniqueViolation(error)) throw Problems.conflict(`the name "${dto.name}" is already taken in the target folder`);
      throw error;
    }
  }

  /** Deletes a folder and its whole subtree (files included). Needs mfile:delete as well when it holds files. */
  async remove(auth: RequestAuth, id: string): Promise<void> {
    const blobs = await this.dataSource.transaction(async (manager) => {
      const folder = await this.get(id, manager);
      if (folder.parentId === null) throw Problems.conflict('the root folder of a service cannot be deleted; delete the service instead');
      const tree: { id: string }[] = await manager.query(
        `WITH RECURSIVE tree AS (SELECT id FROM mfolder WHERE id = $1 UNION SELECT f.id FROM mfolder f JOIN tree t ON f.parent_id = t.id) SELECT id FROM tree`,
        [id],
      );
      const folderIds = tree.map((row) => row.id);
      const files: { id: string; size: string }[] = await manager.query('SELECT id, size FROM mfile WHERE folder_id = ANY($1::uuid[]) FOR UPDATE', [folderIds]);
      if (files.length && !auth.actions.has('mfile:delete')) throw Problems.missingActions(['mfile:delete'], `the ${files.length} file(s) in this folder`);
      const blobKeys = await this.janitor.blobsUnder(manager, { folderIds });
      await this.keys.revokeForResources(manager, [...folderIds, ...files.map((file) => file.id)]);
      // per file, so each Mfile's own usage ends at zero too
      await this.usage.record(
        manager,
        ...files.flatMap((file) => {
          const scope = { containerId: folder.containerId, serviceId: folder.serviceId, resourceType: 'mfile' as const, resourceId: file.id };
          return [{ metric: 'disc' as const, value: -Number(file.size), ...scope }, { metric: 'mfiles' as const, value: -1, ...scope }];
        }),
      );
      await manager.delete(Mfolder, { id });
      return blobKeys;
    });
    await this.janitor.removeAll(blobs);
  }
}

import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { escapeLike } from '../common/pagination';
import { Mfile } from '../mfiles/mfile.entity';
import { LeanMfileRow, MfileRepository } from '../mfiles/mfile.repository';
import { Mfolder } from './mfolder.entity';

/**
 * The only place SQL on `mfolder` is written (docs/architecture.md: services hold rules, repositories hold queries).
 * Every method takes the EntityManager of the caller's transaction when it must take part in one.
 */
@Injectable()
export class MfolderRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  private db(manager?: EntityManager): EntityManager {
    return manager ?? this.dataSource.manager;
  }

  // --- folders (MfoldersService)

  async findById(id: string, manager?: EntityManager): Promise<Mfolder | null> {
    return this.db(manager).findOneBy(Mfolder, { id });
  }

  /** A folder that must exist (just inserted, or named by a row that references it), as stored. */
  async reload(id: string, manager?: EntityManager): Promise<Mfolder> {
    return this.db(manager).findOneByOrFail(Mfolder, { id });
  }

  /** Inserts a new folder (a service's root when `parentId` is null); returns it as created. */
  async create(fields: Pick<Mfolder, 'id' | 'containerId' | 'serviceId' | 'parentId' | 'name'>, manager?: EntityManager): Promise<Mfolder> {
    const folder = this.db(manager).create(Mfolder, fields);
    await this.db(manager).insert(Mfolder, folder);
    return folder;
  }

  /** Locks a folder's row against concurrent changes of the names in it, until the transaction ends. */
  async lockNames(folderId: string, manager?: EntityManager): Promise<void> {
    await this.db(manager).query('SELECT id FROM mfolder WHERE id = $1 FOR NO KEY UPDATE', [folderId]);
  }

  /** The subfolders and files of a folder that carry this name (WebDAV cannot show both). */
  async entriesNamed(folderId: string, name: string, manager?: EntityManager): Promise<Array<{ id: string; kind: 'mfolder' | 'mfile' }>> {
    return this.db(manager).query(
      `SELECT id, 'mfolder' AS kind FROM mfolder WHERE parent_id = $1 AND name = $2
       UNION ALL SELECT id, 'mfile' FROM mfile WHERE folder_id = $1 AND name = $2`,
      [folderId, name],
    );
  }

  /** One more than `limit` subfolders of a folder (so the caller knows whether a next page exists), in id order. */
  async pageOfChildren(query: { parentId: string; after?: string | null; name?: string; limit: number }): Promise<Mfolder[]> {
    const builder = this.dataSource
      .getRepository(Mfolder)
      .createQueryBuilder('f')
      .where('f.parent_id = :parentId', { parentId: query.parentId })
      .orderBy('f.id')
      .limit(query.limit + 1);
    if (query.after) builder.andWhere('f.id > :after', { after: query.after });
    if (query.name) builder.andWhere("f.name ILIKE :name ESCAPE '\\'", { name: `%${escapeLike(query.name)}%` });
    return builder.getMany();
  }

  /** Renames and/or moves a folder. */
  async moveTo(id: string, to: { name: string; parentId: string }, manager?: EntityManager): Promise<void> {
    await this.db(manager).update(Mfolder, { id }, { name: to.name, parentId: to.parentId });
  }

  // --- used by deletes

  /** The folder and every folder below it. */
  async subtreeIds(id: string, manager?: EntityManager): Promise<string[]> {
    const tree: { id: string }[] = await this.db(manager).query(
      `WITH RECURSIVE tree AS (SELECT id FROM mfolder WHERE id = $1 UNION SELECT f.id FROM mfolder f JOIN tree t ON f.parent_id = t.id) SELECT id FROM tree`,
      [id],
    );
    return tree.map((row) => row.id);
  }

  /** Deletes the folder; the foreign keys cascade to its subfolders and files. */
  async delete(id: string, manager?: EntityManager): Promise<void> {
    await this.db(manager).delete(Mfolder, { id });
  }

  // --- used by the WebDAV tree

  /** An Mfolder from a row of `SELECT * FROM mfolder` (or a row with its columns, as the WebDAV walk's). */
  static fromRow(row: MfolderRow): Mfolder {
    return Object.assign(new Mfolder(), {
      id: row.id,
      containerId: row.container_id,
      serviceId: row.service_id,
      parentId: row.parent_id,
      name: row.name,
      createdAt: row.created_at,
      updatedAt: row.updated_at,
    });
  }

  /** The root folder of a service, or null. */
  async findServiceRoot(serviceId: string, manager?: EntityManager): Promise<Mfolder | null> {
    const [row] = (await this.db(manager).query('SELECT * FROM mfolder WHERE service_id = $1 AND parent_id IS NULL', [serviceId])) as MfolderRow[];
    return row ? MfolderRepository.fromRow(row) : null;
  }

  /** One folder, or null. */
  async findFolder(id: string, manager?: EntityManager): Promise<Mfolder | null> {
    const [row] = (await this.db(manager).query('SELECT * FROM mfolder WHERE id = $1', [id])) as MfolderRow[];
    return row ? MfolderRepository.fromRow(row) : null;
  }

  /**
   * The member of a folder with this name, folder or file (a file without its metadata), in one query: a name is
   * taken by a folder or a file, never both (MfoldersService.assertNameFree); a folder would win.
   */
  async findMemberNamed(
    folderId: string,
    name: string,
    manager?: EntityManager,
  ): Promise<{ kind: 'folder'; folder: Mfolder } | { kind: 'file'; mfile: Mfile } | null> {
    const [row] = (await this.db(manager).query(
      `SELECT 'folder' AS kind, id, container_id, service_id, parent_id, NULL::uuid AS folder_id, name, NULL::bigint AS size, NULL AS md5, NULL AS sha256,
              NULL AS mimetype, NULL AS blob_key, created_at, updated_at, NULL::timestamptz AS content_updated_at
         FROM mfolder WHERE parent_id = $1 AND name = $2
       UNION ALL
       SELECT 'file', id, container_id, service_id, NULL, folder_id, name, size, md5, sha256, mimetype, blob_key, created_at, updated_at, content_updated_at
         FROM mfile WHERE folder_id = $1 AND name = $2
       ORDER BY kind DESC LIMIT 1`,
      [folderId, name],
    )) as (MfolderRow & LeanMfileRow & { kind: 'folder' | 'file' })[];
    if (!row) return null;
    return row.kind === 'folder' ? { kind: 'folder', folder: MfolderRepository.fromRow(row) } : { kind: 'file', mfile: MfileRepository.fromLeanRow(row) };
  }

  /** The subfolders of a folder, by name. */
  async listSubfolders(parentId: string, manager?: EntityManager): Promise<Mfolder[]> {
    const rows = (await this.db(manager).query('SELECT * FROM mfolder WHERE parent_id = $1 ORDER BY name', [parentId])) as MfolderRow[];
    return rows.map((row) => MfolderRepository.fromRow(row));
  }

  /** How many folders and files lie below these folders, at any depth (the folders themselves not counted). */
  async countSubtrees(folderIds: string[], manager?: EntityManager): Promise<number> {
    if (!folderIds.length) return 0;
    const [row]: { count: string }[] = await this.db(manager).query(
      `WITH RECURSIVE tree AS (
         SELECT id, true AS top FROM mfolder WHERE id = ANY($1::uuid[])
         UNION ALL SELECT f.id, false FROM mfolder f JOIN tree t ON f.parent_id = t.id
       ) SELECT ((SELECT count(*) FROM tree WHERE NOT top) + (SELECT count(*) FROM mfile WHERE folder_id IN (SELECT id FROM tree)))::text AS count`,
      [folderIds],
    );
    return Number(row.count);
  }

  /** The root folder of every service of a container, with the service's name. */
  async listServiceRootsOfContainer(containerId: string, manager?: EntityManager): Promise<{ serviceId: string; serviceName: string; folder: Mfolder }[]> {
    const rows = (await this.db(manager).query(
      'SELECT f.*, s.name AS service_name FROM mfolder f JOIN service s ON s.id = f.service_id WHERE s.container_id = $1 AND f.parent_id IS NULL',
      [containerId],
    )) as (MfolderRow & { service_name: string })[];
    return rows.map((row) => ({ serviceId: row.service_id, serviceName: row.service_name, folder: MfolderRepository.fromRow(row) }));
  }

  /** A folder and its ancestors, the service's root folder first. */
  async listAncestry(folderId: string, manager?: EntityManager): Promise<{ name: string; parentId: string | null }[]> {
    const rows: { name: string; parent_id: string | null }[] = await this.db(manager).query(
      `WITH RECURSIVE chain AS (
         SELECT id, parent_id, name, 0 AS depth FROM mfolder WHERE id = $1
         UNION ALL SELECT f.id, f.parent_id, f.name, c.depth + 1 FROM mfolder f JOIN chain c ON f.id = c.parent_id
       ) SELECT name, parent_id FROM chain ORDER BY depth DESC`,
      [folderId],
    );
    return rows.map((row) => ({ name: row.name, parentId: row.parent_id }));
  }

  // --- used by key resolution
  /** Where a folder sits (its service and container); null when there is no such folder. */
  async placeOf(id: string, manager?: EntityManager): Promise<{ serviceId: string; containerId: string } | null> {
    const [row]: Array<{ service_id: string; container_id: string }> = await this.db(manager).query(
      'SELECT service_id, container_id FROM mfolder WHERE id = $1',
      [id],
    );
    return row ? { serviceId: row.service_id, containerId: row.container_id } : null;
  }

  /** The ids of these folders and of every folder above them. */
  async chainAbove(folderIds: string[], manager?: EntityManager): Promise<string[]> {
    const rows: { id: string }[] = await this.db(manager).query(
      `WITH RECURSIVE chain AS (
         SELECT id, parent_id FROM mfolder WHERE id = ANY($1::uuid[])
         UNION
         SELECT f.id, f.parent_id FROM mfolder f JOIN chain c ON f.id = c.parent_id
       ) SELECT id FROM chain`,
      [folderIds],
    );
    return rows.map((row) => row.id);
  }
}

/** A row of `SELECT * FROM mfolder`, as PostgreSQL returns it. */
export interface MfolderRow {
  id: string;
  container_id: string;
  service_id: string;
  parent_id: string | null;
  name: string;
  created_at: Date;
  updated_at: Date;
}

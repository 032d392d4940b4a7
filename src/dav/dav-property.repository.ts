import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { DavProperty } from './dav.entities';

/** The folder or file a dead property belongs to. */
export interface ResourceRef {
  kind: 'mfile' | 'mfolder';
  id: string;
}

const column = (ref: ResourceRef) => (ref.kind === 'mfile' ? 'mfile_id' : 'mfolder_id');

/**
 * The only place SQL on `dav_property` is written (docs/architecture.md: services hold rules, repositories hold queries).
 * Every method takes the EntityManager of the caller's transaction when it must take part in one.
 */
@Injectable()
export class DavPropertyRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  private db(manager?: EntityManager): EntityManager {
    return manager ?? this.dataSource.manager;
  }

  /** The properties of many files and folders in one query, by name; `owner` is the file's or folder's id. */
  listOfMany(fileIds: string[], folderIds: string[], manager?: EntityManager): Promise<{ owner: string; name: string; xml: string }[]> {
    return this.db(manager).query(
      `SELECT COALESCE(mfile_id, mfolder_id) AS owner, name, xml FROM dav_property
       WHERE mfile_id = ANY($1::uuid[]) OR mfolder_id = ANY($2::uuid[]) ORDER BY name`,
      [fileIds, folderIds],
    );
  }

  /** The properties of one file or folder. */
  listOf(ref: ResourceRef, manager?: EntityManager): Promise<{ name: string; xml: string }[]> {
    return this.db(manager).query(`SELECT name, xml FROM dav_property WHERE ${column(ref)} = $1`, [ref.id]);
  }

  /** Removes one property of a file or folder (nothing when it has none of that name). */
  async deleteOne(ref: ResourceRef, name: string, manager?: EntityManager): Promise<void> {
    await this.db(manager).query(`DELETE FROM dav_property WHERE ${column(ref)} = $1 AND name = $2`, [ref.id, name]);
  }

  async insert(rows: DavProperty | DavProperty[], manager?: EntityManager): Promise<void> {
    await this.db(manager).insert(DavProperty, rows);
  }
}

import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { queryPrepared } from '../database/prepared';
import { DataSource, EntityManager } from 'typeorm';
import { escapeLike } from '../common/pagination';
import { METADATA_WITHOUT_CONTENT_DERIVED, Mfile } from './mfile.entity';

/** What a task found out about its input (`MfileRepository.applyTaskFindings`). */
export interface TaskFindings {
  metadata: object;
  renditions: object;
  mimetype: string | null;
  /** The bytes the task read: nothing is written when the file holds other bytes now. */
  sha256: string | undefined;
}

/** What a new Mfile is made of (the database fills in the timestamps). */
export type NewMfile = Pick<Mfile, 'id' | 'containerId' | 'serviceId' | 'folderId' | 'name' | 'size' | 'md5' | 'sha256' | 'mimetype' | 'blobKey' | 'metadata'>;

/** The filters and order of a page of Mfiles. */
export interface MfilePageQuery {
  serviceId?: string;
  folderId?: string;
  /** A case-insensitive part of the name. */
  name?: string;
  /** Exact, or a type wildcard such as image/*. */
  mimetype?: string;
  createdFrom?: Date;
  createdTo?: Date;
  sort: 'created' | 'name';
  /** The sort key of the last Mfile of the previous page: [id], or [name, id] by name. */
  after?: string[] | null;
  limit: number;
}

/**
 * The only place SQL on `mfile` is written (docs/architecture.md: services hold rules, repositories hold queries).
 * Every method takes the EntityManager of the caller's transaction when it must take part in one.
 */
@Injectable()
export class MfileRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  private db(manager?: EntityManager): EntityManager {
    return manager ?? this.dataSource.manager;
  }

  // --- files (MfilesService)

  async findById(id: string, manager?: EntityManager): Promise<Mfile | null> {
    return this.db(manager).findOneBy(Mfile, { id });
  }

  /** The Mfile, its row locked for the rest of the transaction (to replace its content or delete it). */
  async lockById(id: string, manager?: EntityManager): Promise<Mfile | null> {
    return this.db(manager).findOne(Mfile, { where: { id }, lock: { mode: 'pessimistic_write' } });
  }

  /** Inserts a new Mfile (its bytes committed already); returns it as created. */
  async create(fields: NewMfile, manager?: EntityManager): Promise<Mfile> {
    const mfile = this.db(manager).create(Mfile, fields);
    await this.db(manager).insert(Mfile, mfile);
    return mfile;
  }

  /**
   * Inserts a new Mfile (its bytes committed already) and what comes with it in one statement: `also` gives the
   * data-modifying CTE items (`name AS (...)`, comma-separated) of the other tables' owners (its owner key, its usage,
   * its pipeline's jobs), with placeholders from the one it is given and written only where the condition it is given
   * holds (the Mfile was inserted). With `guard` (a SELECT, `QuotaService.noQuotaGuard`), nothing is written unless
   * it returns a row (`guarded` false then). Nothing is written either when the folder holds a subfolder or a file of
   * that name (the unique index decides between concurrent uploads): no `mfile` then. Returns the Mfile as written,
   * not read again.
   */
  async createWith(
    fields: NewMfile,
    also: (firstParam: number, inserted: string) => { sql: string; params: unknown[] } | undefined,
    manager?: EntityManager,
    guard?: (firstParam: number) => { sql: string; params: unknown[] },
  ): Promise<{ mfile?: Mfile; guarded: boolean }> {
    const params: unknown[] = [
      fields.id,
      fields.containerId,
      fields.serviceId,
      fields.folderId,
      fields.name,
      fields.size,
      fields.md5,
      fields.sha256,
      fields.mimetype,
      fields.blobKey,
      JSON.stringify(fields.metadata),
    ];
    const guarding = guard?.(params.length + 1);
    params.push(...(guarding?.params ?? []));
    const more = also(params.length + 1, 'EXISTS (SELECT 1 FROM made)');
    const [row] = (await queryPrepared(
      this.db(manager),
      `WITH guard AS (${guarding ? guarding.sql : 'SELECT 1'}),
       made AS (
         INSERT INTO mfile (id, container_id, service_id, folder_id, name, size, md5, sha256, mimetype, blob_key, metadata)
         SELECT $1::uuid, $2::uuid, $3::uuid, $4::uuid, $5::varchar, $6::bigint, $7::char(32), $8::char(64), $9::varchar, $10::varchar, $11::jsonb
          WHERE EXISTS (SELECT 1 FROM guard) AND NOT EXISTS (SELECT 1 FROM mfolder WHERE parent_id = $4::uuid AND name = $5::varchar)
         ON CONFLICT (folder_id, name) DO NOTHING
         RETURNING ${MfileRepository.LEAN_COLUMNS}, metadata)
       ${more ? `, ${more.sql}` : ''}
       SELECT EXISTS (SELECT 1 FROM guard) AS guarded, made.* FROM (SELECT 1) AS one LEFT JOIN made ON true`,
      [...params, ...(more?.params ?? [])],
    )) as Array<(LeanMfileRow & { metadata: Mfile['metadata'] }) | { id: null }> & Array<{ guarded: boolean }>;
    return {
      guarded: row.guarded,
      mfile: row.id
        ? Object.assign(MfileRepository.fromLeanRow(row as LeanMfileRow), { metadata: (row as { metadata: Mfile['metadata'] }).metadata })
        : undefined,
    };
  }

  /**
   * Points the Mfile at new bytes. When they are other bytes than before (`otherBytes`), the metadata that
   * describes the old ones goes (METADATA_WITHOUT_CONTENT_DERIVED): the update pipeline makes it again.
   */
  async replaceContent(
    id: string,
    content: Pick<Mfile, 'size' | 'md5' | 'sha256' | 'mimetype' | 'blobKey'>,
    otherBytes: boolean,
    manager?: EntityManager,
  ): Promise<void> {
    await this.db(manager).update(
      Mfile,
      { id },
      {
        size: content.size,
        md5: content.md5,
        sha256: content.sha256,
        mimetype: content.mimetype,
        blobKey: content.blobKey,
        contentUpdatedAt: new Date(),
        ...(otherBytes && { metadata: () => METADATA_WITHOUT_CONTENT_DERIVED }),
      },
    );
  }

  /** Renames and/or moves an Mfile. */
  async moveTo(id: string, to: { name: string; folderId: string }, manager?: EntityManager): Promise<void> {
    await this.db(manager).update(Mfile, { id }, { name: to.name, folderId: to.folderId });
  }

  async delete(id: string, manager?: EntityManager): Promise<void> {
    await this.db(manager).delete(Mfile, { id });
  }

  /** One more than `limit` Mfiles (so the caller knows whether a next page exists), by id or by name. */
  async page(query: MfilePageQuery): Promise<Mfile[]> {
    const builder = this.dataSource
      .getRepository(Mfile)
      .createQueryBuilder('m')
      .limit(query.limit + 1);
    if (query.serviceId) builder.andWhere('m.service_id = :serviceId', { serviceId: query.serviceId });
    if (query.folderId) builder.andWhere('m.folder_id = :folderId', { folderId: query.folderId });
    if (query.name) builder.andWhere("m.name ILIKE :name ESCAPE '\\'", { name: `%${escapeLike(query.name)}%` });
    if (query.mimetype?.endsWith('/*')) builder.andWhere("m.mimetype LIKE :mime ESCAPE '\\'", { mime: `${escapeLike(query.mimetype.slice(0, -1))}%` });
    else if (query.mimetype) builder.andWhere('m.mimetype = :mime', { mime: query.mimetype });
    if (query.createdFrom) builder.andWhere('m.created_at >= :from', { from: query.createdFrom });
    if (query.createdTo) builder.andWhere('m.created_at < :to', { to: query.createdTo });
    const cursor = query.after;
    if (query.sort === 'name') {
      builder.orderBy('m.name', 'ASC').addOrderBy('m.id', 'ASC');
      if (cursor) builder.andWhere('(m.name, m.id) > (:name0, :id0)', { name0: cursor[0], id0: cursor[1] });
    } else {
      builder.orderBy('m.id', 'ASC');
      if (cursor) builder.andWhere('m.id > :id0', { id0: cursor[0] });
    }
    return builder.getMany();
  }

  // --- used by deletes

  /** Locks the files directly in these folders for their deletion: their ids and sizes. */
  async lockInFolders(
    folderIds: string[],
    manager?: EntityManager,
  ): Promise<Array<{ id: string; size: number; name: string; folderId: string; mimetype: string; sha256: string }>> {
    const files: Array<{ id: string; size: string; name: string; folderId: string; mimetype: string; sha256: string }> = await this.db(manager).query(
      'SELECT id, size, name, folder_id AS "folderId", mimetype, sha256 FROM mfile WHERE folder_id = ANY($1::uuid[]) FOR UPDATE',
      [folderIds],
    );
    return files.map((file) => ({ ...file, size: Number(file.size) }));
  }

  /** The blob keys of the Mfiles in a container, a service or these folders. */
  async blobKeysUnder(scope: { containerId: string } | { serviceId: string } | { folderIds: string[] }, manager?: EntityManager): Promise<string[]> {
    const [column, value] =
      'containerId' in scope ? ['container_id', scope.containerId] : 'serviceId' in scope ? ['service_id', scope.serviceId] : ['folder_id', scope.folderIds];
    const condition = `${column} ${Array.isArray(value) ? '= ANY($1::uuid[])' : '= $1'}`;
    const files: { blob_key: string }[] = await this.db(manager).query(`SELECT blob_key FROM mfile WHERE ${condition}`, [value]);
    return files.map((row) => row.blob_key);
  }

  /** Which of these contents (sha256) an Mfile still holds. */
  async heldContents(sha256s: string[], manager?: EntityManager): Promise<Set<string>> {
    const held: { sha256: string }[] = await this.db(manager).query('SELECT DISTINCT sha256 FROM mfile WHERE sha256 = ANY($1::char(64)[])', [sha256s]);
    return new Set(held.map((row) => row.sha256));
  }

  // --- used by the WebDAV tree

  /** The columns of an Mfile without its metadata: a WebDAV listing of thousands of files reads only what it shows. */
  static readonly LEAN_COLUMNS =
    'id, container_id, service_id, folder_id, name, size, md5, sha256, mimetype, blob_key, created_at, updated_at, content_updated_at';

  /** An Mfile from a row of LEAN_COLUMNS (its metadata left empty). */
  static fromLeanRow(row: LeanMfileRow): Mfile {
    return Object.assign(new Mfile(), {
      id: row.id,
      containerId: row.container_id,
      serviceId: row.service_id,
      folderId: row.folder_id,
      name: row.name,
      size: Number(row.size),
      md5: row.md5,
      sha256: row.sha256,
      mimetype: row.mimetype,
      blobKey: row.blob_key,
      metadata: {},
      createdAt: row.created_at,
      updatedAt: row.updated_at,
      contentUpdatedAt: row.content_updated_at,
    });
  }

  /** One Mfile without its metadata, or null. */
  async findLean(id: string, manager?: EntityManager): Promise<Mfile | null> {
    const [row] = (await this.db(manager).query(`SELECT ${MfileRepository.LEAN_COLUMNS} FROM mfile WHERE id = $1`, [id])) as LeanMfileRow[];
    return row ? MfileRepository.fromLeanRow(row) : null;
  }

  /** The files of a folder without their metadata, by name. */
  async listLeanInFolder(folderId: string, manager?: EntityManager): Promise<Mfile[]> {
    const rows = (await this.db(manager).query(`SELECT ${MfileRepository.LEAN_COLUMNS} FROM mfile WHERE folder_id = $1 ORDER BY name`, [
      folderId,
    ])) as LeanMfileRow[];
    return rows.map((row) => MfileRepository.fromLeanRow(row));
  }

  /** One page of a folder's files by name (keyset: the names after `afterName`), for listings too large to hold at once. */
  async listLeanInFolderPage(folderId: string, afterName: string | null, limit: number, manager?: EntityManager): Promise<Mfile[]> {
    const rows = (await this.db(manager).query(
      `SELECT ${MfileRepository.LEAN_COLUMNS} FROM mfile WHERE folder_id = $1 AND ($2::text IS NULL OR name > $2) ORDER BY name LIMIT $3`,
      [folderId, afterName, limit],
    )) as LeanMfileRow[];
    return rows.map((row) => MfileRepository.fromLeanRow(row));
  }

  // --- used by the worker (task effects)

  /** The Mfile's current blob and size, its row locked for the rest of the transaction; undefined when it is gone. */
  async lockContent(id: string, manager?: EntityManager): Promise<{ blobKey: string; size: number } | undefined> {
    const [row] = await this.db(manager).query('SELECT blob_key AS "blobKey", size::float AS size FROM mfile WHERE id = $1 FOR UPDATE', [id]);
    return row;
  }

  /**
   * A task gave the Mfile other bytes (a fetch) or restored them: what described the old bytes goes unless they are
   * the same bytes; `newContent` moves contentUpdatedAt.
   */
  async replaceContentFromTask(
    id: string,
    content: { blobKey: string; size: number; md5: string; sha256: string },
    newContent: boolean,
    manager?: EntityManager,
  ): Promise<{ id: string; name: string; folderId: string; size: number; mimetype: string; sha256: string } | undefined> {
    const [rows] = await this.db(manager).query(
      `UPDATE mfile SET blob_key = $2, size = $3, md5 = $4, sha256 = $5, content_updated_at = CASE WHEN $6 THEN now() ELSE content_updated_at END,
              metadata = CASE WHEN sha256 = $5 THEN metadata ELSE ${METADATA_WITHOUT_CONTENT_DERIVED} END
        WHERE id = $1
        RETURNING id, name, folder_id AS "folderId", size, mimetype, sha256`,
      [id, content.blobKey, content.size, content.md5, content.sha256, newContent],
    );
    const row = (rows as Array<{ id: string; name: string; folderId: string; size: string; mimetype: string; sha256: string }>)[0];
    return row && { ...row, size: Number(row.size) };
  }

  /**
   * What a task found out, in one statement: new metadata keys, rendition links merged into the old ones, the type;
   * only while the file still holds the bytes the task read (`sha256`).
   */
  async applyTaskFindings(id: string, findings: TaskFindings, manager?: EntityManager): Promise<void> {
    const { sql, params } = this.taskFindingsStatement(id, findings, 1, 'true');
    await queryPrepared(this.db(manager), sql, params);
  }

  /**
   * The same UPDATE for another statement (a job's outcome, `JobRepository.recordOutcomeWith`, as a CTE item):
   * placeholders from `$firstParam`, written only where `onlyIf` holds.
   */
  taskFindingsStatement(id: string, findings: TaskFindings, firstParam: number, onlyIf: string): { sql: string; params: unknown[] } {
    const p = (n: number) => `$${firstParam + n - 1}`;
    return {
      sql: `UPDATE mfile SET metadata = (metadata || ${p(2)}::jsonb)
                 || CASE WHEN ${p(3)}::jsonb = '{}'::jsonb THEN '{}'::jsonb ELSE jsonb_build_object('renditions', COALESCE(metadata->'renditions', '{}'::jsonb) || ${p(3)}::jsonb) END,
              mimetype = COALESCE(${p(4)}::varchar, mimetype)
        WHERE id = ${p(1)}::uuid AND sha256 = ${p(5)}::char(64) AND ${onlyIf}`,
      params: [id, JSON.stringify(findings.metadata), JSON.stringify(findings.renditions), findings.mimetype, findings.sha256],
    };
  }

  /** A job is deleted: the links of its inputs' metadata to its outputs (thumbnail, poster, proxy...) go with it. */
  async dropRenditionsOfJob(jobId: string, manager?: EntityManager): Promise<void> {
    await this.db(manager).query(
      `UPDATE mfile m
          SET metadata = jsonb_set(m.metadata, '{renditions}',
                COALESCE((SELECT jsonb_object_agg(r.key, r.value) FROM jsonb_each(m.metadata->'renditions') r WHERE r.value->>'jobId' IS DISTINCT FROM $2), '{}'::jsonb))
        WHERE m.id IN (SELECT i.mfile_id FROM job_input i WHERE i.job_id = $1)
          AND jsonb_typeof(m.metadata->'renditions') = 'object'
          AND EXISTS (SELECT 1 FROM jsonb_each(m.metadata->'renditions') r WHERE r.value->>'jobId' = $2)`,
      [jobId, jobId],
    );
  }

  /** Up to `limit` Mfiles of a service after `after` in id order, as much as a pipeline needs (a periodic tick's batch). */
  async pageOfServiceRefs(
    serviceId: string,
    after: string,
    limit: number,
  ): Promise<Array<Pick<Mfile, 'id' | 'containerId' | 'serviceId' | 'mimetype' | 'size'>>> {
    return this.dataSource
      .getRepository(Mfile)
      .createQueryBuilder('m')
      .select(['m.id', 'm.containerId', 'm.serviceId', 'm.mimetype', 'm.size'])
      .where('m.service_id = :serviceId AND m.id > :after', { serviceId, after })
      .orderBy('m.id')
      .limit(limit)
      .getMany();
  }

  // --- used by key resolution
  /** Where an Mfile sits (its service, container and folder); null when there is no such Mfile. */
  async placeOf(id: string, manager?: EntityManager): Promise<{ serviceId: string; containerId: string; folderId: string } | null> {
    const [row]: Array<{ service_id: string; container_id: string; folder_id: string }> = await this.db(manager).query(
      'SELECT service_id, container_id, folder_id FROM mfile WHERE id = $1',
      [id],
    );
    return row ? { serviceId: row.service_id, containerId: row.container_id, folderId: row.folder_id } : null;
  }
}

/** A row of MfileRepository.LEAN_COLUMNS, as PostgreSQL returns it (bigint as a string). */
export interface LeanMfileRow {
  id: string;
  container_id: string;
  service_id: string;
  folder_id: string;
  name: string;
  size: string;
  md5: string;
  sha256: string;
  mimetype: string;
  blob_key: string;
  created_at: Date;
  updated_at: Date;
  content_updated_at: Date;
}

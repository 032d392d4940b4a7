import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { queryPrepared } from '../database/prepared';
import { DataSource, EntityManager } from 'typeorm';
import { ServiceState } from '../common/service-state';
import { Mfile } from '../mfiles/mfile.entity';
import { LeanMfileRow, MfileRepository } from '../mfiles/mfile.repository';
import { Mfolder } from '../mfolders/mfolder.entity';
import { MfolderRepository } from '../mfolders/mfolder.repository';
import { DavLock } from './dav.entities';

/** Where a walk starts: a service's root folder, or a folder by id. */
export type WalkStart = { serviceRoot: string } | { folder: string };

/** What one statement learnt about a path: the start folder, the members it named, the service's state and locks. */
export interface DavWalk {
  /** The folder the walk started from (null when there is none). */
  start: Mfolder | null;
  /** The members named by the path, in order, as far as they exist (a file ends the walk). */
  members: Array<{ kind: 'folder'; folder: Mfolder } | { kind: 'file'; mfile: Mfile }>;
  /** The start folder's service: its management state and its live WebDAV locks (with the start folder). */
  service?: { id: string; containerId: string; state: ServiceState; locks: DavLock[] };
  /** With `keyId`: whether that key and every key it was derived from are neither revoked nor expired, now. */
  keyAlive?: boolean;
}

type WalkRow = LeanMfileRow & {
  depth: number;
  kind: 'folder' | 'file';
  parent_id: string | null;
  suspended: boolean | null;
  container_suspended: boolean | null;
  starts_at: Date | null;
  ends_at: Date | null;
  locks: Array<Record<string, unknown>> | null;
  key_alive: boolean | null;
};

/** The columns of a folder or a lean file, as one row shape (the kind says which). */
const FOLDER_COLUMNS = `'folder'::text AS kind, id, container_id, service_id, parent_id, NULL::uuid AS folder_id, name, NULL::bigint AS size,
  NULL::text AS md5, NULL::text AS sha256, NULL::text AS mimetype, NULL::text AS blob_key, created_at, updated_at, NULL::timestamptz AS content_updated_at`;
const FILE_COLUMNS = `'file'::text, id, container_id, service_id, NULL::uuid, folder_id, name, size, md5, sha256, mimetype, blob_key, created_at, updated_at,
  content_updated_at`;

/**
 * What a WebDAV request reads before it acts, in one statement: the folders and the file its path names (one
 * index probe per name, walked down from a start folder), and, with the start folder, the management state of its
 * service and the service's live locks, and whether the request's key (remembered, not looked up: see
 * RequestAuthenticator.remembered) and its parent chain are still alive. The rows are mfolder's, mfile's, service's,
 * dav_lock's and key's; this read model only reads them (each table's writes stay with its owner).
 */
@Injectable()
export class DavTreeRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  async walk(start: WalkStart, names: readonly string[], options: { withService?: boolean; keyId?: string } = {}, manager?: EntityManager): Promise<DavWalk> {
    const startWhere = 'serviceRoot' in start ? 'service_id = $1 AND parent_id IS NULL' : 'id = $1';
    const startId = 'serviceRoot' in start ? start.serviceRoot : start.folder;
    const service = options.withService
      ? `LEFT JOIN LATERAL (
           SELECT s.suspended, c.suspended AS container_suspended, s.starts_at, s.ends_at,
                  (SELECT json_agg(json_build_object('token', l.token, 'path', l.path, 'scope', l.scope, 'deep', l.deep, 'owner', l.owner,
                                                     'keyId', l.key_id, 'timeoutSeconds', l.timeout_seconds, 'expiresAt', l.expires_at,
                                                     'createdAt', l.created_at))
                     FROM dav_lock l WHERE l.service_id = s.id AND l.expires_at > now()) AS locks
             FROM service s JOIN container c ON c.id = s.container_id WHERE s.id = walk.service_id
         ) st ON walk.depth = 0`
      : '';
    // the key and the keys it was derived from, up its parent chain (depth-bounded, as KeyRepository.deadAncestor)
    const chain = options.keyId
      ? `, chain AS (
           SELECT id, parent_id, revoked_at, expires_at, 0 AS depth FROM key WHERE id = $3::uuid
           UNION ALL SELECT k.id, k.parent_id, k.revoked_at, k.expires_at, c.depth + 1 FROM key k JOIN chain c ON k.id = c.parent_id WHERE c.depth < 100
         )`
      : '';
    const keyAliveColumn = options.keyId
      ? ', (SELECT count(*) > 0 AND bool_and(revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now())) FROM chain) AS key_alive'
      : '';
    const rows = (await queryPrepared(
      manager ?? this.dataSource.manager,
      `WITH RECURSIVE walk AS (
         SELECT 0 AS depth, ${FOLDER_COLUMNS} FROM mfolder WHERE ${startWhere}
         UNION ALL
         SELECT w.depth + 1, m.* FROM walk w CROSS JOIN LATERAL (
           SELECT ${FOLDER_COLUMNS} FROM mfolder WHERE parent_id = w.id AND name = ($2::text[])[w.depth + 1]
           UNION ALL
           SELECT ${FILE_COLUMNS} FROM mfile WHERE folder_id = w.id AND name = ($2::text[])[w.depth + 1]
           ORDER BY 1 DESC LIMIT 1
         ) m
         WHERE w.kind = 'folder' AND w.depth < cardinality($2::text[])
       )${chain}
       SELECT walk.*${options.withService ? ', st.suspended, st.container_suspended, st.starts_at, st.ends_at, st.locks' : ''}${keyAliveColumn}
         FROM walk ${service} ORDER BY walk.depth`,
      options.keyId ? [startId, names, options.keyId] : [startId, names],
    )) as WalkRow[];
    const first = rows[0];
    if (!first || first.depth !== 0) return { start: null, members: [] };
    const keyAlive = options.keyId ? first.key_alive === true : undefined;
    const folderOf = (row: WalkRow) => MfolderRepository.fromRow(row);
    const result: DavWalk = {
      keyAlive,
      start: folderOf(first),
      members: rows
        .slice(1)
        .map((row) =>
          row.kind === 'folder' ? { kind: 'folder' as const, folder: folderOf(row) } : { kind: 'file' as const, mfile: MfileRepository.fromLeanRow(row) },
        ),
    };
    if (options.withService && first.suspended !== null) {
      result.service = {
        id: first.service_id,
        containerId: first.container_id,
        state: { suspended: first.suspended, containerSuspended: first.container_suspended ?? false, startsAt: first.starts_at, endsAt: first.ends_at },
        locks: (first.locks ?? []).map((lock) =>
          Object.assign(new DavLock(), {
            ...lock,
            serviceId: first.service_id,
            expiresAt: new Date(lock.expiresAt as string),
            createdAt: new Date(lock.createdAt as string),
          }),
        ),
      };
    }
    return result;
  }
}

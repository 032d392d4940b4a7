import { DataSource } from 'typeorm';
import { Problems } from '../common/problem';
import { Key } from '../keys/key.entity';
import { Mfile } from '../mfiles/mfile.entity';
import { Mfolder } from '../mfolders/mfolder.entity';

/**
 * What a WebDAV path names. Folders and files are the rows the REST API sees; `provider`, `container` and
 * `single` are read-only collections made up for mounts above a service (an admin key sees containers, a
 * container key its services) or around one file (an Mfile key).
 */
export type DavNode =
  | { kind: 'provider'; names: string[] }
  | { kind: 'container'; names: string[]; id: string; name: string; createdAt: Date; updatedAt: Date }
  | { kind: 'folder'; names: string[]; folder: Mfolder; servicePath: string[] }
  | { kind: 'file'; names: string[]; mfile: Mfile; servicePath: string[] }
  | { kind: 'single'; names: string[]; mfile: Mfile; servicePath: string[] };

export type ContentNode = Extract<DavNode, { kind: 'folder' | 'file' }>;

export const isCollection = (node: DavNode) => node.kind !== 'file';
export const isContent = (node: DavNode): node is ContentNode => node.kind === 'folder' || node.kind === 'file';
export const serviceOf = (node: DavNode): string | null => (node.kind === 'folder' ? node.folder.serviceId : node.kind === 'file' || node.kind === 'single' ? node.mfile.serviceId : null);

/** The most entries a Depth: infinity PROPFIND walks before refusing (RFC 4918 propfind-finite-depth). */
export const MAX_TREE_ENTRIES = 100_000;

const FILE_COLUMNS = 'id, container_id, service_id, folder_id, name, size, md5, sha256, mimetype, blob_key, created_at, updated_at, content_updated_at';

interface FileRow {
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
interface FolderRow {
  id: string;
  container_id: string;
  service_id: string;
  parent_id: string | null;
  name: string;
  created_at: Date;
  updated_at: Date;
}

function toFile(row: FileRow): Mfile {
  return Object.assign(new Mfile(), {
    id: row.id, containerId: row.container_id, serviceId: row.service_id, folderId: row.folder_id, name: row.name, size: Number(row.size), md5: row.md5,
    sha256: row.sha256, mimetype: row.mimetype, blobKey: row.blob_key, metadata: {}, createdAt: row.created_at, updatedAt: row.updated_at, contentUpdatedAt: row.content_updated_at,
  });
}
function toFolder(row: FolderRow): Mfolder {
  return Object.assign(new Mfolder(), {
    id: row.id, containerId: row.container_id, serviceId: row.service_id, parentId: row.parent_id, name: row.name, createdAt: row.created_at, updatedAt: row.updated_at,
  });
}

/** Gives rows with the same name distinct, stable names (the later by id gets ` (id prefix)`). */
function distinctNames<T extends { id: string; name: string }>(rows: T[]): (T & { davName: string })[] {
  const seen = new Set<string>();
  return [...rows]
    .sort((a, b) => (a.id < b.id ? -1 : 1))
    .map((row) => {
      const davName = seen.has(row.name) ? `${row.name} (${row.id.slice(0, 8)})` : row.name;
      seen.add(davName);
      return { ...row, davName };
    });
}

/**
 * Resolves WebDAV paths to rows, from a key's mount root, with a cache that lives as long as one request (a
 * PROPFIND of 10,000 entries costs one query for the listing, not one per entry).
 */
export class DavView {
  private readonly cache = new Map<string, DavNode | null>();

  constructor(
    private readonly dataSource: DataSource,
    readonly root: DavNode,
  ) {}

  static async mount(dataSource: DataSource, key: Key): Promise<DavView> {
    const one = async <T>(sql: string, params: unknown[]): Promise<T> => {
      const [row] = await dataSource.query(sql, params);
      if (!row) throw Problems.notFound(key.resourceType, key.resourceId ?? undefined);
      return row as T;
    };
    switch (key.resourceType) {
      case 'provider':
        return new DavView(dataSource, { kind: 'provider', names: [] });
      case 'container': {
        const row = await one<{ id: string; name: string; created_at: Date; updated_at: Date }>('SELECT id, name, created_at, updated_at FROM container WHERE id = $1', [key.resourceId]);
        return new DavView(dataSource, { kind: 'container', names: [], id: row.id, name: row.name, createdAt: row.created_at, updatedAt: row.updated_at });
      }
      case 'service': {
        const row = await one<FolderRow>('SELECT * FROM mfolder WHERE service_id = $1 AND parent_id IS NULL', [key.resourceId]);
        return new DavView(dataSource, { kind: 'folder', names: [], folder: toFolder(row), servicePath: [] });
      }
      case 'mfolder': {
        const folder = toFolder(await one<FolderRow>('SELECT * FROM mfolder WHERE id = $1', [key.resourceId]));
        return new DavView(dataSource, { kind: 'folder', names: [], folder, servicePath: await folderPath(dataSource, folder.id) });
      }
      case 'mfile': {
        const mfile = toFile(await one<FileRow>(`SELECT ${FILE_COLUMNS} FROM mfile WHERE id = $1`, [key.resourceId]));
        return new DavView(dataSource, { kind: 'single', names: [], mfile, servicePath: await folderPath(dataSource, mfile.folderId) });
      }
      default:
        throw Problems.forbidden(`a ${key.resourceType} key does not open a WebDAV mount; use a container, service, folder or file key`);
    }
  }

  /** The node a path names, or null when nothing is there (its parent may still exist). */
  async resolve(names: readonly string[]): Promise<DavNode | null> {
    let node: DavNode | null = this.root;
    for (let depth = 1; depth <= names.length && node; depth++) {
      const prefix = names.slice(0, depth);
      const cacheKey = prefix.join('/');
      if (this.cache.has(cacheKey)) {
        node = this.cache.get(cacheKey)!;
        continue;
      }
      node = await this.lookup(node, prefix);
      this.cache.set(cacheKey, node);
    }
    return node;
  }

  /** Forgets what this request learned (after it changed the tree). */
  forget(): void {
    this.cache.clear();
  }

  private async lookup(parent: DavNode, names: string[]): Promise<DavNode | null> {
    const name = names[names.length - 1];
    if (parent.kind === 'folder') {
      // one query for both kinds (a name is taken by a folder or a file, never both: MfoldersService.assertNameFree)
      const [row] = (await this.dataSource.query(
        `SELECT 'folder' AS kind, id, container_id, service_id, parent_id, NULL::uuid AS folder_id, name, NULL::bigint AS size, NULL AS md5, NULL AS sha256,
                NULL AS mimetype, NULL AS blob_key, created_at, updated_at, NULL::timestamptz AS content_updated_at
           FROM mfolder WHERE parent_id = $1 AND name = $2
         UNION ALL
         SELECT 'file', id, container_id, service_id, NULL, folder_id, name, size, md5, sha256, mimetype, blob_key, created_at, updated_at, content_updated_at
           FROM mfile WHERE folder_id = $1 AND name = $2
         ORDER BY kind DESC LIMIT 1`,
        [parent.folder.id, name],
      )) as (FolderRow & FileRow & { kind: 'folder' | 'file' })[];
      if (!row) return null;
      const servicePath = [...parent.servicePath, name];
      return row.kind === 'folder' ? { kind: 'folder', names, folder: toFolder(row), servicePath } : { kind: 'file', names, mfile: toFile(row), servicePath };
    }
    if (parent.kind === 'file') return null;
    const children = await this.children(parent);
    return children.find((node) => node.names[node.names.length - 1] === name) ?? null;
  }

  /** The members of a collection, cached for the rest of the request. */
  async children(parent: DavNode): Promise<DavNode[]> {
    const below = (name: string) => [...parent.names, name];
    let nodes: DavNode[];
    switch (parent.kind) {
      case 'provider': {
        const rows: { id: string; name: string; created_at: Date; updated_at: Date }[] = await this.dataSource.query('SELECT id, name, created_at, updated_at FROM container');
        nodes = distinctNames(rows).map((row) => ({ kind: 'container', names: below(row.davName), id: row.id, name: row.name, createdAt: row.created_at, updatedAt: row.updated_at }));
        break;
      }
      case 'container': {
        const rows: (FolderRow & { service_name: string; service_id: string })[] = await this.dataSource.query(
          'SELECT f.*, s.name AS service_name FROM mfolder f JOIN service s ON s.id = f.service_id WHERE s.container_id = $1 AND f.parent_id IS NULL',
          [parent.id],
        );
        nodes = distinctNames(rows.map((row) => ({ id: row.service_id, name: row.service_name, row }))).map(({ davName, row }) => ({
          kind: 'folder',
          names: below(davName),
          folder: toFolder(row),
          servicePath: [],
        }));
        break;
      }
      case 'folder': {
        const [folders, files] = await Promise.all([
          this.dataSource.query('SELECT * FROM mfolder WHERE parent_id = $1 ORDER BY name', [parent.folder.id]) as Promise<FolderRow[]>,
          this.dataSource.query(`SELECT ${FILE_COLUMNS} FROM mfile WHERE folder_id = $1 ORDER BY name`, [parent.folder.id]) as Promise<FileRow[]>,
        ]);
        nodes = [
          ...folders.map((row): DavNode => ({ kind: 'folder', names: below(row.name), folder: toFolder(row), servicePath: [...parent.servicePath, row.name] })),
          ...files.map((row): DavNode => ({ kind: 'file', names: below(row.name), mfile: toFile(row), servicePath: [...parent.servicePath, row.name] })),
        ];
        break;
      }
      case 'single':
        nodes = [{ kind: 'file', names: below(parent.mfile.name), mfile: parent.mfile, servicePath: [...parent.servicePath, parent.mfile.name] }];
        break;
      default:
        return [];
    }
    for (const node of nodes) this.cache.set(node.names.join('/'), node);
    return nodes;
  }

  /** Every node below `parent` (Depth: infinity), breadth first, refusing past MAX_TREE_ENTRIES. */
  async descendants(parent: DavNode, limit = MAX_TREE_ENTRIES): Promise<DavNode[] | 'too-many'> {
    const result: DavNode[] = [];
    let level = [parent];
    while (level.length) {
      const next: DavNode[] = [];
      for (const node of level) {
        if (!isCollection(node)) continue;
        const children = await this.children(node);
        result.push(...children);
        next.push(...children);
        if (result.length > limit) return 'too-many';
      }
      level = next;
    }
    return result;
  }
}

/** The names from a service's root folder down to a folder (for lock paths). */
async function folderPath(dataSource: DataSource, folderId: string): Promise<string[]> {
  const rows: { name: string; parent_id: string | null }[] = await dataSource.query(
    `WITH RECURSIVE chain AS (
       SELECT id, parent_id, name, 0 AS depth FROM mfolder WHERE id = $1
       UNION ALL SELECT f.id, f.parent_id, f.name, c.depth + 1 FROM mfolder f JOIN chain c ON f.id = c.parent_id
     ) SELECT name, parent_id FROM chain ORDER BY depth DESC`,
    [folderId],
  );
  return rows.filter((row) => row.parent_id !== null).map((row) => row.name);
}


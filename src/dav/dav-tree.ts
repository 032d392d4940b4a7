import { Problems } from '../common/problem';
import { ContainerRepository } from '../containers/container.repository';
import { Key } from '../keys/key.entity';
import { Mfile } from '../mfiles/mfile.entity';
import { MfileRepository } from '../mfiles/mfile.repository';
import { Mfolder } from '../mfolders/mfolder.entity';
import { MfolderRepository } from '../mfolders/mfolder.repository';
import { DavTreeRepository, DavWalk } from './dav-tree.repository';

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
export const serviceOf = (node: DavNode): string | null =>
  node.kind === 'folder' ? node.folder.serviceId : node.kind === 'file' || node.kind === 'single' ? node.mfile.serviceId : null;

/** The most entries `descendants` collects before refusing (callers that can stream use `walk` instead). */
export const MAX_TREE_ENTRIES = 100_000;

/** How many files `walk` reads (and hands on) at a time. */
export const WALK_PAGE = 200;

/** Where the tree is read from: the repositories of the rows it shows. */
export interface DavTreeSource {
  containers: ContainerRepository;
  folders: MfolderRepository;
  files: MfileRepository;
  walks: DavTreeRepository;
}

/** What a view learnt of a service when it was opened: its management state and live locks (read with the path). */
export type PrefetchedService = NonNullable<DavWalk['service']>;

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

  /** The service of a service-key mount, read in the statement that opened the view. */
  prefetched?: PrefetchedService;

  constructor(
    private readonly source: DavTreeSource,
    readonly root: DavNode,
  ) {}

  /**
   * The key's view, with `names` resolved as far as they exist. A service key's mount, the path below it, the
   * service's state and its live locks are one statement (DavTreeRepository.walk).
   */
  static async mount(source: DavTreeSource, key: Key, names: readonly string[] = []): Promise<DavView> {
    if (key.resourceType === 'service') {
      const walked = await source.walks.walk({ serviceRoot: key.resourceId! }, names, { withService: true });
      if (!walked.start) throw Problems.notFound(key.resourceType, key.resourceId ?? undefined);
      return DavView.opened(source, { ...walked, start: walked.start }, names);
    }
    return DavView.mountOther(source, key);
  }

  /**
   * A service key's view for a key remembered from an earlier request (RequestAuthenticator.remembered), verified in
   * the same statement: null unless the key and every key it was derived from are still alive now (then the caller
   * authenticates the usual way, which refuses it).
   */
  static async mountRemembered(source: DavTreeSource, key: Key, names: readonly string[]): Promise<DavView | null> {
    if (key.resourceType !== 'service') return null;
    const walked = await source.walks.walk({ serviceRoot: key.resourceId! }, names, { withService: true, keyId: key.id });
    if (!walked.start || walked.keyAlive !== true) return null;
    return DavView.opened(source, { ...walked, start: walked.start }, names);
  }

  private static opened(source: DavTreeSource, walked: DavWalk & { start: Mfolder }, names: readonly string[]): DavView {
    const view = new DavView(source, { kind: 'folder', names: [], folder: walked.start, servicePath: [] });
    view.prefetched = walked.service;
    view.remember(view.root as Extract<DavNode, { kind: 'folder' }>, names, walked);
    return view;
  }

  private static async mountOther(source: DavTreeSource, key: Key): Promise<DavView> {
    const found = <T>(row: T | null): T => {
      if (!row) throw Problems.notFound(key.resourceType, key.resourceId ?? undefined);
      return row;
    };
    switch (key.resourceType) {
      case 'provider':
        return new DavView(source, { kind: 'provider', names: [] });
      case 'container': {
        const row = found(await source.containers.findSummary(key.resourceId!));
        return new DavView(source, { kind: 'container', names: [], id: row.id, name: row.name, createdAt: row.createdAt, updatedAt: row.updatedAt });
      }
      case 'mfolder': {
        const folder = found(await source.folders.findFolder(key.resourceId!));
        return new DavView(source, { kind: 'folder', names: [], folder, servicePath: await folderPath(source, folder.id) });
      }
      case 'mfile': {
        const mfile = found(await source.files.findLean(key.resourceId!));
        return new DavView(source, { kind: 'single', names: [], mfile, servicePath: await folderPath(source, mfile.folderId) });
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
      if (node.kind === 'folder') {
        // the rest of the path below a folder is one statement, whatever its depth
        const walked = await this.source.walks.walk({ folder: node.folder.id }, names.slice(depth - 1));
        this.remember(node, names.slice(depth - 1), walked);
        node = this.cache.get(names.join('/')) ?? null;
        break;
      }
      node = await this.lookup(node, prefix);
      this.cache.set(cacheKey, node);
    }
    return node;
  }

  /** Caches what a walk from the folder `from` found for the names `rest` below it; the first name not found is null. */
  private remember(from: Extract<DavNode, { kind: 'folder' }>, rest: readonly string[], walked: DavWalk): void {
    const base = from.names;
    let servicePath = from.servicePath;
    let depth = 0;
    for (const member of walked.members) {
      const memberNames = [...base, ...rest.slice(0, depth + 1)];
      servicePath = [...servicePath, rest[depth]];
      this.cache.set(
        memberNames.join('/'),
        member.kind === 'folder'
          ? { kind: 'folder', names: memberNames, folder: member.folder, servicePath }
          : { kind: 'file', names: memberNames, mfile: member.mfile, servicePath },
      );
      depth++;
    }
    if (depth < rest.length) this.cache.set([...base, ...rest.slice(0, depth + 1)].join('/'), null);
  }

  /** Forgets what this request learned (after it changed the tree). */
  forget(): void {
    this.cache.clear();
  }

  private async lookup(parent: DavNode, names: string[]): Promise<DavNode | null> {
    const name = names[names.length - 1];
    if (parent.kind === 'folder') {
      // one query for both kinds (a name is taken by a folder or a file, never both: MfoldersService.assertNameFree)
      const member = await this.source.folders.findMemberNamed(parent.folder.id, name);
      if (!member) return null;
      const servicePath = [...parent.servicePath, name];
      return member.kind === 'folder'
        ? { kind: 'folder', names, folder: member.folder, servicePath }
        : { kind: 'file', names, mfile: member.mfile, servicePath };
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
        const rows = await this.source.containers.listSummaries();
        nodes = distinctNames(rows).map((row) => ({
          kind: 'container',
          names: below(row.davName),
          id: row.id,
          name: row.name,
          createdAt: row.createdAt,
          updatedAt: row.updatedAt,
        }));
        break;
      }
      case 'container': {
        const rows = await this.source.folders.listServiceRootsOfContainer(parent.id);
        nodes = distinctNames(rows.map((row) => ({ id: row.serviceId, name: row.serviceName, folder: row.folder }))).map(({ davName, folder }) => ({
          kind: 'folder',
          names: below(davName),
          folder,
          servicePath: [],
        }));
        break;
      }
      case 'folder': {
        const [folders, files] = await Promise.all([
          this.source.folders.listSubfolders(parent.folder.id),
          this.source.files.listLeanInFolder(parent.folder.id),
        ]);
        nodes = [
          ...folders.map((folder): DavNode => ({ kind: 'folder', names: below(folder.name), folder, servicePath: [...parent.servicePath, folder.name] })),
          ...files.map((mfile): DavNode => ({ kind: 'file', names: below(mfile.name), mfile, servicePath: [...parent.servicePath, mfile.name] })),
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

  /**
   * How many nodes lie below `parent` at any depth (one query over its folders), to refuse a Depth: infinity
   * listing before its first byte is sent.
   */
  async countBelow(parent: DavNode): Promise<number> {
    if (parent.kind === 'folder') return this.source.folders.countSubtrees([parent.folder.id]);
    if (parent.kind === 'file') return 0;
    if (parent.kind === 'single') return 1;
    const children = await this.children(parent);
    const folders = children.filter((node): node is Extract<DavNode, { kind: 'folder' }> => node.kind === 'folder');
    let below = children.length + (await this.source.folders.countSubtrees(folders.map((node) => node.folder.id)));
    for (const node of children) if (node.kind === 'container') below += await this.countBelow(node);
    return below;
  }

  /**
   * Every node below `parent` (Depth: infinity), depth first, in batches of at most WALK_PAGE files (a folder's
   * files are read a page at a time by name), without keeping what was handed on: memory stays bounded by the
   * depth of the tree and one page, however many entries there are.
   */
  async *walk(parent: DavNode): AsyncGenerator<DavNode[]> {
    const pending: DavNode[] = [parent];
    while (pending.length) {
      const node = pending.pop()!;
      if (node.kind !== 'folder') {
        if (!isCollection(node)) continue;
        const children = await this.children(node);
        if (children.length) yield children;
        pending.push(...[...children].reverse());
        continue;
      }
      const below = (name: string) => [...node.names, name];
      const subfolders = (await this.source.folders.listSubfolders(node.folder.id)).map((folder): DavNode => ({
        kind: 'folder',
        names: below(folder.name),
        folder,
        servicePath: [...node.servicePath, folder.name],
      }));
      if (subfolders.length) yield subfolders;
      let after: string | null = null;
      for (;;) {
        const files = await this.source.files.listLeanInFolderPage(node.folder.id, after, WALK_PAGE);
        if (files.length) {
          yield files.map((mfile): DavNode => ({ kind: 'file', names: below(mfile.name), mfile, servicePath: [...node.servicePath, mfile.name] }));
          after = files[files.length - 1].name;
        }
        if (files.length < WALK_PAGE) break;
      }
      pending.push(...[...subfolders].reverse());
    }
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
async function folderPath(source: DavTreeSource, folderId: string): Promise<string[]> {
  const chain = await source.folders.listAncestry(folderId);
  return chain.filter((folder) => folder.parentId !== null).map((folder) => folder.name);
}

import { Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { Request, Response } from 'express';
import { Readable } from 'node:stream';
import { DataSource } from 'typeorm';
import { sendProblem, toProblem } from '../common/problem.filter';
import { ProblemError, Problems } from '../common/problem';
import { enforceServiceState } from '../keys/key.guard';
import { extractKeySecret } from '../keys/key-extraction';
import { AuthenticatedKey, KeysService } from '../keys/keys.service';
import { ResourceResolver } from '../keys/resource-resolver.service';
import { strongEtag, etagMatches } from '../mfiles/content-headers';
import { MfilesService } from '../mfiles/mfiles.service';
import { Mfolder } from '../mfolders/mfolder.entity';
import { MfoldersService } from '../mfolders/mfolders.service';
import { rawUpload } from '../uploads/upload-source';
import { covers, DavLocks, lockKey, lockNames, parseTimeout, within } from './dav-locks';
import { hrefOf, isBelow, parseDavPath, parseDestination, samePath } from './dav-path';
import { DavProperties, ResourceRef } from './dav-properties';
import { ContentNode, DavNode, DavView, isCollection, isContent, serviceOf } from './dav-tree';
import { DavLock } from './dav.entities';
import { IfList, parseIfHeader, submittedTokens } from './if-header';
import { child, clark, DAV, elements, escapeXml, fromClark, MAX_XML_BYTES, parseXml, serializeXml, XmlElement } from './xml';

/** Everything one WebDAV request knows: who asks, what they see, which lock tokens they hold. */
export interface DavRequest {
  req: Request;
  res: Response;
  auth: AuthenticatedKey;
  view: DavView;
  names: string[];
  ifLists: IfList[];
  submitted: Set<string>;
  locks: Map<string, DavLock[]>;
  services: Map<string, Awaited<ReturnType<ResourceResolver['resolve']>>>;
}

/** Where a path is or would be: its node (if any), its parent, and its place in a service (for locks). */
interface Target {
  names: string[];
  node: DavNode | null;
  parent: DavNode | null;
  serviceId: string | null;
  servicePath: string[];
}

type PropRequest = { type: 'allprop'; include: XmlElement[] } | { type: 'propname' } | { type: 'prop'; props: XmlElement[] };

/** Live properties we compute; they cannot be set or removed with PROPPATCH. */
const LIVE = ['creationdate', 'displayname', 'getcontentlength', 'getcontenttype', 'getetag', 'getlastmodified', 'lockdiscovery', 'resourcetype', 'supportedlock'];
const SUPPORTED_LOCK =
  '<D:lockentry><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype></D:lockentry>' +
  '<D:lockentry><D:lockscope><D:shared/></D:lockscope><D:locktype><D:write/></D:locktype></D:lockentry>';
const XML_HEAD = '<?xml version="1.0" encoding="utf-8"?>\n';
export const DAV_METHODS = ['OPTIONS', 'GET', 'HEAD', 'PUT', 'DELETE', 'MKCOL', 'COPY', 'MOVE', 'PROPFIND', 'PROPPATCH', 'LOCK', 'UNLOCK'];

const status = (code: number) => `HTTP/1.1 ${code} ${{ 200: 'OK', 403: 'Forbidden', 404: 'Not Found', 424: 'Failed Dependency', 409: 'Conflict' }[code] ?? ''}`;
const folderEtag = (node: DavNode) => (node.kind === 'folder' ? `"${node.folder.id}-${node.folder.updatedAt.getTime()}"` : undefined);
const etagOf = (node: DavNode | null) => (!node ? undefined : node.kind === 'file' ? strongEtag(node.mfile.sha256) : folderEtag(node));
/** Where a lock's root is in the request's names (the mount may start above or below the service root). */
const lockRootNames = (lock: DavLock, requestNames: readonly string[], servicePath: readonly string[]) =>
  requestNames.slice(0, requestNames.length - (servicePath.length - lockNames(lock).length));
const refOf = (node: DavNode): ResourceRef | null => (node.kind === 'file' ? { kind: 'mfile', id: node.mfile.id } : node.kind === 'folder' ? { kind: 'mfolder', id: node.folder.id } : null);

/**
 * The WebDAV method handlers (class 1 and 2) over Mfolders and Mfiles. They are registered on webdav-server's
 * WebDAVServer (see dav.middleware.ts) and replace its stock commands: those re-parse the body once per
 * resource, accept malformed XML, ignore Overwrite: F on COPY, accept MKCOL bodies, keep locks in one process's
 * memory and crash the process on PROPPATCH and on complex If headers (DESIGN.md). Every byte goes through the
 * same storage and download paths as the REST API; every decision goes through the key's actions.
 */
@Injectable()
export class DavService {
  private readonly logger = new Logger('dav');

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly keys: KeysService,
    private readonly resolver: ResourceResolver,
    private readonly mfiles: MfilesService,
    private readonly folders: MfoldersService,
    private readonly locks: DavLocks,
    private readonly properties: DavProperties,
  ) {}

  /** Authenticates (the Basic-auth password is the key) and opens the key's view. 401 asks for credentials. */
  async open(req: Request, res: Response): Promise<DavRequest> {
    const names = parseDavPath(req.originalUrl ?? req.url);
    let auth: AuthenticatedKey;
    try {
      auth = await this.keys.authenticate(extractKeySecret(req));
    } catch (error) {
      res.setHeader('WWW-Authenticate', 'Basic realm="MServe", charset="UTF-8"');
      throw error;
    }
    const view = await DavView.mount(this.dataSource, auth.key);
    const ifHeader = req.headers.if;
    const ifLists = typeof ifHeader === 'string' ? parseIfHeader(ifHeader) : [];
    return { req, res, auth, view, names, ifLists, submitted: submittedTokens(ifLists), locks: new Map(), services: new Map() };
  }

  async run(method: string, ctx: DavRequest): Promise<void> {
    switch (method) {
      case 'OPTIONS':
        return this.options(ctx);
      case 'GET':
      case 'HEAD':
        return this.get(ctx);
      case 'PUT':
        return this.put(ctx);
      case 'DELETE':
        return this.delete(ctx);
      case 'MKCOL':
        return this.mkcol(ctx);
      case 'COPY':
      case 'MOVE':
        return this.copyOrMove(ctx, method);
      case 'PROPFIND':
        return this.propfind(ctx);
      case 'PROPPATCH':
        return this.proppatch(ctx);
      case 'LOCK':
        return this.lock(ctx);
      case 'UNLOCK':
        return this.unlock(ctx);
      default:
        throw new ProblemError(501, 'not-implemented', 'Not Implemented', `${method} is not a WebDAV method this server implements`);
    }
  }

  /** The answer for any error: problem+json; a half-read body closes the connection (its rest is unread). */
  fail(req: Request, res: Response, error: unknown): void {
    const problem = toProblem(error, String(req.id ?? ''));
    // an answer we chose (ProblemError) is not a fault; anything else that reached here is
    if (!(error instanceof ProblemError)) this.logger.error(`${req.method} ${req.originalUrl}: ${(error as Error)?.stack ?? String(error)}`);
    sendProblem(res, problem);
  }

  // ---------------------------------------------------------------------------------------------------------
  // Shared checks
  // ---------------------------------------------------------------------------------------------------------

  private async target(ctx: DavRequest, names: string[]): Promise<Target> {
    const node = await ctx.view.resolve(names);
    const parent = names.length ? await ctx.view.resolve(names.slice(0, -1)) : null;
    if (node && (node.kind === 'folder' || node.kind === 'file' || node.kind === 'single')) return { names, node, parent, serviceId: serviceOf(node), servicePath: node.servicePath };
    if (!node && parent?.kind === 'folder') return { names, node, parent, serviceId: parent.folder.serviceId, servicePath: [...parent.servicePath, names[names.length - 1]] };
    return { names, node, parent, serviceId: null, servicePath: [] };
  }

  /** The key must hold the action; the service must not be suspended or outside its time window for writes. */
  private async need(ctx: DavRequest, action: string, serviceId: string | null, what: string): Promise<void> {
    if (!ctx.auth.actions.has(action)) throw Problems.missingActions([action], what);
    if (!serviceId) return;
    let resolved = ctx.services.get(serviceId);
    if (!resolved) {
      resolved = await this.resolver.resolve({ type: 'service', id: serviceId });
      ctx.services.set(serviceId, resolved);
    }
    enforceServiceState(resolved, action, ctx.auth.actions);
  }

  private async locksOf(ctx: DavRequest, serviceId: string): Promise<DavLock[]> {
    let locks = ctx.locks.get(serviceId);
    if (!locks) {
      locks = await this.locks.active(serviceId);
      ctx.locks.set(serviceId, locks);
    }
    return locks;
  }

  /** RFC 4918 §10.4: the If header must hold (412), evaluated against the resources its lists name. */
  private async checkIf(ctx: DavRequest, target: Target): Promise<void> {
    if (!ctx.ifLists.length) return;
    for (const list of ctx.ifLists) {
      let subject = target;
      if (list.resource) {
        try {
          subject = await this.target(ctx, parseDestination(list.resource, ctx.req.headers.host));
        } catch {
          continue;
        }
      }
      const locks = subject.serviceId ? await this.locksOf(ctx, subject.serviceId) : [];
      const etag = etagOf(subject.node);
      const holds = list.conditions.every((condition) => {
        const value = condition.token
          ? subject.serviceId !== null && locks.some((lock) => lock.token === condition.token && covers(lock, subject.servicePath))
          : etag !== undefined && condition.etag === etag;
        return condition.not ? !value : value;
      });
      if (holds) return;
    }
    throw Problems.preconditionFailed('no list of the If header matches the current state of the resource');
  }

  /**
   * A change to `target` may go ahead only with the token of every lock that protects it (on it, above it with
   * Depth: infinity, on its parent when members are added or removed, below it when a tree is removed), taken
   * by the same key. One token of a set of shared locks on the same resource is enough.
   */
  private async assertUnlocked(ctx: DavRequest, target: Target, scope: { membership?: boolean; tree?: boolean }): Promise<void> {
    if (!target.serviceId) return;
    const locks = await this.locksOf(ctx, target.serviceId);
    const parentPath = target.servicePath.slice(0, -1);
    const relevant = locks.filter(
      (lock) => covers(lock, target.servicePath) || (scope.tree && within(lock, target.servicePath)) || (scope.membership && target.servicePath.length > 0 && covers(lock, parentPath)),
    );
    const held = (lock: DavLock) => ctx.submitted.has(lock.token) && lock.keyId === ctx.auth.key.id;
    const blocking = relevant.filter((lock) => !held(lock) && !(lock.scope === 'shared' && relevant.some((other) => other.scope === 'shared' && other.path === lock.path && held(other))));
    if (blocking.length) {
      throw new ProblemError(423, 'locked', 'Locked', `the resource is locked${ctx.submitted.size ? ' and the If header does not submit its lock token' : ': submit its lock token in an If header'}`, {
        lockRoot: hrefOf(lockRootNames(blocking[0], ctx.names, target.servicePath), true),
      });
    }
  }

  private async writable(ctx: DavRequest, target: Target, scope: { membership?: boolean; tree?: boolean }): Promise<void> {
    await this.checkIf(ctx, target);
    await this.assertUnlocked(ctx, target, scope);
  }

  private readBody(ctx: DavRequest): Promise<Buffer> {
    const { req } = ctx;
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > MAX_XML_BYTES) throw Problems.tooLarge(`the XML body is larger than ${MAX_XML_BYTES} bytes`, { limit: MAX_XML_BYTES });
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      req.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > MAX_XML_BYTES) {
          req.removeAllListeners('data');
          reject(Problems.tooLarge(`the XML body is larger than ${MAX_XML_BYTES} bytes`, { limit: MAX_XML_BYTES }));
          return;
        }
        chunks.push(chunk);
      });
      req.on('end', () => resolve(Buffer.concat(chunks)));
      req.on('error', reject);
    });
  }

  private hasBody(req: Request): boolean {
    return Number(req.headers['content-length'] ?? 0) > 0 || req.headers['transfer-encoding'] !== undefined;
  }

  private depth(ctx: DavRequest, allowed: string[], fallback: string): string {
    const raw = ctx.req.headers.depth;
    const value = typeof raw === 'string' ? raw.trim().toLowerCase() : fallback;
    if (!allowed.includes(value)) throw Problems.badRequest(`Depth: ${String(raw)} is not allowed here; use ${allowed.join(' or ')}`);
    return value;
  }

  // ---------------------------------------------------------------------------------------------------------
  // Methods
  // ---------------------------------------------------------------------------------------------------------

  private async options(ctx: DavRequest): Promise<void> {
    ctx.res.setHeader('Allow', DAV_METHODS.join(', '));
    ctx.res.setHeader('Content-Length', '0');
    ctx.res.status(200).end();
  }

  private async get(ctx: DavRequest): Promise<void> {
    const node = await ctx.view.resolve(ctx.names);
    if (!node) throw Problems.notFound('resource', ctx.names.join('/'));
    if (node.kind === 'file') {
      await this.need(ctx, 'mfile:read', node.mfile.serviceId, node.mfile.name);
      await this.mfiles.sendDownload(ctx.req, ctx.res, node.mfile);
      return;
    }
    // A collection: a plain HTML index, for people who open the mount in a browser.
    await this.needRead(ctx, node);
    const children = await ctx.view.children(node);
    const rows = children
      .map((entry) => {
        const name = entry.names[entry.names.length - 1];
        return `<li><a href="${escapeXml(hrefOf(entry.names, isCollection(entry)))}">${escapeXml(name)}${isCollection(entry) ? '/' : ''}</a></li>`;
      })
      .join('\n');
    const title = escapeXml(hrefOf(ctx.names, true));
    const body = `<!doctype html><html><head><meta charset="utf-8"><title>${title}</title></head><body><h1>${title}</h1><ul>\n${rows}\n</ul></body></html>`;
    ctx.res.status(200).type('text/html; charset=utf-8').setHeader('Content-Length', String(Buffer.byteLength(body)));
    if (ctx.req.method === 'HEAD') ctx.res.end();
    else ctx.res.end(body);
  }

  private async needRead(ctx: DavRequest, node: DavNode): Promise<void> {
    if (node.kind === 'provider') return this.need(ctx, 'container:read', null, 'the containers');
    if (node.kind === 'container') return this.need(ctx, 'service:read', null, `container ${node.name}`);
    if (node.kind === 'folder') return this.need(ctx, 'mfolder:read', node.folder.serviceId, 'this folder');
    return this.need(ctx, 'mfile:read', node.mfile.serviceId, node.mfile.name);
  }

  private async put(ctx: DavRequest): Promise<void> {
    if (ctx.req.headers['content-range']) throw Problems.badRequest('PUT with Content-Range is not a partial update here; use the chunked-upload or tus endpoints');
    const target = await this.target(ctx, ctx.names);
    const { node, parent } = target;
    if (node && isCollection(node)) throw new ProblemError(405, 'method-not-allowed', 'Method Not Allowed', 'PUT cannot replace a collection');
    if (!node && parent?.kind !== 'folder') throw this.noParent(ctx, parent);
    const name = ctx.names[ctx.names.length - 1];
    const etag = etagOf(node);
    const ifNoneMatch = ctx.req.headers['if-none-match'];
    if (ifNoneMatch && node && (ifNoneMatch.trim() === '*' || (etag && etagMatches(ifNoneMatch, etag)))) throw Problems.preconditionFailed('If-None-Match: the resource exists');
    const ifMatch = ctx.req.headers['if-match'];
    if (ifMatch && (!etag || !etagMatches(ifMatch, etag, false))) throw Problems.preconditionFailed('If-Match does not match the current ETag');
    if (node?.kind === 'file') {
      await this.need(ctx, 'mfile:write', node.mfile.serviceId, name);
      await this.writable(ctx, target, {});
      const updated = await this.mfiles.replaceFromSource(node.mfile, rawUpload(ctx.req, node.mfile.name));
      ctx.res.setHeader('ETag', strongEtag(updated.sha256));
      ctx.res.status(204).end();
      return;
    }
    const folder = (parent as Extract<DavNode, { kind: 'folder' }>).folder;
    await this.need(ctx, 'mfile:create', folder.serviceId, name);
    await this.writable(ctx, target, { membership: true });
    const created = await this.mfiles.createFromSource(ctx.auth.key, folder, rawUpload(ctx.req, name));
    ctx.res.setHeader('ETag', strongEtag(created.sha256));
    ctx.res.setHeader('Location', hrefOf(ctx.names, false));
    ctx.res.status(201).end();
  }

  /** Why something cannot be created at this path: no parent (409), or a parent that holds no files (403/409). */
  private noParent(ctx: DavRequest, parent: DavNode | null): ProblemError {
    if (!parent) return Problems.conflict(`the parent collection ${hrefOf(ctx.names.slice(0, -1), true)} does not exist`);
    if (parent.kind === 'file') return Problems.conflict(`${hrefOf(ctx.names.slice(0, -1), false)} is a file, not a collection`);
    return Problems.forbidden('nothing can be created at this level of the mount: it lists containers, services or one file');
  }

  private async delete(ctx: DavRequest): Promise<void> {
    const target = await this.target(ctx, ctx.names);
    const { node } = target;
    if (!node) throw Problems.notFound('resource', ctx.names.join('/'));
    if (!isContent(node) || ctx.names.length === 0 || (node.kind === 'folder' && node.folder.parentId === null)) {
      throw Problems.forbidden('the root of the mount, a service root, a container or the provider cannot be deleted over WebDAV');
    }
    await this.removeNode(ctx, target, node);
    ctx.res.status(204).end();
  }

  private async removeNode(ctx: DavRequest, target: Target, node: ContentNode): Promise<void> {
    if (node.kind === 'file') {
      await this.need(ctx, 'mfile:delete', node.mfile.serviceId, node.mfile.name);
      await this.writable(ctx, target, { membership: true });
      await this.mfiles.remove(node.mfile.id);
    } else {
      await this.need(ctx, 'mfolder:write', node.folder.serviceId, node.folder.name);
      await this.writable(ctx, target, { membership: true, tree: true });
      await this.folders.remove({ key: ctx.auth.key, actions: ctx.auth.actions }, node.folder.id);
    }
    await this.locks.releaseWithin(target.serviceId!, target.servicePath);
    ctx.locks.clear();
    ctx.view.forget();
  }

  private async mkcol(ctx: DavRequest): Promise<void> {
    if (this.hasBody(ctx.req)) throw Problems.unsupportedMediaType('MKCOL with a body is not supported: send none');
    const target = await this.target(ctx, ctx.names);
    if (target.node) throw new ProblemError(405, 'method-not-allowed', 'Method Not Allowed', 'something already exists at this path');
    if (target.parent?.kind !== 'folder') throw this.noParent(ctx, target.parent);
    await this.need(ctx, 'mfolder:write', target.parent.folder.serviceId, 'the parent folder');
    await this.writable(ctx, target, { membership: true });
    await this.folders.create(target.parent.folder.id, { name: ctx.names[ctx.names.length - 1] });
    ctx.res.setHeader('Location', hrefOf(ctx.names, true));
    ctx.res.status(201).end();
  }

  private async copyOrMove(ctx: DavRequest, method: 'COPY' | 'MOVE'): Promise<void> {
    const destinationNames = parseDestination(ctx.req.headers.destination as string | undefined, ctx.req.headers.host);
    const depth = method === 'COPY' ? this.depth(ctx, ['0', 'infinity'], 'infinity') : this.depth(ctx, ['infinity'], 'infinity');
    const overwriteHeader = String(ctx.req.headers.overwrite ?? 'T').trim().toUpperCase();
    if (overwriteHeader !== 'T' && overwriteHeader !== 'F') throw Problems.badRequest('Overwrite must be T or F');
    const source = await this.target(ctx, ctx.names);
    if (!source.node) throw Problems.notFound('resource', ctx.names.join('/'));
    if (!isContent(source.node) || (source.node.kind === 'folder' && source.node.folder.parentId === null)) {
      throw Problems.forbidden(`${method} of the mount root, a service root, a container or the provider is not possible over WebDAV`);
    }
    if (samePath(destinationNames, ctx.names)) throw Problems.forbidden('the source and the destination are the same resource');
    if (isBelow(destinationNames, ctx.names)) throw Problems.forbidden(`a collection cannot be ${method === 'COPY' ? 'copied' : 'moved'} into itself`);
    if (isBelow(ctx.names, destinationNames)) throw Problems.forbidden('the destination contains the source: overwriting it would remove the source');
    const destination = await this.target(ctx, destinationNames);
    if (destination.parent?.kind !== 'folder') throw this.noParent({ ...ctx, names: destinationNames }, destination.parent);
    if (destination.node && overwriteHeader === 'F') throw Problems.preconditionFailed('the destination exists and Overwrite is F');
    const sourceNode = source.node;
    const destinationFolder = destination.parent.folder;
    const name = destinationNames[destinationNames.length - 1];
    // rights first, then If and locks, then the change
    if (method === 'MOVE') await this.need(ctx, sourceNode.kind === 'file' ? 'mfile:write' : 'mfolder:write', serviceOf(sourceNode), 'the source');
    else await this.needRead(ctx, sourceNode);
    await this.need(ctx, sourceNode.kind === 'file' ? 'mfile:create' : 'mfolder:write', destinationFolder.serviceId, 'the destination');
    if (method === 'MOVE') await this.writable(ctx, source, { membership: true, tree: true });
    else await this.checkIf(ctx, source);
    await this.assertUnlocked(ctx, destination, { membership: true, tree: true });
    if (destination.node) {
      if (!isContent(destination.node)) throw Problems.forbidden('the destination cannot be replaced');
      await this.removeNode(ctx, destination, destination.node);
    }
    const auth = { key: ctx.auth.key, actions: ctx.auth.actions };
    if (method === 'MOVE' && serviceOf(sourceNode) === destinationFolder.serviceId) {
      if (sourceNode.kind === 'file') await this.mfiles.update(auth, sourceNode.mfile.id, { name, folderId: destinationFolder.id });
      else await this.folders.update(auth, sourceNode.folder.id, { name, parentId: destinationFolder.id });
    } else {
      await this.copyTree(ctx, sourceNode, destinationFolder, name, depth === 'infinity');
      if (method === 'MOVE') await this.removeSource(ctx, sourceNode);
    }
    if (method === 'MOVE') await this.locks.releaseWithin(source.serviceId!, source.servicePath);
    ctx.res.setHeader('Location', hrefOf(destinationNames, isCollection(sourceNode)));
    ctx.res.status(destination.node ? 204 : 201).end();
  }

  private async removeSource(ctx: DavRequest, node: ContentNode): Promise<void> {
    if (node.kind === 'file') await this.mfiles.remove(node.mfile.id);
    else await this.folders.remove({ key: ctx.auth.key, actions: ctx.auth.actions }, node.folder.id);
  }

  private async copyTree(ctx: DavRequest, node: ContentNode, folder: Mfolder, name: string, deep: boolean): Promise<void> {
    if (node.kind === 'file') {
      const copy = await this.mfiles.copy(ctx.auth.key, node.mfile, folder, name);
      await this.properties.copy({ kind: 'mfile', id: node.mfile.id }, { kind: 'mfile', id: copy.id });
      return;
    }
    const created = await this.folders.create(folder.id, { name });
    await this.properties.copy({ kind: 'mfolder', id: node.folder.id }, { kind: 'mfolder', id: created.id });
    if (!deep) return;
    for (const member of await ctx.view.children(node)) {
      if (isContent(member)) await this.copyTree(ctx, member, created, member.names[member.names.length - 1], true);
    }
  }

  // ---------------------------------------------------------------------------------------------------------
  // Properties
  // ---------------------------------------------------------------------------------------------------------

  private async propfind(ctx: DavRequest): Promise<void> {
    const depth = this.depth(ctx, ['0', '1', 'infinity'], 'infinity');
    const body = await this.readBody(ctx);
    const request = this.parsePropfind(body);
    const node = await ctx.view.resolve(ctx.names);
    if (!node) throw Problems.notFound('resource', ctx.names.join('/'));
    await this.needRead(ctx, node);
    let nodes: DavNode[] = [node];
    if (depth === '1' && isCollection(node)) nodes.push(...(await ctx.view.children(node)));
    if (depth === 'infinity' && isCollection(node)) {
      const all = await ctx.view.descendants(node);
      if (all === 'too-many') {
        throw new ProblemError(403, 'propfind-finite-depth', 'Forbidden', 'Depth: infinity would list too many resources here; use Depth: 1', { precondition: 'DAV:propfind-finite-depth' });
      }
      nodes = nodes.concat(all);
    }
    const refs = nodes.map(refOf).filter((ref): ref is ResourceRef => ref !== null);
    const dead = await this.properties.of(refs);
    const services = [...new Set(nodes.map(serviceOf).filter((id): id is string => id !== null))];
    for (const serviceId of services) await this.locksOf(ctx, serviceId);
    const { res } = ctx;
    res.status(207);
    res.setHeader('Content-Type', 'application/xml; charset=utf-8');
    res.write(`${XML_HEAD}<D:multistatus xmlns:D="DAV:">`);
    let batch = '';
    for (const entry of nodes) {
      batch += this.renderResponse(ctx, entry, request, dead.get(refOf(entry)?.id ?? '') ?? new Map());
      if (batch.length > 64 * 1024) {
        if (!res.write(batch)) await new Promise((resolve) => res.once('drain', resolve));
        batch = '';
      }
    }
    res.end(`${batch}</D:multistatus>`);
  }

  private parsePropfind(body: Buffer): PropRequest {
    if (body.length === 0) return { type: 'allprop', include: [] };
    const root = parseXml(body);
    if (root.ns !== DAV || root.local !== 'propfind') throw Problems.badRequest('a PROPFIND body must be a DAV:propfind element');
    const [first] = elements(root);
    if (!first || first.ns !== DAV) throw Problems.badRequest('DAV:propfind must hold DAV:prop, DAV:allprop or DAV:propname');
    if (first.local === 'propname') return { type: 'propname' };
    if (first.local === 'allprop') return { type: 'allprop', include: child(root, DAV, 'include') ? elements(child(root, DAV, 'include')!) : [] };
    if (first.local === 'prop') return { type: 'prop', props: elements(first) };
    throw Problems.badRequest(`DAV:propfind cannot hold DAV:${first.local}`);
  }

  /** The live properties of a node, as serialised elements keyed by local name (all in DAV:). */
  private live(ctx: DavRequest, node: DavNode): Map<string, string> {
    const props = new Map<string, string>();
    const name = node.names.length ? node.names[node.names.length - 1] : node.kind === 'container' ? node.name : node.kind === 'folder' ? node.folder.name : '';
    const dates =
      node.kind === 'file' ? [node.mfile.createdAt, node.mfile.contentUpdatedAt] : node.kind === 'folder' ? [node.folder.createdAt, node.folder.updatedAt] : node.kind === 'container' ? [node.createdAt, node.updatedAt] : node.kind === 'single' ? [node.mfile.createdAt, node.mfile.updatedAt] : [new Date(0), new Date(0)];
    props.set('creationdate', `<D:creationdate>${dates[0].toISOString()}</D:creationdate>`);
    props.set('displayname', `<D:displayname>${escapeXml(name)}</D:displayname>`);
    props.set('getlastmodified', `<D:getlastmodified>${dates[1].toUTCString()}</D:getlastmodified>`);
    props.set('resourcetype', isCollection(node) ? '<D:resourcetype><D:collection/></D:resourcetype>' : '<D:resourcetype/>');
    const etag = etagOf(node);
    if (etag) props.set('getetag', `<D:getetag>${escapeXml(etag)}</D:getetag>`);
    if (node.kind === 'file') {
      props.set('getcontentlength', `<D:getcontentlength>${node.mfile.size}</D:getcontentlength>`);
      props.set('getcontenttype', `<D:getcontenttype>${escapeXml(node.mfile.mimetype)}</D:getcontenttype>`);
    }
    const serviceId = serviceOf(node);
    if (serviceId && (node.kind === 'folder' || node.kind === 'file')) {
      props.set('supportedlock', `<D:supportedlock>${SUPPORTED_LOCK}</D:supportedlock>`);
      const servicePath = node.servicePath;
      const active = (ctx.locks.get(serviceId) ?? []).filter((lock) => covers(lock, servicePath));
      props.set('lockdiscovery', `<D:lockdiscovery>${active.map((lock) => this.activeLock(lock, node.names, servicePath)).join('')}</D:lockdiscovery>`);
    }
    return props;
  }

  private renderResponse(ctx: DavRequest, node: DavNode, request: PropRequest, dead: Map<string, string>): string {
    const live = this.live(ctx, node);
    const found: string[] = [];
    const missing: string[] = [];
    if (request.type === 'propname') {
      for (const name of live.keys()) found.push(`<D:${name}/>`);
      for (const name of dead.keys()) found.push(serializeXml({ ...fromClark(name), attributes: [], children: [] }));
    } else if (request.type === 'allprop') {
      found.push(...live.values(), ...dead.values());
    } else {
      for (const prop of request.props) {
        const value = prop.ns === DAV ? live.get(prop.local) : undefined;
        const deadValue = dead.get(clark(prop.ns, prop.local));
        if (value) found.push(value);
        else if (deadValue) found.push(deadValue);
        else missing.push(serializeXml({ ...prop, attributes: [], children: [] }));
      }
    }
    let out = `<D:response><D:href>${escapeXml(hrefOf(node.names, isCollection(node)))}</D:href>`;
    if (found.length || request.type !== 'prop') out += `<D:propstat><D:prop>${found.join('')}</D:prop><D:status>${status(200)}</D:status></D:propstat>`;
    if (missing.length) out += `<D:propstat><D:prop>${missing.join('')}</D:prop><D:status>${status(404)}</D:status></D:propstat>`;
    return `${out}</D:response>`;
  }

  private async proppatch(ctx: DavRequest): Promise<void> {
    const body = await this.readBody(ctx);
    if (!body.length) throw Problems.badRequest('PROPPATCH needs a DAV:propertyupdate body');
    const root = parseXml(body);
    if (root.ns !== DAV || root.local !== 'propertyupdate') throw Problems.badRequest('a PROPPATCH body must be a DAV:propertyupdate element');
    const target = await this.target(ctx, ctx.names);
    const { node } = target;
    if (!node) throw Problems.notFound('resource', ctx.names.join('/'));
    const ref = refOf(node);
    if (!ref || !isContent(node)) throw Problems.forbidden('properties can only be set on folders and files');
    await this.need(ctx, node.kind === 'file' ? 'mfile:write' : 'mfolder:write', serviceOf(node), 'this resource');
    await this.writable(ctx, target, {});
    const instructions: ({ set: true; name: string; xml: string; element: XmlElement } | { set: false; name: string; element: XmlElement })[] = [];
    for (const operation of elements(root)) {
      if (operation.ns !== DAV || (operation.local !== 'set' && operation.local !== 'remove')) throw Problems.badRequest(`DAV:propertyupdate cannot hold {${operation.ns}}${operation.local}`);
      const prop = child(operation, DAV, 'prop');
      if (!prop) throw Problems.badRequest(`DAV:${operation.local} must hold a DAV:prop element`);
      for (const element of elements(prop)) {
        const name = clark(element.ns, element.local);
        if (operation.local === 'set') instructions.push({ set: true, name, xml: serializeXml(element), element });
        else instructions.push({ set: false, name, element });
      }
    }
    if (!instructions.length) throw Problems.badRequest('DAV:propertyupdate names no property');
    const isProtected = (element: XmlElement) => element.ns === DAV && LIVE.includes(element.local);
    const refused = instructions.some((instruction) => isProtected(instruction.element));
    if (!refused) await this.properties.apply(ref, instructions);
    const byStatus = new Map<number, string[]>();
    for (const instruction of instructions) {
      const code = !refused ? 200 : isProtected(instruction.element) ? 403 : 424;
      if (!byStatus.has(code)) byStatus.set(code, []);
      byStatus.get(code)!.push(serializeXml({ ...instruction.element, attributes: [], children: [] }));
    }
    const propstats = [...byStatus].map(([code, props]) => `<D:propstat><D:prop>${props.join('')}</D:prop><D:status>${status(code)}</D:status></D:propstat>`).join('');
    const xml = `${XML_HEAD}<D:multistatus xmlns:D="DAV:"><D:response><D:href>${escapeXml(hrefOf(ctx.names, isCollection(node)))}</D:href>${propstats}</D:response></D:multistatus>`;
    ctx.res.status(207).type('application/xml; charset=utf-8').send(xml);
  }

  // ---------------------------------------------------------------------------------------------------------
  // Locks
  // ---------------------------------------------------------------------------------------------------------

  private activeLock(lock: DavLock, requestNames: readonly string[], servicePath: readonly string[]): string {
    const seconds = Math.max(0, Math.round((lock.expiresAt.getTime() - Date.now()) / 1000));
    return (
      `<D:activelock><D:locktype><D:write/></D:locktype><D:lockscope><D:${lock.scope}/></D:lockscope>` +
      `<D:depth>${lock.deep ? 'infinity' : '0'}</D:depth>${lock.owner ? `<D:owner>${lock.owner}</D:owner>` : ''}` +
      `<D:timeout>Second-${seconds}</D:timeout><D:locktoken><D:href>${escapeXml(lock.token)}</D:href></D:locktoken>` +
      `<D:lockroot><D:href>${escapeXml(hrefOf(lockRootNames(lock, requestNames, servicePath), false))}</D:href></D:lockroot></D:activelock>`
    );
  }

  private sendLock(ctx: DavRequest, lock: DavLock, servicePath: string[], code: number): void {
    ctx.res.setHeader('Lock-Token', `<${lock.token}>`);
    const xml = `${XML_HEAD}<D:prop xmlns:D="DAV:"><D:lockdiscovery>${this.activeLock(lock, ctx.names, servicePath)}</D:lockdiscovery></D:prop>`;
    ctx.res.status(code).type('application/xml; charset=utf-8').send(xml);
  }

  private async lock(ctx: DavRequest): Promise<void> {
    const body = await this.readBody(ctx);
    const target = await this.target(ctx, ctx.names);
    if (!target.serviceId || (target.node && !isContent(target.node))) throw Problems.forbidden('only folders and files inside a service can be locked');
    const timeoutSeconds = parseTimeout(ctx.req.headers.timeout as string | undefined);
    const node = target.node;
    const action = !node ? 'mfile:create' : node.kind === 'file' ? 'mfile:write' : 'mfolder:write';
    await this.need(ctx, action, target.serviceId, 'this resource');
    if (body.length === 0) {
      // a refresh: the If header names the lock
      if (!ctx.submitted.size) throw Problems.badRequest('a LOCK without a body refreshes a lock: name it in an If header');
      await this.checkIf(ctx, target);
      const locks = await this.locksOf(ctx, target.serviceId);
      const lock = locks.find((candidate) => ctx.submitted.has(candidate.token) && covers(candidate, target.servicePath));
      if (!lock) throw Problems.preconditionFailed('the If header names no lock of this resource');
      const refreshed = await this.locks.refresh(lock.token, timeoutSeconds);
      if (!refreshed) throw Problems.preconditionFailed('the lock expired');
      this.sendLock(ctx, refreshed, target.servicePath, 200);
      return;
    }
    const root = parseXml(body);
    if (root.ns !== DAV || root.local !== 'lockinfo') throw Problems.badRequest('a LOCK body must be a DAV:lockinfo element');
    const scopeElement = child(root, DAV, 'lockscope');
    const scope = scopeElement && elements(scopeElement)[0];
    if (!scope || scope.ns !== DAV || (scope.local !== 'exclusive' && scope.local !== 'shared')) throw Problems.badRequest('DAV:lockscope must be DAV:exclusive or DAV:shared');
    const typeElement = child(root, DAV, 'locktype');
    const type = typeElement && elements(typeElement)[0];
    if (!type || type.ns !== DAV || type.local !== 'write') throw Problems.badRequest('DAV:locktype must be DAV:write');
    const ownerElement = child(root, DAV, 'owner');
    const owner = ownerElement ? ownerElement.children.map((part) => serializeXml(part)).join('') : null;
    const depth = this.depth(ctx, ['0', 'infinity'], 'infinity');
    await this.checkIf(ctx, target);
    if (!node && target.parent?.kind !== 'folder') throw this.noParent(ctx, target.parent);
    const result = await this.locks.acquire(
      { serviceId: target.serviceId, path: lockKey(target.servicePath), scope: scope.local, deep: depth === 'infinity' && (!node || isCollection(node)), owner, keyId: ctx.auth.key.id, timeoutSeconds },
      target.servicePath,
    );
    if ('conflict' in result) throw new ProblemError(423, 'locked', 'Locked', 'the resource is already locked in a way that conflicts with this lock', { precondition: 'DAV:no-conflicting-lock' });
    if (!node) {
      // RFC 4918 §7.3: locking an unmapped URL creates an empty resource there
      const folder = (target.parent as Extract<DavNode, { kind: 'folder' }>).folder;
      try {
        await this.mfiles.createFromSource(ctx.auth.key, folder, { stream: Readable.from([]), name: ctx.names[ctx.names.length - 1], expectedSize: 0 });
      } catch (error) {
        await this.locks.release(result.token);
        throw error;
      }
      this.sendLock(ctx, result, target.servicePath, 201);
      return;
    }
    this.sendLock(ctx, result, target.servicePath, 200);
  }

  private async unlock(ctx: DavRequest): Promise<void> {
    const header = ctx.req.headers['lock-token'];
    const match = typeof header === 'string' ? /^\s*<([^<>\s]+)>\s*$/.exec(header) : null;
    if (!match) throw Problems.badRequest('UNLOCK needs a Lock-Token header: <urn:uuid:...>');
    const target = await this.target(ctx, ctx.names);
    if (!target.serviceId) throw Problems.conflict('nothing here can be locked');
    const locks = await this.locksOf(ctx, target.serviceId);
    const lock = locks.find((candidate) => candidate.token === match[1]);
    if (!lock || !covers(lock, target.servicePath)) {
      throw new ProblemError(409, 'lock-token-mismatch', 'Conflict', 'the Lock-Token names no lock of this resource', { precondition: 'DAV:lock-token-matches-request-uri' });
    }
    if (lock.keyId !== ctx.auth.key.id) {
      const action = target.node?.kind === 'file' ? 'mfile:write' : 'mfolder:write';
      await this.need(ctx, action, target.serviceId, 'this resource');
    }
    await this.locks.release(lock.token);
    ctx.res.status(204).end();
  }
}

import { Injectable, Logger } from '@nestjs/common';
import type { Request, Response } from 'express';
import { isOutage, sendProblem, toProblem } from '../common/problem.filter';
import { ProblemError, Problems } from '../common/problem';
import { ContainerRepository } from '../containers/container.repository';
import { RequestAuthenticator } from '../keys/request-authenticator';
import { AuthenticatedKey } from '../keys/keys.service';
import { strongEtag, etagMatches } from '../mfiles/content-headers';
import { MfileRepository } from '../mfiles/mfile.repository';
import { expressSink } from '../mfiles/express-sink';
import { MfilesService } from '../mfiles/mfiles.service';
import { Mfolder } from '../mfolders/mfolder.entity';
import { MfolderRepository } from '../mfolders/mfolder.repository';
import { MfoldersService } from '../mfolders/mfolders.service';
import { rawUpload } from '../storage/upload-source';
import { DavLockHandlers } from './dav-lock-handlers';
import { DavLocks } from './dav-locks';
import { hrefOf, isBelow, parseDavPath, parseDestination, samePath } from './dav-path';
import { DavPreconditions } from './dav-preconditions';
import { DavProperties } from './dav-properties';
import { DavPropertyHandlers } from './dav-property-handlers';
import { DavTreeRepository } from './dav-tree.repository';
import { DAV_METHODS, depthOf, DavRequest, etagOf, hasBody, noParent, Target } from './dav-request';
import { ContentNode, DavNode, DavTreeSource, DavView, isCollection, isContent, serviceOf } from './dav-tree';
import { parseIfHeader, submittedTokens } from './if-header';
import { escapeXml } from './xml';

/**
 * The WebDAV method handlers (class 1 and 2) over Mfolders and Mfiles. They are registered on webdav-server's
 * WebDAVServer (see dav.middleware.ts) and replace its stock commands: those re-parse the body once per
 * resource, accept malformed XML, ignore Overwrite: F on COPY, accept MKCOL bodies, keep locks in one process's
 * memory and crash the process on PROPPATCH and on complex If headers (docs/architecture.md, "WebDAV"). Every
 * byte goes through the same storage and download paths as the REST API; every decision goes through the key's
 * actions.
 *
 * This class opens a request and dispatches it, and handles the methods that change content (PUT, DELETE,
 * MKCOL, COPY, MOVE) and GET. The checks every method makes are DavPreconditions; PROPFIND and PROPPATCH are
 * DavPropertyHandlers (their multistatus rendering dav-multistatus.ts); LOCK and UNLOCK are DavLockHandlers.
 */
@Injectable()
export class DavService {
  private readonly logger = new Logger('dav');
  private readonly tree: DavTreeSource;

  constructor(
    private readonly authenticator: RequestAuthenticator,
    private readonly mfiles: MfilesService,
    private readonly folders: MfoldersService,
    private readonly locks: DavLocks,
    private readonly properties: DavProperties,
    private readonly checks: DavPreconditions,
    private readonly propertyHandlers: DavPropertyHandlers,
    private readonly lockHandlers: DavLockHandlers,
    containerRows: ContainerRepository,
    folderRows: MfolderRepository,
    fileRows: MfileRepository,
    walks: DavTreeRepository,
  ) {
    this.tree = { containers: containerRows, folders: folderRows, files: fileRows, walks };
  }

  /** Authenticates (the Basic-auth password is the key) and opens the key's view. 401 asks for credentials. */
  async open(req: Request, res: Response): Promise<DavRequest> {
    const names = parseDavPath(req.originalUrl ?? req.url);
    let auth: AuthenticatedKey;
    let view: DavView | null = null;
    try {
      // a key that authenticated lately is not looked up again: the statement that opens the view checks that it and
      // its parent chain are still alive (one round trip for the key, the path, the service's state and its locks)
      const remembered = this.authenticator.remembered(req);
      if (remembered) view = await DavView.mountRemembered(this.tree, remembered.key, names);
      if (remembered && view) auth = remembered;
      else {
        if (remembered) this.authenticator.forget(req);
        auth = await this.authenticator.authenticate(req, { held: false });
      }
    } catch (error) {
      res.setHeader('WWW-Authenticate', 'Basic realm="MServe", charset="UTF-8"');
      throw error;
    }
    view ??= await DavView.mount(this.tree, auth.key, names);
    const ifHeader = req.headers.if;
    const ifLists = typeof ifHeader === 'string' ? parseIfHeader(ifHeader) : [];
    const ctx: DavRequest = { req, res, auth, view, names, ifLists, submitted: submittedTokens(ifLists), locks: new Map(), services: new Map() };
    // a service key's mount read its service's state and live locks with the path: the checks use them, no other trip
    const service = view.prefetched;
    if (service) {
      ctx.services.set(service.id, {
        type: 'service',
        id: service.id,
        ancestors: new Set([service.id, service.containerId]),
        containerId: service.containerId,
        serviceId: service.id,
        service: service.state,
      });
      ctx.locks.set(service.id, service.locks);
    }
    return ctx;
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
        return this.propertyHandlers.propfind(ctx);
      case 'PROPPATCH':
        return this.propertyHandlers.proppatch(ctx);
      case 'LOCK':
        return this.lockHandlers.lock(ctx);
      case 'UNLOCK':
        return this.lockHandlers.unlock(ctx);
      default:
        throw new ProblemError(501, 'not-implemented', 'Not Implemented', `${method} is not a WebDAV method this server implements`);
    }
  }

  /** The answer for any error: problem+json; a half-read body closes the connection (its rest is unread). */
  /** Answers a failed request with its problem; never throws (a response it cannot write any more is closed). */
  fail(req: Request, res: Response, error: unknown): void {
    try {
      const problem = toProblem(error, String(req.id ?? ''));
      // an answer we chose (ProblemError) is not a fault, nor is a dependency's outage (503); anything else is
      if (isOutage(problem))
        this.logger.warn(`${req.method} ${req.originalUrl}: ${String(problem.dependency)} unavailable (${(error as Error)?.message ?? String(error)})`);
      else if (!(error instanceof ProblemError)) this.logger.error(`${req.method} ${req.originalUrl}: ${(error as Error)?.stack ?? String(error)}`);
      sendProblem(res, problem);
    } catch (failure) {
      this.logger.error(`${req.method} ${req.originalUrl}: could not answer the failure: ${String(failure)}`);
      res.destroy();
    }
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
      await this.checks.need(ctx, 'mfile:read', node.mfile.serviceId, node.mfile.name);
      await this.mfiles.sendDownload(ctx.req, expressSink(ctx.res), node.mfile);
      return;
    }
    // A collection: a plain HTML index, for people who open the mount in a browser.
    await this.checks.needRead(ctx, node);
    const children = await ctx.view.children(node);
    const rows = children
      .map((entry) => {
        const name = entry.names[entry.names.length - 1];
        return `<li><a href="${escapeXml(hrefOf(entry.names, isCollection(entry)))}">${escapeXml(name)}${isCollection(entry) ? '/' : ''}</a></li>`;
      })
      .join('\n');
    const title = escapeXml(hrefOf(ctx.names, true));
    const body = `<!doctype html><html><head><meta charset="utf-8"><title>${title}</title></head><body><h1>${title}</h1><ul>\n${rows}\n</ul></body></html>`;
    ctx.res
      .status(200)
      .type('text/html; charset=utf-8')
      // names are escaped; and should one slip through, the page may run nothing, load nothing, be framed by nobody
      .setHeader('Content-Security-Policy', "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
      .setHeader('X-Content-Type-Options', 'nosniff')
      .setHeader('Referrer-Policy', 'no-referrer')
      .setHeader('Content-Length', String(Buffer.byteLength(body)));
    if (ctx.req.method === 'HEAD') ctx.res.end();
    else ctx.res.end(body);
  }

  private async put(ctx: DavRequest): Promise<void> {
    if (ctx.req.headers['content-range'])
      throw Problems.badRequest('PUT with Content-Range is not a partial update here; use the chunked-upload or tus endpoints');
    const target = await this.checks.target(ctx, ctx.names);
    const { node, parent } = target;
    if (node && isCollection(node)) throw new ProblemError(405, 'method-not-allowed', 'Method Not Allowed', 'PUT cannot replace a collection');
    if (!node && parent?.kind !== 'folder') throw noParent(ctx, parent);
    const name = ctx.names[ctx.names.length - 1];
    const etag = etagOf(node);
    const ifNoneMatch = ctx.req.headers['if-none-match'];
    if (ifNoneMatch && node && (ifNoneMatch.trim() === '*' || (etag && etagMatches(ifNoneMatch, etag))))
      throw Problems.preconditionFailed('If-None-Match: the resource exists');
    const ifMatch = ctx.req.headers['if-match'];
    if (ifMatch && (!etag || !etagMatches(ifMatch, etag, false))) throw Problems.preconditionFailed('If-Match does not match the current ETag');
    if (node?.kind === 'file') {
      await this.checks.need(ctx, 'mfile:write', node.mfile.serviceId, name);
      await this.checks.writable(ctx, target, {});
      const updated = await this.mfiles.replaceFromSource(node.mfile, rawUpload(ctx.req, node.mfile.name));
      ctx.res.setHeader('ETag', strongEtag(updated.sha256));
      ctx.res.status(204).end();
      return;
    }
    const folder = (parent as Extract<DavNode, { kind: 'folder' }>).folder;
    await this.checks.need(ctx, 'mfile:create', folder.serviceId, name);
    await this.checks.writable(ctx, target, { membership: true });
    const created = await this.mfiles.createFromSource(ctx.auth.key, folder, rawUpload(ctx.req, name));
    ctx.res.setHeader('ETag', strongEtag(created.sha256));
    ctx.res.setHeader('Location', hrefOf(ctx.names, false));
    ctx.res.status(201).end();
  }

  private async delete(ctx: DavRequest): Promise<void> {
    const target = await this.checks.target(ctx, ctx.names);
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
      await this.checks.need(ctx, 'mfile:delete', node.mfile.serviceId, node.mfile.name);
      await this.checks.writable(ctx, target, { membership: true });
      await this.mfiles.remove(node.mfile.id);
    } else {
      await this.checks.need(ctx, 'mfolder:write', node.folder.serviceId, node.folder.name);
      await this.checks.writable(ctx, target, { membership: true, tree: true });
      await this.folders.remove({ key: ctx.auth.key, actions: ctx.auth.actions }, node.folder.id);
    }
    await this.locks.releaseWithin(target.serviceId!, target.servicePath);
    ctx.locks.clear();
    ctx.view.forget();
  }

  private async mkcol(ctx: DavRequest): Promise<void> {
    if (hasBody(ctx.req)) throw Problems.unsupportedMediaType('MKCOL with a body is not supported: send none');
    const target = await this.checks.target(ctx, ctx.names);
    if (target.node) throw new ProblemError(405, 'method-not-allowed', 'Method Not Allowed', 'something already exists at this path');
    if (target.parent?.kind !== 'folder') throw noParent(ctx, target.parent);
    await this.checks.need(ctx, 'mfolder:write', target.parent.folder.serviceId, 'the parent folder');
    await this.checks.writable(ctx, target, { membership: true });
    await this.folders.create(target.parent.folder.id, { name: ctx.names[ctx.names.length - 1] });
    ctx.res.setHeader('Location', hrefOf(ctx.names, true));
    ctx.res.status(201).end();
  }

  private async copyOrMove(ctx: DavRequest, method: 'COPY' | 'MOVE'): Promise<void> {
    const destinationNames = parseDestination(ctx.req.headers.destination as string | undefined, ctx.req.headers.host);
    const depth = method === 'COPY' ? depthOf(ctx, ['0', 'infinity'], 'infinity') : depthOf(ctx, ['infinity'], 'infinity');
    const overwriteHeader = String(ctx.req.headers.overwrite ?? 'T')
      .trim()
      .toUpperCase();
    if (overwriteHeader !== 'T' && overwriteHeader !== 'F') throw Problems.badRequest('Overwrite must be T or F');
    const source = await this.checks.target(ctx, ctx.names);
    if (!source.node) throw Problems.notFound('resource', ctx.names.join('/'));
    if (!isContent(source.node) || (source.node.kind === 'folder' && source.node.folder.parentId === null)) {
      throw Problems.forbidden(`${method} of the mount root, a service root, a container or the provider is not possible over WebDAV`);
    }
    if (samePath(destinationNames, ctx.names)) throw Problems.forbidden('the source and the destination are the same resource');
    if (isBelow(destinationNames, ctx.names)) throw Problems.forbidden(`a collection cannot be ${method === 'COPY' ? 'copied' : 'moved'} into itself`);
    if (isBelow(ctx.names, destinationNames)) throw Problems.forbidden('the destination contains the source: overwriting it would remove the source');
    const destination = await this.checks.target(ctx, destinationNames);
    if (destination.parent?.kind !== 'folder') throw noParent({ ...ctx, names: destinationNames }, destination.parent);
    if (destination.node && overwriteHeader === 'F') throw Problems.preconditionFailed('the destination exists and Overwrite is F');
    const sourceNode = source.node;
    const destinationFolder = destination.parent.folder;
    const name = destinationNames[destinationNames.length - 1];
    // rights first, then If and locks, then the change
    if (method === 'MOVE') await this.checks.need(ctx, sourceNode.kind === 'file' ? 'mfile:write' : 'mfolder:write', serviceOf(sourceNode), 'the source');
    else await this.checks.needRead(ctx, sourceNode);
    await this.checks.need(ctx, sourceNode.kind === 'file' ? 'mfile:create' : 'mfolder:write', destinationFolder.serviceId, 'the destination');
    if (method === 'MOVE') await this.checks.writable(ctx, source, { membership: true, tree: true });
    else await this.checks.checkIf(ctx, source);
    await this.checks.assertUnlocked(ctx, destination, { membership: true, tree: true });
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
}

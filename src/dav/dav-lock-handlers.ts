import { Injectable } from '@nestjs/common';
import { Readable } from 'node:stream';
import { ProblemError, Problems } from '../common/problem';
import { MfilesService } from '../mfiles/mfiles.service';
import { covers, DavLocks, lockKey, parseTimeout } from './dav-locks';
import { activeLock, XML_HEAD } from './dav-multistatus';
import { DavPreconditions } from './dav-preconditions';
import { depthOf, DavRequest, noParent, readBody } from './dav-request';
import { DavNode, isCollection, isContent } from './dav-tree';
import { DavLock } from './dav.entities';
import { child, DAV, elements, parseXml, serializeXml } from './xml';

/** LOCK (take or refresh; on an unmapped URL it makes an empty file) and UNLOCK (RFC 4918 §9.10-9.11). */
@Injectable()
export class DavLockHandlers {
  constructor(
    private readonly checks: DavPreconditions,
    private readonly locks: DavLocks,
    private readonly mfiles: MfilesService,
  ) {}

  private sendLock(ctx: DavRequest, lock: DavLock, servicePath: string[], code: number): void {
    ctx.res.setHeader('Lock-Token', `<${lock.token}>`);
    const xml = `${XML_HEAD}<D:prop xmlns:D="DAV:"><D:lockdiscovery>${activeLock(lock, ctx.names, servicePath)}</D:lockdiscovery></D:prop>`;
    ctx.res.status(code).type('application/xml; charset=utf-8').send(xml);
  }

  async lock(ctx: DavRequest): Promise<void> {
    const body = await readBody(ctx);
    const target = await this.checks.target(ctx, ctx.names);
    if (!target.serviceId || (target.node && !isContent(target.node))) throw Problems.forbidden('only folders and files inside a service can be locked');
    const timeoutSeconds = parseTimeout(ctx.req.headers.timeout as string | undefined);
    const node = target.node;
    const action = !node ? 'mfile:create' : node.kind === 'file' ? 'mfile:write' : 'mfolder:write';
    await this.checks.need(ctx, action, target.serviceId, 'this resource');
    if (body.length === 0) {
      // a refresh: the If header names the lock
      if (!ctx.submitted.size) throw Problems.badRequest('a LOCK without a body refreshes a lock: name it in an If header');
      await this.checks.checkIf(ctx, target);
      const locks = await this.checks.locksOf(ctx, target.serviceId);
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
    if (!scope || scope.ns !== DAV || (scope.local !== 'exclusive' && scope.local !== 'shared'))
      throw Problems.badRequest('DAV:lockscope must be DAV:exclusive or DAV:shared');
    const typeElement = child(root, DAV, 'locktype');
    const type = typeElement && elements(typeElement)[0];
    if (!type || type.ns !== DAV || type.local !== 'write') throw Problems.badRequest('DAV:locktype must be DAV:write');
    const ownerElement = child(root, DAV, 'owner');
    const owner = ownerElement ? ownerElement.children.map((part) => serializeXml(part)).join('') : null;
    const depth = depthOf(ctx, ['0', 'infinity'], 'infinity');
    await this.checks.checkIf(ctx, target);
    if (!node && target.parent?.kind !== 'folder') throw noParent(ctx, target.parent);
    const result = await this.locks.acquire(
      {
        serviceId: target.serviceId,
        path: lockKey(target.servicePath),
        scope: scope.local,
        deep: depth === 'infinity' && (!node || isCollection(node)),
        owner,
        keyId: ctx.auth.key.id,
        timeoutSeconds,
      },
      target.servicePath,
    );
    if ('conflict' in result)
      throw new ProblemError(423, 'locked', 'Locked', 'the resource is already locked in a way that conflicts with this lock', {
        precondition: 'DAV:no-conflicting-lock',
      });
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

  async unlock(ctx: DavRequest): Promise<void> {
    const header = ctx.req.headers['lock-token'];
    const match = typeof header === 'string' ? /^\s*<([^<>\s]+)>\s*$/.exec(header) : null;
    if (!match) throw Problems.badRequest('UNLOCK needs a Lock-Token header: <urn:uuid:...>');
    const target = await this.checks.target(ctx, ctx.names);
    if (!target.serviceId) throw Problems.conflict('nothing here can be locked');
    const locks = await this.checks.locksOf(ctx, target.serviceId);
    const lock = locks.find((candidate) => candidate.token === match[1]);
    if (!lock || !covers(lock, target.servicePath)) {
      throw new ProblemError(409, 'lock-token-mismatch', 'Conflict', 'the Lock-Token names no lock of this resource', {
        precondition: 'DAV:lock-token-matches-request-uri',
      });
    }
    if (lock.keyId !== ctx.auth.key.id) {
      const action = target.node?.kind === 'file' ? 'mfile:write' : 'mfolder:write';
      await this.checks.need(ctx, action, target.serviceId, 'this resource');
    }
    await this.locks.release(lock.token);
    ctx.res.status(204).end();
  }
}

import { Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '../config/config';
import { ProblemError, Problems } from '../common/problem';
import { LIVE, parsePropfind, renderResponse, status, XML_HEAD } from './dav-multistatus';
import { hrefOf } from './dav-path';
import { DavPreconditions } from './dav-preconditions';
import { DavProperties } from './dav-properties';
import { ResourceRef } from './dav-property.repository';
import { depthOf, DavRequest, readBody, refOf } from './dav-request';
import { DavNode, isCollection, isContent, serviceOf } from './dav-tree';
import { child, clark, DAV, elements, escapeXml, parseXml, serializeXml, XmlElement } from './xml';

/** PROPFIND (a multistatus streamed in batches) and PROPPATCH (dead properties, all or nothing). */
@Injectable()
export class DavPropertyHandlers {
  /** Heavy requests running per tenant (service, else container, else provider), and in all, in this process. */
  private readonly heavy = new Map<string, number>();
  private heavyTotal = 0;

  constructor(
    private readonly checks: DavPreconditions,
    private readonly properties: DavProperties,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async propfind(ctx: DavRequest): Promise<void> {
    const depth = depthOf(ctx, ['0', '1', 'infinity'], 'infinity');
    if (depth !== 'infinity') return this.listing(ctx, depth);
    // a whole tree is the heaviest thing a key can ask for: a bounded number at a time per tenant and per process
    const { key } = ctx.auth;
    const tenant = key.serviceId ?? key.containerId ?? 'provider';
    const running = this.heavy.get(tenant) ?? 0;
    const busy =
      running >= this.config.davHeavyRequestsPerTenant
        ? `this key's ${key.serviceId ? 'service' : key.containerId ? 'container' : 'provider'} already has ${running} PROPFIND Depth: infinity running (at most ${this.config.davHeavyRequestsPerTenant} at a time)`
        : this.heavyTotal >= this.config.davHeavyRequests
          ? `the server is already answering ${this.heavyTotal} PROPFIND Depth: infinity requests (at most ${this.config.davHeavyRequests} at a time)`
          : undefined;
    if (busy) throw new ProblemError(429, 'too-many-requests', 'Too Many Requests', `${busy}: retry in a moment, or use Depth: 1`, { retryAfterSeconds: 1 });
    this.heavy.set(tenant, running + 1);
    this.heavyTotal++;
    try {
      await this.tree(ctx);
    } finally {
      this.heavyTotal--;
      const left = (this.heavy.get(tenant) ?? 1) - 1;
      if (left > 0) this.heavy.set(tenant, left);
      else this.heavy.delete(tenant);
    }
  }

  /** Depth 0 or 1: the resource, and its members. */
  private async listing(ctx: DavRequest, depth: string): Promise<void> {
    const body = await readBody(ctx);
    const request = parsePropfind(body);
    const node = await ctx.view.resolve(ctx.names);
    if (!node) throw Problems.notFound('resource', ctx.names.join('/'));
    await this.checks.needRead(ctx, node);
    const nodes: DavNode[] = [node];
    if (depth === '1' && isCollection(node)) nodes.push(...(await ctx.view.children(node)));
    const services = [...new Set(nodes.map(serviceOf).filter((id): id is string => id !== null))];
    for (const serviceId of services) await this.checks.locksOf(ctx, serviceId);
    const out = this.multistatus(ctx);
    await out.write(nodes, request);
    await out.end();
  }

  /**
   * Depth: infinity, streamed: counted first (one query) and refused past DAV_PROPFIND_MAX_ENTRIES before any byte is
   * sent, then written page by page as the tree is walked (each page's dead properties in one query), never held whole.
   */
  private async tree(ctx: DavRequest): Promise<void> {
    const body = await readBody(ctx);
    const request = parsePropfind(body);
    const node = await ctx.view.resolve(ctx.names);
    if (!node) throw Problems.notFound('resource', ctx.names.join('/'));
    await this.checks.needRead(ctx, node);
    if (isCollection(node) && (await ctx.view.countBelow(node)) > this.config.davPropfindMaxEntries) {
      throw new ProblemError(
        403,
        'propfind-finite-depth',
        'Forbidden',
        `Depth: infinity would list more than ${this.config.davPropfindMaxEntries} resources here; use Depth: 1`,
        { precondition: 'DAV:propfind-finite-depth' },
      );
    }
    // the locks of every service the walk can reach (one service below a folder; each service below a container)
    const services = new Set<string>();
    const own = serviceOf(node);
    if (own) services.add(own);
    else if (isCollection(node))
      for (const member of await ctx.view.children(node))
        if (serviceOf(member)) services.add(serviceOf(member)!);
        else if (isCollection(member)) for (const root of await ctx.view.children(member)) if (serviceOf(root)) services.add(serviceOf(root)!);
    for (const serviceId of services) await this.checks.locksOf(ctx, serviceId);
    const out = this.multistatus(ctx);
    await out.write([node], request);
    if (isCollection(node)) for await (const batch of ctx.view.walk(node)) await out.write(batch, request);
    await out.end();
  }

  /** A 207 multistatus written as it is produced, waiting for the client whenever the socket's buffer is full. */
  private multistatus(ctx: DavRequest) {
    const { res } = ctx;
    let started = false;
    let pending = '';
    const flush = async () => {
      if (!started) {
        started = true;
        res.status(207);
        res.setHeader('Content-Type', 'application/xml; charset=utf-8');
        pending = `${XML_HEAD}<D:multistatus xmlns:D="DAV:">${pending}`;
      }
      // (a client gone before this write emitted its 'close' already: waiting for it again would hold the slot forever)
      if (pending && !res.write(pending) && !clientGone(res))
        await new Promise<void>((resolve) => {
          const go = () => {
            res.off('drain', go);
            res.off('close', go);
            resolve();
          };
          res.once('drain', go);
          res.once('close', go);
        });
      pending = '';
      // a client that went away stops the walk (and frees its key's slot) instead of waiting for a drain that never comes
      if (clientGone(res)) throw new ProblemError(400, 'client-closed', 'Bad Request', 'the client closed the connection before the multistatus was complete');
    };
    return {
      write: async (nodes: DavNode[], request: ReturnType<typeof parsePropfind>) => {
        const refs = nodes.map(refOf).filter((ref): ref is ResourceRef => ref !== null);
        const dead = await this.properties.of(refs);
        for (const entry of nodes) {
          pending += renderResponse(ctx, entry, request, dead.get(refOf(entry)?.id ?? '') ?? new Map());
          if (pending.length > 64 * 1024) await flush();
        }
      },
      end: async () => {
        pending += '</D:multistatus>';
        await flush();
        res.end();
      },
    };
  }

  async proppatch(ctx: DavRequest): Promise<void> {
    const body = await readBody(ctx);
    if (!body.length) throw Problems.badRequest('PROPPATCH needs a DAV:propertyupdate body');
    const root = parseXml(body);
    if (root.ns !== DAV || root.local !== 'propertyupdate') throw Problems.badRequest('a PROPPATCH body must be a DAV:propertyupdate element');
    const target = await this.checks.target(ctx, ctx.names);
    const { node } = target;
    if (!node) throw Problems.notFound('resource', ctx.names.join('/'));
    const ref = refOf(node);
    if (!ref || !isContent(node)) throw Problems.forbidden('properties can only be set on folders and files');
    await this.checks.need(ctx, node.kind === 'file' ? 'mfile:write' : 'mfolder:write', serviceOf(node), 'this resource');
    await this.checks.writable(ctx, target, {});
    const instructions: ({ set: true; name: string; xml: string; element: XmlElement } | { set: false; name: string; element: XmlElement })[] = [];
    for (const operation of elements(root)) {
      if (operation.ns !== DAV || (operation.local !== 'set' && operation.local !== 'remove'))
        throw Problems.badRequest(`DAV:propertyupdate cannot hold {${operation.ns}}${operation.local}`);
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
    const propstats = [...byStatus]
      .map(([code, props]) => `<D:propstat><D:prop>${props.join('')}</D:prop><D:status>${status(code)}</D:status></D:propstat>`)
      .join('');
    const xml = `${XML_HEAD}<D:multistatus xmlns:D="DAV:"><D:response><D:href>${escapeXml(hrefOf(ctx.names, isCollection(node)))}</D:href>${propstats}</D:response></D:multistatus>`;
    ctx.res.status(207).type('application/xml; charset=utf-8').send(xml);
  }
}

/** Whether the client's connection is gone (its socket closed or destroyed, whether or not 'close' was heard). */
function clientGone(res: DavRequest['res']): boolean {
  return res.destroyed || Boolean(res.socket?.destroyed);
}

import { Injectable } from '@nestjs/common';
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
  constructor(
    private readonly checks: DavPreconditions,
    private readonly properties: DavProperties,
  ) {}

  async propfind(ctx: DavRequest): Promise<void> {
    const depth = depthOf(ctx, ['0', '1', 'infinity'], 'infinity');
    const body = await readBody(ctx);
    const request = parsePropfind(body);
    const node = await ctx.view.resolve(ctx.names);
    if (!node) throw Problems.notFound('resource', ctx.names.join('/'));
    await this.checks.needRead(ctx, node);
    let nodes: DavNode[] = [node];
    if (depth === '1' && isCollection(node)) nodes.push(...(await ctx.view.children(node)));
    if (depth === 'infinity' && isCollection(node)) {
      const all = await ctx.view.descendants(node);
      if (all === 'too-many') {
        throw new ProblemError(403, 'propfind-finite-depth', 'Forbidden', 'Depth: infinity would list too many resources here; use Depth: 1', {
          precondition: 'DAV:propfind-finite-depth',
        });
      }
      nodes = nodes.concat(all);
    }
    const refs = nodes.map(refOf).filter((ref): ref is ResourceRef => ref !== null);
    const dead = await this.properties.of(refs);
    const services = [...new Set(nodes.map(serviceOf).filter((id): id is string => id !== null))];
    for (const serviceId of services) await this.checks.locksOf(ctx, serviceId);
    const { res } = ctx;
    res.status(207);
    res.setHeader('Content-Type', 'application/xml; charset=utf-8');
    res.write(`${XML_HEAD}<D:multistatus xmlns:D="DAV:">`);
    let batch = '';
    for (const entry of nodes) {
      batch += renderResponse(ctx, entry, request, dead.get(refOf(entry)?.id ?? '') ?? new Map());
      if (batch.length > 64 * 1024) {
        if (!res.write(batch)) await new Promise((resolve) => res.once('drain', resolve));
        batch = '';
      }
    }
    res.end(`${batch}</D:multistatus>`);
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

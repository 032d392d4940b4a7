import { Problems } from '../common/problem';
import { covers } from './dav-locks';
import { hrefOf } from './dav-path';
import { DavRequest, etagOf, lockRootNames } from './dav-request';
import { DavNode, isCollection, serviceOf } from './dav-tree';
import { DavLock } from './dav.entities';
import { child, clark, DAV, elements, escapeXml, fromClark, parseXml, serializeXml, XmlElement } from './xml';

/** What a PROPFIND asks for (RFC 4918 §9.1). */
export type PropRequest = { type: 'allprop'; include: XmlElement[] } | { type: 'propname' } | { type: 'prop'; props: XmlElement[] };

/** Live properties we compute; they cannot be set or removed with PROPPATCH. */
export const LIVE = [
  'creationdate',
  'displayname',
  'getcontentlength',
  'getcontenttype',
  'getetag',
  'getlastmodified',
  'lockdiscovery',
  'resourcetype',
  'supportedlock',
];
const SUPPORTED_LOCK =
  '<D:lockentry><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype></D:lockentry>' +
  '<D:lockentry><D:lockscope><D:shared/></D:lockscope><D:locktype><D:write/></D:locktype></D:lockentry>';
export const XML_HEAD = '<?xml version="1.0" encoding="utf-8"?>\n';

export const status = (code: number) =>
  `HTTP/1.1 ${code} ${{ 200: 'OK', 403: 'Forbidden', 404: 'Not Found', 424: 'Failed Dependency', 409: 'Conflict' }[code] ?? ''}`;

export function parsePropfind(body: Buffer): PropRequest {
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

/** A lock as a DAV:activelock element, its root seen from the request's mount. */
export function activeLock(lock: DavLock, requestNames: readonly string[], servicePath: readonly string[]): string {
  const seconds = Math.max(0, Math.round((lock.expiresAt.getTime() - Date.now()) / 1000));
  return (
    `<D:activelock><D:locktype><D:write/></D:locktype><D:lockscope><D:${lock.scope}/></D:lockscope>` +
    `<D:depth>${lock.deep ? 'infinity' : '0'}</D:depth>${lock.owner ? `<D:owner>${lock.owner}</D:owner>` : ''}` +
    `<D:timeout>Second-${seconds}</D:timeout><D:locktoken><D:href>${escapeXml(lock.token)}</D:href></D:locktoken>` +
    `<D:lockroot><D:href>${escapeXml(hrefOf(lockRootNames(lock, requestNames, servicePath), false))}</D:href></D:lockroot></D:activelock>`
  );
}

/** The live properties of a node, as serialised elements keyed by local name (all in DAV:). Locks come from ctx.locks. */
export function liveProperties(ctx: DavRequest, node: DavNode): Map<string, string> {
  const props = new Map<string, string>();
  const name = node.names.length ? node.names[node.names.length - 1] : node.kind === 'container' ? node.name : node.kind === 'folder' ? node.folder.name : '';
  const dates =
    node.kind === 'file'
      ? [node.mfile.createdAt, node.mfile.contentUpdatedAt]
      : node.kind === 'folder'
        ? [node.folder.createdAt, node.folder.updatedAt]
        : node.kind === 'container'
          ? [node.createdAt, node.updatedAt]
          : node.kind === 'single'
            ? [node.mfile.createdAt, node.mfile.updatedAt]
            : [new Date(0), new Date(0)];
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
    props.set('lockdiscovery', `<D:lockdiscovery>${active.map((lock) => activeLock(lock, node.names, servicePath)).join('')}</D:lockdiscovery>`);
  }
  return props;
}

/** One DAV:response of a PROPFIND multistatus: the properties found (200) and, for DAV:prop, those missing (404). */
export function renderResponse(ctx: DavRequest, node: DavNode, request: PropRequest, dead: Map<string, string>): string {
  const live = liveProperties(ctx, node);
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

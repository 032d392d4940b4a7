import type { Request, Response } from 'express';
import { ProblemError, Problems } from '../common/problem';
import { AuthenticatedKey } from '../keys/keys.service';
import { ResourceResolver } from '../keys/resource-resolver.service';
import { strongEtag } from '../mfiles/content-headers';
import { lockNames } from './dav-locks';
import { hrefOf } from './dav-path';
import { ResourceRef } from './dav-property.repository';
import { DavNode, DavView } from './dav-tree';
import { DavLock } from './dav.entities';
import { IfList } from './if-header';
import { MAX_XML_BYTES } from './xml';

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
export interface Target {
  names: string[];
  node: DavNode | null;
  parent: DavNode | null;
  serviceId: string | null;
  servicePath: string[];
}

export const DAV_METHODS = ['OPTIONS', 'GET', 'HEAD', 'PUT', 'DELETE', 'MKCOL', 'COPY', 'MOVE', 'PROPFIND', 'PROPPATCH', 'LOCK', 'UNLOCK'];

const folderEtag = (node: DavNode) => (node.kind === 'folder' ? `"${node.folder.id}-${node.folder.updatedAt.getTime()}"` : undefined);
export const etagOf = (node: DavNode | null) => (!node ? undefined : node.kind === 'file' ? strongEtag(node.mfile.sha256) : folderEtag(node));
/** Where a lock's root is in the request's names (the mount may start above or below the service root). */
export const lockRootNames = (lock: DavLock, requestNames: readonly string[], servicePath: readonly string[]) =>
  requestNames.slice(0, requestNames.length - (servicePath.length - lockNames(lock).length));
export const refOf = (node: DavNode): ResourceRef | null =>
  node.kind === 'file' ? { kind: 'mfile', id: node.mfile.id } : node.kind === 'folder' ? { kind: 'mfolder', id: node.folder.id } : null;

/** An XML request body, refused past MAX_XML_BYTES (declared or read). */
export function readBody(ctx: DavRequest): Promise<Buffer> {
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

export function hasBody(req: Request): boolean {
  return Number(req.headers['content-length'] ?? 0) > 0 || req.headers['transfer-encoding'] !== undefined;
}

/** The Depth header, one of `allowed` (400 otherwise), `fallback` when absent. */
export function depthOf(ctx: DavRequest, allowed: string[], fallback: string): string {
  const raw = ctx.req.headers.depth;
  const value = typeof raw === 'string' ? raw.trim().toLowerCase() : fallback;
  if (!allowed.includes(value)) throw Problems.badRequest(`Depth: ${String(raw)} is not allowed here; use ${allowed.join(' or ')}`);
  return value;
}

/** Why something cannot be created at this path: no parent (409), or a parent that holds no files (403/409). */
export function noParent(ctx: DavRequest, parent: DavNode | null): ProblemError {
  if (!parent) return Problems.conflict(`the parent collection ${hrefOf(ctx.names.slice(0, -1), true)} does not exist`);
  if (parent.kind === 'file') return Problems.conflict(`${hrefOf(ctx.names.slice(0, -1), false)} is a file, not a collection`);
  return Problems.forbidden('nothing can be created at this level of the mount: it lists containers, services or one file');
}

import { ProblemError, Problems } from '../common/problem';
import { normalizeName, unsafeNameReason } from '../common/validation';

export const DAV_PREFIX = '/dav';

/**
 * The names of a request path below /dav. Each segment is percent-decoded on its own, so an encoded slash
 * (`%2F`) or backslash stays inside one name and is refused as a name, never taken as a separator; `.` and
 * `..` are refused, not resolved: a path can never leave the mount root.
 */
export function parseDavPath(rawPath: string): string[] {
  const path = rawPath.split('?')[0];
  // a fragment is never part of a request: deleting "frag/#ment" must not delete "frag/"
  if (path.includes('#')) throw Problems.badRequest('the request path contains a fragment (#); percent-encode # in names as %23');
  if (!path.startsWith(`${DAV_PREFIX}/`) && path !== DAV_PREFIX) throw Problems.notFound('WebDAV path');
  const names: string[] = [];
  for (const raw of path.slice(DAV_PREFIX.length).split('/')) {
    if (raw === '') continue;
    let name: string;
    try {
      // names are kept in NFC: a client that sends NFD (macOS) reaches the same resource
      name = normalizeName(decodeURIComponent(raw));
    } catch {
      throw Problems.badRequest(`the path segment "${raw.slice(0, 100)}" is not valid percent-encoded UTF-8`);
    }
    const reason = unsafeNameReason(name);
    if (reason) throw Problems.badRequest(`the path segment "${name.slice(0, 100)}" ${reason}`);
    names.push(name);
  }
  return names;
}

/** The Destination header of COPY/MOVE: an absolute URL on this server or an absolute path, under /dav. */
export function parseDestination(header: string | undefined, host: string | undefined): string[] {
  if (!header) throw Problems.badRequest('COPY and MOVE need a Destination header');
  let path = header;
  if (/^[a-z][a-z0-9+.-]*:/i.test(header)) {
    let url: URL;
    try {
      url = new URL(header);
    } catch {
      throw Problems.badRequest('the Destination header is not a valid URL');
    }
    if (host && url.host !== host) throw elsewhere();
    path = url.pathname;
  }
  if (!path.startsWith('/')) throw Problems.badRequest('the Destination header must be an absolute URL or path');
  if (!path.startsWith(`${DAV_PREFIX}/`) && path !== DAV_PREFIX) throw elsewhere();
  return parseDavPath(path);
}

/** A Destination on another server or outside /dav: 502 Bad Gateway (RFC 4918 §9.8.5, §9.9.4). */
const elsewhere = () => new ProblemError(502, 'bad-gateway', 'Bad Gateway', 'the Destination is not on this WebDAV mount');

/** The href of a resource: every name percent-encoded, collections with a trailing slash. */
export function hrefOf(names: readonly string[], collection: boolean): string {
  const encoded = names.map((name) => encodeURIComponent(name)).join('/');
  return `${DAV_PREFIX}/${encoded}${collection && names.length > 0 ? '/' : ''}`;
}

export const samePath = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((name, i) => name === b[i]);
export const isBelow = (inner: readonly string[], outer: readonly string[]) => inner.length > outer.length && outer.every((name, i) => name === inner[i]);

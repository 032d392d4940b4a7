import type { IncomingMessage } from 'node:http';
import { Problems } from '../common/problem';

/**
 * A key arrives as `Authorization: Bearer <key>`, as the Basic-auth password (WebDAV clients; the user name is
 * ignored), or as `?key=` (capability URLs for <img src> and shared links). Two different keys is an error.
 */
export function extractKeySecret(request: IncomingMessage & { originalUrl?: string }): string | undefined {
  const found: string[] = [];
  const header = request.headers.authorization;
  if (header) {
    const [scheme, value = ''] = header.split(' ', 2);
    if (/^bearer$/i.test(scheme)) found.push(value.trim());
    else if (/^basic$/i.test(scheme)) {
      const decoded = Buffer.from(value.trim(), 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      found.push(colon >= 0 ? decoded.slice(colon + 1) : decoded);
    } else throw Problems.unauthenticated(`unsupported Authorization scheme ${scheme}: use Bearer or Basic`);
  }
  const queryKey = keyFromQuery(request);
  if (queryKey) found.push(queryKey);
  const distinct = [...new Set(found)];
  if (distinct.length > 1) throw Problems.badRequest('two different keys presented (header and ?key=): send one');
  return distinct[0];
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * A person's request names the wallet key it acts with by id (`X-MServe-Key`, or `?as=` where no header can be
 * set: <img>, <video>, EventSource); the session cookie proves they hold it.
 */
export function extractHeldKeyId(request: IncomingMessage & { query?: Record<string, unknown> }): string | undefined {
  const header = request.headers['x-mserve-key'];
  const query = request.query?.as ?? new URL(request.url ?? '/', 'http://x').searchParams.get('as') ?? undefined;
  const values = [header, query].flat().filter((value): value is string => typeof value === 'string' && value !== '');
  const distinct = [...new Set(values)];
  if (distinct.length > 1) throw Problems.badRequest('two different key ids given (X-MServe-Key and ?as=): send one');
  if (distinct.length === 1 && !UUID.test(distinct[0])) throw Problems.badRequest('X-MServe-Key / ?as= must be the id (a UUID) of a key this session holds');
  return distinct[0];
}

/** Decodes a URL component as a query string does (`+` is a space); undefined when it is not valid percent-encoding. */
function decodeComponent(text: string): string | undefined {
  try {
    return decodeURIComponent(text.replace(/\+/g, ' '));
  } catch {
    return undefined;
  }
}

/** The name as it reads after up to three rounds of percent-decoding (a proxy or framework may decode twice). */
function decodedName(raw: string): string {
  let name = raw;
  for (let round = 0; round < 3 && name.includes('%'); round++) name = decodeComponent(name) ?? name;
  return decodeComponent(name) ?? name;
}

/** A query member that names a key however it is spelled: `key`, `%6bey`, `ke%79`, `KEY`, `key[]`, `key[0]`. */
function namesKey(raw: string): boolean {
  return /^\s*key\s*(\[|$)/i.test(decodedName(raw));
}

/** The query's raw `name=value` members, nothing decoded. */
function queryMembers(url: string | undefined): Array<{ name: string; value: string }> {
  const at = url?.indexOf('?') ?? -1;
  if (!url || at < 0) return [];
  return url
    .slice(at + 1)
    .split('#')[0]
    .split('&')
    .filter(Boolean)
    .map((member) => {
      const equals = member.indexOf('=');
      return equals < 0 ? { name: member, value: '' } : { name: member.slice(0, equals), value: member.slice(equals + 1) };
    });
}

/**
 * The key of a capability link: only under its plain name, `?key=`, once. Spelled any other way (percent-encoded
 * name, another case, `key[]`) it is refused rather than taken: a decoded alias is how a secret slipped past the
 * log redaction, and there must be one spelling that both the redaction and the guard know.
 */
function keyFromQuery(request: IncomingMessage & { originalUrl?: string }): string | undefined {
  const members = queryMembers(request.originalUrl ?? request.url).filter((member) => namesKey(member.name));
  if (members.some((member) => member.name !== 'key'))
    throw Problems.badRequest('a key in the URL must be given as ?key= exactly (not percent-encoded, not key[], not in another case)');
  if (members.length > 1) throw Problems.badRequest('?key= given more than once');
  if (members.length === 0 || members[0].value === '') return undefined;
  const value = decodeComponent(members[0].value);
  if (value === undefined) throw Problems.badRequest('?key= is not valid percent-encoding');
  return value;
}

/**
 * A URL as it may be logged: the value of every query member that names a key (after decoding its name, however it
 * was spelled), every value or path segment holding a key secret (after decoding), and share links' `/browse/<key>`
 * replaced by `[redacted]`.
 */
export function redactUrl(url: string | undefined): string | undefined {
  if (url === undefined) return url;
  const at = url.indexOf('?');
  const path = (at < 0 ? url : url.slice(0, at))
    .replace(/^(\/browse\/)[^/?#]+/, '$1[redacted]')
    .split('/')
    .map((segment) => (holdsSecret(segment) ? '[redacted]' : segment))
    .join('/');
  if (at < 0) return path;
  const query = queryMembers(url)
    .map(({ name, value }) => (namesKey(name) || holdsSecret(value) || holdsSecret(name) ? `${name}=[redacted]` : value === '' ? name : `${name}=${value}`))
    .join('&');
  return `${path}?${query}`;
}

/** Whether a URL component holds something shaped like a key secret (`msk_…`), encoded or not. */
function holdsSecret(component: string): boolean {
  return /msk_/i.test(decodedName(component)) || /msk_/i.test(component);
}

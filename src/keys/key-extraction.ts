import type { IncomingMessage } from 'node:http';
import { Problems } from '../common/problem';

/**
 * A key arrives as `Authorization: Bearer <key>`, as the Basic-auth password (WebDAV clients; the user name is
 * ignored), or as `?key=` (capability URLs for <img src> and shared links). Two different keys is an error.
 */
export function extractKeySecret(request: IncomingMessage & { query?: Record<string, unknown> }): string | undefined {
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
  const queryKey = request.query?.key ?? new URL(request.url ?? '/', 'http://x').searchParams.get('key') ?? undefined;
  if (Array.isArray(queryKey)) throw Problems.badRequest('?key= given more than once');
  if (typeof queryKey === 'string' && queryKey) found.push(queryKey);
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

import type { NextFunction, Request, Response } from 'express';
import { ProblemError } from '../common/problem';
import { toProblem } from '../common/problem.filter';
import type { AppConfig } from '../config/config';

/**
 * Cross-origin access to the API (`/api/…`) for the web apps of `CORS_ORIGINS` (none by default): a customer's app
 * on its own origin uploads with tus-js-client or Uppy, follows jobs over Server-Sent Events and plays content, with
 * a key it holds (Authorization, or `?key=` where a browser cannot set a header: EventSource, <video>).
 *
 * Never with credentials: a listed origin gets no `Access-Control-Allow-Credentials`, so the console's session
 * cookie only ever works from the console's own origin (same-origin requests need no CORS at all). The WebDAV
 * mount and the console's pages are not part of it.
 */

/** Request headers a cross-origin app may send: keys, tus, ranges and conditions, digests, request ids. */
export const CORS_ALLOWED_HEADERS = [
  'Authorization',
  'Content-Type',
  'Tus-Resumable',
  'Upload-Length',
  'Upload-Offset',
  'Upload-Metadata',
  'Upload-Checksum',
  'Upload-Defer-Length',
  'Upload-Concat',
  'X-HTTP-Method-Override',
  'Content-Range',
  'Content-MD5',
  'Repr-Digest',
  'Content-Digest',
  'Want-Repr-Digest',
  'Range',
  'If-Match',
  'If-None-Match',
  'If-Modified-Since',
  'If-Unmodified-Since',
  'If-Range',
  'Last-Event-ID',
  'X-Request-Id',
  'X-Requested-With',
];

/** Answer headers a cross-origin app may read: where an upload is, what was stored, ranges, digests, when to retry. */
export const CORS_EXPOSED_HEADERS = [
  'Location',
  'Tus-Resumable',
  'Tus-Version',
  'Tus-Extension',
  'Tus-Max-Size',
  'Tus-Checksum-Algorithm',
  'Upload-Offset',
  'Upload-Length',
  'Upload-Expires',
  'Upload-Metadata',
  'Mfile-Id',
  'Mfile-Key',
  'Ingest-Run-Id',
  'Content-Range',
  'Content-Length',
  'Content-Disposition',
  'Accept-Ranges',
  'ETag',
  'Last-Modified',
  'Repr-Digest',
  'Retry-After',
  'X-Request-Id',
];

const METHODS = 'GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS';
/** How long a browser may keep a preflight's answer. */
const PREFLIGHT_MAX_AGE_SECONDS = 600;

function appendVary(response: Response, value: string): void {
  const current = response.getHeader('Vary');
  const list = (Array.isArray(current) ? current.join(',') : String(current ?? ''))
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean);
  if (!list.some((item) => item.toLowerCase() === value.toLowerCase())) list.push(value);
  response.setHeader('Vary', list.join(', '));
}

/**
 * The middleware: preflights of listed origins are answered here (before any key is asked for, as browsers send
 * none); a preflight of another origin gets a 403 problem saying so; other requests of a listed origin get
 * `Access-Control-Allow-Origin` (their own origin, never `*`, so caches keep answers apart: `Vary: Origin`) and the
 * exposed headers. A tus discovery (`OPTIONS` without `Access-Control-Request-Method`) is not a preflight.
 */
export function corsMiddleware(allowed: AppConfig['cors']) {
  const listed = new Set(allowed.origins);
  const allowedHeaders = CORS_ALLOWED_HEADERS.join(', ');
  const exposed = CORS_EXPOSED_HEADERS.join(', ');
  return (request: Request, response: Response, next: NextFunction) => {
    const origin = request.headers.origin;
    if (!origin || !(request.path === '/api' || request.path.startsWith('/api/'))) return next();
    appendVary(response, 'Origin');
    const permitted = allowed.any || listed.has(origin);
    if (request.method === 'OPTIONS' && request.headers['access-control-request-method'] !== undefined) {
      if (!permitted) {
        const refused = new ProblemError(
          403,
          'origin-not-allowed',
          'Forbidden',
          `the origin ${origin} may not call this API from a browser: it is not in CORS_ORIGINS`,
          {
            origin,
          },
        );
        response
          .status(403)
          .type('application/problem+json')
          .send(JSON.stringify(toProblem(refused, (request as Request & { id?: string }).id, request.originalUrl)));
        return;
      }
      response.setHeader('Access-Control-Allow-Origin', origin);
      response.setHeader('Access-Control-Allow-Methods', METHODS);
      response.setHeader('Access-Control-Allow-Headers', allowedHeaders);
      response.setHeader('Access-Control-Max-Age', String(PREFLIGHT_MAX_AGE_SECONDS));
      appendVary(response, 'Access-Control-Request-Method');
      appendVary(response, 'Access-Control-Request-Headers');
      response.status(204).end();
      return;
    }
    if (permitted) {
      response.setHeader('Access-Control-Allow-Origin', origin);
      response.setHeader('Access-Control-Expose-Headers', exposed);
    }
    next();
  };
}

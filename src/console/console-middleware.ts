import express, { NextFunction, Request, RequestHandler, Response } from 'express';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

/** The vite build's output, dist/console: next to dist/src when compiled, under dist/ when run from source (tests). */
export const CONSOLE_DIR =
  [join(__dirname, '..', '..', 'console'), join(__dirname, '..', '..', 'dist', 'console')].find((dir) => existsSync(join(dir, 'index.html'))) ??
  join(__dirname, '..', '..', 'console');

const NOT_CONSOLE = /^\/(api|dav|health|metrics)(\/|$)/;

/**
 * The console's headers: scripts only from this origin, no framing, and no Referer (a /browse/<key> address must
 * never leave the browser in one).
 */
const SECURITY_HEADERS: Record<string, string> = {
  'Content-Security-Policy':
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' blob: data:; media-src 'self' blob:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'",
  'Referrer-Policy': 'no-referrer',
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
};

/**
 * Serves the console at `/`: hashed assets with a year of caching, and index.html (never cached) for every other
 * GET that is not the API, WebDAV, health or metrics — the console routes on the client.
 */
export function consoleMiddleware(dir = CONSOLE_DIR): RequestHandler {
  const index = join(dir, 'index.html');
  const assets = express.static(join(dir, 'assets'), { immutable: true, maxAge: '365d', index: false, fallthrough: false });
  return (request: Request, response: Response, next: NextFunction) => {
    if ((request.method !== 'GET' && request.method !== 'HEAD') || NOT_CONSOLE.test(request.path)) return next();
    for (const [name, value] of Object.entries(SECURITY_HEADERS)) response.setHeader(name, value);
    if (request.path.startsWith('/assets/')) {
      request.url = request.url.slice('/assets'.length);
      return assets(request, response, next);
    }
    if (!existsSync(index)) {
      response.status(503).type('text/plain').send('The console is not built: run `npm run build` (the REST API under /api/v1 works without it).\n');
      return;
    }
    response.setHeader('Cache-Control', 'no-cache');
    response.sendFile(index);
  };
}

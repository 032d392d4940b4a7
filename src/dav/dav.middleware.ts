import { Logger } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';
import { AsyncLocalStorage } from 'node:async_hooks';
import { finished } from 'node:stream';
import { v2 as webdav } from 'webdav-server';
import { ProblemError } from '../common/problem';
import { DAV_PREFIX } from './dav-path';
import { DAV_METHODS, DavRequest } from './dav-request';
import { DavService } from './dav.service';

type DavHttpContext = webdav.HTTPRequestContext & { request: Request & { dav?: DavRequest } };

/**
 * The last-resort guard: whatever a request's code throws outside its promise chain (a stream 'error' nobody
 * listened to, a throw in a callback) is caught here with the request it came from, answered with a 500 for
 * that request only, and the process goes on serving the others. An error outside any WebDAV request keeps
 * Node's behaviour (logged, then the process exits).
 */
const requests = new AsyncLocalStorage<{ req: Request; res: Response }>();
let guardInstalled = false;
function installGuard(logger: Logger): void {
  if (guardInstalled) return;
  guardInstalled = true;
  process.on('uncaughtException', (error) => {
    const current = requests.getStore();
    if (!current) {
      logger.error(`uncaught exception outside a request: ${error.stack ?? String(error)}`);
      process.exit(1);
    }
    logger.error(`${current.req.method} ${current.req.originalUrl} threw outside its handler: ${error.stack ?? String(error)}`);
    const { res } = current;
    if (res.headersSent) res.destroy();
    else
      res
        .status(500)
        .setHeader('Connection', 'close')
        .type('application/problem+json')
        .end(
          JSON.stringify({
            type: 'https://mserve.dev/problems/internal',
            title: 'Internal Server Error',
            status: 500,
            detail: 'the request failed; the server is still up',
          }),
        );
  });
}

/**
 * webdav-server's WebDAVServer dispatches each request (method registry, request context, the DAV and Allow
 * headers); every method is one of our handlers in DavService. Its file system is only asked what a path is,
 * for the Allow header, and answers from the request's own view.
 */
class MserveFileSystem extends webdav.FileSystem {
  constructor() {
    super({
      uid: () => 'mserve',
      serialize: (_fs, callback) => callback(undefined, {}),
      unserialize: (_data, callback) => callback(undefined, new MserveFileSystem()),
    });
  }

  protected _type(path: webdav.Path, info: webdav.TypeInfo, callback: webdav.ReturnCallback<webdav.ResourceType>): void {
    const dav = (info.context as DavHttpContext).request?.dav;
    if (!dav) return callback(undefined, webdav.ResourceType.Directory);
    dav.view
      .resolve(dav.names)
      .then((node) =>
        node ? callback(undefined, node.kind === 'file' ? webdav.ResourceType.File : webdav.ResourceType.Directory) : callback(webdav.Errors.ResourceNotFound),
      )
      .catch(() => callback(webdav.Errors.ResourceNotFound));
  }

  protected _lockManager(_path: webdav.Path, _info: webdav.LockManagerInfo, callback: webdav.ReturnCallback<webdav.ILockManager>): void {
    callback(webdav.Errors.InvalidOperation); // locks are DavLocks (PostgreSQL), handled by our LOCK/UNLOCK
  }

  protected _propertyManager(_path: webdav.Path, _info: webdav.PropertyManagerInfo, callback: webdav.ReturnCallback<webdav.IPropertyManager>): void {
    callback(webdav.Errors.InvalidOperation); // dead properties are DavProperties (PostgreSQL), handled by PROPFIND/PROPPATCH
  }
}

/** Authentication already happened (the key is the Basic-auth password): the user is the key. */
class KeyAuthentication implements webdav.HTTPAuthentication {
  askForAuthentication(): Record<string, string> {
    return {};
  }

  getUser(ctx: webdav.HTTPRequestContext, callback: (error: Error, user?: webdav.IUser) => void): void {
    const dav = (ctx as DavHttpContext).request.dav;
    if (!dav) return callback(webdav.Errors.MissingAuthorisationHeader);
    callback(undefined as unknown as Error, { uid: dav.auth.key.id, username: dav.auth.key.id, isAdministrator: false, isDefaultUser: false });
  }
}

const notAllowed = (method: string) =>
  new ProblemError(405, 'method-not-allowed', 'Method Not Allowed', `${method.slice(0, 20)} is not a WebDAV method of this server`);

/**
 * Headers webdav-server sets on every response that do not belong here: its blanket CORS (an authenticated mount
 * is not for other origins) and a `Server` banner naming the software and its version. Dropped as they are set.
 */
const LIBRARY_HEADERS = new Set(['server', 'access-control-allow-origin', 'access-control-allow-credentials', 'access-control-expose-headers']);

function withoutLibraryHeaders(res: Response): void {
  const setHeader = res.setHeader.bind(res);
  res.setHeader = ((name: string, value: number | string | readonly string[]) =>
    LIBRARY_HEADERS.has(name.toLowerCase()) ? res : setHeader(name, value)) as Response['setHeader'];
}

export function davMiddleware(resolveService: () => DavService) {
  const logger = new Logger('dav');
  installGuard(logger);
  const server = new webdav.WebDAVServer({
    requireAuthentification: true,
    httpAuthentication: new KeyAuthentication(),
    rootFileSystem: new MserveFileSystem(),
    serverName: 'MServe',
    version: '1',
  });
  for (const method of DAV_METHODS) {
    server.method(method, {
      chunked: (ctx: webdav.HTTPRequestContext, _body: unknown, done: () => void) => {
        const request = (ctx as DavHttpContext).request;
        const service = resolveService();
        service
          .run(method, request.dav!)
          .catch((error) => service.fail(request, ctx.response as Response, error))
          .finally(() => finished(ctx.response, () => done()));
      },
    });
  }
  return (req: Request & { dav?: DavRequest }, res: Response, next: NextFunction) => {
    if (!(req.originalUrl === DAV_PREFIX || req.originalUrl.startsWith(`${DAV_PREFIX}/`) || req.originalUrl.startsWith(`${DAV_PREFIX}?`))) return next();
    requests.run({ req, res }, () => {
      res.setHeader('DAV', '1, 2');
      res.setHeader('MS-Author-Via', 'DAV');
      const service = resolveService();
      const method = req.method.toUpperCase();
      if (!DAV_METHODS.includes(method)) {
        res.setHeader('Allow', DAV_METHODS.join(', '));
        service.fail(req, res, notAllowed(method));
        return;
      }
      service
        .open(req, res)
        .then((dav) => {
          req.dav = dav;
          withoutLibraryHeaders(res);
          server.executeRequest(req, res, DAV_PREFIX);
        })
        .catch((error) => service.fail(req, res, error));
    });
  };
}

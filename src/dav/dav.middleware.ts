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

/** What the last-resort guard logs first: the WebDAV fuzz asserts that no request ever makes the process say it. */
export const LAST_RESORT_MESSAGE = 'WebDAV last-resort guard: an exception escaped its handler';

/**
 * The last-resort guard. Every handler's failure is caught in its own promise chain (`settle` below, and
 * DavService.fail never throws), so nothing should reach it. If something still throws outside a chain (a stream
 * 'error' nobody listened to, a throw in a callback), Node documents the process as unsafe to resume: the guard
 * logs it with the request it came from, answers that request with a 500 if it still can, and shuts the process
 * down the normal way (SIGTERM's handler: stop taking requests, finish the others), exiting with 1 so a supervisor
 * restarts it in a known state. Without a SIGTERM handler (an embedded app) it exits at once.
 */
const requests = new AsyncLocalStorage<{ req: Request; res: Response }>();
let guardInstalled = false;
export function lastResort(
  logger: Pick<Logger, 'error'>,
  shutDown: () => void,
  current: () => { req: Request; res: Response } | undefined = () => requests.getStore(),
) {
  let down = false;
  return (error: Error): void => {
    const at = current();
    logger.error(
      `${LAST_RESORT_MESSAGE}${at ? ` (${at.req.method} ${at.req.originalUrl})` : ' (outside any request)'}: ${error?.stack ?? String(error)}; shutting down`,
    );
    if (at) {
      const { res } = at;
      try {
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
                detail: 'the request failed; the server is restarting',
              }),
            );
      } catch {
        res.destroy();
      }
    }
    process.exitCode = 1;
    if (!down) {
      down = true;
      shutDown();
    }
  };
}

function installGuard(logger: Logger): void {
  if (guardInstalled) return;
  guardInstalled = true;
  process.on(
    'uncaughtException',
    lastResort(logger, () => {
      if (process.listenerCount('SIGTERM') > 0) process.kill(process.pid, 'SIGTERM');
      else process.exit(1);
    }),
  );
}

/**
 * Runs one step of a request (ours, or a callback webdav-server calls) so that whatever it throws, synchronously or
 * not, ends as that request's problem answer and never leaves the chain.
 */
function settle(service: DavService, req: Request, res: Response, step: () => Promise<unknown> | unknown): Promise<void> {
  return Promise.resolve()
    .then(step)
    .then(
      () => undefined,
      (error: unknown) => service.fail(req, res, error),
    );
}

/**
 * webdav-server's WebDAVServer dispatches each request (method registry, request context, the DAV and Allow
 * headers); every method is one of our handlers in DavService. Its file system is only asked what a path is,
 * for the Allow header, and answers from the request's own view.
 */
class MserveFileSystem extends webdav.FileSystem {
  /** How a failure in a callback of webdav-server's is answered (set by davMiddleware: DavService.fail). */
  static fail: (req: Request, res: Response, error: unknown) => void = () => undefined;

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
    // the callback is called once (a throw in it must not call it a second time), and what it throws is the request's
    const answer = (call: () => void) => {
      try {
        call();
      } catch (error) {
        const request = (info.context as DavHttpContext).request;
        MserveFileSystem.fail(request, request.res as Response, error);
      }
    };
    dav.view.resolve(dav.names).then(
      (node) =>
        answer(() =>
          node
            ? callback(undefined, node.kind === 'file' ? webdav.ResourceType.File : webdav.ResourceType.Directory)
            : callback(webdav.Errors.ResourceNotFound),
        ),
      () => answer(() => callback(webdav.Errors.ResourceNotFound)),
    );
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
  MserveFileSystem.fail = (req, res, error) => resolveService().fail(req, res, error);
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
        void settle(service, request, ctx.response as Response, () => {
          // webdav-server's blanket CORS headers do not belong on an authenticated mount
          for (const header of ['Access-Control-Allow-Origin', 'Access-Control-Allow-Credentials', 'Access-Control-Expose-Headers'])
            ctx.response.removeHeader(header);
          return service.run(method, request.dav!);
        }).then(() =>
          finished(ctx.response, () => {
            try {
              done();
            } catch (error) {
              logger.error(`${method} ${request.originalUrl}: webdav-server failed after the answer: ${(error as Error)?.stack ?? String(error)}`);
            }
          }),
        );
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
        void settle(service, req, res, () => Promise.reject(notAllowed(method)));
        return;
      }
      void settle(service, req, res, async () => {
        req.dav = await service.open(req, res);
        withoutLibraryHeaders(res);
        server.executeRequest(req, res, DAV_PREFIX);
      });
    });
  };
}

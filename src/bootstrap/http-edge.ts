import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { json } from 'express';
import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import { ProblemError, Problems } from '../common/problem';
import { sendProblem, toProblem } from '../common/problem.filter';
import type { AppConfig } from '../config/config';
import { tooManyRequests } from '../redis/rate-limits';
import type { RequestAuthenticator } from '../keys/request-authenticator';

/** The routes that take a JSON body without a key (log in, add a key by its secret, change one's password). */
const KEYLESS_BODY_PATHS = /^\/api\/v1\/session(\/|$)/;
/** Their bodies are a name and a password or a key: 16 KiB is plenty, and bounds what strangers can make us hold. */
export const KEYLESS_JSON_BYTES = 16 * 1024;

const OVER_CAP = Symbol('mserve:over-connection-cap');
type CountedSocket = Socket & { [OVER_CAP]?: boolean };

function answer(request: Request, response: Response, error: unknown): void {
  const id = (request as Request & { id?: unknown }).id;
  sendProblem(response, toProblem(error, id ? String(id) : undefined, request.originalUrl?.split('?')[0]));
}

/**
 * Counts the open connections of each client address (the socket's, so behind a proxy it is the proxy's); a
 * connection beyond MAX_CONNECTIONS_PER_ADDRESS is marked, and its first request answered 429 (see
 * `refuseOverCap`) without its body being read, then closed. 0 turns the cap off.
 */
export function capConnectionsPerAddress(server: Server, max: number): void {
  if (max <= 0) return;
  const open = new Map<string, number>();
  server.on('connection', (socket: CountedSocket) => {
    const address = socket.remoteAddress ?? '';
    const count = open.get(address) ?? 0;
    if (count >= max) {
      socket[OVER_CAP] = true;
      return;
    }
    open.set(address, count + 1);
    socket.once('close', () => {
      const left = (open.get(address) ?? 1) - 1;
      if (left > 0) open.set(address, left);
      else open.delete(address);
    });
  });
}

/** Answers a request on a connection over its address's cap: 429 problem+json, Retry-After, Connection: close. */
export function refuseOverCap(max: number): RequestHandler {
  return (request: Request, response: Response, next: NextFunction) => {
    if (!(request.socket as CountedSocket)[OVER_CAP]) return next();
    response.setHeader('Connection', 'close');
    answer(
      request,
      response,
      tooManyRequests('too-many-connections', `this address already has ${max} connections open (MAX_CONNECTIONS_PER_ADDRESS): reuse one`, 1),
    );
  };
}

function hasBody(request: Request): boolean {
  return request.headers['transfer-encoding'] !== undefined || (request.headers['content-length'] !== undefined && request.headers['content-length'] !== '0');
}

/**
 * JSON request bodies, read only once they may be: a route that needs a key has it checked (the same check the
 * guard then reuses) before a byte of the body is read, so a stranger's body is never held; the keyless session
 * routes read at most KEYLESS_JSON_BYTES. Either way the body must arrive within JSON_BODY_TIMEOUT_MS, or the
 * answer is 408 and the connection closes. Uploads are not JSON and read their own bodies, at their own pace.
 */
export function jsonBodies(config: AppConfig, authenticator: () => RequestAuthenticator): RequestHandler {
  const withKey = json({ limit: config.maxJsonBytes });
  const keyless = json({ limit: KEYLESS_JSON_BYTES });
  const timeoutMs = config.http.jsonBodyTimeoutMs;
  const read = (parser: RequestHandler, limit: number, request: Request, response: Response, next: NextFunction) => {
    // a body declared too large is refused now, unread (body-parser would first read it to the end to discard it)
    if (Number(request.headers['content-length']) > limit)
      return answer(
        request,
        response,
        Problems.tooLarge(`the request body is larger than this route accepts (${limit} bytes${limit === config.maxJsonBytes ? ', MAX_JSON_BYTES' : ''})`),
      );
    let late = false;
    const timer = setTimeout(() => {
      late = true;
      answer(request, response, new ProblemError(408, 'request-timeout', 'Request Timeout', `the JSON body did not arrive within ${timeoutMs / 1000} s`));
    }, timeoutMs);
    void parser(request, response, (error?: unknown) => {
      clearTimeout(timer);
      if (!late) next(error);
    });
  };
  return (request: Request, response: Response, next: NextFunction) => {
    if (!hasBody(request) || !request.path.startsWith('/api/v1/') || !request.is('application/json')) return next();
    if (KEYLESS_BODY_PATHS.test(request.path)) return read(keyless, KEYLESS_JSON_BYTES, request, response, next);
    authenticator()
      .authenticate(request)
      .then(
        () => read(withKey, config.maxJsonBytes, request, response, next),
        (error: unknown) => answer(request, response, error),
      );
  };
}

import { ArgumentsHost, Catch, ExceptionFilter, HttpException, Logger } from '@nestjs/common';
import type { Request, Response } from 'express';
import { isDatabaseUnavailable } from './database-errors';
import { LOST_STATEMENT_CODES } from '../database/prepared';
import { Problems, ProblemError } from './problem';
import { isRedisUnavailable } from './redis-errors';

export const PROBLEM_TYPE_BASE = 'https://mserve.dev/problems/';

export interface ProblemBody {
  type: string;
  title: string;
  status: number;
  detail?: string;
  instance?: string;
  requestId?: string;
  [member: string]: unknown;
}

const STATUS_CODES: Record<number, [string, string]> = {
  400: ['bad-request', 'Bad Request'],
  401: ['unauthenticated', 'Unauthorized'],
  403: ['forbidden', 'Forbidden'],
  404: ['not-found', 'Not Found'],
  405: ['method-not-allowed', 'Method Not Allowed'],
  408: ['request-timeout', 'Request Timeout'],
  409: ['conflict', 'Conflict'],
  411: ['length-required', 'Length Required'],
  412: ['precondition-failed', 'Precondition Failed'],
  413: ['payload-too-large', 'Payload Too Large'],
  415: ['unsupported-media-type', 'Unsupported Media Type'],
  416: ['range-not-satisfiable', 'Range Not Satisfiable'],
  422: ['unprocessable', 'Unprocessable Content'],
  429: ['too-many-requests', 'Too Many Requests'],
  431: ['headers-too-large', 'Request Header Fields Too Large'],
  500: ['internal', 'Internal Server Error'],
  503: ['unavailable', 'Service Unavailable'],
  507: ['insufficient-storage', 'Insufficient Storage'],
};

/** Turns any error into an RFC 9457 problem body. Pure, so the WebDAV and upload paths can use it too. */
export function toProblem(error: unknown, requestId?: string, instance?: string): ProblemBody {
  const base = (status: number, detail?: string, code?: string, title?: string, extra: Record<string, unknown> = {}): ProblemBody => {
    const [defaultCode, defaultTitle] = STATUS_CODES[status] ?? ['error', 'Error'];
    return { type: PROBLEM_TYPE_BASE + (code ?? defaultCode), title: title ?? defaultTitle, status, detail, instance, requestId, ...extra };
  };
  if (error instanceof ProblemError) return base(error.status, error.detail, error.code, error.title, error.extra);
  if (error instanceof HttpException) {
    const status = error.getStatus();
    // Nest wraps body-parser errors; their type says what was wrong with the body.
    const cause = error.cause as { type?: string; message?: string } | undefined;
    if (cause?.type === 'entity.parse.failed') return base(400, `the request body is not valid JSON: ${cause.message}`, 'malformed-json');
    if (cause?.type === 'entity.too.large') return base(413, 'the request body is larger than the configured limit (MAX_JSON_BYTES)');
    const response = error.getResponse();
    if (typeof response === 'object' && response !== null && Array.isArray((response as { message?: unknown }).message)) {
      const errors = [...new Set((response as { message: string[] }).message)];
      return base(status, `the request is invalid: ${errors.join('; ')}`, 'validation', 'Invalid request', { errors });
    }
    const message = typeof response === 'string' ? response : ((response as { message?: string }).message ?? error.message);
    return base(status, message);
  }
  // body-parser and raw-body errors carry an HTTP status and a type.
  const candidate = error as { status?: number; statusCode?: number; type?: string; message?: string; code?: string };
  if (candidate && typeof candidate === 'object') {
    if (candidate.code === 'ENOSPC' || candidate.code === 'EDQUOT') return base(507, 'the storage is full: nothing was stored');
    // a deadlock or serialisation failure PostgreSQL resolved by aborting this transaction: nothing was changed
    const sqlState = (candidate as { driverError?: { code?: string } }).driverError?.code ?? candidate.code;
    if (sqlState === '40P01' || sqlState === '40001')
      return base(503, 'a concurrent change conflicted with this one and nothing was changed: retry', 'retry', undefined, { retryAfterSeconds: 1 });
    // a named prepared statement a transaction-mode pooler lost: named statements are now off (database/prepared.ts)
    if (sqlState && LOST_STATEMENT_CODES.has(sqlState))
      return base(503, 'the database connection lost a prepared statement: retry', 'retry', undefined, { retryAfterSeconds: 1 });
    // a dependency outage (stopped, restarting, hung): the request may be retried once it is back
    if (isDatabaseUnavailable(candidate)) return outage('database', requestId, instance);
    if (isRedisUnavailable(candidate)) return outage('redis', requestId, instance);
    const status = candidate.status ?? candidate.statusCode;
    if (typeof status === 'number' && status >= 400 && status < 500) {
      if (candidate.type === 'entity.too.large') return base(413, 'the request body is larger than the configured limit (MAX_JSON_BYTES)');
      if (candidate.type === 'entity.parse.failed') return base(400, `the request body is not valid JSON: ${candidate.message}`, 'malformed-json');
      return base(status, candidate.message);
    }
  }
  return base(500, `the server failed while handling this request${requestId ? ` (request id ${requestId})` : ''}`);
}

function outage(dependency: 'database' | 'redis', requestId?: string, instance?: string): ProblemBody {
  const what = dependency === 'database' ? 'the database (PostgreSQL)' : 'Redis';
  const problem = Problems.unavailable(`${what} is unavailable right now: retry later`, { dependency });
  return toProblem(problem, requestId, instance);
}

/** Whether a problem answers a dependency outage (a 503 logged as a warning, without a stack: not a fault of ours). */
export function isOutage(problem: ProblemBody): boolean {
  return problem.status === 503 && typeof problem.dependency === 'string';
}

/** Headers that describe a resource's content (set by the download path before it opens the bytes). */
const REPRESENTATION_HEADERS = ['ETag', 'Last-Modified', 'Accept-Ranges', 'Content-Range', 'Content-Disposition', 'Repr-Digest'];

export function sendProblem(response: Response, problem: ProblemBody): void {
  if (response.headersSent) {
    // mid-answer: cut, so the client cannot take a truncated body for a whole one; an answer already complete (an
    // error after it, e.g. a session write that failed) is left alone, and its kept-alive connection with it
    if (!response.writableEnded) response.destroy();
    return;
  }
  // An answer before the whole request body was read (507 mid-upload, 409 on a wrong tus offset, ...): the rest
  // of the body is still on the wire, and Node does not discard a body a handler already started reading, so a
  // kept-alive connection would hang the client's next request. Close it after the answer instead (RFC 9112 §9.6).
  const request = response.req as (Request & { complete?: boolean }) | undefined;
  if (request && !request.complete) response.setHeader('Connection', 'close');
  // a failure once a handler had begun describing a representation (a download whose store could not be read):
  // the problem is not that representation, so none of its headers may go out with it
  if (problem.status >= 500) for (const name of REPRESENTATION_HEADERS) response.removeHeader(name);
  // a limit that lifts at a known time (a monthly quota): tell clients when
  if (typeof problem.retryAfterSeconds === 'number') response.setHeader('Retry-After', String(Math.max(1, Math.ceil(problem.retryAfterSeconds))));
  response.status(problem.status).type('application/problem+json').send(JSON.stringify(problem));
}

@Catch()
export class ProblemFilter implements ExceptionFilter {
  private readonly logger = new Logger('http');

  catch(error: unknown, host: ArgumentsHost): void {
    const context = host.switchToHttp();
    const request = context.getRequest<Request & { id?: string }>();
    const response = context.getResponse<Response>();
    const problem = toProblem(error, request.id ? String(request.id) : undefined, request.originalUrl?.split('?')[0]);
    if (isOutage(problem)) {
      this.logger.warn(
        `${request.method} ${request.originalUrl?.split('?')[0]}: ${String(problem.dependency)} unavailable (${(error as Error)?.message ?? String(error)})`,
      );
    } else if (problem.status >= 500 && !(error instanceof ProblemError)) {
      this.logger.error({
        msg: `${request.method} ${request.originalUrl?.split('?')[0]} failed`,
        requestId: request.id,
        err: error instanceof Error ? { message: error.message, stack: error.stack } : String(error),
      });
    }
    sendProblem(response, problem);
  }
}

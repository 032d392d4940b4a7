import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { textProblem } from './free-form';
import { Problems } from './problem';
import { sendProblem, toProblem } from './problem.filter';

/** The deepest JSON request body accepted. Our own documents are far shallower (properties 16, profiles about 6). */
export const MAX_JSON_DEPTH = 64;

interface Visit {
  value: object;
  depth: number;
  parent?: Visit;
  key?: string | number;
}

/** The member path of a visit, rebuilt only for the message (keeping one per value cost a copy per member). */
function pathOf(visit: Visit | undefined, last?: string | number): string {
  const parts: (string | number)[] = last === undefined ? [] : [last];
  for (let at = visit; at && at.key !== undefined; at = at.parent) parts.unshift(at.key);
  return parts.length
    ? parts
        .map((part) => (typeof part === 'number' ? `[${part}]` : `.${part}`))
        .join('')
        .replace(/^\./, '')
    : 'the top level';
}

/**
 * Why a parsed JSON body cannot be taken, or undefined: nested deeper than MAX_JSON_DEPTH (the validators and
 * transformers recurse, and a deep enough document overflows their stack), or a NUL or a half of a surrogate pair in
 * any name or string (JSON.parse accepts both as escapes; PostgreSQL stores neither in text or jsonb). Walked
 * without recursion, and in time and memory linear in the body: it runs before any key is checked.
 */
export function jsonBodyProblem(body: unknown): string | undefined {
  if (typeof body === 'string') return textProblem(body) ? `the string at the top level ${textProblem(body)}` : undefined;
  if (body === null || typeof body !== 'object') return undefined;
  const stack: Visit[] = [{ value: body, depth: 1 }];
  while (stack.length) {
    const visit = stack.pop()!;
    if (visit.depth > MAX_JSON_DEPTH)
      return `the JSON body is nested deeper than ${MAX_JSON_DEPTH} levels (at ${pathOf(visit)
        .split(/(?=[.[])/)
        .slice(0, 8)
        .join('')}…)`;
    const entries: Iterable<[string | number, unknown]> = Array.isArray(visit.value) ? visit.value.entries() : Object.entries(visit.value);
    for (const [key, item] of entries) {
      if (typeof key === 'string') {
        const problem = textProblem(key);
        if (problem) return `the member name at ${pathOf(visit)} ${problem}`;
      }
      if (typeof item === 'string') {
        const problem = textProblem(item);
        if (problem) return `the string at ${pathOf(visit, key)} ${problem}`;
      } else if (item !== null && typeof item === 'object') {
        stack.push({ value: item, depth: visit.depth + 1, parent: visit, key });
      }
    }
  }
  return undefined;
}

/**
 * Input no route can take, refused before any route sees it, with a problem that says what: a NUL in the URL (no
 * id, name or parameter holds one, and PostgreSQL cannot compare text with it) and JSON bodies jsonBodyProblem
 * refuses. Runs after the JSON body parser; the problem lists the one finding in `errors`, as validation does.
 */
export function requestGuards(): RequestHandler {
  return (request: Request & { id?: unknown }, response: Response, next: NextFunction) => {
    let detail: string | undefined;
    if (/%00/i.test(request.url)) detail = 'the request URL holds a NUL character (%00), which no id, name or parameter may contain';
    else if (request.body !== undefined && request.is('json')) detail = jsonBodyProblem(request.body);
    if (!detail) return next();
    sendProblem(
      response,
      toProblem(Problems.badRequest(detail, { errors: [detail] }), request.id ? String(request.id) : undefined, request.originalUrl?.split('?')[0]),
    );
  };
}

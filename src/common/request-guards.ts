import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { textProblem } from './free-form';
import { Problems } from './problem';
import { sendProblem, toProblem } from './problem.filter';

/** The deepest JSON request body accepted. Our own documents are far shallower (properties 16, profiles about 6). */
export const MAX_JSON_DEPTH = 64;

const memberPath = (path: (string | number)[]) => (path.length ? path.map((part) => (typeof part === 'number' ? `[${part}]` : `.${part}`)).join('').replace(/^\./, '') : 'the top level');

/**
 * Why a parsed JSON body cannot be taken, or undefined: nested deeper than MAX_JSON_DEPTH (the validators and
 * transformers recurse, and a deep enough document overflows their stack), or a NUL or a half of a surrogate pair in
 * any name or string (JSON.parse accepts both as escapes; PostgreSQL stores neither in text or jsonb). Walked
 * without recursion, so the walk cannot overflow either.
 */
export function jsonBodyProblem(body: unknown): string | undefined {
  const stack: { value: unknown; path: (string | number)[] }[] = [{ value: body, path: [] }];
  while (stack.length) {
    const { value, path } = stack.pop()!;
    if (typeof value === 'string') {
      const problem = textProblem(value);
      if (problem) return `the string at ${memberPath(path)} ${problem}`;
      continue;
    }
    if (value === null || typeof value !== 'object') continue;
    if (path.length >= MAX_JSON_DEPTH) return `the JSON body is nested deeper than ${MAX_JSON_DEPTH} levels (at ${memberPath(path.slice(0, 8))}…)`;
    if (Array.isArray(value)) {
      value.forEach((item, index) => stack.push({ value: item, path: [...path, index] }));
      continue;
    }
    for (const [name, item] of Object.entries(value as Record<string, unknown>)) {
      const problem = textProblem(name);
      if (problem) return `the member name at ${memberPath(path)} ${problem}`;
      stack.push({ value: item, path: [...path, name] });
    }
  }
  return undefined;
}

/**
 * Input no route can take, refused before any route sees it, with a problem that says what: a NUL in the URL (no
 * id, name or parameter holds one, and PostgreSQL cannot compare text with it) and JSON bodies jsonBodyProblem
 * refuses. Runs after the JSON body parser.
 */
export function requestGuards(): RequestHandler {
  return (request: Request & { id?: unknown }, response: Response, next: NextFunction) => {
    let detail: string | undefined;
    if (/%00/i.test(request.url)) detail = 'the request URL holds a NUL character (%00), which no id, name or parameter may contain';
    else if (request.body !== undefined && request.is('json')) detail = jsonBodyProblem(request.body);
    if (!detail) return next();
    sendProblem(response, toProblem(Problems.badRequest(detail), request.id ? String(request.id) : undefined, request.originalUrl?.split('?')[0]));
  };
}

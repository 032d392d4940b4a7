import { UUID_PATTERN } from '../database/uuid';
import { textProblem } from './free-form';
import { Problems } from './problem';

export interface Page<T> {
  items: T[];
  /** Opaque; pass as ?cursor= to get the next page. Null on the last page. */
  nextCursor: string | null;
}

/** Cursors are the sort key of the last row, base64url-encoded JSON: stable under inserts, O(log n) to seek. */
export function encodeCursor(values: unknown[]): string {
  return Buffer.from(JSON.stringify(values)).toString('base64url');
}

const MALFORMED = () => Problems.badRequest('cursor is not one this server issued', { errors: ['cursor is malformed'] });

/**
 * Decodes a cursor this server issued into its sort key, checked part by part against the shape the list sorts by:
 * `uuid` (a row id) or `text` (a name: no NUL or lone surrogate, at most 1,024 characters). A cursor is base64url, so
 * what it holds never went through the URL and body guards; anything else would reach PostgreSQL.
 */
export function decodeCursor(cursor: string, shape: readonly ('uuid' | 'text')[]): string[] {
  let values: unknown;
  try {
    values = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw MALFORMED();
  }
  if (!Array.isArray(values) || values.length !== shape.length) throw MALFORMED();
  shape.forEach((kind, index) => {
    const value = values[index];
    const fits = typeof value === 'string' && (kind === 'uuid' ? UUID_PATTERN.test(value) : value.length <= 1024 && !textProblem(value));
    if (!fits) throw MALFORMED();
  });
  return values as string[];
}

/** Escapes LIKE wildcards in user text. */
export function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (c) => `\\${c}`);
}

/** A cursor holding one uuid (the last id of the previous page), validated. */
export function decodeIdCursor(cursor: string | undefined): string | null {
  return cursor ? decodeCursor(cursor, ['uuid'])[0] : null;
}

/** Turns `limit + 1` fetched rows into a page. */
export function toPage<T>(rows: T[], limit: number, cursorOf: (last: T) => unknown[]): Page<T> {
  const items = rows.slice(0, limit);
  return { items, nextCursor: rows.length > limit ? encodeCursor(cursorOf(items[items.length - 1])) : null };
}

export interface PageQueryLike {
  cursor?: string;
  limit: number;
}

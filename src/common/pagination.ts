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

export function decodeCursor(cursor: string): unknown[] {
  try {
    const values = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (Array.isArray(values)) return values;
  } catch {
    // fall through
  }
  throw Problems.badRequest('cursor is not one this server issued', { errors: ['cursor is malformed'] });
}

/** Escapes LIKE wildcards in user text. */
export function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (c) => `\\${c}`);
}

/** A cursor holding one uuid (the last id of the previous page), validated. */
export function decodeIdCursor(cursor: string | undefined): string | null {
  if (!cursor) return null;
  const [id] = decodeCursor(cursor);
  if (typeof id !== 'string' || !/^[0-9a-f-]{36}$/i.test(id)) throw Problems.badRequest('cursor is not one this server issued', { errors: ['cursor is malformed'] });
  return id;
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

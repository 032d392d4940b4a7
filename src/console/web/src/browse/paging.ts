/** Keyset paging on the client: pages are appended in order, and an item already shown is never shown twice. */

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

/**
 * The list after `incoming` is appended to `shown`. An item that was put in front early (a file just uploaded)
 * and then arrives with its page keeps its place and takes the fresher copy.
 */
export function appendPage<T extends { id: string }>(shown: T[], incoming: T[]): T[] {
  const fresh = new Map(incoming.map((item) => [item.id, item]));
  const kept = shown.map((item) => fresh.get(item.id) ?? item);
  const present = new Set(shown.map((item) => item.id));
  return [...kept, ...incoming.filter((item) => !present.has(item.id))];
}

/** Puts an item first (or replaces it where it already is). */
export function upsertFirst<T extends { id: string }>(shown: T[], item: T): T[] {
  return shown.some((existing) => existing.id === item.id) ? shown.map((existing) => (existing.id === item.id ? item : existing)) : [item, ...shown];
}

export function replaceItem<T extends { id: string }>(shown: T[], item: T): T[] {
  return shown.map((existing) => (existing.id === item.id ? item : existing));
}

export function removeItem<T extends { id: string }>(shown: T[], id: string): T[] {
  return shown.filter((existing) => existing.id !== id);
}

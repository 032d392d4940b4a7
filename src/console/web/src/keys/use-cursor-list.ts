import { useState } from 'preact/hooks';
import type { Page } from '../api';

/**
 * A list read page by page with the API's cursor: `fetchPage(null)` replaces it with the first page, `fetchPage(next)`
 * appends the next one. When to load is the caller's (its own effect).
 */
export function useCursorList<T>(load: (cursor: string | null) => Promise<Page<T>>, initiallyLoading: boolean) {
  const [items, setItems] = useState<T[]>([]);
  const [next, setNext] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [loading, setLoading] = useState(initiallyLoading);
  const fetchPage = async (cursor: string | null) => {
    setLoading(true);
    try {
      const page = await load(cursor);
      setItems((before) => (cursor ? [...before, ...page.items] : page.items));
      setNext(page.nextCursor);
      setError(null);
    } catch (caught) {
      setError(caught);
    } finally {
      setLoading(false);
    }
  };
  return { items, setItems, next, setNext, error, loading, fetchPage };
}

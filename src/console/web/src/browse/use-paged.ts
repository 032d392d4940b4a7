import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { appendPage, type Page } from './paging';

export interface Paged<T> {
  items: T[];
  nextCursor: string | null;
  /** The first page is loading (the list is being replaced). */
  loading: boolean;
  loadingMore: boolean;
  error: unknown;
  loadMore: () => Promise<void>;
  reload: () => Promise<void>;
  setItems: (update: (items: T[]) => T[]) => void;
  clearError: () => void;
}

/**
 * A keyset-paged list: the first page when `deps` change, the next on loadMore (the API's nextCursor). An answer
 * that arrives after the filters changed again is dropped, so fast typing never shows a stale list.
 */
export function usePaged<T extends { id: string }>(fetchPage: (cursor: string | null) => Promise<Page<T>>, deps: unknown[]): Paged<T> {
  const [items, setItemsState] = useState<T[]>([]);
  const [nextCursor, setNextCursor] = useState<string | null>(null);
  const [loading, setLoading] = useState(true);
  const [loadingMore, setLoadingMore] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const generation = useRef(0);
  const fetcher = useRef(fetchPage);
  fetcher.current = fetchPage;

  const reload = useCallback(async () => {
    const mine = ++generation.current;
    setLoading(true);
    try {
      const page = await fetcher.current(null);
      if (mine !== generation.current) return;
      setItemsState(page.items);
      setNextCursor(page.nextCursor);
      setError(null);
    } catch (caught) {
      if (mine === generation.current) setError(caught);
    } finally {
      if (mine === generation.current) setLoading(false);
    }
  }, deps);

  useEffect(() => {
    void reload();
  }, [reload]);

  const loadMore = async () => {
    if (!nextCursor || loadingMore) return;
    const mine = generation.current;
    setLoadingMore(true);
    try {
      const page = await fetcher.current(nextCursor);
      if (mine !== generation.current) return;
      setItemsState((shown) => appendPage(shown, page.items));
      setNextCursor(page.nextCursor);
      setError(null);
    } catch (caught) {
      if (mine === generation.current) setError(caught);
    } finally {
      setLoadingMore(false);
    }
  };

  return {
    items,
    nextCursor,
    loading,
    loadingMore,
    error,
    loadMore,
    reload,
    setItems: (update) => setItemsState((shown) => update(shown)),
    clearError: () => setError(null),
  };
}

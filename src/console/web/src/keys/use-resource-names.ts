import { useEffect, useState } from 'preact/hooks';
import { api } from '../api';

const PATHS: Record<string, (id: string) => string> = {
  container: (id) => `/containers/${id}`,
  service: (id) => `/services/${id}`,
  mfolder: (id) => `/mfolders/${id}`,
  mfile: (id) => `/mfiles/${id}`,
};

/** Names already looked up (null: not readable with this key, or gone), shared by every list on the page. */
const known = new Map<string, string | null>();

/**
 * The names of the resources keys point at, looked up a few at a time through the same API (GET /mfiles/:id, …),
 * so a list of keys says "File holiday.jpg" rather than an id. Ids the acting key cannot read stay ids.
 */
export function useResourceNames(resources: Array<{ type: string; id: string | null }>): Map<string, string | null> {
  const [names, setNames] = useState<Map<string, string | null>>(() => new Map(known));
  const wanted = [
    ...new Set(
      resources.filter((resource) => resource.id && PATHS[resource.type] && !known.has(resource.id)).map((resource) => `${resource.type}:${resource.id}`),
    ),
  ];
  const signature = wanted.join(',');
  useEffect(() => {
    if (!wanted.length) return;
    let live = true;
    const queue = [...wanted];
    const worker = async () => {
      for (let next = queue.shift(); next; next = queue.shift()) {
        const [type, id] = next.split(':');
        if (known.has(id)) continue;
        const found = await api<{ name?: string }>(PATHS[type](id)).then(
          (body) => (typeof body.name === 'string' ? body.name || '(root folder)' : null),
          () => null,
        );
        known.set(id, found);
      }
    };
    void Promise.all([worker(), worker(), worker(), worker()]).then(() => live && setNames(new Map(known)));
    return () => {
      live = false;
    };
  }, [signature]);
  return names;
}

import { useEffect, useState } from 'preact/hooks';
import { api, describeError, Page } from '../api';
import { RESOURCE_LABELS, ResourceType, scopeTypesBelow } from './derive-form';
import { useCursorList } from './use-cursor-list';

/** Somewhere a key can point at, as the picker lists it. */
export interface ScopeChoice {
  type: ResourceType;
  id: string;
  name: string;
}

interface Node {
  type: 'provider' | 'container' | 'service' | 'mfolder';
  id: string | null;
  name: string;
}

interface Named {
  id: string;
  name: string;
  mimetype?: string;
}

const BROWSABLE = ['provider', 'container', 'service', 'mfolder'];
const PAGE = 50;

/** One listing (containers, services, folders or files) of the node being browsed, keyset-paged, filtered by name. */
function PickList(props: {
  title: string;
  type: ResourceType;
  load: (cursor: string | null) => Promise<Page<Named>>;
  reloadKey: string;
  selectedId: string;
  onChoose: (choice: ScopeChoice) => void;
  onOpen?: (item: Named) => void;
}) {
  const { items, setItems, next, error, loading, fetchPage } = useCursorList(props.load, true);
  useEffect(() => {
    setItems([]);
    void fetchPage(null);
  }, [props.reloadKey]);
  const label = RESOURCE_LABELS[props.type].toLowerCase();
  return (
    <div class="scope-list">
      <h4>{props.title}</h4>
      {error ? (
        <p class="field-error">
          Cannot list {props.title.toLowerCase()}: {describeError(error)}
        </p>
      ) : null}
      {!error && !loading && items.length === 0 && <p class="muted">None.</p>}
      <ul>
        {items.map((item) => (
          <li key={item.id} class={item.id === props.selectedId ? 'chosen' : undefined}>
            <span class="scope-name" title={item.id}>
              {item.name || '(unnamed)'}
              {item.mimetype && <small> {item.mimetype}</small>}
            </span>
            <span class="actions">
              {props.onOpen && (
                <button type="button" class="secondary" aria-label={`Open ${label} ${item.name}`} onClick={() => props.onOpen!(item)}>
                  Open
                </button>
              )}
              <button
                type="button"
                aria-pressed={item.id === props.selectedId}
                aria-label={`Choose ${label} ${item.name}`}
                onClick={() => props.onChoose({ type: props.type, id: item.id, name: item.name })}
              >
                {item.id === props.selectedId ? 'Chosen' : 'Choose'}
              </button>
            </span>
          </li>
        ))}
      </ul>
      {loading && (
        <p class="loading" role="status">
          Loading…
        </p>
      )}
      {next && !loading && (
        <button type="button" class="secondary" onClick={() => fetchPage(next)}>
          More {props.title.toLowerCase()}
        </button>
      )}
    </div>
  );
}

/**
 * Picks the resource a sub-key points at: browse from the acting key's own resource down (containers → services →
 * folders → files) and choose one, or type its kind and id.
 */
export function ScopePicker(props: {
  root: { type: ResourceType; id: string | null; name: string | null };
  resourceType: ResourceType;
  resourceId: string;
  chosenName: string | null;
  invalid: boolean;
  errorId?: string;
  onChange: (choice: { type: ResourceType; id: string; name: string | null }) => void;
}) {
  const start: Node | null = BROWSABLE.includes(props.root.type)
    ? { type: props.root.type as Node['type'], id: props.root.id, name: props.root.name ?? RESOURCE_LABELS[props.root.type] }
    : null;
  const [path, setPath] = useState<Node[]>(start ? [start] : []);
  const [filter, setFilter] = useState('');
  const [applied, setApplied] = useState('');
  const [rootFolder, setRootFolder] = useState<{ serviceId: string; folderId: string } | null>(null);
  const [folderError, setFolderError] = useState<unknown>(null);
  const node = path[path.length - 1];
  const types = scopeTypesBelow(props.root.type);

  // a service's files live in its root folder: look its id up once per service opened
  useEffect(() => {
    if (node?.type !== 'service' || !node.id || rootFolder?.serviceId === node.id) return;
    setFolderError(null);
    api<{ rootFolderId: string }>(`/services/${node.id}`)
      .then((service) => setRootFolder({ serviceId: node.id!, folderId: service.rootFolderId }))
      .catch(setFolderError);
  }, [node?.type, node?.id]);

  const open = (next: Node) => {
    setPath([...path, next]);
    setFilter('');
    setApplied('');
  };
  const choose = (choice: ScopeChoice) => props.onChange(choice);
  const query = (cursor: string | null) => ({ limit: PAGE, cursor: cursor ?? undefined, name: applied || undefined });
  const folderId = node?.type === 'mfolder' ? node.id : node?.type === 'service' && rootFolder?.serviceId === node.id ? rootFolder.folderId : null;
  const reloadKey = `${node?.type}:${node?.id}:${applied}:${folderId}`;
  const isRoot = path.length === 1;

  return (
    <div class="scope-picker">
      {node && (
        <div class="scope-browser">
          <nav aria-label="Resource path">
            <ol class="breadcrumbs">
              {path.map((step, index) => (
                <li key={`${step.type}-${step.id}`}>
                  {index === path.length - 1 ? (
                    <span aria-current="location">{step.name || RESOURCE_LABELS[step.type]}</span>
                  ) : (
                    <button type="button" class="link" onClick={() => setPath(path.slice(0, index + 1))}>
                      {step.name || RESOURCE_LABELS[step.type]}
                    </button>
                  )}
                </li>
              ))}
            </ol>
          </nav>
          {!isRoot && node.id && types.includes(node.type as ResourceType) && (
            <p>
              <button
                type="button"
                aria-pressed={props.resourceId === node.id}
                onClick={() => choose({ type: node.type as ResourceType, id: node.id!, name: node.name })}
              >
                {props.resourceId === node.id
                  ? `This ${RESOURCE_LABELS[node.type].toLowerCase()} is chosen`
                  : `Choose this ${RESOURCE_LABELS[node.type].toLowerCase()}`}
              </button>
            </p>
          )}
          {/* not a <form>: the picker sits inside the derivation form, and Enter here filters rather than submits */}
          <div class="inline scope-filter">
            <label>
              Filter by name
              <input
                type="search"
                value={filter}
                onInput={(event) => setFilter((event.target as HTMLInputElement).value)}
                onKeyDown={(event) => {
                  if (event.key === 'Enter') {
                    event.preventDefault();
                    setApplied(filter.trim());
                  }
                }}
              />
            </label>
            <button type="button" class="secondary" onClick={() => setApplied(filter.trim())}>
              Filter
            </button>
          </div>
          {node.type === 'provider' && (
            <PickList
              title="Containers"
              type="container"
              reloadKey={reloadKey}
              selectedId={props.resourceId}
              load={(cursor) => api<Page<Named>>('/containers', { query: query(cursor) })}
              onChoose={choose}
              onOpen={(item) => open({ type: 'container', id: item.id, name: item.name })}
            />
          )}
          {node.type === 'container' && (
            <PickList
              title="Services"
              type="service"
              reloadKey={reloadKey}
              selectedId={props.resourceId}
              load={(cursor) => api<Page<Named>>(`/containers/${node.id}/services`, { query: query(cursor) })}
              onChoose={choose}
              onOpen={(item) => open({ type: 'service', id: item.id, name: item.name })}
            />
          )}
          {folderError ? <p class="field-error">Cannot open the service's folders: {describeError(folderError)}</p> : null}
          {folderId && (
            <>
              <PickList
                title="Folders"
                type="mfolder"
                reloadKey={reloadKey}
                selectedId={props.resourceId}
                load={(cursor) => api<Page<Named>>(`/mfolders/${folderId}/mfolders`, { query: query(cursor) })}
                onChoose={choose}
                onOpen={(item) => open({ type: 'mfolder', id: item.id, name: item.name })}
              />
              <PickList
                title="Files"
                type="mfile"
                reloadKey={reloadKey}
                selectedId={props.resourceId}
                load={(cursor) => api<Page<Named>>(`/mfolders/${folderId}/mfiles`, { query: query(cursor) })}
                onChoose={choose}
              />
            </>
          )}
        </div>
      )}
      <fieldset class="scope-manual">
        <legend>{node ? 'Or enter its id' : 'Enter the id of the resource'}</legend>
        <div class="keys-row">
          <label>
            Kind
            <select
              value={props.resourceType}
              onChange={(event) => props.onChange({ type: (event.target as HTMLSelectElement).value as ResourceType, id: props.resourceId, name: null })}
            >
              {types.map((type) => (
                <option key={type} value={type}>
                  {RESOURCE_LABELS[type]}
                </option>
              ))}
            </select>
          </label>
          <label>
            Id
            <input
              id="derive-resource-id"
              value={props.resourceId}
              spellcheck={false}
              autoComplete="off"
              placeholder="0192f3c4-5d6e-7f80-9a1b-2c3d4e5f6a7b"
              aria-invalid={props.invalid}
              aria-describedby={props.errorId}
              onInput={(event) => props.onChange({ type: props.resourceType, id: (event.target as HTMLInputElement).value, name: null })}
            />
          </label>
        </div>
      </fieldset>
      {props.resourceId && props.chosenName !== null && (
        <p class="scope-chosen" role="status">
          Chosen: {RESOURCE_LABELS[props.resourceType]} <strong>{props.chosenName || '(unnamed)'}</strong>
        </p>
      )}
    </div>
  );
}

import type { ComponentChildren } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { useRoute } from 'preact-iso';
import { actingKey, api, ApiError, can } from '../api';
import { ErrorNotice, Spinner, useLoad } from '../components/ui';
import { formatDate } from '../format';
import { ServiceState } from './container';
import { takeDrop, takePicked } from '../browse/dropped-files';
import { FileView, rememberedView, rememberView, type ViewMode } from '../browse/file-views';
import { nameProblem, normaliseMimetypeFilter } from '../browse/files';
import { ensureFolders } from '../browse/folder-tree';
import { removeItem, replaceItem, upsertFirst } from '../browse/paging';
import type { Container, Mfolder, Service } from '../browse/types';
import { addUploads, onUploaded } from '../browse/upload-manager';
import { UploadPanel } from '../browse/upload-panel';
import { pathKey, type PlannedFile } from '../browse/upload-plan';
import { useFolderListing, type FileSort } from '../browse/use-folder-listing';
import type { Paged } from '../browse/use-paged';
import { usePreviewWatch } from '../browse/use-preview-watch';
import { Breadcrumbs, describedBy, Field, LoadMore, SearchField, type Crumb } from '../browse/widgets';

interface Place {
  /** Null when the key reaches only a folder inside the service. */
  service: Service | null;
  container: Container | null;
  folder: Mfolder;
  /** From the highest folder the key reaches down to this one. */
  trail: Mfolder[];
}

/** Folders seen on this page, so walking up to the root for the breadcrumbs asks only for the ones not seen. */
const folderCache = new Map<string, Mfolder>();

async function folderById(id: string, fresh = false): Promise<Mfolder> {
  const cached = folderCache.get(id);
  if (cached && !fresh) return cached;
  const folder = await api<Mfolder>(`/mfolders/${id}`);
  folderCache.set(id, folder);
  return folder;
}

async function loadPlace(serviceId: string | undefined, folderId: string | undefined): Promise<Place> {
  let service: Service | null = serviceId ? await api<Service>(`/services/${serviceId}`) : null;
  const folder = await folderById(folderId ?? service!.rootFolderId!, true);
  if (service && folder.serviceId !== service.id)
    throw new ApiError(404, { status: 404, title: 'Not Found', detail: `folder ${folder.id} is not in service ${service.id}` });
  // a key on a folder does not reach its service; the page then starts at that folder
  if (!service) service = await api<Service>(`/services/${folder.serviceId}`).catch(() => null);
  const type = actingKey.value?.resource.type;
  const container =
    service && (type === 'provider' || type === 'container') ? await api<Container>(`/containers/${service.containerId}`).catch(() => null) : null;
  const trail = [folder];
  while (trail[0].parentId && trail.length < 64) {
    const parent = await folderById(trail[0].parentId).catch(() => null);
    if (!parent) break;
    trail.unshift(parent);
  }
  return { service, container, folder, trail };
}

function folderHref(place: Pick<Place, 'service'>, folder: Pick<Mfolder, 'id' | 'parentId'>): string {
  if (!place.service) return `/mfolders/${folder.id}`;
  return folder.parentId === null ? `/services/${place.service.id}` : `/services/${place.service.id}/folders/${folder.id}`;
}

function folderLabel(place: Pick<Place, 'service'>, folder: Mfolder): string {
  return folder.parentId === null ? (place.service?.name ?? 'Root folder') : folder.name;
}

/** `/services/:id`, `/services/:id/folders/:folderId` and `/mfolders/:folderId`: one folder of a service. */
export default function ServiceRoute() {
  const { params } = useRoute();
  // a new folder is a new page: its filters, lists and watches start afresh
  return <ServicePage key={`${params.id ?? ''}/${params.folderId ?? ''}/${actingKey.value?.id ?? ''}`} serviceId={params.id} folderId={params.folderId} />;
}

function ServicePage({ serviceId, folderId }: { serviceId?: string; folderId?: string }) {
  const place = useLoad(() => loadPlace(serviceId, folderId), [serviceId, folderId]);
  if (place.loading && !place.data) return <Spinner label="Opening the folder…" />;
  if (!place.data) {
    return (
      <section>
        <h1>Folder</h1>
        <ErrorNotice error={place.error} />
      </section>
    );
  }
  return <FolderView place={place.data} />;
}

function FolderView({ place }: { place: Place }) {
  const { service, folder, trail, container } = place;
  const keyId = actingKey.value?.id ?? null;
  const [view, setView] = useState<ViewMode>(rememberedView());
  const [error, setError] = useState<unknown>(null);
  const listing = useFolderListing(place);
  const { name, mimetype, wholeService, files, folders } = listing;
  useEffect(() => {
    for (const item of folders.items) folderCache.set(item.id, item);
  }, [folders.items]);

  // pictures being made: each new or recent file's picture-making jobs are followed until it has one
  const { pending, watch } = usePreviewWatch(files.items, keyId, (updated) => files.setItems((items) => replaceItem(items, updated)));

  // an upload that finished into what this page shows appears at the top, marked new, and its picture is awaited
  const [fresh, setFresh] = useState<ReadonlySet<string>>(new Set());
  useEffect(
    () =>
      onUploaded((item) => {
        const mfile = item.mfile;
        if (!mfile || !listing.shows(mfile)) return;
        files.setItems((items) => upsertFirst(items, mfile));
        setFresh((ids) => new Set(ids).add(mfile.id));
        watch(mfile);
      }),
    [folder.id, name, mimetype, wholeService],
  );

  const canUpload = can('mfile:create');
  const upload = async (planned: PlannedFile[]) => {
    if (planned.length === 0) return;
    try {
      const ids = planned.some((entry) => entry.dirs.length > 0)
        ? await ensureFolders(folder.id, planned, (created) => folders.setItems((items) => upsertFirst(items, created)))
        : new Map([['', folder.id]]);
      const groups = new Map<string, File[]>();
      for (const entry of planned) {
        const target = ids.get(pathKey(entry.dirs))!;
        groups.set(target, [...(groups.get(target) ?? []), entry.file]);
      }
      for (const [target, list] of groups) addUploads(list, { serviceId: service?.id ?? null, folderId: target });
    } catch (caught) {
      setError(caught);
    }
  };

  const crumbs: Crumb[] = [
    ...(actingKey.value?.resource.type === 'provider' ? [{ label: 'Containers', href: '/containers' }] : []),
    ...(container ? [{ label: container.name, href: `/containers/${container.id}` }] : []),
    ...trail.map((item) => ({ label: folderLabel(place, item), href: folderHref(place, item) })),
  ];
  const atRoot = folder.parentId === null;

  return (
    <section class="folder-view">
      <Breadcrumbs items={crumbs} />
      <div class="page-title">
        <h1>{folderLabel(place, folder)}</h1>
        <div class="actions">
          {service && <ServiceState service={service} />}
          {service && can('job:read') && (
            <a class="button secondary" href={`/services/${service.id}/jobs`}>
              Jobs
            </a>
          )}
          {service && can('usage:read') && (
            <a class="button secondary" href={`/services/${service.id}/usage`}>
              Usage
            </a>
          )}
          {service && can('service:update') && (
            <a class="button secondary" href={`/services/${service.id}/settings`}>
              Settings
            </a>
          )}
        </div>
      </div>
      {atRoot && service?.description && <p class="muted">{service.description}</p>}
      {!atRoot && service && <p class="muted">A folder of {service.name}.</p>}
      <ErrorNotice error={error} onDismiss={() => setError(null)} />

      <Toolbar
        name={name}
        setName={listing.setName}
        setMimetype={listing.setMimetype}
        sort={listing.sort}
        setSort={listing.setSort}
        view={view}
        setView={(next) => {
          setView(next);
          rememberView(next);
        }}
        everywhere={listing.everywhere}
        setEverywhere={service ? listing.setEverywhere : null}
        onRefresh={listing.refresh}
      />

      <DropZone enabled={canUpload} onFiles={upload}>
        {!wholeService && <Folders place={place} parent={folder} folders={folders} filtered={name !== ''} />}
        <section class="card" aria-labelledby="files-title">
          <header>
            <h2 id="files-title">{wholeService ? `Files in all folders of ${service!.name}` : 'Files'}</h2>
            {canUpload && <UploadButtons onFiles={upload} />}
          </header>
          <UploadPanel />
          <ErrorNotice error={files.error} onDismiss={files.clearError} />
          {files.loading ? (
            <Spinner label="Loading files…" />
          ) : files.items.length === 0 ? (
            <p class="muted empty">
              {name || mimetype
                ? 'No file matches the search.'
                : canUpload
                  ? 'No files here yet. Drop files or folders here, or choose them.'
                  : 'No files here.'}
            </p>
          ) : (
            <FileView files={files.items} view={view} pending={pending} fresh={fresh} />
          )}
          <LoadMore paged={files} noun={['file', 'files']} />
        </section>
      </DropZone>
    </section>
  );
}

const TYPE_SUGGESTIONS = ['image/*', 'video/*', 'audio/*', 'text/*', 'application/pdf', 'image/jpeg', 'image/png', 'video/mp4'];

function Toolbar(props: {
  name: string;
  setName: (value: string) => void;
  setMimetype: (value: string) => void;
  sort: FileSort;
  setSort: (value: FileSort) => void;
  view: ViewMode;
  setView: (value: ViewMode) => void;
  everywhere: boolean;
  setEverywhere: ((value: boolean) => void) | null;
  onRefresh: () => void;
}) {
  const [typeText, setTypeText] = useState('');
  const [typeProblem, setTypeProblem] = useState<string | null>(null);
  useEffect(() => {
    const timer = setTimeout(() => {
      const value = normaliseMimetypeFilter(typeText);
      setTypeProblem(value === null ? 'Write a type such as image, image/* or image/png.' : null);
      if (value !== null) props.setMimetype(value);
    }, 300);
    return () => clearTimeout(timer);
  }, [typeText]);
  return (
    <form class="toolbar" role="search" aria-label="Search files" onSubmit={(event) => event.preventDefault()}>
      <SearchField label="Name contains" value={props.name} onChange={props.setName} />
      <Field id="type-filter" label="Type" error={typeProblem} class="search-field">
        <input
          {...describedBy('type-filter', typeProblem)}
          list="mimetype-suggestions"
          value={typeText}
          placeholder="image/*"
          onInput={(event) => setTypeText((event.target as HTMLInputElement).value)}
        />
        <datalist id="mimetype-suggestions">
          {TYPE_SUGGESTIONS.map((type) => (
            <option key={type} value={type} />
          ))}
        </datalist>
      </Field>
      <label>
        Sort by
        <select value={props.sort} onChange={(event) => props.setSort((event.target as HTMLSelectElement).value as FileSort)}>
          <option value="name">Name</option>
          <option value="created">Upload order</option>
        </select>
      </label>
      {props.setEverywhere && (
        <label class="check">
          <input type="checkbox" checked={props.everywhere} onChange={(event) => props.setEverywhere!((event.target as HTMLInputElement).checked)} />
          Search all folders
        </label>
      )}
      <div class="view-toggle" role="group" aria-label="View">
        <button type="button" class={props.view === 'list' ? '' : 'secondary'} aria-pressed={props.view === 'list'} onClick={() => props.setView('list')}>
          List
        </button>
        <button type="button" class={props.view === 'grid' ? '' : 'secondary'} aria-pressed={props.view === 'grid'} onClick={() => props.setView('grid')}>
          Grid
        </button>
      </div>
      <button type="button" class="secondary" onClick={props.onRefresh}>
        Refresh
      </button>
    </form>
  );
}

function hasFiles(event: DragEvent): boolean {
  return Array.from(event.dataTransfer?.types ?? []).includes('Files');
}

/** The folder view takes files and folders dropped anywhere on it. */
function DropZone({ enabled, onFiles, children }: { enabled: boolean; onFiles: (files: PlannedFile[]) => void; children: ComponentChildren }) {
  const [over, setOver] = useState(false);
  const depth = useRef(0);
  if (!enabled) return <div>{children}</div>;
  return (
    <div
      class={`dropzone${over ? ' dragging' : ''}`}
      data-testid="dropzone"
      onDragEnter={(event) => {
        if (!hasFiles(event)) return;
        event.preventDefault();
        depth.current += 1;
        setOver(true);
      }}
      onDragOver={(event) => {
        if (!hasFiles(event)) return;
        event.preventDefault();
        if (event.dataTransfer) event.dataTransfer.dropEffect = 'copy';
      }}
      onDragLeave={() => {
        depth.current = Math.max(0, depth.current - 1);
        if (depth.current === 0) setOver(false);
      }}
      onDrop={(event) => {
        if (!event.dataTransfer) return;
        event.preventDefault();
        depth.current = 0;
        setOver(false);
        const take = takeDrop(event.dataTransfer);
        void take().then(onFiles);
      }}
    >
      {over && (
        <div class="drop-hint" aria-hidden="true">
          Drop to upload here
        </div>
      )}
      {children}
    </div>
  );
}

function UploadButtons({ onFiles }: { onFiles: (files: PlannedFile[]) => void }) {
  const filesInput = useRef<HTMLInputElement>(null);
  const folderInput = useRef<HTMLInputElement>(null);
  const picked = (event: Event) => {
    const input = event.target as HTMLInputElement;
    if (input.files) onFiles(takePicked(input.files));
    input.value = '';
  };
  return (
    <div class="actions">
      <input ref={filesInput} id="file-picker" type="file" multiple hidden aria-label="Files to upload" onChange={picked} />
      <input
        ref={folderInput}
        id="folder-picker"
        type="file"
        multiple
        hidden
        aria-label="Folder to upload"
        onChange={picked}
        {...({ webkitdirectory: true } as Record<string, unknown>)}
      />
      <button type="button" onClick={() => filesInput.current?.click()}>
        Upload files
      </button>
      <button type="button" class="secondary" onClick={() => folderInput.current?.click()}>
        Upload a folder
      </button>
    </div>
  );
}

function Folders({ place, parent, folders, filtered }: { place: Place; parent: Mfolder; folders: Paged<Mfolder>; filtered: boolean }) {
  const writable = can('mfolder:write');
  const sorted = [...folders.items].sort((a, b) => a.name.localeCompare(b.name, undefined, { numeric: true }));
  if (!writable && !folders.loading && folders.items.length === 0 && !folders.error) return null;
  return (
    <section class="card" aria-labelledby="folders-title">
      <header>
        <h2 id="folders-title">Folders</h2>
      </header>
      <ErrorNotice error={folders.error} onDismiss={folders.clearError} />
      {folders.loading ? (
        <Spinner label="Loading folders…" />
      ) : sorted.length === 0 ? (
        <p class="muted">{filtered ? 'No folder matches the search.' : 'No folders here.'}</p>
      ) : (
        <ul class="folder-list">
          {sorted.map((folder) => (
            <FolderRow
              key={folder.id}
              place={place}
              folder={folder}
              writable={writable}
              onChange={(updated) => {
                folderCache.set(updated.id, updated);
                folders.setItems((items) => replaceItem(items, updated));
              }}
              onRemoved={() => {
                folderCache.delete(folder.id);
                folders.setItems((items) => removeItem(items, folder.id));
              }}
            />
          ))}
        </ul>
      )}
      <LoadMore paged={folders} noun={['folder', 'folders']} />
      {writable && <CreateFolder parent={parent} onCreated={(folder) => folders.setItems((items) => upsertFirst(items, folder))} />}
    </section>
  );
}

function CreateFolder({ parent, onCreated }: { parent: Mfolder; onCreated: (folder: Mfolder) => void }) {
  const [name, setName] = useState('');
  const [problem, setProblem] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const submit = async (event: Event) => {
    event.preventDefault();
    const reason = nameProblem(name);
    setProblem(reason);
    if (reason) return;
    try {
      onCreated(await api<Mfolder>(`/mfolders/${parent.id}/mfolders`, { method: 'POST', body: { name } }));
      setName('');
      setError(null);
    } catch (caught) {
      setError(caught);
    }
  };
  return (
    <form class="inline create-folder" onSubmit={submit} noValidate>
      <ErrorNotice error={error} onDismiss={() => setError(null)} />
      <Field id={`new-folder-${parent.id}`} label="New folder" error={problem}>
        <input
          {...describedBy(`new-folder-${parent.id}`, problem)}
          value={name}
          maxLength={255}
          onInput={(e) => setName((e.target as HTMLInputElement).value)}
        />
      </Field>
      <button type="submit">Create folder</button>
    </form>
  );
}

function FolderRow({
  place,
  folder,
  writable,
  onChange,
  onRemoved,
}: {
  place: Place;
  folder: Mfolder;
  writable: boolean;
  onChange: (folder: Mfolder) => void;
  onRemoved: () => void;
}) {
  const [renaming, setRenaming] = useState(false);
  const [name, setName] = useState(folder.name);
  const [problem, setProblem] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const inputId = `rename-${folder.id}`;
  const rename = async (event: Event) => {
    event.preventDefault();
    const reason = nameProblem(name);
    setProblem(reason);
    if (reason) return;
    try {
      onChange(await api<Mfolder>(`/mfolders/${folder.id}`, { method: 'PATCH', body: { name } }));
      setRenaming(false);
      setError(null);
    } catch (caught) {
      setError(caught);
    }
  };
  const remove = async () => {
    if (!confirm(`Delete the folder "${folder.name}" and everything in it?`)) return;
    try {
      await api(`/mfolders/${folder.id}`, { method: 'DELETE' });
      onRemoved();
    } catch (caught) {
      setError(caught);
    }
  };
  return (
    <li class="folder-row" data-folder-name={folder.name}>
      {renaming ? (
        <form class="inline" onSubmit={rename} noValidate>
          <Field id={inputId} label={`New name for ${folder.name}`} error={problem}>
            <input {...describedBy(inputId, problem)} value={name} maxLength={255} onInput={(e) => setName((e.target as HTMLInputElement).value)} />
          </Field>
          <div class="actions">
            <button type="submit">Save</button>
            <button
              type="button"
              class="secondary"
              onClick={() => {
                setRenaming(false);
                setName(folder.name);
                setProblem(null);
              }}
            >
              Cancel
            </button>
          </div>
        </form>
      ) : (
        <>
          <a href={folderHref(place, folder)} class="folder-link">
            <span class="folder-icon" aria-hidden="true" />
            {folder.name}
          </a>
          <small class="muted optional">{formatDate(folder.createdAt)}</small>
          {writable && (
            <span class="actions">
              <button type="button" class="link" onClick={() => setRenaming(true)} aria-label={`Rename ${folder.name}`}>
                Rename
              </button>
              <button type="button" class="link danger-text" onClick={remove} aria-label={`Delete ${folder.name}`}>
                Delete
              </button>
            </span>
          )}
        </>
      )}
      <ErrorNotice error={error} onDismiss={() => setError(null)} />
    </li>
  );
}

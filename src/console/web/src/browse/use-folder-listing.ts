import { useState } from 'preact/hooks';
import { api, type Page } from '../api';
import { matchesFilters } from './files';
import type { Mfile, Mfolder, Service } from './types';
import { usePaged, type Paged } from './use-paged';

const FILE_PAGE = 50;
const FOLDER_PAGE = 100;

export type FileSort = 'name' | 'created';

/** What the folder page lists: its search, and the two paged lists it answers with. */
export interface FolderListing {
  /** Name substring; filters the files and the folders alike. */
  name: string;
  setName: (value: string) => void;
  /** Exact type or wildcard (image/*), already normalised; files only. */
  mimetype: string;
  setMimetype: (value: string) => void;
  sort: FileSort;
  setSort: (value: FileSort) => void;
  /** "Search all folders" ticked; see `wholeService` for whether it applies. */
  everywhere: boolean;
  setEverywhere: (value: boolean) => void;
  /** Files are listed from the whole service (searching all folders), not from this folder. */
  wholeService: boolean;
  files: Paged<Mfile>;
  folders: Paged<Mfolder>;
  /** Whether a file belongs in the files listed now (this folder or the service, and the search). */
  shows: (mfile: Mfile) => boolean;
  /** Reads both lists again from their first page. */
  refresh: () => void;
}

/**
 * The folder page's listing: files and subfolders, paged by the API's cursors, searched by name (both) and by type
 * and sort order (files), from this folder or, when asked, from every folder of the service.
 */
export function useFolderListing({ folder, service }: { folder: Mfolder; service: Service | null }): FolderListing {
  const [name, setName] = useState('');
  const [mimetype, setMimetype] = useState('');
  const [sort, setSort] = useState<FileSort>('name');
  const [everywhere, setEverywhere] = useState(false);
  const wholeService = everywhere && service !== null;
  const query = { name, mimetype, sort, limit: FILE_PAGE };
  const files = usePaged<Mfile>(
    (cursor) => api<Page<Mfile>>(wholeService ? `/services/${service!.id}/mfiles` : `/mfolders/${folder.id}/mfiles`, { query: { ...query, cursor } }),
    [folder.id, name, mimetype, sort, wholeService],
  );
  const folders = usePaged<Mfolder>(
    (cursor) => api<Page<Mfolder>>(`/mfolders/${folder.id}/mfolders`, { query: { name, cursor, limit: FOLDER_PAGE } }),
    [folder.id, name],
  );
  return {
    name,
    setName,
    mimetype,
    setMimetype,
    sort,
    setSort,
    everywhere,
    setEverywhere,
    wholeService,
    files,
    folders,
    shows: (mfile) => (wholeService ? mfile.serviceId === service!.id : mfile.folderId === folder.id) && matchesFilters(mfile, { name, mimetype }),
    refresh: () => {
      void files.reload();
      void folders.reload();
    },
  };
}

import { api, ApiError } from '../api';
import type { Folder, ServiceSummary } from './types';

/**
 * Where a file lives, for its breadcrumbs: its service and the folders from the root down. Read with the acting
 * key; a key on the file alone (or on a folder) may not read what is above it, and the trail then starts lower.
 */
export interface Place {
  service: ServiceSummary | null;
  /** Root first; the file's own folder last. Only the part the key may read. */
  folders: Folder[];
}

const MAX_DEPTH = 64;

async function readable<T>(path: string): Promise<T | null> {
  try {
    return await api<T>(path);
  } catch (error) {
    if (error instanceof ApiError && (error.status === 403 || error.status === 404 || error.status === 401)) return null;
    throw error;
  }
}

export async function loadPlace(target: { serviceId: string; folderId: string }): Promise<Place> {
  const service = readable<ServiceSummary>(`/services/${target.serviceId}`);
  const folders: Folder[] = [];
  let next: string | null = target.folderId;
  while (next && folders.length < MAX_DEPTH) {
    const folder: Folder | null = await readable<Folder>(`/mfolders/${next}`);
    if (!folder) break;
    folders.unshift(folder);
    next = folder.parentId;
  }
  return { service: await service, folders };
}

/** The console address of a folder: a service's root is the service page. */
export function folderHref(place: Place, folder: Folder): string {
  if (!place.service) return `/mfolders/${folder.id}`;
  return folder.parentId === null ? `/services/${folder.serviceId}` : `/services/${folder.serviceId}/folders/${folder.id}`;
}

/** Where to go once the file is deleted: its folder when the key may see it, else the start page. */
export function landingAfterDelete(place: Place | undefined, folderId: string): string {
  const folder = place?.folders.find((candidate) => candidate.id === folderId);
  return place && folder ? folderHref(place, folder) : '/';
}

import { api, ApiError } from '../api';
import type { Mfolder } from './types';
import { foldersToCreate, pathKey, type PlannedFile } from './upload-plan';

/**
 * Makes the folders a dropped tree needs under `baseFolderId` and returns each path's folder id. A folder that is
 * already there (409 naming an existing mfolder) is used as it is, so dropping the same tree twice merges it.
 */
export async function ensureFolders(baseFolderId: string, files: PlannedFile[], onCreated?: (folder: Mfolder) => void): Promise<Map<string, string>> {
  const ids = new Map<string, string>([['', baseFolderId]]);
  for (const dirs of foldersToCreate(files)) {
    const parentId = ids.get(pathKey(dirs.slice(0, -1)))!;
    const name = dirs[dirs.length - 1];
    try {
      const folder = await api<Mfolder>(`/mfolders/${parentId}/mfolders`, { method: 'POST', body: { name } });
      ids.set(pathKey(dirs), folder.id);
      if (parentId === baseFolderId) onCreated?.(folder);
    } catch (error) {
      const existing = error instanceof ApiError ? (error.problem.existing as { type?: string; id?: string } | undefined) : undefined;
      if (existing?.type === 'mfolder' && existing.id) ids.set(pathKey(dirs), existing.id);
      else throw error;
    }
  }
  return ids;
}

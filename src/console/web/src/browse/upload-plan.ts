/**
 * Dropping or picking a folder uploads its tree: each file knows the folders it sits in (relative to what was
 * dropped), the folders are made first, parents before children, then each file goes into its own.
 */

export interface PlannedFile<F = File> {
  file: F;
  /** Folder names from the drop target down to the file's folder; [] for a file dropped on its own. */
  dirs: string[];
}

export const pathKey = (dirs: string[]): string => dirs.join('/');

/** Every folder the files need, each once, parents before children. */
export function foldersToCreate<F>(files: PlannedFile<F>[]): string[][] {
  const seen = new Map<string, string[]>();
  for (const { dirs } of files) for (let depth = 1; depth <= dirs.length; depth++) seen.set(pathKey(dirs.slice(0, depth)), dirs.slice(0, depth));
  return [...seen.values()].sort((a, b) => a.length - b.length || pathKey(a).localeCompare(pathKey(b)));
}

/** The folders of a file picked with a folder picker, from its webkitRelativePath ("photos/2024/a.jpg"). */
export function dirsOfRelativePath(relativePath: string): string[] {
  const parts = relativePath.split('/').filter((part) => part.length > 0);
  return parts.slice(0, -1);
}

/** Names of files to leave out of a folder upload: the desktop's own bookkeeping, which nobody means to upload. */
export function isSystemJunk(name: string): boolean {
  return name === '.DS_Store' || name === 'Thumbs.db' || name === 'desktop.ini' || name.startsWith('._');
}

import { dirsOfRelativePath, isSystemJunk, type PlannedFile } from './upload-plan';

/**
 * What was dropped: files, and folders walked to the files inside them. The entries must be taken from the
 * DataTransfer while the drop event runs (it is emptied afterwards); walking them may take longer.
 */
export function takeDrop(transfer: DataTransfer): () => Promise<PlannedFile[]> {
  const entries: FileSystemEntry[] = [];
  const loose: File[] = [];
  for (const item of Array.from(transfer.items ?? [])) {
    if (item.kind !== 'file') continue;
    const entry = typeof item.webkitGetAsEntry === 'function' ? item.webkitGetAsEntry() : null;
    if (entry) entries.push(entry);
    else {
      const file = item.getAsFile();
      if (file) loose.push(file);
    }
  }
  if (entries.length === 0 && loose.length === 0) loose.push(...Array.from(transfer.files ?? []));
  return async () => {
    const planned: PlannedFile[] = loose.map((file) => ({ file, dirs: [] }));
    for (const entry of entries) await walk(entry, [], planned);
    return planned.filter(({ file }) => !isSystemJunk(file.name));
  };
}

async function walk(entry: FileSystemEntry, dirs: string[], into: PlannedFile[]): Promise<void> {
  if (entry.isFile) {
    const file = await new Promise<File>((resolve, reject) => (entry as FileSystemFileEntry).file(resolve, reject));
    into.push({ file, dirs });
    return;
  }
  if (!entry.isDirectory) return;
  const reader = (entry as FileSystemDirectoryEntry).createReader();
  // readEntries hands out a batch at a time (100 in Chromium) until it returns none
  for (;;) {
    const batch = await new Promise<FileSystemEntry[]>((resolve, reject) => reader.readEntries(resolve, reject));
    if (batch.length === 0) break;
    for (const child of batch) await walk(child, [...dirs, entry.name], into);
  }
}

/** Files from an <input type=file>: with `webkitdirectory`, each knows its folders. */
export function takePicked(list: FileList): PlannedFile[] {
  return Array.from(list)
    .filter((file) => !isSystemJunk(file.name))
    .map((file) => ({ file, dirs: file.webkitRelativePath ? dirsOfRelativePath(file.webkitRelativePath) : [] }));
}

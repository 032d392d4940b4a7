import { createHash } from 'node:crypto';
import { createReadStream, ReadStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import * as tus from 'tus-js-client';
import { ApiClient, CliError, readProblem, refusalOf } from './api-client';
import { formatBytes, ProgressBoard, ProgressLine } from './output';

/** One local file to upload, and where it goes (folder names below the target folder). */
export interface LocalFile {
  path: string;
  folders: string[];
  name: string;
  size: number;
  mtimeMs: number;
}

export interface UploadOptions {
  serviceId: string;
  /** The target folder (default: the service's root folder). */
  folderId?: string;
  parallel: number;
  /** Replace files of the same name whose content differs (else they are reported and left). */
  replace: boolean;
  /** tus chunk size: what a later run resumes from at worst. */
  chunkBytes: number;
  /** Where unfinished uploads are remembered (tus URL per file), so that a second run resumes them. */
  stateFile: string;
  /** A line for the person (a file ended); never called with --json. */
  say: (line: string) => void;
  /** Stops the run: uploads in flight are paused where they are, to resume on the next run. */
  signal: AbortSignal;
}

export type FileOutcome =
  | { path: string; name: string; status: 'uploaded'; mfileId: string; size: number; resumedAt?: number; ingestRunId?: string }
  | { path: string; name: string; status: 'skipped'; mfileId: string; size: number; reason: string }
  | { path: string; name: string; status: 'replaced'; mfileId: string; size: number }
  | { path: string; name: string; status: 'failed'; size: number; error: string }
  | { path: string; name: string; status: 'interrupted'; size: number; sent: number };

interface RemoteFile {
  id: string;
  name: string;
  size: number;
  sha256: string;
}

/** The files below `paths` (a folder keeps its name, as `cp -r` does), in a stable order. Symlinks are followed. */
export async function collectFiles(paths: string[]): Promise<LocalFile[]> {
  const files: LocalFile[] = [];
  const visit = async (path: string, folders: string[]) => {
    const info = await stat(path).catch((error: NodeJS.ErrnoException) => {
      throw new CliError(`${path}: ${error.code === 'ENOENT' ? 'no such file or folder' : error.message}`);
    });
    if (info.isDirectory()) {
      const entries = (await readdir(path)).sort();
      for (const entry of entries) await visit(join(path, entry), [...folders, basename(resolve(path)).normalize('NFC')]);
    } else if (info.isFile()) {
      // names as the server keeps them (NFC): a macOS file system hands them over decomposed
      files.push({ path: resolve(path), folders, name: basename(path).normalize('NFC'), size: info.size, mtimeMs: info.mtimeMs });
    }
  };
  for (const path of paths) {
    const info = await stat(path).catch(() => undefined);
    if (info?.isDirectory()) {
      const root = basename(resolve(path)).normalize('NFC');
      for (const entry of (await readdir(path)).sort()) await visit(join(path, entry), [root]);
    } else await visit(path, []);
  }
  return files;
}

async function sha256Of(path: string, signal: AbortSignal): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(path, { highWaterMark: 1024 * 1024 }), hash, { signal });
  return hash.digest('hex');
}

/** Folder ids by path below the target, made as needed (a folder another run made meanwhile is found, not doubled). */
class Folders {
  private readonly ids = new Map<string, Promise<string>>();
  private readonly children = new Map<string, Promise<Map<string, string>>>();

  constructor(
    private readonly client: ApiClient,
    root: string,
  ) {
    this.ids.set('', Promise.resolve(root));
  }

  private subfolders(parentId: string): Promise<Map<string, string>> {
    let known = this.children.get(parentId);
    if (!known) {
      known = (async () => {
        const names = new Map<string, string>();
        for await (const folder of this.client.all<{ id: string; name: string }>(`/mfolders/${parentId}/mfolders`)) names.set(folder.name, folder.id);
        return names;
      })();
      this.children.set(parentId, known);
    }
    return known;
  }

  idOf(folders: string[]): Promise<string> {
    const key = folders.join('/');
    let id = this.ids.get(key);
    if (!id) {
      id = (async () => {
        const parentId = await this.idOf(folders.slice(0, -1));
        const name = folders[folders.length - 1];
        const existing = (await this.subfolders(parentId)).get(name);
        if (existing) return existing;
        try {
          const made = await this.client.request<{ id: string }>('POST', `/mfolders/${parentId}/mfolders`, { body: { name } });
          return made.id;
        } catch (error) {
          // made by someone else in the meantime: read the folder again
          this.children.delete(parentId);
          const found = (await this.subfolders(parentId)).get(name);
          if (found) return found;
          throw error;
        }
      })();
      this.ids.set(key, id);
    }
    return id;
  }
}

/** The files already in each target folder, by name (read once per folder). */
class Existing {
  private readonly byFolder = new Map<string, Promise<Map<string, RemoteFile>>>();

  constructor(private readonly client: ApiClient) {}

  async find(folderId: string, name: string): Promise<RemoteFile | undefined> {
    let files = this.byFolder.get(folderId);
    if (!files) {
      files = (async () => {
        const byName = new Map<string, RemoteFile>();
        for await (const file of this.client.all<RemoteFile>(`/mfolders/${folderId}/mfiles`)) byName.set(file.name, file);
        return byName;
      })();
      this.byFolder.set(folderId, files);
    }
    return (await files).get(name);
  }
}

/**
 * Uploads files over tus, `parallel` at a time, each in chunks: a file whose name and sha256 are already in its
 * target folder is skipped; an interrupted file resumes on the next run from what the server has (the upload URL
 * is kept in `stateFile` under the file's path, size, mtime and target); the server checks each file's sha256.
 */
export async function uploadFiles(client: ApiClient, files: LocalFile[], options: UploadOptions): Promise<FileOutcome[]> {
  const service = await client.get<{ id: string; rootFolderId: string }>(`/services/${options.serviceId}`);
  const folders = new Folders(client, options.folderId ?? service.rootFolderId);
  const existing = new Existing(client);
  // the Node build of tus-js-client has a file-backed store its types do not declare
  const { FileUrlStorage } = tus as unknown as { FileUrlStorage: new (path: string) => tus.UrlStorage };
  const urlStorage = new FileUrlStorage(options.stateFile);
  const endpoint = client.href(`/services/${service.id}/uploads`);
  const board = new ProgressBoard();
  const inFlight = new Map<string, ProgressLine>();
  const total = files.reduce((sum, file) => sum + file.size, 0);
  let finishedBytes = 0;
  let finishedFiles = 0;
  const redraw = (force = false) =>
    board.draw(
      [...inFlight.values()],
      { label: `${finishedFiles}/${files.length} files`, done: finishedBytes + [...inFlight.values()].reduce((s, l) => s + l.done, 0), total },
      force,
    );
  const tell = (line: string) => {
    board.clear();
    options.say(line);
    redraw(true);
  };
  const shown = (file: LocalFile) => [...file.folders, file.name].join('/');

  const one = async (file: LocalFile): Promise<FileOutcome> => {
    const base = { path: file.path, name: shown(file), size: file.size };
    const line: ProgressLine = { label: shown(file), done: 0, total: file.size };
    inFlight.set(file.path, line);
    try {
      const folderId = await folders.idOf(file.folders);
      const sha256 = await sha256Of(file.path, options.signal);
      const there = await existing.find(folderId, file.name);
      if (there && there.sha256 === sha256) return { ...base, status: 'skipped', mfileId: there.id, reason: 'already there' };
      if (there && !options.replace)
        return { ...base, status: 'failed', error: `a different "${file.name}" is already there (${there.id}): --replace replaces its content` };
      if (there) return await replaceContent(client, there.id, file, sha256, line, base, options.signal);
      return await new Promise<FileOutcome>((resolve) => {
        let mfileId = '';
        let ingestRunId: string | undefined;
        let resumedAt: number | undefined;
        let current: tus.Upload | undefined;
        const streams: ReadStream[] = [];
        let settled = false;
        const stop = () => {
          // keep the upload on the server and its URL here: the next run resumes it
          const upload = current;
          current = undefined;
          void (upload ? upload.abort(false) : Promise.resolve()).then(() => settle({ ...base, status: 'interrupted', sent: line.done }));
        };
        const settle = (outcome: FileOutcome) => {
          if (settled) return;
          settled = true;
          options.signal.removeEventListener('abort', stop);
          for (const stream of streams) stream.destroy();
          resolve(outcome);
        };
        const send = (uploadUrl?: string) => {
          const source = createReadStream(file.path);
          streams.push(source);
          const upload = new tus.Upload(source, {
            endpoint,
            ...(uploadUrl ? { uploadUrl } : {}),
            uploadSize: file.size,
            chunkSize: options.chunkBytes,
            retryDelays: [0, 1000, 3000, 5000, 10000],
            // what may pass: a network error, a server error or an outage (500, 502, 503, 504), a lock or offset
            // conflict while appending; never a refusal (a quota's 507, a creation's 409 answered below)
            onShouldRetry: (error) => {
              const status = error.originalResponse?.getStatus();
              const method = error.originalRequest?.getMethod();
              if (status === undefined) return true;
              if ([500, 502, 503, 504].includes(status)) return true;
              return (status === 409 || status === 423) && method === 'PATCH';
            },
            headers: { authorization: client.authorization },
            metadata: { filename: file.name, folderId, sha256 },
            urlStorage,
            storeFingerprintForResuming: true,
            removeFingerprintOnSuccess: true,
            // the same file (path, size, mtime) to the same place: anything else is a new upload
            fingerprint: async () => ['mserve', file.path, file.size, Math.round(file.mtimeMs), endpoint, folderId, file.name].join('|'),
            onAfterResponse: (request, response) => {
              mfileId = response.getHeader('Mfile-Id') || mfileId;
              ingestRunId = response.getHeader('Ingest-Run-Id') || ingestRunId;
              if (request.getMethod() === 'HEAD' && response.getStatus() === 200) resumedAt = Number(response.getHeader('Upload-Offset'));
            },
            onProgress: (sent) => {
              line.done = sent;
              redraw();
            },
            onSuccess: () =>
              settle(
                mfileId
                  ? { ...base, status: 'uploaded', mfileId, ...(resumedAt ? { resumedAt } : {}), ...(ingestRunId ? { ingestRunId } : {}) }
                  : { ...base, status: 'failed', error: 'the server did not say which file the upload made (no Mfile-Id)' },
              ),
            onError: (error) => {
              const response = (error as tus.DetailedError).originalResponse;
              const problem = readProblem(response?.getBody());
              const said = error.message.split('\n')[0];
              // an upload of this name is open on the server: ours, when a run was stopped after the server made it
              // but before its address was kept here. Take it over if it is this very file; else say so.
              if (!uploadUrl && response?.getStatus() === 409 && problem.existing?.type === 'upload' && problem.existing.id) {
                current = undefined;
                void adoptable(client, `/services/${service.id}/uploads/${problem.existing.id}`, file, sha256).then(
                  (url) => {
                    if (options.signal.aborted) return settle({ ...base, status: 'interrupted', sent: 0 });
                    if (url) send(url).start();
                    else settle({ ...base, status: 'failed', error: refusalOf(409, problem, said) });
                  },
                  (adoptError: Error) => settle({ ...base, status: 'failed', error: adoptError.message }),
                );
                return;
              }
              settle({ ...base, status: 'failed', error: response ? refusalOf(response.getStatus(), problem, said) : said });
            },
          });
          current = upload;
          return upload;
        };
        if (options.signal.aborted) return settle({ ...base, status: 'interrupted', sent: 0 });
        options.signal.addEventListener('abort', stop, { once: true });
        const first = send();
        void first.findPreviousUploads().then(
          (previous) => {
            if (previous.length) first.resumeFromPreviousUpload(previous[0]);
            if (!options.signal.aborted && current === first) first.start();
          },
          (error: Error) => settle({ ...base, status: 'failed', error: error.message }),
        );
      });
    } catch (error) {
      if (options.signal.aborted) return { ...base, status: 'interrupted', sent: 0 };
      return { ...base, status: 'failed', error: error instanceof CliError ? error.message : String((error as Error).message ?? error) };
    } finally {
      inFlight.delete(file.path);
    }
  };

  const outcomes: FileOutcome[] = new Array(files.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.max(1, Math.min(options.parallel, files.length)) }, async () => {
      for (let index = next++; index < files.length; index = next++) {
        if (options.signal.aborted) {
          outcomes[index] = { path: files[index].path, name: shown(files[index]), size: files[index].size, status: 'interrupted', sent: 0 };
          continue;
        }
        const outcome = await one(files[index]);
        outcomes[index] = outcome;
        finishedFiles++;
        finishedBytes += outcome.size;
        tell(describe(outcome));
      }
    }),
  );
  board.clear();
  return outcomes;
}

/**
 * The address of an open tus upload (`path`) when it is this file going to the same place (same name, length and
 * sha256, which the upload's metadata keeps), to resume it; undefined for anyone else's.
 */
async function adoptable(client: ApiClient, path: string, file: LocalFile, sha256: string): Promise<string | undefined> {
  const response = await client.raw('HEAD', path, { headers: { 'tus-resumable': '1.0.0' } }).catch((error: unknown) => {
    if (error instanceof CliError && error.answer) return undefined; // gone, or not ours to see
    throw error;
  });
  if (!response) return undefined;
  const metadata = Object.fromEntries(
    (response.headers.get('upload-metadata') ?? '')
      .split(',')
      .filter(Boolean)
      .map((pair) => {
        const [key, value = ''] = pair.trim().split(' ');
        return [key, Buffer.from(value, 'base64').toString('utf8')];
      }),
  );
  const same = Number(response.headers.get('upload-length')) === file.size && metadata.sha256 === sha256 && metadata.filename === file.name;
  return same ? client.href(path) : undefined;
}

/** Replaces the content of an Mfile with a file (a simple streamed PUT, its sha256 checked by the server). */
async function replaceContent(
  client: ApiClient,
  mfileId: string,
  file: LocalFile,
  sha256: string,
  line: ProgressLine,
  base: { path: string; name: string; size: number },
  signal: AbortSignal,
): Promise<FileOutcome> {
  try {
    const answer = await client.raw('PUT', `/mfiles/${mfileId}/content`, {
      stream: createReadStream(file.path),
      headers: { 'content-type': 'application/octet-stream', 'repr-digest': `sha-256=:${Buffer.from(sha256, 'hex').toString('base64')}:` },
      signal,
    });
    await answer.arrayBuffer();
  } catch (error) {
    if (error instanceof CliError && error.answer)
      return { ...base, status: 'failed', error: refusalOf(error.answer.status, error.answer.problem, error.message) };
    throw error;
  }
  line.done = file.size;
  return { ...base, status: 'replaced', mfileId };
}

export function describe(outcome: FileOutcome): string {
  switch (outcome.status) {
    case 'uploaded':
      return `uploaded  ${outcome.name} (${formatBytes(outcome.size)}${outcome.resumedAt ? `, resumed at ${formatBytes(outcome.resumedAt)}` : ''}) → ${outcome.mfileId}`;
    case 'skipped':
      return `skipped   ${outcome.name} (${outcome.reason}: ${outcome.mfileId})`;
    case 'replaced':
      return `replaced  ${outcome.name} (${formatBytes(outcome.size)}) → ${outcome.mfileId}`;
    case 'interrupted':
      return `paused    ${outcome.name} at ${formatBytes(outcome.sent)} of ${formatBytes(outcome.size)}`;
    case 'failed':
      return `FAILED    ${outcome.name}: ${outcome.error}`;
  }
}

import { useRef, useState } from 'preact/hooks';
import { apiUrl, ApiError, authHeaders, describeError, Problem } from '../api';
import { formatBytes } from '../format';
import type { Mfile } from './types';

/**
 * PUT /mfiles/:id/content as multipart (any file type, its name kept by the api) through XMLHttpRequest, the one
 * browser client that reports upload progress. Resolves with the updated Mfile, rejects with the api's problem.
 */
export function putContent(mfileId: string, file: File, onProgress: (sent: number, total: number) => void, signal: AbortSignal): Promise<Mfile> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('PUT', apiUrl(`/mfiles/${mfileId}/content`));
    for (const [name, value] of Object.entries(authHeaders('PUT'))) xhr.setRequestHeader(name, value);
    xhr.setRequestHeader('Accept', 'application/json');
    xhr.responseType = 'text';
    xhr.upload.onprogress = (event) => onProgress(event.loaded, event.lengthComputable ? event.total : file.size);
    xhr.onload = () => {
      let body: unknown = null;
      try {
        body = JSON.parse(xhr.responseText);
      } catch {
        /* not JSON */
      }
      if (xhr.status >= 200 && xhr.status < 300) resolve(body as Mfile);
      else {
        const problem: Problem =
          body && typeof body === 'object'
            ? { ...(body as Problem), status: xhr.status }
            : { status: xhr.status, title: xhr.statusText, detail: xhr.responseText.slice(0, 500) };
        reject(new ApiError(xhr.status, problem));
      }
    };
    xhr.onerror = () => reject(new Error('The upload was cut off (network error). Nothing was changed.'));
    xhr.onabort = () => reject(new DOMException('Replacing was cancelled. Nothing was changed.', 'AbortError'));
    signal.addEventListener('abort', () => xhr.abort(), { once: true });
    const form = new FormData();
    form.append('file', file, file.name);
    xhr.send(form);
  });
}

/** Pick a file, watch it upload, get the new content (and the update pipeline's jobs) in place. */
export function ReplaceContent({ mfile, onReplaced, onClose }: { mfile: Mfile; onReplaced: (mfile: Mfile) => void; onClose: () => void }) {
  const [file, setFile] = useState<File | null>(null);
  const [progress, setProgress] = useState<{ sent: number; total: number } | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [done, setDone] = useState(false);
  const abort = useRef<AbortController | null>(null);
  const submit = async (event: Event) => {
    event.preventDefault();
    if (!file) {
      setError(new Error('Choose the file with the new content first.'));
      return;
    }
    setError(null);
    setDone(false);
    setProgress({ sent: 0, total: file.size });
    abort.current = new AbortController();
    try {
      const updated = await putContent(mfile.id, file, (sent, total) => setProgress({ sent, total }), abort.current.signal);
      setDone(true);
      setFile(null);
      onReplaced(updated);
    } catch (caught) {
      setError(caught);
    } finally {
      abort.current = null;
      setProgress(null);
    }
  };
  const percent = progress && progress.total ? Math.round((progress.sent / progress.total) * 100) : 0;
  return (
    <form class="replace-content card" onSubmit={submit} aria-labelledby="replace-title">
      <h2 id="replace-title">Replace the content</h2>
      <p class="muted">
        The new bytes replace the old ones once they are all in and checked; the name stays “{mfile.name}”. The service's update tasks run again.
      </p>
      <label>
        New content
        <input
          type="file"
          name="file"
          onChange={(event) => {
            setFile((event.target as HTMLInputElement).files?.[0] ?? null);
            setDone(false);
          }}
          disabled={progress !== null}
        />
      </label>
      {file && !progress && (
        <p class="muted">
          {file.name}, {formatBytes(file.size)}
        </p>
      )}
      {progress && (
        <div class="replace-progress">
          <progress max={100} value={percent} aria-label={`Uploading ${file?.name ?? 'the new content'}`} />
          <span role="status">
            {percent} % ({formatBytes(progress.sent)} of {formatBytes(progress.total)}){percent === 100 ? ', checking…' : ''}
          </span>
        </div>
      )}
      {error ? (
        <div class="notice error" role="alert">
          {error instanceof DOMException ? error.message : describeError(error)}
        </div>
      ) : null}
      {done && (
        <div class="notice ok" role="status">
          The content was replaced.
        </div>
      )}
      <div class="actions">
        {progress ? (
          <button type="button" class="secondary" onClick={() => abort.current?.abort()}>
            Stop
          </button>
        ) : (
          <>
            <button type="submit" disabled={!file}>
              Upload and replace
            </button>
            <button type="button" class="secondary" onClick={onClose}>
              Close
            </button>
          </>
        )}
      </div>
    </form>
  );
}

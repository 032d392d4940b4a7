import { computed, signal } from '@preact/signals';
import { DetailedError, Upload } from 'tus-js-client';
import { actingKey, api, ApiError, apiUrl, authHeaders } from '../api';
import type { Mfile } from './types';
import { describeUploadProblem, pendingUploadOf, percent, problemFromResponse, shouldRetryUpload } from './upload-errors';

/**
 * Every upload this browser tab is running, across page changes: a person may start twenty files, open another
 * folder and come back. Files go through the api's tus endpoint (POST /api/v1/services/:id/uploads), resumable:
 * pause aborts the request and resume asks the server for its offset (HEAD) and continues from there; a tab
 * reopened later finds the upload again by its fingerprint (tus-js-client keeps upload URLs in localStorage).
 * A key scoped to one folder cannot reach a service's tus endpoint, so it uploads with a plain POST into the
 * folder (progress and cancel, no pause).
 */

export type UploadState = 'queued' | 'uploading' | 'paused' | 'done' | 'failed' | 'cancelled';

export interface UploadItem {
  id: string;
  name: string;
  size: number;
  type: string;
  serviceId: string | null;
  folderId: string;
  /** The wallet key the upload acts with (chosen when it was added; switching keys later does not move it). */
  keyId: string | null;
  resumable: boolean;
  sent: number;
  state: UploadState;
  error: string | null;
  mfile: Mfile | null;
  /**
   * An unfinished upload of the same name into the same folder (another tab, browser or person started it) that
   * the server holds the name for: it can be discarded so that this one goes ahead.
   */
  blockedBy: string | null;
}

export interface UploadTarget {
  /** The service, when the acting key reaches it (tus); null for a folder-scoped key (plain POST). */
  serviceId: string | null;
  folderId: string;
}

/** Files uploaded at once; the rest wait. Browsers open six connections per host over HTTP/1.1, pages need some. */
const PARALLEL = 2;
const CHUNK_SIZE = 8 * 1024 * 1024;
const RETRY_DELAYS = [0, 1000, 3000, 5000, 10000, 20000];

export const uploads = signal<UploadItem[]>([]);

export const uploadTotals = computed(() => {
  const counted = uploads.value.filter((item) => item.state !== 'cancelled' && item.state !== 'failed');
  const size = counted.reduce((sum, item) => sum + item.size, 0);
  const sent = counted.reduce((sum, item) => sum + Math.min(item.sent, item.size), 0);
  return {
    files: uploads.value.length,
    done: uploads.value.filter((item) => item.state === 'done').length,
    failed: uploads.value.filter((item) => item.state === 'failed').length,
    active: uploads.value.filter((item) => item.state === 'uploading' || item.state === 'queued').length,
    size,
    sent,
    percent: counted.length ? percent(sent, size) : 0,
  };
});

type Transfer = { kind: 'tus'; upload: Upload } | { kind: 'post'; request: XMLHttpRequest | null };

const files = new Map<string, File>();
const transfers = new Map<string, Transfer>();
const listeners = new Set<(item: UploadItem) => void>();
let counter = 0;

/** Called with each upload that finished, its Mfile read back from the api. */
export function onUploaded(listener: (item: UploadItem) => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

function update(id: string, patch: Partial<UploadItem>): UploadItem | undefined {
  let updated: UploadItem | undefined;
  uploads.value = uploads.value.map((item) => (item.id === id ? (updated = { ...item, ...patch }) : item));
  return updated;
}

function find(id: string): UploadItem | undefined {
  return uploads.value.find((item) => item.id === id);
}

export function addUploads(list: Iterable<File>, target: UploadTarget): UploadItem[] {
  const keyId = actingKey.value?.id ?? null;
  const added: UploadItem[] = [];
  for (const file of list) {
    const id = `u${++counter}`;
    files.set(id, file);
    added.push({
      id,
      name: file.name,
      size: file.size,
      type: file.type,
      serviceId: target.serviceId,
      folderId: target.folderId,
      keyId,
      resumable: target.serviceId !== null,
      sent: 0,
      state: 'queued',
      error: null,
      mfile: null,
      blockedBy: null,
    });
  }
  uploads.value = [...uploads.value, ...added];
  pump();
  return added;
}

/** Starts queued uploads while fewer than PARALLEL run. */
function pump(): void {
  let running = uploads.value.filter((item) => item.state === 'uploading').length;
  for (const item of uploads.value) {
    if (running >= PARALLEL) break;
    if (item.state !== 'queued') continue;
    running += 1;
    update(item.id, { state: 'uploading', error: null });
    void start(item);
  }
}

async function start(item: UploadItem): Promise<void> {
  const file = files.get(item.id);
  if (!file) return;
  if (!item.resumable) return startPost(item, file);
  const existing = transfers.get(item.id);
  if (existing?.kind === 'tus') {
    existing.upload.start();
    return;
  }
  const upload = new Upload(file, {
    endpoint: `${location.origin}${apiUrl(`/services/${item.serviceId}/uploads`)}`,
    chunkSize: CHUNK_SIZE,
    retryDelays: RETRY_DELAYS,
    metadata: { filename: file.name, filetype: file.type || 'application/octet-stream', folderId: item.folderId },
    // the same file into another folder, or with another key, is another upload
    fingerprint: async (f: File, options) => ['mserve', item.keyId ?? '-', item.folderId, f.name, f.type, f.size, f.lastModified, options.endpoint].join('|'),
    storeFingerprintForResuming: true,
    removeFingerprintOnSuccess: true,
    onBeforeRequest: (request) => {
      for (const [name, value] of Object.entries(authHeaders(request.getMethod(), item.keyId ?? undefined))) request.setHeader(name, value);
    },
    onShouldRetry: (error) => {
      const response = error.originalResponse;
      if (!response) return navigator.onLine !== false;
      return shouldRetryUpload(response.getStatus(), problemType(response.getBody()));
    },
    onProgress: (sent) => {
      if (find(item.id)?.state === 'uploading') update(item.id, { sent });
    },
    onSuccess: ({ lastResponse }) => void finish(item.id, lastResponse.getHeader('Mfile-Id') ?? null),
    onError: (error) => fail(item.id, error),
  });
  transfers.set(item.id, { kind: 'tus', upload });
  try {
    const previous = await upload.findPreviousUploads();
    if (previous.length) upload.resumeFromPreviousUpload(previous[0]);
  } catch {
    /* no stored uploads (private mode): start afresh */
  }
  if (find(item.id)?.state === 'uploading') upload.start();
}

function problemType(body: string): string | undefined {
  try {
    const parsed = JSON.parse(body) as { type?: unknown };
    return typeof parsed.type === 'string' ? parsed.type : undefined;
  } catch {
    return undefined;
  }
}

/** A folder-scoped key: one POST of the raw bytes with ?name=, progress from the request's upload events. */
function startPost(item: UploadItem, file: File): void {
  const request = new XMLHttpRequest();
  transfers.set(item.id, { kind: 'post', request });
  request.open('POST', apiUrl(`/mfolders/${item.folderId}/mfiles`, { name: file.name }));
  for (const [name, value] of Object.entries(authHeaders('POST', item.keyId ?? undefined))) request.setRequestHeader(name, value);
  request.setRequestHeader('Content-Type', 'application/octet-stream');
  request.setRequestHeader('Accept', 'application/json');
  request.upload.onprogress = (event) => update(item.id, { sent: event.loaded });
  request.onload = () => {
    if (request.status === 201) {
      const created = JSON.parse(request.responseText) as Mfile;
      void finish(item.id, created.id);
    } else failWith(item.id, describeUploadProblem(problemFromResponse(request.status, request.responseText, request.getResponseHeader('Retry-After'))));
  };
  request.onerror = () => failWith(item.id, 'The connection to the server was lost: nothing was stored. Retry to send the file again.');
  request.send(file);
}

async function finish(id: string, mfileId: string | null): Promise<void> {
  const item = update(id, { state: 'done', sent: find(id)?.size ?? 0, error: null });
  transfers.delete(id);
  files.delete(id);
  pump();
  if (!item || !mfileId) return;
  try {
    const mfile = await api<Mfile>(`/mfiles/${mfileId}`, { keyId: item.keyId });
    const done = update(id, { mfile });
    if (done) for (const listener of listeners) listener(done);
  } catch {
    /* the file is stored; the folder shows it on its next load */
  }
}

function fail(id: string, error: Error | DetailedError): void {
  const response = error instanceof DetailedError ? error.originalResponse : null;
  const blockedBy = response ? pendingUploadOf(response.getStatus(), response.getBody()) : null;
  if (blockedBy) {
    failWith(
      id,
      'Another upload of this name into this folder is unfinished (started in another tab or browser, or by someone else). Discard it to send this file instead, or wait for it to finish.',
    );
    update(id, { blockedBy });
  } else if (response) failWith(id, describeUploadProblem(problemFromResponse(response.getStatus(), response.getBody(), response.getHeader('Retry-After'))));
  else failWith(id, `The connection to the server was lost (${error.message.replace(/^tus: /, '')}). Resume to continue where it stopped.`);
}

const discarding = new Set<string>();

/**
 * Discards the unfinished upload that holds this file's name (tus termination: its bytes and the quota it holds are
 * released), then sends this file from the start. Throws what the server answered when it refused; a second call
 * while one is on its way does nothing.
 */
export async function discardBlockingUpload(id: string): Promise<void> {
  const item = find(id);
  if (!item?.blockedBy || !item.serviceId || discarding.has(id)) return;
  discarding.add(id);
  try {
    await api(`/services/${item.serviceId}/uploads/${item.blockedBy}`, { method: 'DELETE', keyId: item.keyId, headers: { 'Tus-Resumable': '1.0.0' } });
  } catch (caught) {
    // already gone (finished or expired meanwhile) is what was wanted
    if (!(caught instanceof ApiError && caught.status === 404)) throw caught;
  } finally {
    discarding.delete(id);
  }
  if (find(id)?.state !== 'failed') return;
  transfers.delete(id);
  update(id, { blockedBy: null, sent: 0 });
  resumeUpload(id);
}

function failWith(id: string, message: string): void {
  if (find(id)?.state === 'cancelled') return;
  update(id, { state: 'failed', error: message });
  pump();
}

export function pauseUpload(id: string): void {
  const transfer = transfers.get(id);
  const item = find(id);
  if (!item || transfer?.kind === 'post' || (item.state !== 'uploading' && item.state !== 'queued')) return;
  update(id, { state: 'paused' });
  if (transfer?.kind === 'tus') void transfer.upload.abort(false);
  pump();
}

/** Resumes a paused upload, or retries a failed one (a resumable upload continues from the server's offset). */
export function resumeUpload(id: string): void {
  const item = find(id);
  if (!item || (item.state !== 'paused' && item.state !== 'failed')) return;
  if (!item.resumable) {
    transfers.delete(id);
    update(id, { sent: 0 });
  }
  update(id, { state: 'queued', error: null, blockedBy: null });
  pump();
}

export function cancelUpload(id: string): void {
  const item = find(id);
  if (!item || item.state === 'done' || item.state === 'cancelled') return;
  const transfer = transfers.get(id);
  update(id, { state: 'cancelled', error: null });
  transfers.delete(id);
  files.delete(id);
  // terminate on the server too: its bytes and the quota they hold are released now, not when the upload expires
  if (transfer?.kind === 'tus') void transfer.upload.abort(true).catch(() => undefined);
  if (transfer?.kind === 'post') transfer.request?.abort();
  pump();
}

/** Drops finished, failed and cancelled uploads from the list. */
export function clearFinished(): void {
  for (const item of uploads.value) if (item.state === 'done' || item.state === 'cancelled' || item.state === 'failed') cancelUpload(item.id);
  uploads.value = uploads.value.filter((item) => item.state !== 'done' && item.state !== 'cancelled' && item.state !== 'failed');
}

export function itemPercent(item: UploadItem): number {
  return item.state === 'done' ? 100 : percent(item.sent, item.size);
}

// leaving the page drops running uploads (resumable ones can be picked up again): the browser asks first
if (typeof window !== 'undefined') {
  window.addEventListener('beforeunload', (event) => {
    if (uploads.value.some((item) => item.state === 'uploading' || item.state === 'queued')) event.preventDefault();
  });
}

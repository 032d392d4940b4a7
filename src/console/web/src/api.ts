import { computed, signal } from '@preact/signals';
import type { Schemas } from './browse/types';

/**
 * The console's one door to MServe: the public REST API under /api/v1, as every other client uses it. A person's
 * requests go out with the session cookie and the id of the wallet key they act with (`X-MServe-Key`); state
 * changes carry the session's CSRF token. No endpoint exists for the console alone except the session itself.
 */

export interface Problem {
  type?: string;
  title?: string;
  status: number;
  detail?: string;
  [extra: string]: unknown;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly problem: Problem,
  ) {
    super(problem.detail ?? problem.title ?? `HTTP ${status}`);
  }
}

/** What a key opens (the generated contract, src/common/api-contract.ts, like every shape the console reads). */
export type ResourceRef = Schemas['KeyResource'];
export type KeyView = Schemas['Key'];
/** A key this browser may act with: saved in the user's wallet, or only held by this session (a pasted key). */
export type WalletKey = Schemas['HeldKey'];
export type SessionUser = Schemas['User'];
export type SessionState = Schemas['Session'];

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

export const session = signal<SessionState | null>(null);
const ACTING = 'mserve.actingKey';
export const actingKeyId = signal<string | null>(sessionStorage.getItem(ACTING));

/** The key the console acts with: the one chosen, else the broadest held. */
export const actingKey = computed<WalletKey | null>(() => {
  const keys = session.value?.keys ?? [];
  return keys.find((key) => key.id === actingKeyId.value) ?? keys[0] ?? null;
});

export function actWith(keyId: string | null): void {
  actingKeyId.value = keyId;
  if (keyId) sessionStorage.setItem(ACTING, keyId);
  else sessionStorage.removeItem(ACTING);
}

export function can(action: string): boolean {
  return actingKey.value?.actions.includes(action) ?? false;
}

export interface RequestOptions {
  method?: string;
  query?: Record<string, string | number | boolean | undefined | null>;
  body?: unknown;
  headers?: Record<string, string>;
  /** Act with this wallet key instead of the current one. */
  keyId?: string | null;
  signal?: AbortSignal;
}

export function apiUrl(path: string, query: RequestOptions['query'] = {}): string {
  const url = new URL(`/api/v1${path}`, location.origin);
  for (const [name, value] of Object.entries(query)) if (value !== undefined && value !== null && value !== '') url.searchParams.set(name, String(value));
  return `${url.pathname}${url.search}`;
}

/** A URL for <img>, <video>, <a download> and EventSource, which cannot send headers: the key id rides in `?as=`. */
export function contentUrl(path: string, query: RequestOptions['query'] = {}, keyId = actingKey.value?.id): string {
  return apiUrl(path, { ...query, as: keyId ?? undefined });
}

export function authHeaders(method = 'GET', keyId = actingKey.value?.id): Record<string, string> {
  const headers: Record<string, string> = {};
  if (keyId) headers['X-MServe-Key'] = keyId;
  if (!['GET', 'HEAD', 'OPTIONS'].includes(method) && session.value) headers['X-CSRF-Token'] = session.value.csrfToken;
  return headers;
}

async function problemOf(response: Response): Promise<Problem> {
  const text = await response.text().catch(() => '');
  try {
    const parsed = JSON.parse(text) as Problem;
    if (parsed && typeof parsed === 'object') return { ...parsed, status: response.status };
  } catch {
    /* not JSON */
  }
  return { status: response.status, title: response.statusText, detail: text.slice(0, 500) || `HTTP ${response.status}` };
}

export async function request(path: string, options: RequestOptions = {}): Promise<Response> {
  const method = options.method ?? 'GET';
  const headers: Record<string, string> = {
    Accept: 'application/json',
    ...authHeaders(method, options.keyId === undefined ? actingKey.value?.id : (options.keyId ?? undefined)),
    ...options.headers,
  };
  let body: BodyInit | undefined;
  if (options.body instanceof Blob || options.body instanceof FormData || typeof options.body === 'string') body = options.body;
  else if (options.body !== undefined) {
    body = JSON.stringify(options.body);
    headers['Content-Type'] = 'application/json';
  }
  const response = await fetch(apiUrl(path, options.query), { method, headers, body, credentials: 'same-origin', signal: options.signal });
  if (!response.ok) {
    const problem = await problemOf(response);
    if (response.status === 401 && session.value?.user && path !== '/session') void refreshSession();
    throw new ApiError(response.status, problem);
  }
  return response;
}

export async function api<T>(path: string, options: RequestOptions = {}): Promise<T> {
  const response = await request(path, options);
  if (response.status === 204) return undefined as T;
  const type = response.headers.get('content-type') ?? '';
  return (type.includes('json') ? response.json() : response.text()) as Promise<T>;
}

export async function refreshSession(): Promise<SessionState> {
  const state = await api<SessionState>('/session', { keyId: null });
  session.value = state;
  return state;
}

/** Human text for an error, naming the quota or state that refused it where the problem says so. */
export function describeError(error: unknown): string {
  if (error instanceof ApiError) {
    const { problem } = error;
    const retry = typeof problem.retryAfterSeconds === 'number' ? ` Try again in ${Math.ceil(problem.retryAfterSeconds / 3600)} h.` : '';
    return `${problem.title ?? 'Error'} (${error.status}): ${problem.detail ?? ''}${retry}`.trim();
  }
  return error instanceof Error ? error.message : String(error);
}

/**
 * What went wrong with an upload, in the server's words. tus-js-client reports "tus: unexpected response while
 * creating upload"; the problem+json body the api sent (quota 507, monthly quota 429, suspended 403, ...) says why.
 */

export interface UploadProblem {
  status: number;
  title?: string;
  detail?: string;
  [extra: string]: unknown;
}

/** The problem in a response body; a body that is not a problem still becomes one that names the status. */
export function problemFromResponse(status: number, body: string, retryAfter?: string | null): UploadProblem {
  let problem: UploadProblem = { status };
  try {
    const parsed = JSON.parse(body) as unknown;
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) problem = { ...(parsed as Record<string, unknown>), status };
  } catch {
    // a proxy's HTML error page says nothing a person can use
    if (body.trim() && !/^\s*</.test(body)) problem.detail = body.trim().slice(0, 300);
  }
  if (problem.retryAfterSeconds === undefined && retryAfter && /^\d+$/.test(retryAfter)) problem.retryAfterSeconds = Number(retryAfter);
  if (!problem.title) problem.title = STATUS_TITLES[status] ?? (status >= 500 ? 'Server error' : 'Error');
  if (!problem.detail) problem.detail = STATUS_HINTS[status] ?? (status >= 500 ? 'the server could not take the upload right now; retry in a moment' : '');
  return problem;
}

const STATUS_TITLES: Record<number, string> = {
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  409: 'Conflict',
  413: 'Payload Too Large',
  429: 'Too Many Requests',
  507: 'Insufficient Storage',
};

const STATUS_HINTS: Record<number, string> = {
  401: 'the session ended: log in again or reopen the link',
  404: 'the upload expired or the folder is gone',
};

/**
 * Whether a failed request is worth sending again by itself: the network dropped (0), the upload was busy (423) or
 * out of step (409 offset mismatch: the client asks the offset again), or the server had a passing fault. A full
 * disk or quota (507), a monthly quota (429), a refusal (403) or a bad request stays failed until someone acts.
 */
export function shouldRetryUpload(status: number, problemType?: string): boolean {
  if (status === 0) return true;
  if (status === 423) return true;
  if (status === 409) return problemType === 'offset-mismatch';
  if (status === 507 || status === 501) return false;
  return status >= 500;
}

/** Human text for a problem, naming the quota or state that refused it. */
export function describeUploadProblem(problem: UploadProblem): string {
  const detail = (problem.detail ?? '').trim();
  const retry =
    typeof problem.retryAfterSeconds === 'number' && problem.retryAfterSeconds > 0
      ? `${detail && !/[.!?]$/.test(detail) ? '.' : ''} Try again in ${formatWait(problem.retryAfterSeconds)}.`
      : '';
  return `${problem.title ?? 'Error'} (${problem.status}): ${detail}${retry}`.trim();
}

function formatWait(seconds: number): string {
  if (seconds < 90) return `${Math.ceil(seconds)} s`;
  if (seconds < 5400) return `${Math.ceil(seconds / 60)} min`;
  if (seconds < 172800) return `${Math.ceil(seconds / 3600)} h`;
  return `${Math.ceil(seconds / 86400)} days`;
}

/** Percent for a progress bar: whole numbers, 100 only when every byte is there. */
export function percent(sent: number, total: number): number {
  if (total <= 0) return sent >= total ? 100 : 0;
  const value = Math.floor((sent / total) * 100);
  return sent >= total ? 100 : Math.min(99, Math.max(0, value));
}

/** The id of the unfinished upload a 409 names (`existing: {type: 'upload', id}`), if that is why it refused. */
export function pendingUploadOf(status: number, body: string): string | null {
  if (status !== 409) return null;
  try {
    const existing = (JSON.parse(body) as { existing?: { type?: unknown; id?: unknown } }).existing;
    return existing?.type === 'upload' && typeof existing.id === 'string' ? existing.id : null;
  } catch {
    return null;
  }
}

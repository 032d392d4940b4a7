import { Reply } from './client';

/**
 * A person's HTTP session as a browser keeps it: the session cookie, the CSRF token from GET /session, and the
 * held key it acts with (X-MServe-Key). For API-level tests of login, CSRF and wallets; the browser tests use Chromium.
 */
export class SessionClient {
  cookie?: string;
  csrf?: string;
  actingKeyId?: string;

  constructor(readonly api: string) {}

  async request<T = any>(
    method: string,
    path: string,
    body?: unknown,
    options: { csrf?: string | null; keyId?: string | null; headers?: Record<string, string> } = {},
  ): Promise<Reply<T>> {
    const headers: Record<string, string> = { ...options.headers };
    if (this.cookie) headers.cookie = this.cookie;
    const csrf = options.csrf === undefined ? this.csrf : options.csrf;
    if (csrf && !['GET', 'HEAD'].includes(method)) headers['x-csrf-token'] = csrf;
    const keyId = options.keyId === undefined ? this.actingKeyId : options.keyId;
    if (keyId) headers['x-mserve-key'] = keyId;
    let payload: string | undefined;
    if (body !== undefined) {
      payload = JSON.stringify(body);
      headers['content-type'] = 'application/json';
    }
    const response = await fetch(`${this.api}${path}`, { method, headers, body: payload, redirect: 'manual' });
    const setCookie = response.headers.getSetCookie().find((line) => line.startsWith('mserve.sid='));
    if (setCookie) {
      const value = setCookie.split(';')[0];
      this.cookie = /^mserve\.sid=;|Expires=Thu, 01 Jan 1970/i.test(setCookie) ? undefined : value;
    }
    const text = await response.text();
    const parsed = /json/.test(response.headers.get('content-type') ?? '') && text ? JSON.parse(text) : text;
    return { status: response.status, headers: response.headers, body: parsed as T, text };
  }

  async refresh() {
    const reply = await this.request('GET', '/session');
    if (reply.status !== 200) throw new Error(`GET /session: ${reply.status} ${reply.text}`);
    this.csrf = reply.body.csrfToken;
    return reply.body;
  }

  async login(username: string, password: string) {
    if (!this.csrf) await this.refresh();
    const reply = await this.request('POST', '/session/login', { username, password }, { keyId: null });
    if (reply.status === 200) this.csrf = reply.body.csrfToken;
    return reply;
  }
}

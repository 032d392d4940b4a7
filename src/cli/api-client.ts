/**
 * The CLI's HTTP client: MServe's REST API with one key, problem+json answers turned into errors that say what is
 * wrong, keyset pages followed to their end. Only what the API publishes: no server code is imported here.
 */

/** An error meant for the person at the terminal: printed as it is, exit code 1 (2 for a usage error). */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

type Query = Record<string, string | number | boolean | undefined>;

export class ApiClient {
  /** The API root, e.g. http://127.0.0.1:3000/api/v1 */
  readonly api: string;

  constructor(
    readonly url: string,
    readonly key: string,
  ) {
    this.api = `${url.replace(/\/+$/, '')}/api/v1`;
  }

  get authorization(): string {
    return `Bearer ${this.key}`;
  }

  href(path: string, query: Query = {}): string {
    const url = new URL(this.api + path);
    for (const [name, value] of Object.entries(query)) if (value !== undefined) url.searchParams.set(name, String(value));
    return url.href;
  }

  /** A request whose answer is read by the caller (downloads, event streams); problems still become errors. */
  async raw(
    method: string,
    path: string,
    options: { query?: Query; body?: unknown; headers?: Record<string, string>; signal?: AbortSignal } = {},
  ): Promise<Response> {
    const headers: Record<string, string> = { authorization: this.authorization, ...options.headers };
    let body: string | undefined;
    if (options.body !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(options.body);
    }
    let response: Response;
    try {
      response = await fetch(this.href(path, options.query), { method, headers, body, signal: options.signal });
    } catch (error) {
      if ((error as Error).name === 'AbortError') throw error;
      const cause = (error as { cause?: { code?: string; message?: string } }).cause;
      throw new CliError(`cannot reach MServe at ${this.url}: ${cause?.code ?? cause?.message ?? (error as Error).message}`);
    }
    if (!response.ok) throw await problemOf(method, path, response);
    return response;
  }

  async request<T>(method: string, path: string, options: { query?: Query; body?: unknown } = {}): Promise<T> {
    const response = await this.raw(method, path, { ...options, headers: { accept: 'application/json' } });
    if (response.status === 204) return undefined as T;
    const text = await response.text();
    return (text ? JSON.parse(text) : undefined) as T;
  }

  get<T>(path: string, query?: Query): Promise<T> {
    return this.request<T>('GET', path, { query });
  }

  /** Every item of a keyset-paged list, page by page. */
  async *all<T>(path: string, query: Query = {}): AsyncGenerator<T> {
    let cursor: string | undefined;
    do {
      const page = await this.get<Page<T>>(path, { ...query, limit: 200, cursor });
      yield* page.items;
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
  }
}

/** A non-2xx answer as an error: the problem's title and detail, its listed errors, and when to try again. */
export async function problemOf(method: string, path: string, response: Response): Promise<CliError> {
  const text = await response.text().catch(() => '');
  let problem: { title?: string; detail?: string; errors?: unknown } = {};
  try {
    problem = JSON.parse(text) as typeof problem;
  } catch {
    /* not JSON: the status says it */
  }
  const errors = Array.isArray(problem.errors) ? problem.errors.map(String) : [];
  const retry = response.headers.get('retry-after');
  const parts = [
    `${method} ${path}: ${response.status} ${problem.title ?? response.statusText}`,
    problem.detail && problem.detail !== problem.title ? problem.detail : '',
    ...errors.filter((error) => error !== problem.detail),
    retry ? `(try again in ${retry} s)` : '',
  ].filter(Boolean);
  return new CliError(parts.join(': ').replace(/: \(/, ' ('));
}

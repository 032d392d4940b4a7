/**
 * The CLI's HTTP client: MServe's REST API with one key, problem+json answers turned into errors that say what is
 * wrong, keyset pages followed to their end. Only what the API publishes: no server code is imported here.
 */
import type { Readable } from 'node:stream';

/** An error meant for the person at the terminal: printed as it is, exit code 1 (2 for a usage error). */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
    /** For an answer of the server: its status and problem document. */
    readonly answer?: { status: number; problem: Problem },
  ) {
    super(message);
  }
}

/** A problem document (RFC 9457) as MServe writes it; what is missing is absent. */
export interface Problem {
  title?: string;
  detail?: string;
  errors?: unknown;
  /** The resource a conflict is about (an open upload of the same name). */
  existing?: { type?: string; id?: string };
}

/** The problem in an answer's body, or nothing when it is not one. */
export function readProblem(body: string | undefined | null): Problem {
  try {
    const parsed: unknown = JSON.parse(body ?? '');
    return parsed && typeof parsed === 'object' ? (parsed as Problem) : {};
  } catch {
    return {};
  }
}

/** How one file's outcome names the server's refusal: the status and what the server said. */
export const refusalOf = (status: number, problem: Problem, fallback: string): string => `${status} ${problem.detail ?? problem.title ?? fallback}`;

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
    options: { query?: Query; body?: unknown; stream?: Readable; headers?: Record<string, string>; signal?: AbortSignal } = {},
  ): Promise<Response> {
    const headers: Record<string, string> = { authorization: this.authorization, ...options.headers };
    let body: string | Readable | undefined = options.stream;
    if (!body && options.body !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(options.body);
    }
    let response: Response;
    try {
      // a streamed body (`duplex: 'half'`) is sent as it is read
      const init = { method, headers, body, signal: options.signal, ...(options.stream ? { duplex: 'half' } : {}) };
      response = await fetch(this.href(path, options.query), init as RequestInit);
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
  const problem = readProblem(await response.text().catch(() => ''));
  const errors = Array.isArray(problem.errors) ? problem.errors.map(String) : [];
  const retry = response.headers.get('retry-after');
  const parts = [
    `${method} ${path}: ${response.status} ${problem.title ?? response.statusText}`,
    problem.detail && problem.detail !== problem.title ? problem.detail : '',
    ...errors.filter((error) => error !== problem.detail),
    retry ? `(try again in ${retry} s)` : '',
  ].filter(Boolean);
  return new CliError(parts.join(': ').replace(/: \(/, ' ('), 1, { status: response.status, problem });
}

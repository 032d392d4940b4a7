/** A small HTTP client for tests: real requests over the loopback, JSON in and out. */
export interface Reply<T = any> {
  status: number;
  headers: Headers;
  body: T;
  text: string;
}

export class Client {
  constructor(
    readonly api: string,
    readonly key?: string,
  ) {}

  as(key: string | undefined): Client {
    return new Client(this.api, key);
  }

  async request<T = any>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Reply<T>> {
    const init: RequestInit & { duplex?: string } = { method, headers: { ...headers } };
    if (this.key) (init.headers as Record<string, string>).authorization = `Bearer ${this.key}`;
    if (body instanceof Uint8Array || body instanceof FormData || typeof body === 'string' || body instanceof ReadableStream) {
      init.body = body as RequestInit['body'];
      if (body instanceof ReadableStream) init.duplex = 'half';
    } else if (body !== undefined) {
      init.body = JSON.stringify(body);
      (init.headers as Record<string, string>)['content-type'] = 'application/json';
    }
    const response = await fetch(path.startsWith('http') ? path : `${this.api}${path}`, init);
    const text = method === 'HEAD' ? '' : await response.text();
    let parsed: unknown = text;
    if (/json/.test(response.headers.get('content-type') ?? '') && text) parsed = JSON.parse(text);
    return { status: response.status, headers: response.headers, body: parsed as T, text };
  }

  get<T = any>(path: string, headers?: Record<string, string>) {
    return this.request<T>('GET', path, undefined, headers);
  }
  post<T = any>(path: string, body?: unknown, headers?: Record<string, string>) {
    return this.request<T>('POST', path, body, headers);
  }
  patch<T = any>(path: string, body?: unknown) {
    return this.request<T>('PATCH', path, body);
  }
  put<T = any>(path: string, body?: unknown, headers?: Record<string, string>) {
    return this.request<T>('PUT', path, body, headers);
  }
  delete<T = any>(path: string) {
    return this.request<T>('DELETE', path);
  }

  /** Uploads bytes as multipart (field `file`). */
  upload(serviceId: string, name: string, bytes: Uint8Array, query = '') {
    const form = new FormData();
    form.append('file', new Blob([bytes as Uint8Array<ArrayBuffer>]), name);
    return this.post(`/services/${serviceId}/mfiles${query}`, form);
  }
}

/** Uploads files with `concurrency` requests at once; every one must be stored (201). Name → the new Mfile. */
/** The ingest run an upload's answer names (`ingest`): its id and its jobs as created. */
export interface UploadedIngest {
  runId: string;
  jobs: Array<{ id: string; step: string; task: string; state: string; queue: string }>;
}

export async function uploadAll(
  client: Client,
  serviceId: string,
  files: ReadonlyArray<{ name: string; bytes: Uint8Array }>,
  concurrency: number,
): Promise<Map<string, { id: string; ingest: UploadedIngest | null }>> {
  const stored = new Map<string, { id: string; ingest: UploadedIngest | null }>();
  const queue = [...files];
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (let file = queue.shift(); file; file = queue.shift()) {
        const reply = await client.upload(serviceId, file.name, file.bytes);
        if (reply.status !== 201) throw new Error(`upload of ${file.name}: ${reply.status} ${reply.text}`);
        stored.set(file.name, reply.body);
      }
    }),
  );
  return stored;
}

/** A fresh tenant: a container and a service with all their keys. */
export async function makeTenant(admin: Client, name = `t-${Date.now()}-${Math.random().toString(36).slice(2, 8)}`) {
  const container = await admin.post('/containers', { name });
  if (container.status !== 201) throw new Error(`container: ${container.status} ${container.text}`);
  const service = await admin.as(container.body.key).post(`/containers/${container.body.id}/services`, { name: `${name}-svc` });
  if (service.status !== 201) throw new Error(`service: ${service.status} ${service.text}`);
  return {
    containerId: container.body.id as string,
    containerKey: container.body.key as string,
    serviceId: service.body.id as string,
    rootFolderId: service.body.rootFolderId as string,
    serviceAdminKey: service.body.key as string,
    customerKey: service.body.customerKey as string,
  };
}

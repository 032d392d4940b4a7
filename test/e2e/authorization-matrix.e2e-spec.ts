import { Client } from '../support/client';
import { startTestApp, TestApp } from '../support/test-app';
import { buildWorld, ROLE_KEYS, RoleKey, World } from '../support/world';

/**
 * Every role against every endpoint, allowed and denied, over HTTP against the real database.
 * The role → actions table below is the documented contract (README), written out independently of the code.
 */
const CONTENT = [
  'mfolder:read',
  'mfolder:write',
  'mfile:create',
  'mfile:read',
  'mfile:write',
  'mfile:delete',
  'job:create',
  'job:read',
  'job:cancel',
  'joboutput:read',
  'joboutput:promote',
];
const KEYS = ['key:create', 'key:read', 'key:revoke'];
const ROLE_ACTIONS: Record<RoleKey, string[]> = {
  admin: [
    'container:create',
    'container:read',
    'container:update',
    'container:delete',
    'service:create',
    'service:read',
    'service:update',
    'service:manage',
    'service:delete',
    ...CONTENT,
    'usage:read',
    'usage:record',
    ...KEYS,
  ],
  containeradmin: [
    'container:read',
    'container:update',
    'service:create',
    'service:read',
    'service:update',
    'service:manage',
    'service:delete',
    ...CONTENT,
    'usage:read',
    'usage:record',
    ...KEYS,
  ],
  serviceadmin: ['service:read', 'service:update', 'service:manage', ...CONTENT, 'usage:read', 'usage:record', ...KEYS],
  servicecustomer: ['service:read', ...CONTENT, 'usage:read', 'usage:record', ...KEYS],
  mfileowner: [
    'mfile:read',
    'mfile:write',
    'mfile:delete',
    'job:create',
    'job:read',
    'job:cancel',
    'joboutput:read',
    'joboutput:promote',
    'usage:read',
    'usage:record',
    ...KEYS,
  ],
  mfilereadwrite: ['mfile:read', 'mfile:write', 'job:read', 'joboutput:read'],
  mfilereadonly: ['mfile:read'],
  jobowner: ['job:read', 'job:cancel', 'joboutput:read', 'usage:read', ...KEYS],
  jobreadonly: ['job:read', 'joboutput:read'],
  outsider: [
    'container:read',
    'container:update',
    'service:create',
    'service:read',
    'service:update',
    'service:manage',
    'service:delete',
    ...CONTENT,
    'usage:read',
    'usage:record',
    ...KEYS,
  ],
};

type Target = 'C' | 'S' | 'R' | 'F' | 'Sub' | 'M' | 'J' | 'O';
interface Endpoint {
  name: string;
  /** Actions needed (all of them). */
  actions: string[];
  /** The resource the check is on; undefined for operations on the key's own scope. */
  target?: Target;
  /** Success status. */
  ok: number;
  /** Needs a world of its own (it changes or deletes something). */
  mutates?: boolean;
  /** When the action check happens before the coverage check (resource named in the body). */
  actionFirst?: boolean;
  call(client: Client, world: World, role: RoleKey): Promise<{ status: number; text: string }>;
}

const bytes = (text: string) => new TextEncoder().encode(text);
const TUS = { 'tus-resumable': '1.0.0' };
const tusCreate = (name: string) => ({ ...TUS, 'upload-length': '4', 'upload-metadata': `filename ${Buffer.from(`${unique(name)}.bin`).toString('base64')}` });
/** An upload made by the provider in the world's service, for the role under test to touch. */
async function tusUpload(world: World): Promise<string> {
  const created = await world.admin.post(`/services/${world.ids.S}/uploads`, undefined, tusCreate('by-admin'));
  return `${world.admin.api.replace(/\/api\/v1$/, '')}${created.headers.get('location')}`;
}
async function chunkedUpload(world: World): Promise<string> {
  const created = await world.admin.post(`/services/${world.ids.S}/chunked-uploads?name=${unique('by-admin')}`, bytes('xyz'), {
    'content-range': 'bytes 3-5/9',
    'content-type': 'application/octet-stream',
  });
  return `/services/${world.ids.S}/chunked-uploads/${created.body.id}`;
}
/** An event stream (the job never ends here: no worker): the status and the first event, then hang up. */
async function firstEvent(client: Client, path: string) {
  const abort = new AbortController();
  const response = await fetch(`${client.api}${path}`, { headers: client.key ? { authorization: `Bearer ${client.key}` } : {}, signal: abort.signal });
  if (!response.headers.get('content-type')?.startsWith('text/event-stream')) {
    const text = await response.text();
    return { status: response.status, headers: response.headers, body: text ? JSON.parse(text) : undefined, text };
  }
  const reader = response.body!.getReader();
  const { value } = await reader.read();
  abort.abort();
  const text = new TextDecoder().decode(value);
  return { status: response.status, headers: response.headers, body: text, text };
}
const unique = (role: string) => `${role}-${Date.now()}-${Math.random().toString(36).slice(2, 7)}`;

const ENDPOINTS: Endpoint[] = [
  { name: 'POST /containers', actions: ['container:create'], ok: 201, mutates: true, call: (c, _w, r) => c.post('/containers', { name: unique(r) }) },
  { name: 'GET /containers', actions: ['container:read'], ok: 200, call: (c) => c.get('/containers') },
  { name: 'GET /containers/:id', actions: ['container:read'], target: 'C', ok: 200, call: (c, w) => c.get(`/containers/${w.ids.C}`) },
  {
    name: 'PATCH /containers/:id',
    actions: ['container:update'],
    target: 'C',
    ok: 200,
    mutates: true,
    call: (c, w) => c.patch(`/containers/${w.ids.C}`, { description: 'x' }),
  },
  { name: 'DELETE /containers/:id', actions: ['container:delete'], target: 'C', ok: 204, mutates: true, call: (c, w) => c.delete(`/containers/${w.ids.C}`) },
  {
    name: 'POST /containers/:id/services',
    actions: ['service:create'],
    target: 'C',
    ok: 201,
    mutates: true,
    call: (c, w, r) => c.post(`/containers/${w.ids.C}/services`, { name: unique(r) }),
  },
  { name: 'GET /containers/:id/services', actions: ['service:read'], target: 'C', ok: 200, call: (c, w) => c.get(`/containers/${w.ids.C}/services`) },
  { name: 'GET /services/:id', actions: ['service:read'], target: 'S', ok: 200, call: (c, w) => c.get(`/services/${w.ids.S}`) },
  {
    name: 'PATCH /services/:id (name)',
    actions: ['service:update'],
    target: 'S',
    ok: 200,
    mutates: true,
    call: (c, w) => c.patch(`/services/${w.ids.S}`, { name: 'renamed' }),
  },
  {
    name: 'PATCH /services/:id (suspended)',
    actions: ['service:update', 'service:manage'],
    target: 'S',
    ok: 200,
    mutates: true,
    call: (c, w) => c.patch(`/services/${w.ids.S}`, { suspended: true }),
  },
  { name: 'GET /services/:id/profile', actions: ['service:read'], target: 'S', ok: 200, call: (c, w) => c.get(`/services/${w.ids.S}/profile`) },
  {
    name: 'PUT /services/:id/profile',
    actions: ['service:update'],
    target: 'S',
    ok: 200,
    mutates: true,
    call: (c, w) => c.put(`/services/${w.ids.S}/profile`, { ingest: { steps: [{ task: 'md5' }] } }),
  },
  {
    name: 'DELETE /services/:id/profile',
    actions: ['service:update'],
    target: 'S',
    ok: 200,
    mutates: true,
    call: (c, w) => c.delete(`/services/${w.ids.S}/profile`),
  },
  {
    name: 'POST /services/:id/webhooks',
    actions: ['service:update'],
    target: 'S',
    ok: 201,
    mutates: true,
    call: (c, w) => c.post(`/services/${w.ids.S}/webhooks`, { url: 'https://hooks.example.org/x', events: [] }),
  },
  { name: 'GET /services/:id/webhooks', actions: ['service:read'], target: 'S', ok: 200, call: (c, w) => c.get(`/services/${w.ids.S}/webhooks`) },
  {
    name: 'DELETE /services/:id/webhooks/:webhookId',
    actions: ['service:update'],
    target: 'S',
    ok: 204,
    mutates: true,
    call: async (c, w) =>
      c.delete(
        `/services/${w.ids.S}/webhooks/${(await w.admin.post(`/services/${w.ids.S}/webhooks`, { url: 'https://hooks.example.org/y', events: [] })).body.id}`,
      ),
  },
  { name: 'DELETE /services/:id', actions: ['service:delete'], target: 'S', ok: 204, mutates: true, call: (c, w) => c.delete(`/services/${w.ids.S}`) },
  {
    name: 'POST /mfolders/:id/mfolders',
    actions: ['mfolder:write'],
    target: 'R',
    ok: 201,
    mutates: true,
    call: (c, w, r) => c.post(`/mfolders/${w.ids.R}/mfolders`, { name: unique(r) }),
  },
  { name: 'GET /mfolders/:id', actions: ['mfolder:read'], target: 'F', ok: 200, call: (c, w) => c.get(`/mfolders/${w.ids.F}`) },
  { name: 'GET /mfolders/:id/mfolders', actions: ['mfolder:read'], target: 'F', ok: 200, call: (c, w) => c.get(`/mfolders/${w.ids.F}/mfolders`) },
  {
    name: 'PATCH /mfolders/:id',
    actions: ['mfolder:write'],
    target: 'Sub',
    ok: 200,
    mutates: true,
    call: (c, w) => c.patch(`/mfolders/${w.ids.Sub}`, { name: 'Sub2' }),
  },
  { name: 'DELETE /mfolders/:id', actions: ['mfolder:write'], target: 'Sub', ok: 204, mutates: true, call: (c, w) => c.delete(`/mfolders/${w.ids.Sub}`) },
  {
    name: 'POST /services/:id/mfiles',
    actions: ['mfile:create'],
    target: 'S',
    ok: 201,
    mutates: true,
    call: (c, w, r) => c.upload(w.ids.S, `${unique(r)}.txt`, bytes('x')),
  },
  {
    name: 'POST /mfolders/:id/mfiles',
    actions: ['mfile:create'],
    target: 'F',
    ok: 201,
    mutates: true,
    call: (c, w, r) => c.post(`/mfolders/${w.ids.F}/mfiles?name=${unique(r)}.txt`, bytes('x'), { 'content-type': 'text/plain' }),
  },
  {
    name: 'POST /services/:id/uploads',
    actions: ['mfile:create'],
    target: 'S',
    ok: 201,
    mutates: true,
    call: (c, w, r) => c.post(`/services/${w.ids.S}/uploads`, undefined, tusCreate(r)),
  },
  {
    name: 'HEAD /services/:id/uploads/:uploadId',
    actions: ['mfile:create'],
    target: 'S',
    ok: 200,
    call: async (c, w) => c.request('HEAD', await tusUpload(w), undefined, TUS),
  },
  {
    name: 'PATCH /services/:id/uploads/:uploadId',
    actions: ['mfile:create'],
    target: 'S',
    ok: 204,
    mutates: true,
    call: async (c, w) =>
      c.request('PATCH', await tusUpload(w), bytes('ab'), { ...TUS, 'content-type': 'application/offset+octet-stream', 'upload-offset': '0' }),
  },
  {
    name: 'DELETE /services/:id/uploads/:uploadId',
    actions: ['mfile:create'],
    target: 'S',
    ok: 204,
    mutates: true,
    call: async (c, w) => c.request('DELETE', await tusUpload(w), undefined, TUS),
  },
  {
    name: 'POST /services/:id/chunked-uploads',
    actions: ['mfile:create'],
    target: 'S',
    ok: 201,
    mutates: true,
    call: (c, w, r) =>
      c.post(`/services/${w.ids.S}/chunked-uploads?name=${unique(r)}`, bytes('abc'), {
        'content-range': 'bytes 0-2/6',
        'content-type': 'application/octet-stream',
      }),
  },
  {
    name: 'PUT /services/:id/chunked-uploads/:uploadId',
    actions: ['mfile:create'],
    target: 'S',
    ok: 200,
    mutates: true,
    call: async (c, w) => c.put(await chunkedUpload(w), bytes('abc'), { 'content-range': 'bytes 0-2/9', 'content-type': 'application/octet-stream' }),
  },
  { name: 'GET /services/:id/chunked-uploads/:uploadId', actions: ['mfile:create'], target: 'S', ok: 200, call: async (c, w) => c.get(await chunkedUpload(w)) },
  {
    name: 'DELETE /services/:id/chunked-uploads/:uploadId',
    actions: ['mfile:create'],
    target: 'S',
    ok: 204,
    mutates: true,
    call: async (c, w) => c.delete(await chunkedUpload(w)),
  },
  { name: 'GET /services/:id/mfiles', actions: ['mfile:read'], target: 'S', ok: 200, call: (c, w) => c.get(`/services/${w.ids.S}/mfiles`) },
  { name: 'GET /mfolders/:id/mfiles', actions: ['mfile:read'], target: 'F', ok: 200, call: (c, w) => c.get(`/mfolders/${w.ids.F}/mfiles`) },
  { name: 'GET /mfiles/:id', actions: ['mfile:read'], target: 'M', ok: 200, call: (c, w) => c.get(`/mfiles/${w.ids.M}`) },
  {
    name: 'PATCH /mfiles/:id',
    actions: ['mfile:write'],
    target: 'M',
    ok: 200,
    mutates: true,
    call: (c, w) => c.patch(`/mfiles/${w.ids.M}`, { name: 'renamed.txt' }),
  },
  { name: 'DELETE /mfiles/:id', actions: ['mfile:delete'], target: 'M', ok: 204, mutates: true, call: (c, w) => c.delete(`/mfiles/${w.ids.M}`) },
  { name: 'GET /mfiles/:id/content', actions: ['mfile:read'], target: 'M', ok: 200, call: (c, w) => c.get(`/mfiles/${w.ids.M}/content`) },
  { name: 'HEAD /mfiles/:id/content', actions: ['mfile:read'], target: 'M', ok: 200, call: (c, w) => c.request('HEAD', `/mfiles/${w.ids.M}/content`) },
  {
    name: 'PUT /mfiles/:id/content',
    actions: ['mfile:write'],
    target: 'M',
    ok: 200,
    mutates: true,
    call: (c, w) => c.put(`/mfiles/${w.ids.M}/content`, bytes('new content'), { 'content-type': 'application/octet-stream' }),
  },
  {
    name: 'POST /jobs',
    actions: ['job:create'],
    target: 'M',
    ok: 201,
    mutates: true,
    actionFirst: true,
    call: (c, w) => c.post('/jobs', { mfileIds: [w.ids.M], task: 'sha256' }),
  },
  { name: 'GET /jobs/:id', actions: ['job:read'], target: 'J', ok: 200, call: (c, w) => c.get(`/jobs/${w.ids.J}`) },
  { name: 'GET /jobs/:id/events', actions: ['job:read'], target: 'J', ok: 200, call: (c, w) => firstEvent(c, `/jobs/${w.ids.J}/events`) },
  { name: 'GET /services/:id/jobs', actions: ['job:read'], target: 'S', ok: 200, call: (c, w) => c.get(`/services/${w.ids.S}/jobs`) },
  { name: 'GET /services/:id/jobs/events', actions: ['job:read'], target: 'S', ok: 200, call: (c, w) => firstEvent(c, `/services/${w.ids.S}/jobs/events`) },
  { name: 'GET /services/:id/events', actions: ['mfile:read'], target: 'S', ok: 200, call: (c, w) => firstEvent(c, `/services/${w.ids.S}/events`) },
  { name: 'GET /mfiles/:id/jobs', actions: ['job:read'], target: 'M', ok: 200, call: (c, w) => c.get(`/mfiles/${w.ids.M}/jobs`) },
  { name: 'POST /jobs/:id/cancel', actions: ['job:cancel'], target: 'J', ok: 201, mutates: true, call: (c, w) => c.post(`/jobs/${w.ids.J}/cancel`) },
  {
    name: 'DELETE /jobs/:id',
    actions: ['job:cancel'],
    target: 'J',
    ok: 204,
    mutates: true,
    call: async (c, w) => {
      await w.admin.post(`/jobs/${w.ids.J}/cancel`);
      return c.delete(`/jobs/${w.ids.J}`);
    },
  },
  { name: 'GET /jobs/:id/outputs', actions: ['joboutput:read'], target: 'J', ok: 200, call: (c, w) => c.get(`/jobs/${w.ids.J}/outputs`) },
  { name: 'GET /joboutputs/:id', actions: ['joboutput:read'], target: 'O', ok: 200, call: (c, w) => c.get(`/joboutputs/${w.ids.O}`) },
  { name: 'GET /joboutputs/:id/content', actions: ['joboutput:read'], target: 'O', ok: 200, call: (c, w) => c.get(`/joboutputs/${w.ids.O}/content`) },
  {
    name: 'POST /joboutputs/:id/mfile',
    actions: ['joboutput:promote'],
    target: 'O',
    ok: 201,
    mutates: true,
    call: (c, w) => c.post(`/joboutputs/${w.ids.O}/mfile`),
  },
  // container profiles: offered by the container's side, selected per service with service:manage
  { name: 'GET /containers/:id/profiles', actions: ['container:read'], target: 'C', ok: 200, call: (c, w) => c.get(`/containers/${w.ids.C}/profiles`) },
  {
    name: 'PUT /containers/:id/profiles/:name',
    actions: ['container:update'],
    target: 'C',
    ok: 200,
    mutates: true,
    call: (c, w) => c.put(`/containers/${w.ids.C}/profiles/basic`, { ingest: { steps: [{ name: 'md5', task: 'md5' }] } }),
  },
  {
    name: 'DELETE /containers/:id/profiles/:name',
    actions: ['container:update'],
    target: 'C',
    ok: 204,
    mutates: true,
    call: async (c, w) => {
      await w.admin.put(`/containers/${w.ids.C}/profiles/basic`, { ingest: { steps: [{ name: 'md5', task: 'md5' }] } });
      return c.delete(`/containers/${w.ids.C}/profiles/basic`);
    },
  },
  {
    name: 'PATCH /services/:id (profile)',
    actions: ['service:update', 'service:manage'],
    target: 'S',
    ok: 200,
    mutates: true,
    call: async (c, w) => {
      await w.admin.put(`/containers/${w.ids.C}/profiles/basic`, { ingest: { steps: [{ name: 'md5', task: 'md5' }] } });
      return c.patch(`/services/${w.ids.S}`, { profile: 'basic' });
    },
  },
  // usage: each role sees its own resource and what is below it; the provider-wide view is the admin key's alone
  { name: 'GET /usage', actions: ['usage:read', 'container:create'], ok: 200, call: (c) => c.get('/usage?bucket=total') },
  // queues and workers: the provider's alone, like the provider-wide usage
  { name: 'GET /queues', actions: ['usage:read', 'container:create'], ok: 200, call: (c) => c.get('/queues') },
  { name: 'GET /containers/:id/usage', actions: ['usage:read'], target: 'C', ok: 200, call: (c, w) => c.get(`/containers/${w.ids.C}/usage?groupBy=service`) },
  { name: 'GET /services/:id/usage', actions: ['usage:read'], target: 'S', ok: 200, call: (c, w) => c.get(`/services/${w.ids.S}/usage`) },
  { name: 'GET /mfiles/:id/usage', actions: ['usage:read'], target: 'M', ok: 200, call: (c, w) => c.get(`/mfiles/${w.ids.M}/usage?format=csv`) },
  { name: 'GET /jobs/:id/usage', actions: ['usage:read'], target: 'J', ok: 200, call: (c, w) => c.get(`/jobs/${w.ids.J}/usage?bucket=hour`) },
  { name: 'GET /joboutputs/:id/usage', actions: ['usage:read'], target: 'O', ok: 200, call: (c, w) => c.get(`/joboutputs/${w.ids.O}/usage?bucket=total`) },
  // application metrics: recorded by whoever may record usage on the service or the file (each call its own key)
  {
    name: 'POST /services/:id/usage',
    actions: ['usage:record'],
    target: 'S',
    ok: 201,
    call: (c, w) => c.post(`/services/${w.ids.S}/usage`, { items: [{ metric: 'pages', value: 3, idempotencyKey: `matrix-${Math.random()}` }] }),
  },
  {
    name: 'POST /mfiles/:id/usage',
    actions: ['usage:record'],
    target: 'M',
    ok: 201,
    call: (c, w) => c.post(`/mfiles/${w.ids.M}/usage`, { items: [{ metric: 'views', value: 1, idempotencyKey: `matrix-${Math.random()}` }] }),
  },
  {
    // container limits are the provider's: container admins may rename their container, not lift its quota
    name: 'PATCH /containers/:id (quota)',
    actions: ['container:update', 'container:create'],
    target: 'C',
    ok: 200,
    mutates: true,
    call: (c, w) => c.patch(`/containers/${w.ids.C}`, { diskQuota: 10_000_000 }),
  },
  // people's accounts and wallets: the provider's alone
  { name: 'GET /users', actions: ['key:create', 'container:create'], ok: 200, call: (c) => c.get('/users') },
  {
    name: 'POST /users',
    actions: ['key:create', 'container:create'],
    ok: 201,
    mutates: true,
    call: (c, _w, r) => c.post('/users', { username: unique(r), password: 'a long enough password' }),
  },
  {
    name: 'PATCH /users/:id',
    actions: ['key:create', 'container:create'],
    ok: 200,
    mutates: true,
    call: async (c, w, r) => c.patch(`/users/${(await w.admin.post('/users', { username: unique(r) })).body.id}`, { displayName: 'Renamed' }),
  },
  {
    name: 'GET /users/:id/keys',
    actions: ['key:create', 'container:create'],
    ok: 200,
    call: async (c, w) => c.get(`/users/${(await w.admin.get('/users')).body.items[0].id}/keys`),
  },
  {
    name: 'PUT /users/:id/keys',
    actions: ['key:create', 'container:create'],
    ok: 200,
    mutates: true,
    call: async (c, w, r) => c.put(`/users/${(await w.admin.post('/users', { username: unique(r) })).body.id}/keys`, { key: w.keys.servicecustomer }),
  },
  {
    name: 'DELETE /users/:id/keys/:keyId',
    actions: ['key:create', 'container:create'],
    ok: 204,
    mutates: true,
    call: async (c, w, r) => {
      const user = await w.admin.post('/users', { username: unique(r) });
      const given = await w.admin.put(`/users/${user.body.id}/keys`, { key: w.keys.servicecustomer });
      return c.delete(`/users/${user.body.id}/keys/${given.body.id}`);
    },
  },
  { name: 'POST /keys', actions: ['key:create'], ok: 201, mutates: true, call: (c, _w, r) => c.post('/keys', { actions: [ROLE_ACTIONS[r][0]] }) },
  { name: 'GET /keys', actions: ['key:read'], ok: 200, call: (c) => c.get('/keys') },
  { name: 'GET /me', actions: [], ok: 200, call: (c) => c.get('/me') },
  { name: 'GET /keys/:id', actions: ['key:read'], ok: 200, call: async (c) => c.get(`/keys/${(await c.get('/me')).body.id}`) },
  {
    // Every key may revoke itself when it holds key:revoke; the provider admin key is rotated through ADMIN_KEY instead.
    name: 'DELETE /keys/:id',
    actions: ['key:revoke'],
    ok: 200,
    mutates: true,
    call: async (c, _w, r) => {
      const reply = await c.delete(`/keys/${(await c.get('/me')).body.id}`);
      return r === 'admin' && reply.status === 403 && /ADMIN_KEY/.test(reply.text) ? { status: 200, text: 'refused as designed' } : reply;
    },
  },
];

function expected(endpoint: Endpoint, role: RoleKey, world: World): number {
  const hasActions = endpoint.actions.every((action) => ROLE_ACTIONS[role].includes(action));
  if (!endpoint.target) return hasActions ? endpoint.ok : 403;
  const covered = world.covers(role, endpoint.target);
  if (endpoint.actionFirst) return !hasActions ? 403 : !covered ? 404 : endpoint.ok;
  return !covered ? 404 : !hasActions ? 403 : endpoint.ok;
}

describe('authorisation: role × endpoint matrix', () => {
  let app: TestApp;
  let shared: World;

  beforeAll(async () => {
    // Every mutating case builds a world of its own, about four keys derived by the admin key each: a fast machine
    // passes the production budget of 600 a minute. The budget itself is tested in http-edge.
    app = await startTestApp({ KEYS_CREATED_PER_MINUTE: '1000000' });
    shared = await buildWorld(app);
  });
  afterAll(() => app.close());

  it('covers every route the API exposes', () => {
    const routes: string[] = [];
    const router = app.app.getHttpAdapter().getInstance().router as { stack: { route?: { path: string; methods: Record<string, boolean> } }[] };
    for (const layer of router.stack) {
      if (!layer.route) continue;
      for (const method of Object.keys(layer.route.methods)) routes.push(`${method.toUpperCase()} ${layer.route.path}`);
    }
    const tested = new Set(ENDPOINTS.map((endpoint) => endpoint.name.replace(/ \(.*\)$/, '')));
    const untested = routes
      .filter((route) => route.includes(' /api/v1/'))
      .map((route) => route.replace('/api/v1', ''))
      // the browser session's own routes are public (no key: the session is the credential); console-login tests them
      .filter((route) => !tested.has(route) && route !== 'GET /tasks' && route !== 'OPTIONS /services/:id/uploads' && !/^\w+ \/session(\/|$)/.test(route));
    expect(untested).toEqual([]);
  });

  for (const endpoint of ENDPOINTS) {
    describe(endpoint.name, () => {
      for (const role of ROLE_KEYS) {
        it(`${role}`, async () => {
          const world = endpoint.mutates ? await buildWorld(app) : shared;
          const want = expected(endpoint, role, world);
          const reply = await endpoint.call(new Client(app.api, world.keys[role]), world, role);
          if (reply.status !== want) throw new Error(`${endpoint.name} as ${role}: expected ${want}, got ${reply.status}: ${reply.text.slice(0, 300)}`);
          if (want === 403) expect(reply.text).toMatch(/lacks|service:manage|ADMIN_KEY/);
        });
      }
    });
  }

  it('an unauthenticated request is 401 everywhere except the public endpoints', async () => {
    for (const endpoint of ENDPOINTS) {
      const reply = await endpoint.call(new Client(app.api), shared, 'admin');
      expect([endpoint.name, reply.status]).toEqual([endpoint.name, 401]);
    }
    expect((await new Client(app.api).get('/tasks')).status).toBe(200);
  });
});

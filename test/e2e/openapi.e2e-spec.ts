import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../support/processes';
import { startTestApp, TestApp } from '../support/test-app';

const COMMITTED = join(ROOT, 'docs', 'openapi.json');
const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options'];

type Operation = { operationId?: string; responses: Record<string, { content?: Record<string, { schema?: { $ref?: string } }> }> };

/**
 * The API's contract: the live document (built from the controllers) is the one committed in docs/openapi.json, so
 * a change to the API shows in review as a change to the contract; every operation has a stable id and declares
 * the problems it can answer. `UPDATE_OPENAPI=1` writes the live document to docs/openapi.json instead of comparing.
 */
describe('OpenAPI contract (real api)', () => {
  let app: TestApp;
  let live: { paths: Record<string, Record<string, Operation>>; components: { schemas: Record<string, unknown> } };

  beforeAll(async () => {
    app = await startTestApp();
    live = await (await fetch(`${app.baseUrl}/api/docs-json`)).json();
  });
  afterAll(() => app.close());

  const operations = () =>
    Object.entries(live.paths).flatMap(([path, item]) =>
      Object.entries(item)
        .filter(([method]) => METHODS.includes(method))
        .map(([method, operation]) => ({ name: `${method.toUpperCase()} ${path}`, path, operation })),
    );

  it('every operation has a stable, unique id: resource.method', () => {
    const all = operations();
    expect(all.length).toBeGreaterThan(80);
    const bad = all.filter(({ operation }) => !/^[a-z][A-Za-z]*(\.[a-z][A-Za-z]*)+$/.test(operation.operationId ?? ''));
    expect(bad.map(({ name, operation }) => `${name}: ${operation.operationId}`)).toEqual([]);
    const ids = all.map(({ operation }) => operation.operationId);
    expect(ids.filter((id, index) => ids.indexOf(id) !== index)).toEqual([]);
    const byId = Object.fromEntries(all.map(({ name, operation }) => [operation.operationId, name]));
    expect(byId['mfiles.get']).toBe('GET /api/v1/mfiles/{id}');
    expect(byId['uploads.tus.create']).toBe('POST /api/v1/services/{id}/uploads');
    expect(byId['keys.derive']).toBe('POST /api/v1/keys');
  });

  it('every operation declares the problems it can answer, as application/problem+json', () => {
    expect(live.components.schemas.Problem).toMatchObject({ required: ['type', 'title', 'status'] });
    const missing = operations().flatMap(({ name, path, operation }) =>
      (path.startsWith('/api/v1/') ? ['400', '401', '403', '404', '429', '503'] : ['503'])
        .filter((status) => operation.responses[status]?.content?.['application/problem+json']?.schema?.$ref !== '#/components/schemas/Problem')
        .map((status) => `${name} ${status}`),
    );
    expect(missing).toEqual([]);
  });

  it('the live document is the committed docs/openapi.json', () => {
    if (process.env.UPDATE_OPENAPI === '1') writeFileSync(COMMITTED, JSON.stringify(live, null, 2) + '\n');
    expect(existsSync(COMMITTED)).toBe(true);
    const committed = JSON.parse(readFileSync(COMMITTED, 'utf8')) as typeof live;
    // first the operations that differ, by name (readable), then the whole document
    const names = (document: typeof live) =>
      Object.entries(document.paths).flatMap(([path, item]) =>
        Object.entries(item).map(([method, operation]) => [`${method.toUpperCase()} ${path}`, JSON.stringify(operation)] as const),
      );
    const before = new Map(names(committed));
    const changed = names(live)
      .filter(([name, operation]) => before.get(name) !== operation)
      .map(([name]) => name);
    const removed = [...before.keys()].filter((name) => !names(live).some(([other]) => other === name));
    expect({ changed, removed, hint: 'run UPDATE_OPENAPI=1 npx jest test/e2e/openapi and commit docs/openapi.json' }).toEqual({
      changed: [],
      removed: [],
      hint: expect.any(String),
    });
    expect(live).toEqual(committed);
  });
});

import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { COMMITTED_OPENAPI as COMMITTED } from '../support/contract';
import { ROOT } from '../support/processes';
import { startTestApp, TestApp } from '../support/test-app';

const GENERATED_TYPES = join(ROOT, 'src', 'common', 'api-contract.ts');
const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options'];

type Operation = {
  operationId?: string;
  parameters?: Array<{ name: string; in: string; required?: boolean }>;
  responses: Record<string, { content?: Record<string, { schema?: { $ref?: string; type?: string; oneOf?: unknown[] } }>; headers?: Record<string, unknown> }>;
};

/**
 * The API's contract: the live document (built from the controllers) is the one committed in docs/openapi.json, so
 * a change to the API shows in review as a change to the contract; every operation has a stable id and declares
 * the problems it can answer. `UPDATE_OPENAPI=1` writes the live document to docs/openapi.json instead of comparing.
 */
describe('OpenAPI contract (real api)', () => {
  let app: TestApp;
  let live: { openapi: string; paths: Record<string, Record<string, Operation>>; components: { schemas: Record<string, unknown> } };

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

  it('every operation says what success answers: a 2xx response with a schema for each body, or none (204, headers)', () => {
    expect(live.openapi).toBe('3.1.0');
    const problems = operations().flatMap(({ name, operation }) => {
      const successes = Object.entries(operation.responses).filter(([status]) => /^2\d\d$/.test(status));
      if (!successes.length) return [`${name}: no 2xx response`];
      return successes.flatMap(([status, response]) => {
        if (status === '204') return response.content ? [`${name} 204 has a body`] : [];
        if (!response.content) return response.headers ? [] : [`${name} ${status}: neither a body nor headers`];
        return Object.entries(response.content)
          .filter(([, media]) => !media.schema?.$ref && !media.schema?.type && !media.schema?.oneOf)
          .map(([type]) => `${name} ${status} ${type}: no schema`);
      });
    });
    expect(problems).toEqual([]);
    // JSON answers name their schema (a named one, or a page/list of them)
    const json = operations().filter(({ operation }) => Object.values(operation.responses).some((response) => response.content?.['application/json']));
    expect(json.length).toBeGreaterThan(55);
    for (const schema of ['Mfile', 'CreatedMfile', 'Job', 'Key', 'IssuedKey', 'Service', 'Container', 'UsageReport', 'Session', 'Problem']) {
      expect(Object.keys(live.components.schemas)).toContain(schema);
    }
  });

  it('every {name} in a path is a declared, required path parameter', () => {
    const missing = operations().flatMap(({ name, path, operation }) =>
      [...path.matchAll(/\{(\w+)\}/g)]
        .map((match) => match[1])
        .filter((param) => !operation.parameters?.some((parameter) => parameter.in === 'path' && parameter.name === param && parameter.required))
        .map((param) => `${name}: ${param}`),
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

  it('the generated client types (src/common/api-contract.ts) are openapi-typescript’s output for the committed document', () => {
    const scratch = mkdtempSync(join(tmpdir(), 'mserve-contract-'));
    try {
      const generated = join(scratch, 'api-contract.ts');
      execFileSync(join(ROOT, 'node_modules', '.bin', 'openapi-typescript'), [COMMITTED, '-o', generated], { stdio: 'pipe' });
      if (process.env.UPDATE_OPENAPI === '1') writeFileSync(GENERATED_TYPES, readFileSync(generated));
      expect({
        same: readFileSync(GENERATED_TYPES, 'utf8') === readFileSync(generated, 'utf8'),
        hint: 'run `npm run openapi` and commit src/common/api-contract.ts',
      }).toEqual({ same: true, hint: expect.any(String) });
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
  });
});

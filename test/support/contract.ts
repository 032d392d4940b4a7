import Ajv2020, { type ValidateFunction } from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import createClient, { type Middleware } from 'openapi-fetch';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { paths } from '../../src/common/api-contract';
import { ROOT } from './processes';

type Json = { [key: string]: unknown };
type Operation = { operationId: string; responses: Record<string, { content?: Record<string, { schema?: Json }> }> };
export type OpenApiDocument = { paths: Record<string, Record<string, Operation>>; components: { schemas: Record<string, Json> } };

export const COMMITTED_OPENAPI = join(ROOT, 'docs', 'openapi.json');

/**
 * The schemas made strict for checking real answers: an object schema that lists its properties and says nothing of
 * others accepts no others, so a field the API sends and the contract does not name is found as surely as a missing
 * one. (The published document stays open: clients must tolerate fields added later.)
 */
function strict(schema: unknown): unknown {
  if (!schema || typeof schema !== 'object' || Array.isArray(schema)) return schema;
  const out: Json = { ...(schema as Json) };
  const each = (list: unknown) => (Array.isArray(list) ? list.map(strict) : list);
  // only where JSON Schema puts schemas: a property named `properties` or `items` is data, not a keyword
  if (out.properties) out.properties = Object.fromEntries(Object.entries(out.properties as Json).map(([name, value]) => [name, strict(value)]));
  if (out.additionalProperties && typeof out.additionalProperties === 'object') out.additionalProperties = strict(out.additionalProperties);
  if (out.items) out.items = strict(out.items);
  for (const keyword of ['allOf', 'anyOf', 'oneOf', 'prefixItems']) if (out[keyword]) out[keyword] = each(out[keyword]);
  if (out.not) out.not = strict(out.not);
  // a composed schema is closed by `unevaluatedProperties` (2020-12), which sees the properties of every branch
  const composed = Boolean(out.allOf || out.anyOf || out.oneOf);
  if (out.properties && out.additionalProperties === undefined) {
    if (composed) out.unevaluatedProperties = false;
    else out.additionalProperties = false;
  }
  if (typeof out.$ref === 'string') out.$ref = `openapi.json${out.$ref}`;
  return out;
}

export interface ContractCheck {
  /** `operationId status` of every answer checked. */
  checked: Set<string>;
  /** What did not match: the operation, the status and ajv's errors. */
  violations: string[];
}

/**
 * A client generated from the contract (openapi-fetch over the types openapi-typescript wrote from docs/openapi.json)
 * that checks every answer against the document: its status must be declared for the operation, and a JSON body
 * must match that response's schema (problem documents too).
 */
export function contractClients(baseUrl: string, document: OpenApiDocument = JSON.parse(readFileSync(COMMITTED_OPENAPI, 'utf8'))) {
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats(ajv);
  ajv.addSchema({
    $id: 'openapi.json',
    components: { schemas: Object.fromEntries(Object.entries(document.components.schemas).map(([name, schema]) => [name, strict(schema)])) },
  });
  const validators = new Map<string, ValidateFunction>();
  const check: ContractCheck = { checked: new Set(), violations: [] };
  const checking: Middleware = {
    async onResponse({ request, response, schemaPath }) {
      const operation = document.paths[schemaPath]?.[request.method.toLowerCase()];
      if (!operation) {
        check.violations.push(`${request.method} ${schemaPath}: no such operation`);
        return;
      }
      const name = `${operation.operationId} ${response.status}`;
      check.checked.add(name);
      const declared = operation.responses[String(response.status)];
      if (!declared) {
        check.violations.push(`${name}: status not declared`);
        return;
      }
      const type = (response.headers.get('content-type') ?? '').split(';')[0].trim();
      if (response.status === 204 || request.method === 'HEAD') return;
      // an answer whose news is in its headers (tus) declares no content: it must have no body
      if (!declared.content && !type && (await response.clone().arrayBuffer()).byteLength === 0) return;
      const content = declared.content?.[type];
      if (!content) {
        check.violations.push(`${name}: ${type || 'no content type'} not declared (declared: ${Object.keys(declared.content ?? {}).join(', ') || 'none'})`);
        return;
      }
      if (!type.endsWith('json') || !content.schema) return;
      let validate = validators.get(name + type);
      if (!validate) {
        validate = ajv.compile(strict(content.schema) as Json);
        validators.set(name + type, validate);
      }
      const body: unknown = await response.clone().json();
      if (!validate(body)) check.violations.push(`${name}: ${ajv.errorsText(validate.errors, { separator: '; ' })}`);
    },
  };
  /** A client presenting `key` (none: no Authorization header); every answer it gets is checked. */
  const as = (key?: string) => {
    const client = createClient<paths>({ baseUrl, headers: key ? { Authorization: `Bearer ${key}` } : {} });
    client.use(checking);
    return client;
  };
  return { as, check };
}

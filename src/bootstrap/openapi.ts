import type { INestApplication } from '@nestjs/common';
import { DocumentBuilder, OpenAPIObject, SwaggerModule } from '@nestjs/swagger';
import { TaskOptionSchema } from '../jobs/job.schema';
import { RenditionSchema } from '../mfiles/mfile.schema';
import { PipelineSchema } from '../pipelines/profile.schema';

/**
 * The API's contract (OpenAPI), built from the controllers' decorators, with what the decorators cannot say added in
 * one place: stable operation ids (`mfiles.get`, `uploads.tus.create`: the resource, then the controller method, so a
 * generated client keeps its names when routes or classes change) and the problem responses (RFC 9457) every
 * operation can give. The document is committed as docs/openapi.json; test/e2e/openapi fails when the live one differs.
 */

/** Each controller's name in operation ids. */
const RESOURCE: Record<string, string> = {
  ChunkedUploadController: 'uploads.chunked',
  ContainerProfilesController: 'containerProfiles',
  ContainersController: 'containers',
  HealthController: 'health',
  JobOutputsController: 'jobOutputs',
  JobsController: 'jobs',
  KeysController: 'keys',
  MetricsController: 'metrics',
  MfilesController: 'mfiles',
  MfoldersController: 'mfolders',
  ProfilesController: 'profiles',
  QueuesController: 'queues',
  ServicesController: 'services',
  SessionController: 'session',
  TusController: 'uploads.tus',
  UsageController: 'usage',
  UsersController: 'users',
  WebhooksController: 'webhooks',
};

/** `mfiles.get` for MfilesController.get; a controller missing from RESOURCE is a mistake caught at start. */
export function operationId(controllerKey: string, methodKey: string): string {
  const resource = RESOURCE[controllerKey];
  if (!resource) throw new Error(`OpenAPI: ${controllerKey} has no name for its operation ids (src/bootstrap/openapi.ts RESOURCE)`);
  return `${resource}.${methodKey}`;
}

/** The problem document of every error answer (RFC 9457), as ProblemFilter writes it. */
const PROBLEM_SCHEMA = {
  type: 'object',
  required: ['type', 'title', 'status'],
  properties: {
    type: { type: 'string', format: 'uri', description: 'What kind of problem, e.g. https://mserve.dev/problems/quota-exceeded' },
    title: { type: 'string', example: 'Too Many Requests' },
    status: { type: 'integer', example: 429 },
    detail: { type: 'string', description: 'What is wrong, for a person', example: 'the request is invalid: name must be a string' },
    instance: { type: 'string', description: 'The request path' },
    requestId: { type: 'string', description: 'Also in the X-Request-Id header and the server log' },
    errors: { type: 'array', items: { type: 'string' }, description: 'Each invalid field, for a validation problem' },
  },
  additionalProperties: true,
} as const;

/** The errors any keyed operation can answer, whatever it does. */
const COMMON_PROBLEMS: Record<string, string> = {
  '400': 'The request is malformed or invalid: the problem says what is wrong (`errors` lists each field)',
  '401': 'No key, or an unknown, expired or revoked one',
  '403': 'The key lacks the action on this resource, or the service or container is suspended or outside its time window',
  '404': 'No such resource that the key can reach (a malformed id too)',
  '429': 'Too many requests, connections or streams for this key or address, or a monthly quota used up: `Retry-After` says when to try again',
  '503': 'A dependency (PostgreSQL, Redis, the storage) is unavailable: `Retry-After` says when to try again',
};

/** Operations outside the keyed API (health, metrics) can only be unavailable. */
const UNKEYED_PROBLEMS: Record<string, string> = { '503': COMMON_PROBLEMS['503'] };

/** What an operation that changes something can also answer. */
const CHANGE_PROBLEMS: Record<string, string> = {
  '409': 'The change conflicts with what is there: a name in use in the folder, a job that already ended, an upload at another offset',
  '413': 'The body is larger than the operation accepts (the limit is in the problem)',
};

/** What an operation that receives a file's bytes can also answer (operations declare their own others: `ApiProblems`). */
const BYTES_IN_PROBLEMS: Record<string, string> = {
  '415': 'The body is not of a type the operation reads (the problem names the one to send)',
  '507': 'The storage is full: nothing was stored',
};

const BINARY_TYPES = ['application/octet-stream', 'application/offset+octet-stream', 'multipart/form-data'];

const PROBLEM_CONTENT = { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } };

/** Declares the problem responses on every operation (and gives a problem body to error responses declared without one). */
export function declareProblems(document: OpenAPIObject): OpenAPIObject {
  document.components = { ...document.components, schemas: { ...document.components?.schemas, Problem: PROBLEM_SCHEMA as never } };
  for (const [path, item] of Object.entries(document.paths)) {
    for (const method of ['get', 'put', 'post', 'delete', 'patch', 'head', 'options'] as const) {
      const operation = item[method];
      if (!operation) continue;
      const keyed = path.startsWith('/api/v1/');
      const body = operation.requestBody && 'content' in operation.requestBody ? Object.keys(operation.requestBody.content) : [];
      const problems = {
        ...(keyed ? COMMON_PROBLEMS : UNKEYED_PROBLEMS),
        ...(keyed && method !== 'get' && method !== 'head' && method !== 'options' ? CHANGE_PROBLEMS : {}),
        ...(body.some((type) => BINARY_TYPES.includes(type)) ? BYTES_IN_PROBLEMS : {}),
      };
      for (const [status, description] of Object.entries(problems)) operation.responses[status] ??= { description };
      for (const [status, response] of Object.entries(operation.responses)) {
        if (/^[45]/.test(status) && response && 'description' in response && !response.content) response.content = PROBLEM_CONTENT;
      }
    }
  }
  return document;
}

type Json = { [key: string]: unknown };

/**
 * OpenAPI 3.1 from what @nestjs/swagger writes (3.0): a schema's `nullable: true` becomes JSON Schema's own null, as
 * 3.1 (JSON Schema 2020-12) has it: `type: [T, 'null']`, a nullable reference (`allOf: [{$ref}]`) `anyOf: [{$ref},
 * {type: 'null'}]`, and `null` added to a nullable enum. Everything else of 3.0 that the document uses is valid 3.1.
 */
export function toOpenApi31(document: OpenAPIObject): OpenAPIObject {
  const visit = (node: unknown): unknown => {
    if (Array.isArray(node)) return node.map(visit);
    if (!node || typeof node !== 'object') return node;
    const { nullable, ...rest } = node as Json;
    const out: Json = Object.fromEntries(Object.entries(rest).map(([key, value]) => [key, visit(value)]));
    if (nullable !== true) return out;
    if (Array.isArray(out.enum) && !out.enum.includes(null)) out.enum = [...out.enum, null];
    if (Array.isArray(out.allOf)) {
      const { allOf, type: _object, ...others } = out;
      return { ...others, anyOf: [allOf.length === 1 ? allOf[0] : { allOf }, { type: 'null' }] };
    }
    if ('$ref' in out) {
      const { $ref, ...others } = out;
      return { ...others, anyOf: [{ $ref }, { type: 'null' }] };
    }
    if (typeof out.type === 'string') out.type = [out.type, 'null'];
    else if (out.type === undefined && !out.enum) return { anyOf: [out, { type: 'null' }] };
    return out;
  };
  return { ...(visit(document) as OpenAPIObject), openapi: '3.1.0' };
}

/**
 * Declares every `{name}` of an operation's path as a required path parameter: the controllers that read the
 * request themselves (uploads, tus, usage records) take the id from the route without `@Param`, which the
 * generator cannot see, and a generated client could not fill the path without it.
 */
export function declarePathParameters(document: OpenAPIObject): OpenAPIObject {
  for (const [path, item] of Object.entries(document.paths)) {
    const names = [...path.matchAll(/\{(\w+)\}/g)].map((match) => match[1]);
    for (const method of ['get', 'put', 'post', 'delete', 'patch', 'head', 'options'] as const) {
      const operation = item[method];
      if (!operation) continue;
      const declared = new Set((operation.parameters ?? []).flatMap((parameter) => ('in' in parameter && parameter.in === 'path' ? [parameter.name] : [])));
      const missing = names.filter((name) => !declared.has(name));
      if (missing.length)
        operation.parameters = [
          ...missing.map((name) => ({ name, in: 'path' as const, required: true, schema: { type: 'string' as const } })),
          ...(operation.parameters ?? []),
        ];
    }
  }
  return document;
}

/** The document served at /api/docs-json (and committed as docs/openapi.json). */
export function buildOpenApiDocument(app: INestApplication): OpenAPIObject {
  const document = SwaggerModule.createDocument(
    app,
    new DocumentBuilder()
      .setTitle('MServe API')
      .setDescription(
        'Multi-tenant media service platform. Every operation states the key action it needs (`x-mserve-action`) and on which resource ' +
          '(`x-mserve-resource`). Present a key as `Authorization: Bearer <key>`, as `?key=<key>`, or as the Basic-auth password. ' +
          'Errors are `application/problem+json` (RFC 9457), declared on every operation.',
      )
      .setVersion('1')
      .addBearerAuth({ type: 'http', scheme: 'bearer', description: 'A capability key (msk_...)' }, 'key')
      .addApiKey({ type: 'apiKey', in: 'query', name: 'key', description: 'A capability key in the URL (capability links)' }, 'keyQuery')
      .build(),
    { operationIdFactory: operationId, extraModels: [PipelineSchema, RenditionSchema, TaskOptionSchema] },
  );
  return toOpenApi31(declareProblems(declarePathParameters(document)));
}

import { applyDecorators, Type } from '@nestjs/common';
import {
  ApiBody,
  ApiConsumes,
  ApiCreatedResponse,
  ApiExtraModels,
  ApiNoContentResponse,
  ApiOkResponse,
  ApiProduces,
  ApiResponse,
  ApiProperty,
  ApiPropertyOptional,
  ApiPropertyOptions,
  getSchemaPath,
} from '@nestjs/swagger';

/**
 * How the controllers declare what a successful answer holds, so that every operation of the OpenAPI document has a
 * 2xx response with a schema (or says it has no body, or bytes, or an event stream). The schemas are classes named
 * after the resource (`@ApiSchema({ name: 'Mfile' })`) that `implements` the type the code answers with, so a field
 * added to an entity and not to its schema fails to compile; test/e2e/openapi checks real answers against them.
 */

/** A timestamp as JSON carries it. */
export const DATE_TIME: ApiPropertyOptions = { type: String, format: 'date-time' };
/** A JSON object of any keys (metadata, properties, options, results). */
export const FREE_OBJECT: ApiPropertyOptions = { type: 'object', additionalProperties: true };

/** A nullable property (`T | null`). */
export const Nullable = (options: ApiPropertyOptions = {}) => ApiProperty({ ...options, nullable: true } as ApiPropertyOptions);
/** An optional property: present in some answers only. */
export const Optional = (options: ApiPropertyOptions = {}) => ApiPropertyOptional(options);

type Status = 200 | 201;

const respond = (status: Status, description: string, schema: object) =>
  status === 201 ? ApiCreatedResponse({ description, schema }) : ApiOkResponse({ description, schema });

/** One resource (200, or 201 for a creation). */
export function ApiResource(model: Type, description: string, status: Status = 200) {
  return applyDecorators(ApiExtraModels(model), respond(status, description, { $ref: getSchemaPath(model) }));
}

/** A page of resources: `items`, and `nextCursor` (null on the last page) to pass as `?cursor=`. */
export function ApiPage(model: Type, description: string) {
  return applyDecorators(
    ApiExtraModels(model),
    ApiOkResponse({
      description,
      schema: {
        type: 'object',
        required: ['items', 'nextCursor'],
        properties: {
          items: { type: 'array', items: { $ref: getSchemaPath(model) } },
          nextCursor: { type: 'string', nullable: true, description: 'Pass as ?cursor= for the next page; null on the last page' },
        },
      },
    }),
  );
}

/** Every resource of a kind at once, as `{ items }` (short lists with no paging). */
export function ApiItems(model: Type, description: string, status: Status = 200) {
  return applyDecorators(
    ApiExtraModels(model),
    respond(status, description, { type: 'object', required: ['items'], properties: { items: { type: 'array', items: { $ref: getSchemaPath(model) } } } }),
  );
}

/** 204: done, nothing to say. */
export function ApiDone(description: string) {
  return ApiNoContentResponse({ description });
}

/** Bytes: the content of a file (200, or 206 for ranges), in the types given. */
export function ApiBytes(description: string, ...types: string[]) {
  const content = Object.fromEntries(types.map((type) => [type, { schema: { type: 'string', format: 'binary' } }]));
  return applyDecorators(
    ApiProduces(...types),
    ApiOkResponse({ description, content }),
    ApiResponse({ status: 206, description: 'The ranges asked for (one: its bytes with Content-Range; several: multipart/byteranges)', content }),
    ApiResponse({ status: 304, description: 'Not modified: the If-None-Match or If-Modified-Since given still holds' }),
    ApiProblems(BYTES_OUT_PROBLEMS),
  );
}

/** A Server-Sent Events stream (`text/event-stream`); the events are described in the operation's summary. */
export function ApiEventStream(description: string) {
  return applyDecorators(
    ApiProduces('text/event-stream'),
    ApiOkResponse({ description, content: { 'text/event-stream': { schema: { type: 'string', description: 'Server-Sent Events' } } } }),
  );
}

/** An answer whose news is in its headers (tus). */
export function ApiHeadersOnly(status: number, description: string, headers: Record<string, string>) {
  return ApiResponse({
    status,
    description,
    headers: Object.fromEntries(Object.entries(headers).map(([name, about]) => [name, { description: about, schema: { type: 'string' } }])),
  });
}

/** A report as JSON (the model), or as CSV with `format=csv` or `Accept: text/csv`. */
export function ApiReport(model: Type, description: string) {
  return applyDecorators(
    ApiExtraModels(model),
    ApiProduces('application/json', 'text/csv'),
    ApiOkResponse({
      description,
      content: {
        'application/json': { schema: { $ref: getSchemaPath(model) } },
        'text/csv': { schema: { type: 'string', description: 'One line per bucket and series, with a header line' } },
      },
    }),
  );
}

/** A request body of raw bytes, in the types given. */
export function ApiBytesBody(description: string, ...types: string[]) {
  return applyDecorators(ApiConsumes(...types), ApiBody({ description, required: false, schema: { type: 'string', format: 'binary' } }));
}

/**
 * Problems an operation can answer beyond those every operation of its kind declares (src/bootstrap/openapi.ts):
 * status and when. Their body is the Problem schema.
 */
export function ApiProblems(problems: Record<number, string>) {
  return applyDecorators(...Object.entries(problems).map(([status, description]) => ApiResponse({ status: Number(status), description })));
}

/** What an operation that sends a file's bytes can answer besides the common problems. */
export const BYTES_OUT_PROBLEMS = {
  412: 'An If-Match or If-Unmodified-Since precondition failed',
  416: 'No range asked for is within the content',
};

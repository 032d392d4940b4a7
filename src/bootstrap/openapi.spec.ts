import type { OpenAPIObject } from '@nestjs/swagger';
import { declarePathParameters, declareProblems, toOpenApi31 } from './openapi';

const document = (paths: OpenAPIObject['paths'], schemas: Record<string, unknown> = {}): OpenAPIObject =>
  ({ openapi: '3.0.0', info: { title: 't', version: '1' }, paths, components: { schemas } }) as OpenAPIObject;

describe('the OpenAPI document, after Nest builds it', () => {
  it('3.1: nullable becomes JSON Schema null for a type, an enum, a reference and a one-member allOf', () => {
    const converted = toOpenApi31(
      document(
        {},
        {
          S: {
            type: 'object',
            properties: {
              text: { type: 'string', nullable: true },
              kind: { type: 'string', enum: ['a', 'b'], nullable: true },
              ref: { $ref: '#/components/schemas/T', nullable: true, description: 'kept' },
              wrapped: { type: 'object', allOf: [{ $ref: '#/components/schemas/T' }], nullable: true },
              plain: { type: 'integer' },
              open: { nullable: true, description: 'no type' },
            },
          },
        },
      ),
    );
    expect(converted.openapi).toBe('3.1.0');
    expect(converted.components!.schemas!.S).toEqual({
      type: 'object',
      properties: {
        text: { type: ['string', 'null'] },
        kind: { type: ['string', 'null'], enum: ['a', 'b', null] },
        ref: { description: 'kept', anyOf: [{ $ref: '#/components/schemas/T' }, { type: 'null' }] },
        wrapped: { anyOf: [{ $ref: '#/components/schemas/T' }, { type: 'null' }] },
        plain: { type: 'integer' },
        open: { anyOf: [{ description: 'no type' }, { type: 'null' }] },
      },
    });
    expect(JSON.stringify(converted)).not.toContain('nullable');
  });

  it('declares each {name} of a path that the operation did not, as a required string', () => {
    const declared = declarePathParameters(
      document({
        '/services/{id}/uploads/{uploadId}': {
          patch: { parameters: [{ name: 'uploadId', in: 'path', required: true, schema: { type: 'string' } }], responses: {} },
        },
      }),
    );
    expect(declared.paths['/services/{id}/uploads/{uploadId}'].patch!.parameters).toEqual([
      { name: 'id', in: 'path', required: true, schema: { type: 'string' } },
      { name: 'uploadId', in: 'path', required: true, schema: { type: 'string' } },
    ]);
  });

  it('declares problems by what an operation does: changes, bytes in, and keyed or not', () => {
    const declared = declareProblems(
      document({
        '/api/v1/things': { get: { responses: { '200': { description: 'ok' } } } },
        '/api/v1/things/{id}/content': {
          put: { requestBody: { content: { 'application/octet-stream': {} } }, responses: { '200': { description: 'ok' }, '416': { description: 'own' } } },
        },
        '/health/ready': { get: { responses: { '200': { description: 'ok' } } } },
      }),
    );
    const statuses = (path: string, method: 'get' | 'put') => Object.keys(declared.paths[path][method]!.responses).sort();
    expect(statuses('/api/v1/things', 'get')).toEqual(['200', '400', '401', '403', '404', '429', '503']);
    expect(statuses('/api/v1/things/{id}/content', 'put')).toEqual(['200', '400', '401', '403', '404', '409', '413', '415', '416', '429', '503', '507']);
    expect(statuses('/health/ready', 'get')).toEqual(['200', '503']);
    expect(declared.paths['/api/v1/things/{id}/content'].put!.responses['416']).toMatchObject({
      content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } },
    });
  });
});

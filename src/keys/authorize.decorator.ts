import { applyDecorators, createParamDecorator, ExecutionContext, SetMetadata } from '@nestjs/common';
import { ApiBearerAuth, ApiExtension, ApiForbiddenResponse, ApiNotFoundResponse, ApiSecurity, ApiUnauthorizedResponse } from '@nestjs/swagger';
import type { Request } from 'express';
import { Action } from './actions';
import { ResourceType } from './key.entity';
import { AuthenticatedKey } from './keys.service';
import { ResolvedResource } from './resource-resolver.service';

export const AUTHORIZE_METADATA = 'mserve:authorize';
export const PUBLIC_METADATA = 'mserve:public';

export interface AuthorizeSpec {
  /** Omitted: any valid key will do. */
  action?: Action;
  /** The resource the action is on, taken from a route parameter. Omitted: the provider (or a list scoped by key). */
  resource?: ResourceType;
  param?: string;
}

export interface RequestAuth extends AuthenticatedKey {
  target?: ResolvedResource;
}

export type AuthorizedRequest = Request & { auth?: RequestAuth; id?: string | number };

/**
 * Declares the action an operation needs, on which resource. The guard enforces it and OpenAPI shows it
 * (`x-mserve-action`, `x-mserve-resource`), so the documentation can never drift from the check.
 */
export function Authorize(action: Action, resource?: ResourceType, param = 'id') {
  return applyDecorators(
    SetMetadata(AUTHORIZE_METADATA, { action, resource, param } satisfies AuthorizeSpec),
    ApiBearerAuth('key'),
    ApiSecurity('keyQuery'),
    ApiExtension('x-mserve-action', action),
    ApiExtension('x-mserve-resource', resource ? `${resource} (path parameter :${param})` : "the key's own scope"),
    ApiUnauthorizedResponse({ description: 'No key, or an unknown, revoked or expired key (problem+json)' }),
    ApiForbiddenResponse({ description: `The key lacks \`${action}\`, or the service is suspended / outside its time window (problem+json)` }),
    ...(resource ? [ApiNotFoundResponse({ description: `The ${resource} does not exist or is outside the key's scope (problem+json)` })] : []),
  );
}

/** Any valid key (used by GET /me, which describes the key itself). */
export function Authenticated() {
  return applyDecorators(
    SetMetadata(AUTHORIZE_METADATA, {} satisfies AuthorizeSpec),
    ApiBearerAuth('key'),
    ApiSecurity('keyQuery'),
    ApiExtension('x-mserve-action', 'none (any valid key)'),
    ApiUnauthorizedResponse({ description: 'No key, or an unknown, revoked or expired key (problem+json)' }),
  );
}

/** Marks an operation that needs no key (health, metrics, docs, console assets). */
export const Public = () => applyDecorators(SetMetadata(PUBLIC_METADATA, true), ApiExtension('x-mserve-action', 'none (public, no key)'));

/** The authenticated key (and resolved target) of this request. */
export const Auth = createParamDecorator((_: unknown, context: ExecutionContext): RequestAuth => {
  const request = context.switchToHttp().getRequest<AuthorizedRequest>();
  return request.auth!;
});

import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { Problems } from '../common/problem';
import { enforceServiceState } from '../common/service-state';
import { UUID_PATTERN } from '../database/uuid';
import { AUTHORIZE_METADATA, AuthorizeSpec, AuthorizedRequest, PUBLIC_METADATA } from './authorize.decorator';
import { covers } from './keys.service';
import { RequestAuthenticator } from './request-authenticator';
import { ResourceResolver } from './resource-resolver.service';

/** Every route needs a key unless marked @Public(); routes declare their action with @Authorize(). */
@Injectable()
export class KeyGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly authenticator: RequestAuthenticator,
    private readonly resolver: ResourceResolver,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const targets = [context.getHandler(), context.getClass()];
    if (this.reflector.getAllAndOverride<boolean>(PUBLIC_METADATA, targets)) return true;
    const spec = this.reflector.getAllAndOverride<AuthorizeSpec | undefined>(AUTHORIZE_METADATA, targets);
    if (!spec) throw new Error(`route ${context.getClass().name}.${context.getHandler().name} declares neither @Authorize nor @Public`);
    const request = context.switchToHttp().getRequest<AuthorizedRequest>();
    const raw = spec.action && spec.resource ? request.params[spec.param ?? 'id'] : undefined;
    const id = Array.isArray(raw) ? raw[0] : raw;
    // a service target is read in the statement that looks the key up (a REST upload opens with one statement)
    const serviceId = spec.resource === 'service' && id && UUID_PATTERN.test(id) ? id : null;
    const found = serviceId ? await this.authenticator.authenticateAt(request, serviceId) : { auth: await this.authenticator.authenticate(request) };
    const auth = found.auth;
    request.auth = auth;
    if (!spec.action) return true;
    if (!spec.resource) {
      if (!auth.actions.has(spec.action)) throw Problems.missingActions([spec.action]);
      return true;
    }
    const target =
      serviceId && found.service !== undefined
        ? this.resolver.fromServicePlace(serviceId, found.service)
        : await this.resolver.resolve({ type: spec.resource, id: id ?? null });
    if (!covers(auth.key, target)) throw Problems.notFound(spec.resource, id);
    if (!auth.actions.has(spec.action)) throw Problems.missingActions([spec.action], `${spec.resource} ${id}`);
    enforceServiceState(target, spec.action, auth.actions);
    request.auth = { ...auth, target };
    return true;
  }
}

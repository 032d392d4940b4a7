import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { Problems } from '../common/problem';
import { enforceServiceState } from '../common/service-state';
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
    const auth = await this.authenticator.authenticate(request);
    request.auth = auth;
    if (!spec.action) return true;
    if (!spec.resource) {
      if (!auth.actions.has(spec.action)) throw Problems.missingActions([spec.action]);
      return true;
    }
    const raw = request.params[spec.param ?? 'id'];
    const id = Array.isArray(raw) ? raw[0] : raw;
    const target = await this.resolver.resolve({ type: spec.resource, id });
    if (!covers(auth.key, target)) throw Problems.notFound(spec.resource, id);
    if (!auth.actions.has(spec.action)) throw Problems.missingActions([spec.action], `${spec.resource} ${id}`);
    enforceServiceState(target, spec.action, auth.actions);
    request.auth = { ...auth, target };
    return true;
  }
}

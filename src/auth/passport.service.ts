import { Inject, Injectable } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';
import { Authenticator } from 'passport';
import { Strategy as LocalStrategy } from 'passport-local';
import { ProblemError } from '../common/problem';
import { APP_CONFIG, AppConfig } from '../config/config';
import { AuthService } from './auth.service';
import { User } from './user.entity';

type OpenIdClient = typeof import('openid-client');
type OpenIdPassport = typeof import('openid-client/passport');

export const OIDC_CALLBACK_PATH = '/api/v1/session/oidc/callback';

/**
 * passport, with two strategies: `local` (user name + password, through AuthService's rate-limited check) and
 * `oidc` (openid-client's strategy: authorization code + PKCE, with state and nonce added to every request and
 * checked on the way back). Sessions are ours (express-session), so passport runs with `session: false`.
 */
@Injectable()
export class PassportService {
  private readonly passport = new Authenticator();
  private oidcReady?: Promise<void>;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly auth: AuthService,
  ) {
    this.passport.use(
      'local',
      new LocalStrategy(
        { passReqToCallback: true },
        (request: Request, username: string, password: string, done: (error: unknown, user?: User | false) => void) => {
          this.auth.checkPassword(username, password, request.ip ?? 'unknown').then((user) => done(null, user), done);
        },
      ),
    );
  }

  get oidcEnabled(): boolean {
    return Boolean(this.config.oidc);
  }

  /** Discovery happens on first use (the provider may start after MServe), and again after a failure. */
  private ensureOidc(): Promise<void> {
    const oidc = this.config.oidc;
    if (!oidc)
      return Promise.reject(new ProblemError(404, 'not-found', 'Not Found', 'OpenID Connect login is not configured (set OIDC_ISSUER and OIDC_CLIENT_ID)'));
    this.oidcReady ??= (async () => {
      const client: OpenIdClient = await import('openid-client');
      const { Strategy }: OpenIdPassport = await import('openid-client/passport');
      const configuration = await client.discovery(
        new URL(oidc.issuer),
        oidc.clientId,
        oidc.clientSecret,
        undefined,
        oidc.allowHttp ? { execute: [client.allowInsecureRequests] } : undefined,
      );
      class StateAndNonceStrategy extends Strategy {
        override authorizationRequestParams<T extends import('openid-client/passport').AuthenticateOptions>(request: Request, options: T) {
          const params = new URLSearchParams(super.authorizationRequestParams(request, options) ?? undefined);
          params.set('state', client.randomState());
          params.set('nonce', client.randomNonce());
          return params;
        }
      }
      const issuer = configuration.serverMetadata().issuer;
      this.passport.use(
        'oidc',
        new StateAndNonceStrategy(
          { config: configuration, scope: oidc.scopes, callbackURL: `${this.config.publicUrl}${OIDC_CALLBACK_PATH}`, sessionKey: 'oidc' },
          (tokens, done) => {
            const claims = tokens.claims();
            if (!claims?.sub) {
              done(new ProblemError(502, 'oidc', 'Bad Gateway', 'the identity provider returned no subject'));
              return;
            }
            // Providers may keep email and name out of the ID token (they are in UserInfo): ask, bound to the same sub.
            const profile = tokens.access_token ? client.fetchUserInfo(configuration, tokens.access_token, claims.sub).catch(() => ({})) : Promise.resolve({});
            profile.then((info) => this.auth.oidcUser(issuer, { ...info, ...claims })).then((user) => done(null, user), done);
          },
        ),
      );
    })().catch((error: unknown) => {
      this.oidcReady = undefined;
      throw new ProblemError(
        502,
        'oidc-unavailable',
        'Bad Gateway',
        `the identity provider ${oidc.issuer} cannot be reached: ${error instanceof Error ? error.message : String(error)}`,
      );
    });
    return this.oidcReady;
  }

  /** Runs a strategy; resolves with the user, or with why it failed. A redirect (to the provider) ends the response. */
  async run(name: 'local' | 'oidc', request: Request, response: Response): Promise<{ user?: User; reason?: string; redirected: boolean }> {
    if (name === 'oidc') await this.ensureOidc();
    return new Promise((resolve, reject) => {
      const next: NextFunction = (error?: unknown) => (error ? reject(error) : resolve({ redirected: false, reason: 'no result' }));
      const end = response.end.bind(response);
      let redirected = false;
      response.end = ((...args: Parameters<Response['end']>) => {
        redirected = response.statusCode >= 300 && response.statusCode < 400;
        const result = end(...args);
        if (redirected) resolve({ redirected: true });
        return result;
      }) as Response['end'];
      this.passport.authenticate(name, { session: false }, (error: unknown, user: User | false, info?: { message?: string }) => {
        response.end = end;
        if (error) reject(error);
        else resolve(user ? { user, redirected: false } : { reason: info?.message ?? 'authentication failed', redirected: false });
      })(request, response, next);
    });
  }
}

import { Body, Controller, Delete, Get, HttpCode, Inject, Param, ParseUUIDPipe, Patch, Post, Put, Req, Res } from '@nestjs/common';
import { ApiExcludeEndpoint, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { ProblemError, Problems } from '../common/problem';
import { APP_CONFIG, AppConfig } from '../config/config';
import { Public } from '../keys/authorize.decorator';
import { AuthService, presentUser } from './auth.service';
import { AddKeyDto, ChangeHeldKeyDto, ChangePasswordDto, LoginDto } from './dto';
import { PassportService } from './passport.service';
import { csrfToken, requireCsrf } from '../common/csrf';
import { verifyPassword } from './password';
import { UserRepository } from './user.repository';
import { ApiResource } from '../common/api-responses';
import { HeldKeySchema, SessionSchema } from './user.schema';

/** A share link pasted whole works as well as the bare key. */
export function keyFromText(text: string): string {
  const match = /\/browse\/([^/?#\s]+)/.exec(text);
  return (match ? decodeURIComponent(match[1]) : text).trim();
}

function regenerate(request: Request): Promise<void> {
  const keep = request.session.keyIds;
  return new Promise((resolve, reject) =>
    request.session.regenerate((error) => {
      if (error) return reject(error);
      if (keep?.length) request.session.keyIds = keep;
      request.session.createdAt = Date.now();
      resolve();
    }),
  );
}

/**
 * The session of a person using the console: who is logged in, the keys they hold, the CSRF token. Everything
 * else the console does goes through the public REST API, acting with one of these keys.
 */
@ApiTags('session')
@Controller('session')
export class SessionController {
  constructor(
    private readonly auth: AuthService,
    private readonly passport: PassportService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly users: UserRepository,
  ) {}

  @Get()
  @Public()
  @ApiOperation({ summary: 'This browser session: the user (if logged in), the keys it holds, its CSRF token, the login methods on offer' })
  @ApiResource(SessionSchema, 'The session')
  async state(@Req() request: Request) {
    const userId = request.session.userId;
    const user = userId ? await this.auth.user(userId) : null;
    if (userId && !user) delete request.session.userId; // deleted or disabled since
    const token = csrfToken(request);
    const keys = await this.auth.wallet(request);
    const expiresAt = request.session.cookie.expires ?? null;
    return {
      user: user ? presentUser(user) : null,
      csrfToken: token,
      keys,
      oidc: { enabled: this.passport.oidcEnabled, label: this.config.oidc?.label ?? '' },
      expiresAt,
    };
  }

  @Post('login')
  @Public()
  @HttpCode(200)
  @ApiOperation({ summary: 'Log in with user name and password (needs X-CSRF-Token from GET /session). 401 on a wrong pair, 429 after repeated failures' })
  @ApiResource(SessionSchema, 'The session, logged in')
  async login(@Req() request: Request, @Res({ passthrough: true }) response: Response, @Body() _dto: LoginDto) {
    requireCsrf(request);
    const { user, reason } = await this.passport.run('local', request, response);
    if (!user) throw Problems.unauthenticated(reason ?? 'wrong user name or password');
    await regenerate(request);
    request.session.userId = user.id;
    await this.auth.rememberSession(user.id, request.sessionID);
    return this.state(request);
  }

  @Post('logout')
  @Public()
  @HttpCode(204)
  @ApiOperation({ summary: 'End this session (its pasted keys go with it)' })
  async logout(@Req() request: Request, @Res({ passthrough: true }) response: Response): Promise<void> {
    requireCsrf(request);
    await new Promise<void>((resolve, reject) => request.session.destroy((error) => (error ? reject(error) : resolve())));
    response.clearCookie('mserve.sid', { path: '/' });
  }

  @Post('keys')
  @Public()
  @ApiOperation({ summary: 'Hold a key in this session by its secret (paste a key or open a share link); save: true also keeps it in your wallet' })
  @ApiResource(HeldKeySchema, 'The key, held', 201)
  async addKey(@Req() request: Request, @Body() dto: AddKeyDto) {
    requireCsrf(request);
    const key = await this.auth.addKey(request, keyFromText(dto.key), dto.save ?? false);
    const held = (await this.auth.wallet(request)).find((entry) => entry.id === key.id);
    if (!held) throw Problems.unauthenticated('the key cannot be used');
    return held;
  }

  @Patch('keys/:id')
  @Public()
  @HttpCode(204)
  @ApiOperation({ summary: 'Keep a held key in your wallet, or only in this session' })
  async changeKey(@Req() request: Request, @Param('id', new ParseUUIDPipe()) id: string, @Body() dto: ChangeHeldKeyDto): Promise<void> {
    requireCsrf(request);
    await this.auth.changeKey(request, id, dto.save ? 'save' : 'unsave');
  }

  @Delete('keys/:id')
  @Public()
  @HttpCode(204)
  @ApiOperation({ summary: 'Stop holding a key (this session and your wallet); the key itself stays valid — revoke it for that' })
  async forgetKey(@Req() request: Request, @Param('id', new ParseUUIDPipe()) id: string): Promise<void> {
    requireCsrf(request);
    await this.auth.changeKey(request, id, 'forget');
  }

  @Put('password')
  @Public()
  @HttpCode(204)
  @ApiOperation({ summary: "Change the logged-in user's password (the current one is required when set)" })
  async password(@Req() request: Request, @Body() dto: ChangePasswordDto): Promise<void> {
    requireCsrf(request);
    const userId = request.session.userId;
    if (!userId) throw Problems.unauthenticated('log in first');
    const user = await this.users.findWithPasswordById(userId);
    if (!user) throw Problems.unauthenticated('log in first');
    if (user.passwordHash) {
      // the same rate-limited check as a login: a stolen session cannot guess the password here either
      const right = user.username
        ? await this.auth.checkPassword(user.username, dto.currentPassword ?? '', request.ip ?? 'unknown').then(
            () => true,
            (error: unknown) => {
              if (error instanceof ProblemError && error.status === 401) return false;
              throw error;
            },
          )
        : await verifyPassword(dto.currentPassword ?? '', user.passwordHash);
      if (!right) throw Problems.forbidden('the current password is wrong', { errors: ['currentPassword is wrong'] });
    }
    await this.auth.setPassword(userId, dto.password);
    // every other session of this person ends (a stolen session does not survive the change)
    await this.auth.endSessions(userId, request.sessionID);
  }

  @Get('oidc/login')
  @Public()
  @ApiExcludeEndpoint()
  async oidcLogin(@Req() request: Request, @Res() response: Response): Promise<void> {
    csrfToken(request); // the session must exist to carry the state back
    const result = await this.passport.run('oidc', request, response);
    if (!result.redirected) response.redirect(303, `/login?error=${encodeURIComponent(result.reason ?? 'login failed')}`);
  }

  @Get('oidc/callback')
  @Public()
  @ApiExcludeEndpoint()
  async oidcCallback(@Req() request: Request, @Res() response: Response): Promise<void> {
    let failure: string;
    try {
      const { user, reason } = await this.passport.run('oidc', request, response);
      if (user) {
        await regenerate(request);
        request.session.userId = user.id;
        await this.auth.rememberSession(user.id, request.sessionID);
        csrfToken(request);
        response.redirect(303, '/');
        return;
      }
      failure = reason ?? 'login failed';
    } catch (error) {
      failure = error instanceof Error ? error.message : String(error);
    }
    response.redirect(303, `/login?error=${encodeURIComponent(`OpenID Connect login failed: ${failure}`)}`);
  }
}

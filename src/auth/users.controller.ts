import { Body, Controller, Delete, Get, HttpCode, Param, ParseUUIDPipe, Patch, Post, Put } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { ProblemError, Problems } from '../common/problem';
import { ACTIONS } from '../keys/actions';
import { Auth, Authorize, RequestAuth } from '../keys/authorize.decorator';
import { KeysService, presentKey } from '../keys/keys.service';
import { AuthService, presentUser } from './auth.service';
import { CreateUserDto, GiveKeyDto, UpdateUserDto } from './dto';
import { keyFromText } from './session.controller';
import { User } from './user.entity';
import { UserRepository } from './user.repository';
import { ApiDone, ApiItems, ApiProblems, ApiResource } from '../common/api-responses';
import { KeySchema } from '../keys/key.schema';
import { UserSchema } from './user.schema';

/**
 * Accounts are the provider administrator's: a key that can set someone's password can act with everything in
 * their wallet, so only a provider key holding every action (the admin key, or a full copy) may manage them.
 */
function requireProvider(auth: RequestAuth): void {
  if (auth.key.resourceType !== 'provider' || !ACTIONS.every((action) => auth.actions.has(action))) {
    throw Problems.forbidden('this key lacks the provider admin role: user accounts are managed with the provider admin key (every action, provider scope)');
  }
}

/**
 * Accounts, for the provider: create people with a password, reset or disable them, and put keys in their
 * wallets (by the key's secret — whoever gives a key must hold it).
 */
@ApiTags('users')
@Controller('users')
export class UsersController {
  constructor(
    private readonly auth: AuthService,
    private readonly keys: KeysService,
    private readonly users: UserRepository,
  ) {}

  @Get()
  @Authorize('key:create')
  @ApiOperation({ summary: 'List user accounts (provider admin key)' })
  @ApiItems(UserSchema, 'Every user')
  async list(@Auth() auth: RequestAuth) {
    requireProvider(auth);
    const users = await this.users.list(1000);
    return { items: users.map(presentUser) };
  }

  @Post()
  @Authorize('key:create')
  @ApiOperation({ summary: 'Create a user account with a password (provider admin key)' })
  @ApiResource(UserSchema, 'The new user', 201)
  async create(@Auth() auth: RequestAuth, @Body() dto: CreateUserDto) {
    requireProvider(auth);
    return presentUser(await this.auth.createUser(dto));
  }

  @Patch(':id')
  @Authorize('key:create')
  @ApiOperation({ summary: 'Reset a password, disable or re-enable an account (provider admin key)' })
  @ApiResource(UserSchema, 'The user as they are now')
  async update(@Auth() auth: RequestAuth, @Param('id', new ParseUUIDPipe()) id: string, @Body() dto: UpdateUserDto) {
    requireProvider(auth);
    if (!(await this.users.exists(id))) throw Problems.notFound('user', id);
    if (dto.password !== undefined) await this.auth.setPassword(id, dto.password);
    const changes: Partial<User> = {};
    if (dto.disabled !== undefined) changes.disabled = dto.disabled;
    if (dto.displayName !== undefined) changes.displayName = dto.displayName;
    if (Object.keys(changes).length) await this.users.update(id, changes);
    // a reset password or a disabled account ends every session the person has open
    if (dto.password !== undefined || dto.disabled) await this.auth.endSessions(id);
    return presentUser((await this.users.findById(id))!);
  }

  @Get(':id/keys')
  @Authorize('key:create')
  @ApiOperation({ summary: "The keys in a user's wallet (provider admin key)" })
  @ApiItems(KeySchema, "The keys in the user's wallet")
  async wallet(@Auth() auth: RequestAuth, @Param('id', new ParseUUIDPipe()) id: string) {
    requireProvider(auth);
    const keys = await this.users.walletKeys(id);
    return { items: keys.map(presentKey) };
  }

  @Put(':id/keys')
  @Authorize('key:create')
  @ApiOperation({ summary: "Put a key (given by its secret) in a user's wallet (provider admin key)" })
  @ApiResource(KeySchema, 'The key now in the wallet')
  @ApiProblems({ 422: 'The key given cannot be used (unknown, expired or revoked): the problem says why' })
  async give(@Auth() auth: RequestAuth, @Param('id', new ParseUUIDPipe()) id: string, @Body() dto: GiveKeyDto) {
    requireProvider(auth);
    if (!(await this.users.exists(id))) throw Problems.notFound('user', id);
    const { key } = await this.keys.authenticate(keyFromText(dto.key)).catch((error: unknown) => {
      // the key in the body is what is given, not this request's credential: a 401 would say the caller's key failed
      // (and make the console think its session ended)
      if (error instanceof ProblemError && error.status === 401) throw Problems.unprocessable(`the key to give cannot be used: ${error.detail}`);
      throw error;
    });
    await this.auth.saveKey(id, key.id);
    return presentKey(key);
  }

  @Delete(':id/keys/:keyId')
  @Authorize('key:create')
  @HttpCode(204)
  @ApiOperation({ summary: "Take a key out of a user's wallet (the key stays valid: revoke it for that)" })
  @ApiDone('Taken out')
  async take(@Auth() auth: RequestAuth, @Param('id', new ParseUUIDPipe()) id: string, @Param('keyId', new ParseUUIDPipe()) keyId: string): Promise<void> {
    requireProvider(auth);
    if (!(await this.users.removeKey(id, keyId))) throw Problems.notFound('wallet key', keyId);
  }
}

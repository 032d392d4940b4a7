import { Body, Controller, Delete, Get, Param, ParseUUIDPipe, Post, Query } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { PageQuery } from '../common/validation';
import { Auth, Authenticated, Authorize, RequestAuth } from './authorize.decorator';
import { DeriveKeyDto } from './dto';
import { KeysService, presentKey } from './keys.service';
import { ApiPage, ApiResource } from '../common/api-responses';
import { IssuedKeySchema, KeySchema, RevokedKeysSchema } from './key.schema';

@ApiTags('keys')
@Controller()
export class KeysController {
  constructor(private readonly keys: KeysService) {}

  @Get('me')
  @Authenticated()
  @ApiOperation({ summary: 'Describe the presented key: resource, roles, actions, expiry (any valid key; the action shown is not required)' })
  @ApiResource(KeySchema, 'The presented key')
  me(@Auth() auth: RequestAuth) {
    return presentKey(auth.key);
  }

  @Post('keys')
  @Authorize('key:create')
  @ApiOperation({ summary: "Derive a sub-key: a subset of the presented key's actions, on its resource or one below, expiring no later" })
  @ApiResource(IssuedKeySchema, 'The new key with its secret `key`, shown once', 201)
  async derive(@Auth() auth: RequestAuth, @Body() dto: DeriveKeyDto) {
    const issued = await this.keys.derive(auth, { ...dto, resource: dto.resource ? { type: dto.resource.type, id: dto.resource.id ?? null } : undefined });
    return { ...presentKey(issued.key), key: issued.secret };
  }

  @Get('keys')
  @Authorize('key:read')
  @ApiOperation({ summary: 'List the keys derived from (or minted by) the presented key' })
  @ApiPage(KeySchema, 'A page of the keys')
  list(@Auth() auth: RequestAuth, @Query() query: PageQuery) {
    return this.keys.listManaged(auth.key, query.cursor, query.limit);
  }

  @Get('keys/:id')
  @Authorize('key:read')
  @ApiOperation({ summary: 'Read a key the presented key manages' })
  @ApiResource(KeySchema, 'The key')
  async get(@Auth() auth: RequestAuth, @Param('id', new ParseUUIDPipe()) id: string) {
    return presentKey(await this.keys.get(auth, id));
  }

  @Delete('keys/:id')
  @Authorize('key:revoke')
  @ApiOperation({ summary: 'Revoke a key and every key derived from it; effective on the next request' })
  @ApiResource(RevokedKeysSchema, 'The ids of every key revoked: it and its descendants')
  revoke(@Auth() auth: RequestAuth, @Param('id', new ParseUUIDPipe()) id: string) {
    return this.keys.revoke(auth, id);
  }
}

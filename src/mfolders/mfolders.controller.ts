import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Query } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { Auth, Authorize, RequestAuth } from '../keys/authorize.decorator';
import { CreateMfolderDto, ListMfoldersQuery, UpdateMfolderDto } from './dto';
import { MfoldersService } from './mfolders.service';
import { ApiDone, ApiPage, ApiResource } from '../common/api-responses';
import { MfolderSchema } from './mfolder.schema';

@ApiTags('mfolders')
@Controller('mfolders')
export class MfoldersController {
  constructor(private readonly folders: MfoldersService) {}

  @Post(':id/mfolders')
  @Authorize('mfolder:write', 'mfolder')
  @ApiOperation({ summary: "Create a subfolder (a service's root folder id is `rootFolderId` on the service)" })
  @ApiResource(MfolderSchema, 'The new folder', 201)
  create(@Param('id') parentId: string, @Body() dto: CreateMfolderDto) {
    return this.folders.create(parentId, dto);
  }

  @Get(':id')
  @Authorize('mfolder:read', 'mfolder')
  @ApiOperation({ summary: 'Read a folder' })
  @ApiResource(MfolderSchema, 'The folder')
  get(@Param('id') id: string) {
    return this.folders.get(id);
  }

  @Get(':id/mfolders')
  @Authorize('mfolder:read', 'mfolder')
  @ApiOperation({ summary: 'List the subfolders of a folder' })
  @ApiPage(MfolderSchema, 'A page of the subfolders')
  list(@Param('id') id: string, @Query() query: ListMfoldersQuery) {
    return this.folders.listChildren(id, query);
  }

  @Patch(':id')
  @Authorize('mfolder:write', 'mfolder')
  @ApiOperation({ summary: 'Rename and/or move a folder' })
  @ApiResource(MfolderSchema, 'The folder as it is now')
  update(@Auth() auth: RequestAuth, @Param('id') id: string, @Body() dto: UpdateMfolderDto) {
    return this.folders.update(auth, id, dto);
  }

  @Delete(':id')
  @HttpCode(204)
  @Authorize('mfolder:write', 'mfolder')
  @ApiOperation({ summary: 'Delete a folder and everything below it (also needs mfile:delete when it holds files)' })
  @ApiDone('Deleted, with everything below it')
  async remove(@Auth() auth: RequestAuth, @Param('id') id: string) {
    await this.folders.remove(auth, id);
  }
}

import { Body, Controller, Delete, Get, Head, HttpCode, Param, Patch, Post, Put, Query, Req, Res } from '@nestjs/common';
import { ApiBody, ApiConsumes, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { Auth, Authorize, RequestAuth } from '../keys/authorize.decorator';
import { ListMfilesQuery, UpdateMfileDto, UploadQuery } from './dto';
import { expressSink } from './express-sink';
import { presentMfile } from './mfile.presenter';
import { MfilesService } from './mfiles.service';
import { ApiBytes, ApiDone, ApiPage, ApiResource } from '../common/api-responses';
import { CreatedMfileSchema, MfileSchema } from './mfile.schema';

const UPLOAD_BODY = {
  description: 'multipart/form-data with a `file` field, or the raw bytes with ?name=',
  schema: { type: 'object', properties: { file: { type: 'string', format: 'binary' } } },
};

@ApiTags('mfiles')
@Controller()
export class MfilesController {
  constructor(private readonly mfiles: MfilesService) {}

  @Post('services/:id/mfiles')
  @Authorize('mfile:create', 'service')
  @ApiOperation({
    summary: 'Upload a file into a service (streamed; md5 and sha256 computed on the way). Returns the Mfile and its mfileowner `key`, shown once',
  })
  @ApiConsumes('multipart/form-data', 'application/octet-stream')
  @ApiBody(UPLOAD_BODY)
  @ApiResource(
    CreatedMfileSchema,
    'The Mfile, its owner key (`key`, shown once) and `ingest`: the ingest run the upload started (null when the profile has none for it)',
    201,
  )
  upload(@Auth() auth: RequestAuth, @Req() request: Request, @Query() query: UploadQuery) {
    return this.mfiles.upload(auth, request, query);
  }

  @Post('mfolders/:id/mfiles')
  @Authorize('mfile:create', 'mfolder')
  @ApiOperation({ summary: 'Upload a file into a folder (same as the service upload)' })
  @ApiConsumes('multipart/form-data', 'application/octet-stream')
  @ApiBody(UPLOAD_BODY)
  @ApiResource(CreatedMfileSchema, 'The Mfile, its owner key (shown once) and the ingest run it started', 201)
  uploadToFolder(@Auth() auth: RequestAuth, @Req() request: Request, @Query() query: UploadQuery) {
    return this.mfiles.upload(auth, request, { name: query.name });
  }

  @Get('services/:id/mfiles')
  @Authorize('mfile:read', 'service')
  @ApiOperation({ summary: 'List the files of a service, filtered by name, mimetype, date and folder' })
  @ApiPage(MfileSchema, 'A page of the files')
  list(@Param('id') serviceId: string, @Query() query: ListMfilesQuery) {
    return this.mfiles.list({ serviceId }, query);
  }

  @Get('mfolders/:id/mfiles')
  @Authorize('mfile:read', 'mfolder')
  @ApiOperation({ summary: 'List the files directly in a folder' })
  @ApiPage(MfileSchema, 'A page of the files in the folder')
  listFolder(@Param('id') folderId: string, @Query() query: ListMfilesQuery) {
    return this.mfiles.list({ folderId }, query);
  }

  @Get('mfiles/:id')
  @Authorize('mfile:read', 'mfile')
  @ApiOperation({ summary: 'Read an Mfile: size, md5, sha256, mimetype, metadata' })
  @ApiResource(MfileSchema, 'The Mfile')
  async get(@Param('id') id: string) {
    return presentMfile(await this.mfiles.get(id));
  }

  @Patch('mfiles/:id')
  @Authorize('mfile:write', 'mfile')
  @ApiOperation({ summary: 'Rename and/or move an Mfile' })
  @ApiResource(MfileSchema, 'The Mfile as it is now')
  update(@Auth() auth: RequestAuth, @Param('id') id: string, @Body() dto: UpdateMfileDto) {
    return this.mfiles.update(auth, id, dto);
  }

  @Delete('mfiles/:id')
  @HttpCode(204)
  @Authorize('mfile:delete', 'mfile')
  @ApiOperation({ summary: 'Delete an Mfile, its bytes and its keys' })
  @ApiDone('Deleted, with its bytes and keys')
  async remove(@Param('id') id: string) {
    await this.mfiles.remove(id);
  }

  @Get('mfiles/:id/content')
  @Authorize('mfile:read', 'mfile')
  @ApiOperation({
    summary:
      "Download the content: ETag and Repr-Digest (sha-256), conditional requests, one Range (206) or several (206 multipart/byteranges), throttled to the service's accessSpeed",
  })
  @ApiBytes('The content', 'application/octet-stream', 'multipart/byteranges')
  @ApiResponse({
    status: 307,
    description:
      'With STORAGE=s3 and S3_PRESIGNED_DOWNLOAD_MIN_BYTES, a file at least that large (in a service without accessSpeed) is served by the store: Location is a short-lived presigned URL of the object (the same type and disposition; Range honoured). Preconditions (304, 412, 416) are still answered here.',
    headers: { Location: { description: 'the presigned URL', schema: { type: 'string', format: 'uri' } } },
  })
  async download(@Param('id') id: string, @Req() request: Request, @Res() response: Response) {
    await this.mfiles.sendDownload(request, expressSink(response), await this.mfiles.get(id), { mayRedirect: true });
  }

  @Head('mfiles/:id/content')
  @Authorize('mfile:read', 'mfile')
  @ApiOperation({ summary: 'Headers of the content: size, type, ETag, Repr-Digest' })
  @ApiBytes('The headers the content would have, no body', 'application/octet-stream')
  async head(@Param('id') id: string, @Req() request: Request, @Res() response: Response) {
    await this.mfiles.sendDownload(request, expressSink(response), await this.mfiles.get(id));
  }

  @Put('mfiles/:id/content')
  @Authorize('mfile:write', 'mfile')
  @ApiOperation({ summary: 'Replace the content (raw body or multipart); the old bytes are released after the new ones commit' })
  @ApiConsumes('application/octet-stream', 'multipart/form-data')
  @ApiBody(UPLOAD_BODY)
  @ApiResource(MfileSchema, 'The Mfile with its new content (size, digests, mimetype)')
  replace(@Param('id') id: string, @Req() request: Request) {
    return this.mfiles.replaceContent(id, request);
  }
}

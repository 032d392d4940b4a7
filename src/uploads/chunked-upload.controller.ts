import { Controller, Delete, Get, HttpCode, Param, Post, Put, Query, Req, Res } from '@nestjs/common';
import { ApiHeader, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { Problems } from '../common/problem';
import { Auth, Authorize, RequestAuth } from '../keys/authorize.decorator';
import { UploadQuery } from '../mfiles/dto';
import { parseContentRange } from './byte-ranges';
import { chunkDigestChecksums, reprDigest } from './chunk-checksums';
import { UploadSession } from './upload-session.entity';
import { UploadProgress, UploadSessionsService } from './upload-sessions.service';
import { ApiBytesBody, ApiDone, ApiProblems, ApiResource } from '../common/api-responses';
import { ChunkedUploadSchema } from './upload.schema';

function contentRange(request: Request) {
  const range = parseContentRange(request.headers['content-range']);
  if (!range) throw Problems.badRequest('Content-Range must be "bytes <first>-<last>/<total>"', { errors: ['Content-Range is missing or malformed'] });
  if (range.start > range.end) throw Problems.badRequest(`Content-Range ${range.start}-${range.end} ends before it starts`);
  const length = request.headers['content-length'];
  if (length !== undefined && Number(length) !== range.end - range.start + 1) {
    throw Problems.badRequest(`Content-Length ${length} disagrees with Content-Range, which announces ${range.end - range.start + 1} bytes`);
  }
  return range;
}

/**
 * Chunked uploads with Content-Range (the SlideAtlas way): the first request creates the upload and answers its id;
 * the following ones carry `Content-Range: bytes a-b/total`, in any order; GET tells which ranges are missing.
 */
@ApiTags('uploads')
@Controller('services/:id/chunked-uploads')
export class ChunkedUploadController {
  constructor(private readonly uploads: UploadSessionsService) {}

  private status(session: UploadSession, progress?: UploadProgress): ChunkedUploadSchema {
    return {
      id: session.id,
      name: session.name,
      folderId: session.folderId,
      length: session.length,
      received: session.received,
      missing: this.uploads.missing(session),
      complete: session.completedAt !== null,
      expiresAt: session.expiresAt,
      ...(progress?.duplicate ? { duplicate: true } : {}),
      mfileId: session.mfileId,
      ...(progress?.mfile ? { mfile: progress.mfile } : {}),
    };
  }

  @Post()
  @Authorize('mfile:create', 'service')
  @ApiOperation({
    summary:
      'Start a chunked upload with its first chunk (any chunk): ?name= (&folderId=), Content-Range bytes a-b/total; optional Repr-Digest of the whole file',
  })
  @ApiHeader({ name: 'Content-Range', required: true })
  @ApiResource(ChunkedUploadSchema, 'Started (Location: the upload); `mfile` when this chunk was the whole file', 201)
  @ApiBytesBody('The bytes of the range Content-Range names', 'application/octet-stream')
  @ApiProblems({
    416: 'The range is outside the length the upload declared',
    423: 'Another request is writing to this upload right now: retry when it has finished',
  })
  async start(@Auth() auth: RequestAuth, @Query() query: UploadQuery, @Req() request: Request, @Res() response: Response) {
    const range = contentRange(request);
    if (!query.name) throw Problems.badRequest('?name= is required', { errors: ['name is required'] });
    const session = await this.uploads.create(auth, {
      protocol: 'range',
      name: query.name,
      length: range.total,
      folderId: query.folderId,
      declaredType: request.headers['content-type'],
      expected: reprDigest(request.headers),
    });
    const progress = await this.uploads.writeRange(auth, session, request, range, chunkDigestChecksums(request.headers));
    response.status(201).setHeader('Location', `/api/v1/services/${session.serviceId}/chunked-uploads/${session.id}`);
    response.json(this.status(progress.session, progress));
  }

  @Put(':uploadId')
  @Authorize('mfile:create', 'service')
  @ApiOperation({ summary: 'Send one more chunk (Content-Range bytes a-b/total); 201 with the Mfile (and its key) when it was the last one' })
  @ApiHeader({ name: 'Content-Range', required: true })
  @ApiResource(ChunkedUploadSchema, 'Stored; where the upload stands')
  @ApiResource(ChunkedUploadSchema, 'The last chunk: the upload is complete and `mfile` tells the new file and its key (shown once)', 201)
  @ApiBytesBody('The bytes of the range Content-Range names', 'application/octet-stream')
  @ApiProblems({
    416: 'The range is outside the length the upload declared',
    423: 'Another request is writing to this upload right now: retry when it has finished',
  })
  async chunk(
    @Auth() auth: RequestAuth,
    @Param('id') serviceId: string,
    @Param('uploadId') uploadId: string,
    @Req() request: Request,
    @Res() response: Response,
  ) {
    const range = contentRange(request);
    const session = await this.uploads.find(serviceId, uploadId);
    const progress = await this.uploads.writeRange(auth, session, request, range, chunkDigestChecksums(request.headers));
    response.status(progress.mfile ? 201 : 200).json(this.status(progress.session, progress));
  }

  @Get(':uploadId')
  @Authorize('mfile:create', 'service')
  @ApiOperation({ summary: 'Status: received and missing ranges, and the Mfile once complete' })
  @ApiResource(ChunkedUploadSchema, 'Where the upload stands')
  async get(@Param('id') serviceId: string, @Param('uploadId') uploadId: string) {
    return this.status(await this.uploads.find(serviceId, uploadId));
  }

  @Delete(':uploadId')
  @HttpCode(204)
  @Authorize('mfile:create', 'service')
  @ApiOperation({ summary: 'Abandon an unfinished chunked upload and its bytes' })
  @ApiDone('Abandoned')
  @ApiProblems({ 423: 'Another request is writing to this upload right now: retry when it has finished' })
  async remove(@Param('id') serviceId: string, @Param('uploadId') uploadId: string) {
    const session = await this.uploads.find(serviceId, uploadId);
    if (session.completedAt) throw Problems.conflict('the upload is complete: delete the Mfile instead', { mfileId: session.mfileId });
    await this.uploads.terminate(session);
  }
}

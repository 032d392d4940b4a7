import { Controller, Delete, Head, HttpCode, Inject, Options, Param, Patch, Post, Req, Res } from '@nestjs/common';
import { ApiHeader, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { textProblem } from '../common/free-form';
import { ProblemError, Problems } from '../common/problem';
import { APP_CONFIG, AppConfig } from '../config/config';
import { Auth, Authorize, Public, RequestAuth } from '../keys/authorize.decorator';
import { ChunkChecksum, UploadProgress, UploadSessionsService } from './upload-sessions.service';
import { chunkDigestChecksums } from './chunk-checksums';
import { UploadSession } from './upload-session.entity';
import { Readable } from 'node:stream';
import { ExpectedDigests } from '../storage/digest-headers';
import { ApiBytesBody, ApiHeadersOnly, ApiProblems } from '../common/api-responses';

const TUS_VERSION = '1.0.0';
const EXTENSIONS = 'creation,creation-with-upload,termination,expiration,checksum';
const ALGORITHMS = ['md5', 'sha1', 'sha256'] as const;
function header(request: Request, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** `Upload-Metadata: key base64,key2 base64` → object (values decoded as UTF-8). */
export function parseUploadMetadata(value: string | undefined): Record<string, string> {
  const metadata: Record<string, string> = {};
  if (!value) return metadata;
  for (const pair of value.split(',')) {
    const [key, encoded = ''] = pair.trim().split(' ');
    if (!key || !/^[\x21-\x7e]+$/.test(key) || !/^[A-Za-z0-9+/]*={0,2}$/.test(encoded))
      throw Problems.badRequest('Upload-Metadata is malformed', { errors: ['Upload-Metadata must be "key base64value" pairs'] });
    const decoded = Buffer.from(encoded, 'base64').toString('utf8');
    // kept with the upload (jsonb) and echoed on HEAD: the rule of every stored text (free-form.ts)
    const problem = textProblem(decoded);
    if (problem) throw Problems.badRequest(`Upload-Metadata "${key}" ${problem}`, { errors: [`${key} ${problem}`] });
    metadata[key] = decoded;
  }
  return metadata;
}

/** `Upload-Checksum: sha1 <base64>` → the chunk checksum (460 on mismatch, per the tus checksum extension). */
function uploadChecksum(request: Request): ChunkChecksum[] {
  const value = header(request, 'upload-checksum');
  if (!value) return [];
  const [algorithm, expected] = value.trim().split(' ');
  if (!(ALGORITHMS as readonly string[]).includes(algorithm))
    throw Problems.badRequest(`Upload-Checksum algorithm ${algorithm} is not supported: use ${ALGORITHMS.join(', ')}`);
  if (!expected || !/^[A-Za-z0-9+/]+={0,2}$/.test(expected)) throw Problems.badRequest('Upload-Checksum value must be base64');
  return [{ algorithm: algorithm as ChunkChecksum['algorithm'], expected, header: 'Upload-Checksum', status: 460 }];
}

/**
 * The tus 1.0 protocol (core, creation, creation-with-upload, termination, expiration, checksum) at
 * /api/v1/services/:id/uploads. Implemented here rather than with @tus/server because that server has no checksum
 * extension, locks in memory by default, and owns its storage: ours must hash on the fly with resumable state,
 * lock across processes, enforce quotas and create the Mfile through the common path.
 */
@ApiTags('uploads')
@Controller('services/:id/uploads')
export class TusController {
  constructor(
    private readonly uploads: UploadSessionsService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  private common(response: Response): void {
    response.setHeader('Tus-Resumable', TUS_VERSION);
    response.setHeader('Cache-Control', 'no-store');
  }

  private requireVersion(request: Request, response: Response): void {
    const version = header(request, 'tus-resumable');
    if (version !== TUS_VERSION) {
      response.setHeader('Tus-Version', TUS_VERSION);
      throw new ProblemError(
        412,
        'tus-version',
        'Precondition Failed',
        `Tus-Resumable ${version ?? '(missing)'} is not supported: this server speaks tus ${TUS_VERSION}`,
      );
    }
  }

  private progressHeaders(response: Response, session: UploadSession, progress?: UploadProgress): void {
    response.setHeader('Upload-Offset', String(session.offset));
    response.setHeader('Upload-Expires', session.expiresAt.toUTCString());
    if (progress?.mfile) {
      response.setHeader('Mfile-Id', progress.mfile.id);
      response.setHeader('Mfile-Key', progress.mfile.key);
      if (progress.mfile.ingestRunId) response.setHeader('Ingest-Run-Id', progress.mfile.ingestRunId);
    } else if (session.mfileId) response.setHeader('Mfile-Id', session.mfileId);
  }

  @Options()
  @Public()
  @HttpCode(204)
  @ApiOperation({ summary: 'tus discovery: version, extensions, checksum algorithms, maximum size' })
  @ApiHeadersOnly(204, 'What this server offers', {
    'Tus-Version': '1.0.0',
    'Tus-Extension': 'The extensions offered',
    'Tus-Checksum-Algorithm': 'The checksum algorithms',
    'Tus-Max-Size': 'The largest upload, in bytes',
  })
  discover(@Res({ passthrough: true }) response: Response) {
    this.common(response);
    response.setHeader('Tus-Version', TUS_VERSION);
    response.setHeader('Tus-Extension', EXTENSIONS);
    response.setHeader('Tus-Checksum-Algorithm', ALGORITHMS.join(','));
    response.setHeader('Tus-Max-Size', String(this.config.maxUploadBytes));
  }

  @Post()
  @Authorize('mfile:create', 'service')
  @ApiOperation({ summary: 'tus creation (and creation-with-upload): Upload-Length, Upload-Metadata (filename, filetype, folderId)' })
  @ApiHeader({ name: 'Tus-Resumable', required: true })
  @ApiHeadersOnly(201, 'Created (with creation-with-upload, the bytes sent are stored)', {
    Location: 'The upload',
    'Upload-Offset': 'Bytes stored',
    'Mfile-Id': 'The new Mfile, when the upload is complete',
    'Mfile-Key': 'Its owner key, shown once',
    'Ingest-Run-Id': 'The ingest run it started',
  })
  @ApiBytesBody('creation-with-upload: the first bytes (optional)', 'application/offset+octet-stream')
  @ApiProblems({ 412: 'Tus-Resumable is missing or not a version this server speaks (1.0.0)' })
  async create(@Auth() auth: RequestAuth, @Req() request: Request, @Res() response: Response) {
    this.common(response);
    this.requireVersion(request, response);
    if (header(request, 'upload-defer-length'))
      throw Problems.badRequest('Upload-Defer-Length is not supported: send Upload-Length (the quota is checked against it)');
    const lengthHeader = header(request, 'upload-length');
    if (!lengthHeader || !/^\d{1,16}$/.test(lengthHeader))
      throw Problems.badRequest('Upload-Length is required and must be a non-negative integer', { errors: ['Upload-Length is required'] });
    const metadata = parseUploadMetadata(header(request, 'upload-metadata'));
    const name = metadata.filename ?? metadata.name;
    if (!name) throw Problems.badRequest('Upload-Metadata must carry the file name as "filename"', { errors: ['filename is required in Upload-Metadata'] });
    const expected: ExpectedDigests = {};
    if (metadata.sha256) expected.sha256 = { hex: metadata.sha256.toLowerCase(), header: 'sha256 in Upload-Metadata' };
    if (metadata.md5) expected.md5 = { hex: metadata.md5.toLowerCase(), header: 'md5 in Upload-Metadata' };
    const session = await this.uploads.create(auth, {
      protocol: 'tus',
      name,
      length: Number(lengthHeader),
      folderId: metadata.folderId,
      metadata,
      declaredType: metadata.filetype,
      expected,
    });
    response.setHeader('Location', `/api/v1/services/${session.serviceId}/uploads/${session.id}`);
    const hasBody = Number(header(request, 'content-length') ?? 0) > 0 || header(request, 'transfer-encoding');
    if (hasBody) {
      if (header(request, 'content-type') !== 'application/offset+octet-stream')
        throw Problems.unsupportedMediaType('creation-with-upload needs Content-Type: application/offset+octet-stream');
      const progress = await this.uploads.append(auth, session, request, 0, [...uploadChecksum(request), ...chunkDigestChecksums(request.headers)]);
      this.progressHeaders(response, progress.session, progress);
    } else if (session.length === 0) {
      // an empty file is complete once created: clients (tus-js-client) send no PATCH for it
      const progress = await this.uploads.append(auth, session, Readable.from([]), 0, []);
      this.progressHeaders(response, progress.session, progress);
    } else this.progressHeaders(response, session);
    response.status(201).end();
  }

  @Head(':uploadId')
  @Authorize('mfile:create', 'service')
  @ApiOperation({ summary: 'tus: the current offset of an upload' })
  @ApiHeadersOnly(200, 'Where the upload stands', { 'Upload-Offset': 'Bytes stored', 'Upload-Length': 'Bytes in all', 'Mfile-Id': 'The Mfile, once complete' })
  @ApiProblems({ 412: 'Tus-Resumable is missing or not a version this server speaks (1.0.0)' })
  async head(@Param('id') serviceId: string, @Param('uploadId') uploadId: string, @Req() request: Request, @Res() response: Response) {
    this.common(response);
    this.requireVersion(request, response);
    const session = await this.uploads.find(serviceId, uploadId);
    response.setHeader('Upload-Length', String(session.length));
    const metadata = session.metadata.tus as Record<string, string> | undefined;
    if (metadata)
      response.setHeader(
        'Upload-Metadata',
        Object.entries(metadata)
          .map(([key, value]) => `${key} ${Buffer.from(value).toString('base64')}`)
          .join(','),
      );
    this.progressHeaders(response, session);
    response.status(200).end();
  }

  @Patch(':uploadId')
  @Authorize('mfile:create', 'service')
  @ApiOperation({ summary: 'tus: append bytes at Upload-Offset (Content-Type application/offset+octet-stream, optional Upload-Checksum)' })
  @ApiHeadersOnly(204, 'Stored', {
    'Upload-Offset': 'Bytes stored now',
    'Mfile-Id': 'The new Mfile, when this completed the upload',
    'Mfile-Key': 'Its owner key, shown once',
    'Ingest-Run-Id': 'The ingest run it started',
  })
  @ApiBytesBody('The bytes from Upload-Offset on', 'application/offset+octet-stream')
  @ApiProblems({
    412: 'Tus-Resumable is missing or not a version this server speaks (1.0.0)',
    423: 'Another request is writing to this upload right now: retry when it has finished',
    460: 'Upload-Checksum does not match the bytes sent: nothing of them was kept',
  })
  async patch(
    @Auth() auth: RequestAuth,
    @Param('id') serviceId: string,
    @Param('uploadId') uploadId: string,
    @Req() request: Request,
    @Res() response: Response,
  ) {
    this.common(response);
    this.requireVersion(request, response);
    if (header(request, 'content-type') !== 'application/offset+octet-stream')
      throw Problems.unsupportedMediaType('PATCH needs Content-Type: application/offset+octet-stream');
    const offset = header(request, 'upload-offset');
    if (!offset || !/^\d{1,16}$/.test(offset)) throw Problems.badRequest('Upload-Offset is required and must be a non-negative integer');
    const checksums = [...uploadChecksum(request), ...chunkDigestChecksums(request.headers)];
    const session = await this.uploads.find(serviceId, uploadId);
    const progress = await this.uploads.append(auth, session, request, Number(offset), checksums);
    this.progressHeaders(response, progress.session, progress);
    response.status(204).end();
  }

  @Delete(':uploadId')
  @Authorize('mfile:create', 'service')
  @ApiOperation({ summary: 'tus termination: drop an unfinished upload and its bytes' })
  @ApiHeadersOnly(204, 'Dropped', {})
  @ApiProblems({
    412: 'Tus-Resumable is missing or not a version this server speaks (1.0.0)',
    423: 'Another request is writing to this upload right now: retry when it has finished',
  })
  async terminate(@Param('id') serviceId: string, @Param('uploadId') uploadId: string, @Req() request: Request, @Res() response: Response) {
    this.common(response);
    this.requireVersion(request, response);
    const session = await this.uploads.find(serviceId, uploadId);
    if (session.completedAt) throw Problems.conflict('the upload is complete: delete the Mfile instead', { mfileId: session.mfileId });
    await this.uploads.terminate(session);
    response.status(204).end();
  }
}

import { Controller, Get, Param, Post, Query, Req, Res } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { Problems } from '../common/problem';
import { PageQuery } from '../common/validation';
import { Auth, Authorize, RequestAuth } from '../keys/authorize.decorator';
import { sendContent } from '../mfiles/download';
import { expressSink } from '../mfiles/express-sink';
import { MfilesService } from '../mfiles/mfiles.service';
import { BlobStore } from '../storage/blob-store';
import { JobOutputsService, presentOutput } from './job-outputs.service';
import { ApiBytes, ApiPage, ApiProblems, ApiResource } from '../common/api-responses';
import { CreatedMfileSchema } from '../mfiles/mfile.schema';
import { JobOutputSchema } from './job-output.schema';

@ApiTags('jobs')
@Controller()
export class JobOutputsController {
  constructor(
    private readonly outputs: JobOutputsService,
    private readonly store: BlobStore,
    private readonly mfiles: MfilesService,
  ) {}

  @Get('jobs/:id/outputs')
  @Authorize('joboutput:read', 'job')
  @ApiOperation({ summary: 'List the outputs of a job' })
  @ApiPage(JobOutputSchema, 'A page of the outputs')
  list(@Param('id') jobId: string, @Query() query: PageQuery) {
    return this.outputs.list(jobId, query);
  }

  @Get('joboutputs/:id')
  @Authorize('joboutput:read', 'joboutput')
  @ApiOperation({ summary: 'Read a job output' })
  @ApiResource(JobOutputSchema, 'The output')
  async get(@Param('id') id: string) {
    return presentOutput(await this.outputs.get(id));
  }

  @Get('joboutputs/:id/content')
  @Authorize('joboutput:read', 'joboutput')
  @ApiOperation({
    summary:
      "Download the file of a job output (same headers, ranges and conditional requests as Mfile content; throttled to the service's accessSpeed; metered as access)",
  })
  @ApiBytes('The file', 'application/octet-stream', 'multipart/byteranges')
  async content(@Param('id') id: string, @Req() request: Request, @Res() response: Response) {
    const output = await this.outputs.get(id);
    if (!output.blobKey || output.size === null || !output.sha256) throw Problems.notFound('content of job output', id);
    const bytesPerSecond = await this.mfiles.accessSpeedOf(output.serviceId);
    const sent = await sendContent(
      this.store,
      request,
      expressSink(response),
      {
        blobKey: output.blobKey,
        size: output.size,
        sha256: output.sha256,
        mimetype: output.mimetype ?? 'application/octet-stream',
        name: output.name,
        contentUpdatedAt: output.createdAt,
      },
      { bytesPerSecond },
    );
    this.mfiles.meterAccess({ containerId: output.containerId, serviceId: output.serviceId, resourceType: 'joboutput', resourceId: output.id }, sent);
  }

  @Post('joboutputs/:id/mfile')
  @Authorize('joboutput:promote', 'joboutput')
  @ApiOperation({ summary: "Turn a file output into a new Mfile in the service's root folder; returns it with its mfileowner `key`" })
  @ApiResource(CreatedMfileSchema, 'The new Mfile with its owner key (shown once) and the ingest run it started', 201)
  @ApiProblems({ 507: 'The storage is full: no file was made' })
  promote(@Auth() auth: RequestAuth, @Param('id') id: string) {
    return this.outputs.promote(auth, id);
  }
}

import { Body, Controller, Delete, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { Auth, Authorize, Public, RequestAuth } from '../keys/authorize.decorator';
import { TASKS } from '../tasks/task-catalogue';
import { CreateJobDto, ListJobsQuery } from './dto';
import { JobsService } from './jobs.service';

@ApiTags('jobs')
@Controller()
export class JobsController {
  constructor(private readonly jobs: JobsService) {}

  @Get('tasks')
  @Public()
  @ApiOperation({ summary: 'The task registry: inputs, options, results and default queue of every task' })
  tasks() {
    return { items: Object.values(TASKS) };
  }

  @Post('jobs')
  @Authorize('job:create')
  @ApiOperation({ summary: 'Run a task on one or more Mfiles (job:create on each of them); dispatched at once' })
  create(@Auth() auth: RequestAuth, @Body() dto: CreateJobDto) {
    return this.jobs.create(auth, dto);
  }

  @Get('jobs/:id')
  @Authorize('job:read', 'job')
  @ApiOperation({ summary: 'Read a job: state, progress, result, error, worker' })
  get(@Param('id') id: string) {
    return this.jobs.get(id);
  }

  @Get('services/:id/jobs')
  @Authorize('job:read', 'service')
  @ApiOperation({ summary: 'List the jobs of a service' })
  listForService(@Param('id') serviceId: string, @Query() query: ListJobsQuery) {
    return this.jobs.list({ serviceId }, query);
  }

  @Get('mfiles/:id/jobs')
  @Authorize('job:read', 'mfile')
  @ApiOperation({ summary: 'List the jobs that ran on an Mfile' })
  listForMfile(@Param('id') mfileId: string, @Query() query: ListJobsQuery) {
    return this.jobs.list({ mfileId }, query);
  }

  @Post('jobs/:id/cancel')
  @Authorize('job:cancel', 'job')
  @ApiOperation({ summary: 'Cancel a queued or running job' })
  cancel(@Param('id') id: string) {
    return this.jobs.cancel(id);
  }

  @Delete('jobs/:id')
  @HttpCode(204)
  @Authorize('job:cancel', 'job')
  @ApiOperation({ summary: 'Delete a finished job and its outputs' })
  async remove(@Param('id') id: string) {
    await this.jobs.remove(id);
  }
}

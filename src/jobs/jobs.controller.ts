import { Body, Controller, Delete, Get, HttpCode, Param, Post, Query, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import { JobEvent as JobEventPayload, JobEvents } from '../pipelines/job-events';
import { FINAL_JOB_STATES, JobState } from './job.entity';
import { ApiCreatedResponse, ApiExtraModels, ApiOperation, ApiTags, getSchemaPath } from '@nestjs/swagger';
import { Auth, Authorize, Public, RequestAuth } from '../keys/authorize.decorator';
import { TASKS } from '../tasks/task-catalogue';
import { CreateJobDto, ListJobsQuery } from './dto';
import { EVENT_STREAM_SECONDS, EventStreams } from './event-streams';
import { JobsService } from './jobs.service';
import { KeysService } from '../keys/keys.service';
import { RateLimits } from '../redis/rate-limits';
import { ApiDone, ApiEventStream, ApiItems, ApiPage, ApiResource } from '../common/api-responses';
import { JobListSchema, JobSchema, TaskSchema } from './job.schema';

/**
 * Whether the stream's key may still act, asked again before each event and on each heartbeat: one check in flight
 * at a time, and the events that arrive during it share the next one (which starts after they arrived).
 */
function keyWatch(check: () => Promise<boolean>): () => Promise<boolean> {
  let running: Promise<boolean> | undefined;
  let next: Promise<boolean> | undefined;
  const verify = (): Promise<boolean> => {
    if (!running) {
      running = check()
        .catch(() => false)
        .finally(() => (running = undefined));
      return running;
    }
    return (next ??= running.then(() => {
      next = undefined;
      return verify();
    }));
  };
  return verify;
}

@ApiTags('jobs')
@Controller()
export class JobsController {
  constructor(
    private readonly jobs: JobsService,
    private readonly events: JobEvents,
    private readonly streams: EventStreams,
    private readonly keys: KeysService,
    private readonly limits: RateLimits,
  ) {}

  /** One of the key's SSE_STREAMS_PER_KEY slots (429 when none is free), and the watch on its revocation. */
  private async streamOptions(auth: RequestAuth, response: Response) {
    const release = await this.limits.takeStreamSlot(auth.key.id, EVENT_STREAM_SECONDS);
    response.once('close', release);
    return { authorized: keyWatch(() => this.keys.stillUsable(auth.key.id)) };
  }

  @Get('tasks')
  @Public()
  @ApiOperation({ summary: 'The task registry: inputs, options, results and default queue of every task' })
  @ApiItems(TaskSchema, 'Every task')
  tasks() {
    return { items: Object.values(TASKS) };
  }

  @Post('jobs')
  @Authorize('job:create')
  @ApiOperation({
    summary:
      "Run a task on as many Mfiles as it takes (its inputCount; job:create on each), dispatched at once; with each: true, one job per Mfile ({items: jobs}); or, with pipeline: 'manual', the service profile's manual pipeline on each ({items: jobs})",
  })
  @ApiExtraModels(JobSchema, JobListSchema)
  @ApiCreatedResponse({
    description: 'The job, or with `each: true` or a pipeline {items: jobs}',
    schema: { oneOf: [{ $ref: getSchemaPath(JobSchema) }, { $ref: getSchemaPath(JobListSchema) }] },
  })
  create(@Auth() auth: RequestAuth, @Body() dto: CreateJobDto) {
    return dto.pipeline ? this.jobs.runManualPipeline(auth, dto) : this.jobs.create(auth, dto);
  }

  @Get('jobs/:id')
  @Authorize('job:read', 'job')
  @ApiOperation({ summary: 'Read a job: state, progress, result, error, worker' })
  @ApiResource(JobSchema, 'The job')
  get(@Param('id') id: string) {
    return this.jobs.get(id);
  }

  @Get('jobs/:id/events')
  @Authorize('job:read', 'job')
  @ApiOperation({
    summary:
      'Follow a job as Server-Sent Events: `state` (the whole job) at once, then `progress` {progress} and `state` {state, error} as they change; the stream ends after a final state, after 5 minutes (EventSource reconnects, the key checked again) or when the key is revoked. Comments every 15 s keep proxies from closing it. At most SSE_STREAMS_PER_KEY streams per key (429).',
  })
  @ApiEventStream('`state` and `progress` events until the job ends')
  async follow(@Auth() auth: RequestAuth, @Param('id') id: string, @Req() request: Request, @Res() response: Response) {
    // follow first, then read: a change between the two is held back and sent after the snapshot. Both happen before
    // the stream opens, so a database or Redis outage is still answered with a problem (503), not a broken stream.
    const options = await this.streamOptions(auth, response);
    let held: JobEventPayload[] | undefined = [];
    let relay: (event: JobEventPayload) => void = () => undefined;
    const stop = await this.events.follow(id, (event) => (held ? held.push(event) : relay(event)));
    let job: Awaited<ReturnType<JobsService['get']>>;
    try {
      job = await this.jobs.get(id);
    } catch (error) {
      stop();
      throw error;
    }
    // a comment keeps proxies from closing the stream; the job is read again too, so a lost event cannot leave
    // the stream open after the job ended (or was deleted)
    const stream = this.streams.start(request, response, {
      ...options,
      tick: () =>
        void this.jobs
          .get(id)
          .then(
            (current) =>
              FINAL_JOB_STATES.includes(current.state) &&
              relay({
                jobId: id,
                serviceId: current.serviceId,
                state: current.state,
                progress: current.progress,
                error: current.error,
                at: new Date().toISOString(),
              }),
          )
          .catch(() => stream.finish()),
    });
    const { send, finish } = stream;
    stream.onFinish(stop);
    let lastState: string | undefined;
    relay = (event: JobEventPayload) => {
      if (stream.done) return;
      if (event.state !== lastState) send('state', { id, state: event.state, progress: event.progress, error: event.error ?? null, at: event.at });
      else if (event.progress !== undefined) send('progress', { id, progress: event.progress, at: event.at });
      lastState = event.state;
      if (FINAL_JOB_STATES.includes(event.state as JobState)) finish();
    };
    send('state', job);
    lastState = job.state;
    if (FINAL_JOB_STATES.includes(job.state)) return finish();
    const pending = held;
    held = undefined;
    // events held while the snapshot was read: only those that are news after it (clocks of different hosts are
    // not compared: a later state, or more progress, is news)
    const rank = (state: string) => (FINAL_JOB_STATES.includes(state as JobState) ? 3 : state === JobState.Running ? 2 : state === JobState.Queued ? 1 : 0);
    for (const event of pending) {
      if (rank(event.state) > rank(job.state) || (event.state === job.state && (event.progress ?? 0) > job.progress)) relay(event);
    }
  }

  @Get('services/:id/jobs/events')
  @Authorize('job:read', 'service')
  @ApiOperation({
    summary:
      'Follow every job of a service as Server-Sent Events: `ready` once listening (list the jobs then, and nothing is missed), then `job` {id, state, progress, error, at} for each change. Comments every 15 s keep proxies from closing it; it ends after 5 minutes, and EventSource clients reconnect (the key is checked again), or when the key is revoked (checked before each event). At most SSE_STREAMS_PER_KEY streams per key (429).',
  })
  @ApiEventStream('`ready`, then a `job` event per change')
  async followService(@Auth() auth: RequestAuth, @Param('id') serviceId: string, @Req() request: Request, @Res() response: Response) {
    // listening before the stream opens: Redis being down is answered with a problem (503), not a broken stream
    const options = await this.streamOptions(auth, response);
    let send: (event: JobEventPayload) => void = () => undefined;
    const stop = await this.events.followService(serviceId, (event) => send(event));
    const stream = this.streams.start(request, response, options);
    stream.onFinish(stop);
    send = (event) => stream.send('job', { id: event.jobId, state: event.state, progress: event.progress ?? null, error: event.error ?? null, at: event.at });
    stream.send('ready', { serviceId });
  }

  @Get('services/:id/events')
  @Authorize('mfile:read', 'service')
  @ApiOperation({
    summary:
      "Follow a service's events as Server-Sent Events, what its webhooks can be told: `ready` once listening, then one event per change named by its type (mfile.created, mfile.replaced, mfile.moved, mfile.deleted, upload.completed, upload.expired, quota.exceeded, service.suspended, service.resumed) with {id, type, at, serviceId, data}, and, for a key holding job:read, `job` {id, state, progress, error, at} for each job change. Ends, keeps alive and is limited as the job streams are.",
  })
  @ApiEventStream('`ready`, then one event per change, named by its type')
  async followServiceEvents(@Auth() auth: RequestAuth, @Param('id') serviceId: string, @Req() request: Request, @Res() response: Response) {
    const options = await this.streamOptions(auth, response);
    let send: (name: string, data: unknown) => void = () => undefined;
    // job changes only for a key that may read jobs (as on GET /services/:id/jobs/events)
    const stopJobs = auth.actions.has('job:read')
      ? await this.events.followService(serviceId, (event) =>
          send('job', { id: event.jobId, state: event.state, progress: event.progress ?? null, error: event.error ?? null, at: event.at }),
        )
      : () => undefined;
    const stopEvents = await this.events.followServiceEvents(serviceId, (event) => send(event.type, event));
    const stream = this.streams.start(request, response, options);
    stream.onFinish(() => {
      stopJobs();
      stopEvents();
    });
    send = (name, data) => stream.send(name, data);
    stream.send('ready', { serviceId });
  }

  @Get('services/:id/jobs')
  @Authorize('job:read', 'service')
  @ApiOperation({
    summary: 'List the jobs of a service (`order=newest` for the latest first); each with `mfileIds`, and `inputs` [{id, name}] for keys holding mfile:read',
  })
  @ApiPage(JobSchema, 'A page of the jobs')
  listForService(@Auth() auth: RequestAuth, @Param('id') serviceId: string, @Query() query: ListJobsQuery) {
    return this.jobs.list({ serviceId }, query, auth.actions.has('mfile:read'));
  }

  @Get('mfiles/:id/jobs')
  @Authorize('job:read', 'mfile')
  @ApiOperation({
    summary:
      'List the jobs that ran on an Mfile (`order=newest` for the latest first); each with `mfileIds`, and `inputs` [{id, name}] for keys holding mfile:read',
  })
  @ApiPage(JobSchema, 'A page of the jobs')
  listForMfile(@Auth() auth: RequestAuth, @Param('id') mfileId: string, @Query() query: ListJobsQuery) {
    return this.jobs.list({ mfileId }, query, auth.actions.has('mfile:read'));
  }

  @Post('jobs/:id/cancel')
  @Authorize('job:cancel', 'job')
  @ApiOperation({ summary: 'Cancel a queued or running job' })
  @ApiResource(JobSchema, 'The job as it is now', 201)
  cancel(@Param('id') id: string) {
    return this.jobs.cancel(id);
  }

  @Delete('jobs/:id')
  @HttpCode(204)
  @Authorize('job:cancel', 'job')
  @ApiOperation({ summary: 'Delete a finished job and its outputs' })
  @ApiDone('Deleted, with its outputs')
  async remove(@Param('id') id: string) {
    await this.jobs.remove(id);
  }
}

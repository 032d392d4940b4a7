import { Body, Controller, Delete, Get, HttpCode, Param, Post, Query, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import { JobEvent as JobEventPayload, JobEvents } from '../pipelines/job-events';
import { FINAL_JOB_STATES, JobState } from './job.entity';
import { ApiOperation, ApiProduces, ApiTags } from '@nestjs/swagger';
import { Auth, Authorize, Public, RequestAuth } from '../keys/authorize.decorator';
import { TASKS } from '../tasks/task-catalogue';
import { CreateJobDto, ListJobsQuery } from './dto';
import { JobsService } from './jobs.service';
import { KeysService } from '../keys/keys.service';
import { RateLimits } from '../redis/rate-limits';

/** How long an event stream stays open before the client reconnects (and its key is checked again). */
const STREAM_SECONDS = 300;

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

/**
 * Opens a Server-Sent Events response: `send(event, data)`, a comment every 15 s (after which `tick` runs, if
 * given), `finish()` once, also when the client leaves; `onFinish` adds what to undo then. `retryMs` tells
 * EventSource clients how soon to reconnect to a stream that ended. `authorized` is asked before every event and
 * heartbeat: once it says no (the key was revoked or expired), the stream ends without sending. Sends and finish
 * keep their order. Every stream ends after STREAM_SECONDS; EventSource reconnects and the key is checked anew.
 */
function openEventStream(request: Request, response: Response, options: { tick?: () => void; retryMs?: number; authorized: () => Promise<boolean> }) {
  response.status(200);
  response.setHeader('Content-Type', 'text/event-stream; charset=utf-8');
  response.setHeader('Cache-Control', 'no-store');
  response.setHeader('X-Accel-Buffering', 'no'); // nginx: do not buffer the stream
  response.flushHeaders();
  response.write(`retry: ${options.retryMs ?? 1000}\n\n`);
  const undo: Array<() => void> = [];
  let queue = Promise.resolve();
  const finishNow = () => {
    if (stream.done) return;
    stream.done = true;
    clearInterval(heartbeat);
    clearTimeout(lifetime);
    for (const step of undo) step();
    response.end();
  };
  const whenAuthorized = (write: () => void) => {
    queue = queue.then(() => (stream.done ? false : options.authorized())).then((ok) => (stream.done ? undefined : ok ? write() : finishNow()));
  };
  const stream = {
    done: false,
    send: (event: string, data: unknown) => {
      const text = `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
      whenAuthorized(() => response.write(text));
    },
    finish: () => {
      queue = queue.then(finishNow);
    },
    onFinish: (step: () => void) => {
      if (stream.done) step();
      else undo.push(step);
    },
  };
  const heartbeat = setInterval(() => {
    whenAuthorized(() => {
      response.write(': keep-alive\n\n');
      options.tick?.();
    });
  }, 15_000);
  const lifetime = setTimeout(finishNow, STREAM_SECONDS * 1000);
  request.on('close', finishNow);
  return stream;
}

@ApiTags('jobs')
@Controller()
export class JobsController {
  constructor(
    private readonly jobs: JobsService,
    private readonly events: JobEvents,
    private readonly keys: KeysService,
    private readonly limits: RateLimits,
  ) {}

  /** One of the key's SSE_STREAMS_PER_KEY slots (429 when none is free), and the watch on its revocation. */
  private async streamOptions(auth: RequestAuth, response: Response) {
    const release = await this.limits.takeStreamSlot(auth.key.id, STREAM_SECONDS);
    response.once('close', release);
    return { authorized: keyWatch(() => this.keys.stillUsable(auth.key.id)) };
  }

  @Get('tasks')
  @Public()
  @ApiOperation({ summary: 'The task registry: inputs, options, results and default queue of every task' })
  tasks() {
    return { items: Object.values(TASKS) };
  }

  @Post('jobs')
  @Authorize('job:create')
  @ApiOperation({
    summary:
      "Run a task on one or more Mfiles (job:create on each of them), dispatched at once; or, with pipeline: 'manual', the service profile's manual pipeline on each ({items: jobs})",
  })
  create(@Auth() auth: RequestAuth, @Body() dto: CreateJobDto) {
    return dto.pipeline ? this.jobs.runManualPipeline(auth, dto) : this.jobs.create(auth, dto);
  }

  @Get('jobs/:id')
  @Authorize('job:read', 'job')
  @ApiOperation({ summary: 'Read a job: state, progress, result, error, worker' })
  get(@Param('id') id: string) {
    return this.jobs.get(id);
  }

  @Get('jobs/:id/events')
  @Authorize('job:read', 'job')
  @ApiProduces('text/event-stream')
  @ApiOperation({
    summary:
      'Follow a job as Server-Sent Events: `state` (the whole job) at once, then `progress` {progress} and `state` {state, error} as they change; the stream ends after a final state, after 5 minutes (EventSource reconnects, the key checked again) or when the key is revoked. Comments every 15 s keep proxies from closing it. At most SSE_STREAMS_PER_KEY streams per key (429).',
  })
  async follow(@Auth() auth: RequestAuth, @Param('id') id: string, @Req() request: Request, @Res() response: Response) {
    // a comment keeps proxies from closing the stream; the job is read again too, so a lost event cannot leave
    // the stream open after the job ended (or was deleted)
    const stream = openEventStream(request, response, {
      ...(await this.streamOptions(auth, response)),
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
    const { send } = stream;
    const finish = stream.finish;
    // set once following has begun; the stream may finish before that
    const following: { stop?: () => void } = {};
    stream.onFinish(() => following.stop?.());
    // follow first, then read: a change between the two is held back and sent after the snapshot
    let lastState: string | undefined;
    let held: JobEventPayload[] | undefined = [];
    const relay = (event: JobEventPayload) => {
      if (stream.done) return;
      if (event.state !== lastState) send('state', { id, state: event.state, progress: event.progress, error: event.error ?? null, at: event.at });
      else if (event.progress !== undefined) send('progress', { id, progress: event.progress, at: event.at });
      lastState = event.state;
      if (FINAL_JOB_STATES.includes(event.state as JobState)) finish();
    };
    const stop = await this.events.follow(id, (event) => (held ? held.push(event) : relay(event)));
    following.stop = stop;
    if (stream.done) return stop();
    const job = await this.jobs.get(id);
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
  @ApiProduces('text/event-stream')
  @ApiOperation({
    summary:
      'Follow every job of a service as Server-Sent Events: `ready` once listening (list the jobs then, and nothing is missed), then `job` {id, state, progress, error, at} for each change. Comments every 15 s keep proxies from closing it; it ends after 5 minutes, and EventSource clients reconnect (the key is checked again), or when the key is revoked (checked before each event). At most SSE_STREAMS_PER_KEY streams per key (429).',
  })
  async followService(@Auth() auth: RequestAuth, @Param('id') serviceId: string, @Req() request: Request, @Res() response: Response) {
    const stream = openEventStream(request, response, { ...(await this.streamOptions(auth, response)), retryMs: 1000 });
    const stop = await this.events.followService(serviceId, (event) =>
      stream.send('job', { id: event.jobId, state: event.state, progress: event.progress ?? null, error: event.error ?? null, at: event.at }),
    );
    if (stream.done) return stop();
    stream.onFinish(stop);
    stream.send('ready', { serviceId });
  }

  @Get('services/:id/jobs')
  @Authorize('job:read', 'service')
  @ApiOperation({
    summary: 'List the jobs of a service (`order=newest` for the latest first); each with `mfileIds`, and `inputs` [{id, name}] for keys holding mfile:read',
  })
  listForService(@Auth() auth: RequestAuth, @Param('id') serviceId: string, @Query() query: ListJobsQuery) {
    return this.jobs.list({ serviceId }, query, auth.actions.has('mfile:read'));
  }

  @Get('mfiles/:id/jobs')
  @Authorize('job:read', 'mfile')
  @ApiOperation({
    summary:
      'List the jobs that ran on an Mfile (`order=newest` for the latest first); each with `mfileIds`, and `inputs` [{id, name}] for keys holding mfile:read',
  })
  listForMfile(@Auth() auth: RequestAuth, @Param('id') mfileId: string, @Query() query: ListJobsQuery) {
    return this.jobs.list({ mfileId }, query, auth.actions.has('mfile:read'));
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

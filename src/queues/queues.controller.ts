import { Controller, Get, Header } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiProperty, ApiPropertyOptional, ApiTags } from '@nestjs/swagger';
import { Problems } from '../common/problem';
import { Auth, Authorize, RequestAuth } from '../keys/authorize.decorator';
import { QueueStatusService, QueuesStatus } from './queue-status.service';

class QueueCountsDoc {
  @ApiProperty() waiting: number;
  @ApiProperty() active: number;
  @ApiProperty() delayed: number;
  @ApiProperty() failed: number;
  @ApiProperty() completed: number;
  @ApiProperty() paused: number;
}

class QueueStateDoc {
  @ApiProperty({ example: 'normal' }) name: string;
  @ApiProperty({
    enum: ['task', 'internal'],
    description: 'task: normal, priority, hardware.<tag>; internal: periodic ticks (scheduler) and webhook deliveries',
  })
  kind: string;
  @ApiProperty({ type: QueueCountsDoc, nullable: true }) counts: QueueCountsDoc | null;
  @ApiPropertyOptional({ description: 'Why the counts could not be read' }) error?: string;
  @ApiProperty({ description: 'Workers online consuming this queue' }) workers: number;
  @ApiProperty({ description: 'Their summed concurrency' }) concurrency: number;
}

class WorkerQueueDoc {
  @ApiProperty() queue: string;
  @ApiProperty() concurrency: number;
}

class WorkerStateDoc {
  @ApiProperty({ example: 'media-1:4242', description: 'host:pid' }) id: string;
  @ApiProperty({ type: [WorkerQueueDoc] }) queues: WorkerQueueDoc[];
  @ApiProperty({ description: 'Last heartbeat (every 5 s; a worker silent for 15 s is no longer listed)' }) lastSeen: string;
}

class QueuesStatusDoc {
  @ApiProperty() at: string;
  @ApiProperty({ type: [QueueStateDoc] }) queues: QueueStateDoc[];
  @ApiProperty({ type: [WorkerStateDoc] }) workers: WorkerStateDoc[];
}

/** The provider's view of the work: jobs per queue and state (from Bull), and the workers online (heartbeats). */
@ApiTags('queues')
@Controller('queues')
export class QueuesController {
  constructor(private readonly status: QueueStatusService) {}

  @Get()
  @Authorize('usage:read')
  @Header('Cache-Control', 'no-store')
  @ApiOperation({
    summary: 'Jobs waiting, active, delayed, failed and completed per queue, and the workers online with the queues they serve (the admin key only)',
  })
  @ApiOkResponse({ type: QueuesStatusDoc })
  queues(@Auth() auth: RequestAuth): Promise<QueuesStatus> {
    if (auth.key.resourceType !== 'provider') throw Problems.forbidden("this key lacks the provider scope: queues and workers are the provider's to see");
    return this.status.status();
  }
}

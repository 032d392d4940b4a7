import { Body, Controller, Delete, Get, HttpCode, Param, Post } from '@nestjs/common';
import { ApiOperation, ApiProperty, ApiPropertyOptional, ApiTags } from '@nestjs/swagger';
import { ArrayMaxSize, IsArray, IsOptional, IsString, IsUrl, MaxLength } from 'class-validator';
import { Authorize } from '../keys/authorize.decorator';
import { WebhooksService } from './webhooks.service';
import { ApiDone, ApiItems, ApiResource } from '../common/api-responses';
import { CreatedWebhookSchema, WebhookSchema } from './webhook.schema';

export class CreateWebhookDto {
  @ApiProperty({ example: 'https://example.org/mserve-events' })
  @IsString()
  @MaxLength(2000)
  @IsUrl({ protocols: ['http', 'https'], require_protocol: true, require_tld: false })
  url: string;
  @ApiPropertyOptional({
    description:
      'What to notify: final job states (job.succeeded, job.failed, job.cancelled, job.skipped; or the bare state) and events of the service (mfile.created, mfile.replaced, mfile.moved, mfile.deleted, upload.completed, upload.expired, quota.exceeded, service.suspended, service.resumed); default job.succeeded and job.failed; [] for a target of the webhook task only',
    example: ['job.succeeded', 'job.failed', 'mfile.created'],
  })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(20)
  @IsString({ each: true })
  events?: string[];
}

@ApiTags('webhooks')
@Controller('services/:id/webhooks')
export class WebhooksController {
  constructor(private readonly webhooks: WebhooksService) {}

  @Post()
  @Authorize('service:update', 'service')
  @ApiOperation({
    summary:
      'Register a URL told about finished jobs and the events it asks for: POST of {id, type, createdAt, serviceId, data} (job.<state>: data.job; mfile.*: data.mfile; ...) with Idempotency-Key and MServe-Signature t=<unix>,v1=<HMAC-SHA256(secret, "t.body")>, retried with backoff until a 2xx. The secret is shown once.',
  })
  @ApiResource(CreatedWebhookSchema, 'The webhook with its signing `secret`, shown once', 201)
  create(@Param('id') serviceId: string, @Body() dto: CreateWebhookDto) {
    return this.webhooks.create(serviceId, dto);
  }

  @Get()
  @Authorize('service:read', 'service')
  @ApiOperation({ summary: "The service's webhooks (without their secrets)" })
  @ApiItems(WebhookSchema, 'Every webhook of the service')
  async list(@Param('id') serviceId: string) {
    return { items: await this.webhooks.list(serviceId) };
  }

  @Delete(':webhookId')
  @HttpCode(204)
  @Authorize('service:update', 'service')
  @ApiOperation({ summary: 'Remove a webhook' })
  @ApiDone('Deleted')
  async remove(@Param('id') serviceId: string, @Param('webhookId') webhookId: string) {
    await this.webhooks.remove(serviceId, webhookId);
  }
}

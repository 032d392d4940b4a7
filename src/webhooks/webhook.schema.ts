import { ApiProperty, ApiSchema } from '@nestjs/swagger';
import { DATE_TIME } from '../common/api-responses';
import type { ServiceWebhook } from './webhook.entity';

/** A webhook of a service (its signing secret is shown once, at creation). */
@ApiSchema({ name: 'Webhook' })
export class WebhookSchema implements Omit<ServiceWebhook, 'secret'> {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty({ format: 'uuid' }) serviceId: string;
  @ApiProperty({ example: 'https://example.org/mserve-events' }) url: string;
  @ApiProperty({ type: [String], example: ['job.succeeded', 'mfile.created'], description: 'The events it is told of' }) events: string[];
  @ApiProperty(DATE_TIME) createdAt: Date;
}

/** A new webhook with its signing secret (shown once). */
@ApiSchema({ name: 'CreatedWebhook' })
export class CreatedWebhookSchema extends WebhookSchema {
  @ApiProperty({ description: 'The HMAC key its deliveries are signed with (Standard Webhooks), shown once' }) secret: string;
}

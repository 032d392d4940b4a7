import { ApiProperty, ApiSchema } from '@nestjs/swagger';
import { DATE_TIME, FREE_OBJECT, Nullable, Optional } from '../common/api-responses';
import type { JsonObject } from '../database/columns';
import type { Service } from './service.entity';

/** A service as the API answers it (`rootFolderId` when read one by one). */
@ApiSchema({ name: 'Service' })
export class ServiceSchema implements Service {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty({ format: 'uuid' }) containerId: string;
  @ApiProperty() name: string;
  @Nullable({ type: String }) description: string | null;
  @ApiProperty({ description: 'Read-only while set' }) suspended: boolean;
  @Nullable({ ...DATE_TIME, description: 'Before it the service refuses requests' }) startsAt: Date | null;
  @Nullable({ ...DATE_TIME, description: 'After it the service refuses requests' }) endsAt: Date | null;
  @ApiProperty({ description: 'Its tasks go to the priority queue' }) priority: boolean;
  @Nullable({ type: Number, description: 'Download bandwidth cap in bytes per second (null: unlimited)' }) accessSpeed: number | null;
  @Nullable({ type: Number, description: 'Bytes it may store (null: unlimited)' }) diskQuota: number | null;
  @Nullable({ type: Number, description: 'Bytes it may ingest per calendar month, UTC' }) ingestQuota: number | null;
  @Nullable({ type: Number, description: 'Seconds of job runtime per calendar month, UTC' }) jobruntimeQuota: number | null;
  @Nullable({ type: 'object', additionalProperties: { type: 'number' }, description: "Monthly limits on the application's own metrics, by name without app/" })
  appQuotas: Record<string, number> | null;
  @Nullable({ type: String, description: 'The container profile it runs (null: its own or the default)' }) profile: string | null;
  @ApiProperty(FREE_OBJECT) properties: JsonObject;
  @ApiProperty(DATE_TIME) createdAt: Date;
  @ApiProperty(DATE_TIME) updatedAt: Date;
  @Optional({ format: 'uuid', description: 'Its root folder (GET /services/:id and updates; not in lists)' }) rootFolderId?: string;
}

/** A new service with its two keys, each secret shown once. */
@ApiSchema({ name: 'CreatedService' })
export class CreatedServiceSchema extends ServiceSchema {
  @ApiProperty({ format: 'uuid', required: true, description: 'Its root folder' }) declare rootFolderId: string;
  @ApiProperty({ description: 'The serviceadmin key: its secret, shown once' }) key: string;
  @ApiProperty({ format: 'uuid' }) keyId: string;
  @ApiProperty({ description: 'The servicecustomer key: its secret, shown once' }) customerKey: string;
  @ApiProperty({ format: 'uuid' }) customerKeyId: string;
}
